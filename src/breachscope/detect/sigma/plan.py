"""Which rule runs on which segment of which table, and which rules are skipped (with the reason)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sigma.rule import SigmaLogSource

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.compiled import CompiledRule
from breachscope.detect.sigma.fields import TableInfo
from breachscope.detect.sigma.logsources import Segment, Unserved, segments
from breachscope.detect.sigma.ruleset import RuleSet
from breachscope.model.findings import level_at_least


@dataclass
class Target:
    """A rule on one segment: the tree to evaluate there (rule condition minus its Sigma filters)."""

    rule: CompiledRule
    segment: Segment
    tree: ir.Node


@dataclass
class Skipped:
    rule: CompiledRule
    reason: str


@dataclass
class RulePlan:
    groups: dict[tuple[str, str], list[Target]] = field(default_factory=dict)  # (table, segment) -> targets
    where: dict[tuple[str, str], ir.Node] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    no_data: dict[str, list[str]] = field(default_factory=dict)  # table absent from the case -> rule titles
    suppressed: set[str] = field(default_factory=set)  # rule keys whose matches only feed correlations

    @property
    def rule_count(self) -> int:
        return len({t.rule.key for ts in self.groups.values() for t in ts})


def logsource(rule: CompiledRule) -> SigmaLogSource:
    return SigmaLogSource(product=rule.product, category=rule.category, service=rule.service)


def plan(ruleset: RuleSet, tables: dict[str, TableInfo], min_level: str | None = None) -> RulePlan:
    out = RulePlan()
    filters = _filters_by_target(ruleset)
    referenced = _correlation_referenced(ruleset)
    for rule in ruleset.detection_rules:
        feeds_correlation = rule.key in referenced
        if feeds_correlation and not referenced[rule.key]:
            out.suppressed.add(rule.key)  # evaluated, but only the correlation reports
        elif not level_at_least(rule.level, min_level) and not feeds_correlation:
            continue
        try:
            segs = segments(logsource(rule))
        except Unserved as exc:
            out.skipped.append(Skipped(rule, str(exc)))
            continue
        tree = rule.tree
        for f in filters.get(rule.id or "", []) + filters.get(rule.name or "", []):
            tree = ir.and_([tree, ir.not_(f.tree)])
        for seg in segs:
            if seg.table not in tables:
                out.no_data.setdefault(seg.table, []).append(rule.title)
                continue
            key = (seg.table, seg.name)
            out.groups.setdefault(key, []).append(Target(rule, seg, tree))
            out.where[key] = seg.where
    return out


def _filters_by_target(ruleset: RuleSet) -> dict[str, list[CompiledRule]]:
    out: dict[str, list[CompiledRule]] = defaultdict(list)
    for f in ruleset.filters:
        for target in f.filter_targets:
            out[target].append(f)
    return out


def _correlation_referenced(ruleset: RuleSet) -> dict[str, bool]:
    """Rule key -> whether it also reports on its own (the correlations' `generate`)."""
    lookup = ruleset.lookup()
    out: dict[str, bool] = {}
    for c in ruleset.correlations:
        assert c.correlation is not None
        for ref in c.correlation.rules:
            r = lookup.get(ref)
            if r is not None:
                out[r.key] = out.get(r.key, False) or c.correlation.generate
    return out

"""What a hunt did, for the analyst: findings per rule and per host, and every rule accounted for
(matched, run without a match, or not run and why).

A rule is *run* when it was evaluated on at least one table of the case; *not run* has one reason
per rule: its file could not be compiled, no table breachscope fills serves its logsource, the case
holds no events of the tables that would (say, a Zeek rule on a case of Windows logs), or its level
is below --min-level. A zero is never silent: `hunt` prints these counts with the findings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from breachscope.detect.sigma.hunt import HuntResult
from breachscope.detect.sigma.logsources import Unserved, segments
from breachscope.detect.sigma.plan import logsource
from breachscope.model.findings import RULE_LEVEL_RANK, RULE_LEVELS


@dataclass(frozen=True)
class RuleCount:
    rule_id: str | None
    title: str | None
    level: str | None
    kind: str
    findings: int
    hosts: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class HostCount:
    host: str | None  # None: events that name no host (network sensors, flows, correlations)
    findings: int
    rules: int
    by_level: dict[str, int]
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class RuleAccount:
    loaded: int  # rules, correlations and filters read from the rule files
    detection: int  # of those, detection rules (run + not_run = detection + rule problems)
    run: int  # detection rules evaluated on at least one table
    matched: int  # of those, with at least one finding of their own
    correlations_run: int
    correlations_matched: int
    correlation_only: int  # run only to feed correlations (they report through the correlation)
    not_run: dict[str, int] = field(default_factory=dict)  # reason -> rules

    @property
    def not_run_total(self) -> int:
        return sum(self.not_run.values())


def by_rule(findings: pa.Table) -> list[RuleCount]:
    """Findings per rule, the most severe level first, then the most findings."""
    acc: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in _rows(findings, ("rule_id", "rule_path", "rule_title", "level", "kind", "host", "ts")):
        key = (r["rule_id"], r["rule_path"], r["kind"])
        a = acc.setdefault(key, {"title": r["rule_title"], "level": r["level"], "n": 0, "hosts": set(),
                                 "first": None, "last": None})
        a["n"] += 1
        a["hosts"].add(r["host"])
        _span(a, r["ts"])
    out = [RuleCount(k[0], a["title"], a["level"], k[2], a["n"], len(a["hosts"] - {None}), a["first"], a["last"])
           for k, a in acc.items()]
    return sorted(out, key=lambda c: (-RULE_LEVEL_RANK.get((c.level or "").lower(), -1), -c.findings, c.title or ""))


def by_host(findings: pa.Table) -> list[HostCount]:
    """Findings per host (the recording machine), the most findings first."""
    acc: dict[str | None, dict[str, Any]] = {}
    for r in _rows(findings, ("rule_id", "rule_path", "level", "host", "ts")):
        a = acc.setdefault(r["host"], {"n": 0, "rules": set(), "levels": Counter(), "first": None, "last": None})
        a["n"] += 1
        a["rules"].add((r["rule_id"], r["rule_path"]))
        a["levels"][(r["level"] or "unknown").lower()] += 1
        _span(a, r["ts"])
    order = [*reversed(RULE_LEVELS), "unknown"]
    out = [HostCount(h, a["n"], len(a["rules"]), {lv: a["levels"][lv] for lv in order if a["levels"][lv]},
                     a["first"], a["last"]) for h, a in acc.items()]
    return sorted(out, key=lambda c: (-c.findings, c.host is None, c.host or ""))


def account(result: HuntResult) -> RuleAccount:
    """Every rule of the hunt counted once: run (matched or not) or not run with its reason. The plan
    leaves a rule out for its level before it looks at its tables, and records the tables it found
    missing (plan.no_data): a rule neither run nor skipped whose tables are all missing had no data;
    any other was below --min-level."""
    rs, p = result.ruleset, result.plan
    run = {t.rule.key for ts in p.groups.values() for t in ts}
    matched_ids = {(r["rule_id"], r["rule_path"], r["kind"])
                   for r in _rows(result.findings, ("rule_id", "rule_path", "kind"))}
    not_run: Counter[str] = Counter()
    if result.problems:
        not_run["could not be compiled (see the rule problems)"] += len(result.problems)
    for s in p.skipped:
        not_run[f"no table serves its logsource: {s.reason}"] += 1
    skipped = {s.rule.key for s in p.skipped}
    for rule in rs.detection_rules:
        if rule.key in run or rule.key in skipped:
            continue
        not_run[_not_planned_reason(rule, set(p.no_data))] += 1
    matched = sum(1 for r in rs.detection_rules if r.key in run and _ids(r, "sigma") in matched_ids)
    return RuleAccount(
        loaded=len(rs.rules), detection=len(rs.detection_rules), run=len(run), matched=matched,
        correlations_run=len(rs.correlations),
        correlations_matched=sum(1 for r in rs.correlations if _ids(r, "sigma_correlation") in matched_ids),
        correlation_only=len(p.suppressed & run),
        not_run=dict(sorted(not_run.items(), key=lambda kv: -kv[1])))


def _not_planned_reason(rule: Any, missing_tables: set[str]) -> str:
    try:
        tables = sorted({s.table for s in segments(logsource(rule))})
    except Unserved as exc:  # a rule below --min-level is not checked by the plan: its logsource may be unserved
        return f"no table serves its logsource: {exc}"
    if tables and set(tables) <= missing_tables:
        return f"no {', '.join(tables)} events in the case"
    return "level below --min-level"


def _ids(rule: Any, kind: str) -> tuple[str | None, str, str]:
    return (rule.id or rule.name, rule.path, kind)


def _rows(findings: pa.Table, cols: tuple[str, ...]) -> list[dict[str, Any]]:
    return findings.select(list(cols)).to_pylist()


def _span(acc: dict[str, Any], ts: datetime | None) -> None:
    if ts is None:
        return
    if acc["first"] is None or ts < acc["first"]:
        acc["first"] = ts
    if acc["last"] is None or ts > acc["last"]:
        acc["last"] = ts

"""A hunt: load rules, plan them on the case's tables, run them on an engine, correlate, and turn
the matches into findings (committed to the case as a run of Sigma findings: model/runstore.py)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from breachscope.detect.sigma import correlation
from breachscope.detect.sigma.compiled import RuleProblem
from breachscope.detect.sigma.execute import Match, Stats, Strategy, execute, finding_row, table_infos
from breachscope.detect.sigma.plan import RulePlan, plan
from breachscope.detect.sigma.ruleset import RuleSet, load_ruleset
from breachscope.engines.protocol import SqlEngine
from breachscope.model.case import CaseLayout
from breachscope.model.findings import FINDINGS_SCHEMA, commit_findings, level_at_least
from breachscope.model.progress import report

SOURCE = "sigma"  # the detector family of these findings: a rerun replaces Sigma findings only


@dataclass
class HuntResult:
    findings: pa.Table
    ruleset: RuleSet
    plan: RulePlan
    stats: Stats
    seconds: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # what the run recorded: rules, level, strategy

    @property
    def problems(self) -> list[RuleProblem]:
        return self.ruleset.problems

    def summary(self) -> dict[str, Any]:
        levels: dict[str, int] = {}
        for lv in self.findings.column("level").to_pylist():
            levels[lv or "unknown"] = levels.get(lv or "unknown", 0) + 1
        return {
            "rules": {"files": self.ruleset.files, "loaded": len(self.ruleset.rules),
                      "from_cache": self.ruleset.from_cache, "cache_rebuilt": self.ruleset.cache_rebuilt,
                      "problems": len(self.problems),
                      "run": self.plan.rule_count, "skipped": len(self.plan.skipped),
                      "correlations": len(self.ruleset.correlations), "filters": len(self.ruleset.filters)},
            "findings": self.findings.num_rows, "by_level": levels,
            "skipped": _count_reasons([s.reason for s in self.plan.skipped]),
            "no_data": {t: len(v) for t, v in sorted(self.plan.no_data.items())},
            "unset_placeholders": sorted({p for r in self.ruleset.detection_rules for p in r.unset_placeholders}),
            "execution": {"candidate_rows": self.stats.candidate_rows, "rules_in_play": self.stats.rules_in_play,
                          "rules_prefiltered": self.stats.rules_prefiltered,
                          "rules_full_pass": self.stats.rules_full_pass, "sql_passes": self.stats.passes,
                          "value_fields": self.stats.value_fields, "value_queries": self.stats.value_queries},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def _count_reasons(reasons: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in reasons:
        out[r] = out.get(r, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def hunt(engine: SqlEngine, rule_paths: Sequence[str | Path], min_level: str | None = None,
         placeholders: Mapping[str, Sequence[str]] | None = None, strategy: Strategy = "fast",
         ruleset: RuleSet | None = None) -> HuntResult:
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    report("loading rules")
    rs = ruleset or load_ruleset(rule_paths, placeholders)
    seconds["load_rules"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    tables = table_infos(engine)
    p = plan(rs, tables, min_level)
    seconds["plan"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    matches, stats = execute(engine, p, tables, strategy)
    seconds["match"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    report("building findings")
    rows = findings_of(matches, rs, p, min_level)
    seconds["findings"] = time.perf_counter() - t3
    table = pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)
    params = {"rules": [str(Path(r).absolute()) for r in rule_paths], "min_level": min_level, "strategy": strategy,
              "engine": getattr(engine, "dialect", type(engine).__name__),
              "placeholders": {k: list(v) for k, v in (placeholders or {}).items()}, "rules_run": p.rule_count}
    return HuntResult(table, rs, p, stats, seconds, params)


def findings_of(matches: list[Match], rs: RuleSet, p: RulePlan, min_level: str | None) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    events: dict[str, list[correlation.Event]] = {}
    for m in matches:
        row = finding_row(m)
        events.setdefault(m.rule.key, []).append(
            correlation.Event(m.rule.key, m.rule.name, row["ts"], row["finding_id"], m.value, row["host"], row["user"]))
        if m.rule.key in p.suppressed or not level_at_least(m.rule.level, min_level):
            continue
        rows.setdefault(row["finding_id"], row)
    if rs.correlations:
        for hit in correlation.run(rs.correlations, events, rs.lookup()):
            if level_at_least(hit.rule.level, min_level):
                f = hit.finding()
                rows.setdefault(f["finding_id"], f)
    return sorted(rows.values(), key=lambda r: (r["ts"] is None, r["ts"] or 0, r["rule_title"] or "",
                                                r["src_file"] or "", r["src_record"] or 0))


def write_findings(case_root: str | Path, table: pa.Table, parameters: Mapping[str, Any] | None = None) -> Path:
    """Commit the findings as a new run of Sigma findings (runs/<run_id>/findings.parquet); the `findings`
    view and CASE/findings.parquet then show them beside the latest findings of other detectors, and a
    rerun replaces the earlier Sigma findings there (every run stays in `all_findings`)."""
    commit_findings(case_root, table, SOURCE, "hunt", parameters or {})
    return CaseLayout(case_root).findings

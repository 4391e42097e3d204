"""What `hunt` shows after matching: the findings (findings_out), then per-rule and per-host counts
and every rule accounted for (matched, run, not run and why); in --json the same as data.

Human summaries go to stdout when the findings went to the terminal as a table or to a file, and to
stderr when stdout carries the findings in a machine format (csv/jsonl/timesketch without --out), so
that stream stays parseable.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table
from rich.text import Text

from breachscope.cli import findings_out
from breachscope.cli.output import print_json, quoted, safe, stderr, stdout
from breachscope.detect.analytics.runner import AnalyticsResult
from breachscope.detect.hunt_summary import HostCount, RuleAccount, RuleCount, account, by_host, by_rule
from breachscope.detect.sigma.hunt import HuntResult
from breachscope.model.findings import level_at_least

RULES_SHOWN = 50
HOSTS_SHOWN = 30
SHORT_LEVEL = {"critical": "crit", "medium": "med", "informational": "info"}


def report(result: HuntResult, found: AnalyticsResult | None, min_level: str | None, fmt: str, out: Path | None,
           json_out: bool) -> None:
    for p in result.problems:
        where = quoted(p.path) + (f":{p.line}" if p.line else "")
        stderr.print(f"rule problem: {where}: {safe(p.reason)}")
    acc = account(result)
    findings = _together(result.findings, found, min_level)
    rules, hosts = by_rule(findings), by_host(findings)
    if out is not None:
        findings_out.write(findings, fmt if fmt != "table" else "csv", out)
    elif not json_out:
        findings_out.write(findings, fmt, None)
    if json_out:
        summary: dict[str, Any] = result.summary()
        summary["findings"] = findings.num_rows
        summary["analytics"] = found.summary() if found is not None else None
        summary["rules"].update(matched=acc.matched, not_run=acc.not_run_total)
        summary["not_run"] = acc.not_run
        summary["rule_account"] = _account_json(acc)
        summary["by_rule"] = [_json(c) for c in rules]
        summary["by_host"] = [_json(c) for c in hosts]
        print_json(summary)
        return
    human = (stdout if (fmt == "table" or out is not None) else stderr).console
    if findings.num_rows:
        _rules_table(human, rules)
        _hosts_table(human, hosts)
    _account_text(human, acc)
    if found is not None:
        _analytics_text(human, found)
    seconds = sum(result.seconds.values()) + (sum(r.seconds for r in found.runs) if found else 0.0)
    stderr.print(f"{findings.num_rows:,} findings ({result.findings.num_rows:,} from {acc.matched:,} of {acc.run:,} "
                 f"rules run, {findings.num_rows - result.findings.num_rows:,} from analytics) in {seconds:.1f} s"
                 + (f"; written to {safe(out)}" if out else ""))


def _together(sigma: pa.Table, found: AnalyticsResult | None, min_level: str | None) -> pa.Table:
    """Rule and analytic findings in one table, in time order (analytics filtered by --min-level too)."""
    if found is None or not found.findings.num_rows:
        return sigma
    keep = [level_at_least(lv, min_level) for lv in found.findings.column("level").to_pylist()]
    both = pa.concat_tables([sigma, found.findings.filter(pa.array(keep, pa.bool_()))])
    return both.sort_by([("ts", "ascending"), ("rule_title", "ascending")])  # nulls last


def _analytics_text(con: Console, found: AnalyticsResult) -> None:
    ran = [r for r in found.runs if r.status == "ran"]
    con.print(f"Analytics: {len(ran)} of {len(found.runs)} ran, "
              f"{sum(r.findings for r in ran):,} findings" + ("" if len(ran) == len(found.runs) else ":"))
    for r in found.runs:
        if r.status != "ran":
            con.print(f"  {r.name}: {r.status}: {safe(r.reason or '')}")


def _rules_table(con: Console, rules: list[RuleCount]) -> None:
    t = Table(title="Findings per rule", show_lines=False)
    for col in ("level", "rule", "findings", "hosts", "first (UTC)", "last (UTC)"):
        t.add_column(col, overflow="fold", justify="right" if col in ("findings", "hosts") else "left")
    for c in rules[:RULES_SHOWN]:
        title = c.title or c.rule_id or ""
        if c.kind == "sigma_correlation":
            title += " (correlation)"
        t.add_row(Text(safe(c.level or "")), Text(safe(title)), f"{c.findings:,}", f"{c.hosts:,}",
                  _when(c.first), _when(c.last))
    con.print(t)
    if len(rules) > RULES_SHOWN:
        con.print(f"... {len(rules) - RULES_SHOWN:,} more rules with findings (all of them in --json: by_rule)")


def _hosts_table(con: Console, hosts: list[HostCount]) -> None:
    t = Table(title="Findings per host", show_lines=False)
    for col in ("host", "findings", "by level", "rules", "first (UTC)", "last (UTC)"):
        t.add_column(col, overflow="fold", justify="right" if col in ("findings", "rules") else "left")
    for c in hosts[:HOSTS_SHOWN]:
        levels = ", ".join(f"{SHORT_LEVEL.get(lv, lv)} {n:,}" for lv, n in c.by_level.items())
        t.add_row(Text(safe(c.host) if c.host is not None else "(no host: network or correlated events)"),
                  f"{c.findings:,}", levels, f"{c.rules:,}", _when(c.first), _when(c.last))
    con.print(t)
    if len(hosts) > HOSTS_SHOWN:
        con.print(f"... {len(hosts) - HOSTS_SHOWN:,} more hosts (all of them in --json: by_host)")


def _account_text(con: Console, acc: RuleAccount) -> None:
    line = f"Rules: {acc.loaded:,} loaded; {acc.run:,} run, {acc.matched:,} matched"
    if acc.correlation_only:
        line += f" ({acc.correlation_only:,} run only to feed correlations)"
    if acc.correlations_run:
        line += f"; correlations: {acc.correlations_run:,} run, {acc.correlations_matched:,} matched"
    con.print(line + (f"; {acc.not_run_total:,} not run:" if acc.not_run else "; every rule ran"))
    for reason, n in acc.not_run.items():
        con.print(f"  {n:>6,}  {safe(reason)}")


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, datetime) else ""


def _json(c: RuleCount | HostCount) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(c).items()}


def _account_json(acc: RuleAccount) -> dict[str, Any]:
    return {**vars(acc), "not_run_total": acc.not_run_total}

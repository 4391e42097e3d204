"""Run analytics over a case: each one that has a table to read, each failure kept to itself (reported,
the others go on), each hit turned into a finding of kind `analytic` with its first evidence rows."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa

from breachscope.detect.analytics.base import Analytic, Hit, Skipped, level_of_score
from breachscope.detect.casecontext import CaseContext
from breachscope.model.findings import EVIDENCE_KEPT, FINDINGS_SCHEMA, finding_id
from breachscope.model.progress import report

SOURCE = "analytics"  # the detector family of these findings: a rerun replaces analytic findings only
AUTHOR = "breachscope"

Status = Literal["ran", "skipped", "failed"]


@dataclass(frozen=True)
class AnalyticRun:
    """What became of one analytic in a run (the coverage a report must show: nothing skipped silently)."""

    name: str
    status: Status
    findings: int = 0
    reason: str | None = None
    seconds: float = 0.0


@dataclass
class AnalyticsResult:
    findings: pa.Table
    runs: list[AnalyticRun]
    parameters: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"findings": self.findings.num_rows,
                "analytics": [{"name": r.name, "status": r.status, "findings": r.findings, "reason": r.reason,
                               "seconds": round(r.seconds, 3)} for r in self.runs]}


def run_analytics(ctx: CaseContext, analytics: Sequence[Analytic]) -> AnalyticsResult:
    rows: list[dict[str, Any]] = []
    runs = []
    for a in analytics:
        report(f"analytic {a.name}")
        t0 = time.perf_counter()
        if not any(t in ctx.columns for t in a.tables):
            runs.append(AnalyticRun(a.name, "skipped", reason=f"the case has none of {', '.join(a.tables)}"))
            continue
        try:
            hits = a.run(ctx)
            found = [_finding(a, h) for h in hits]
            _attach_evidence(ctx, found, hits)
        except Skipped as exc:
            runs.append(AnalyticRun(a.name, "skipped", reason=str(exc), seconds=time.perf_counter() - t0))
            continue
        except Exception as exc:  # one analytic's failure is reported; the others still run
            runs.append(AnalyticRun(a.name, "failed", reason=f"{type(exc).__name__}: {exc}",
                                    seconds=time.perf_counter() - t0))
            continue
        rows.extend(found)
        runs.append(AnalyticRun(a.name, "ran", len(found), seconds=time.perf_counter() - t0))
    rows.sort(key=lambda r: (r["ts"], r["rule_id"], -(r["score"] or 0), r["finding_id"]))
    table = pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)
    params = {"analytics": [a.name for a in analytics], "engine": ctx.engine.dialect,
              "since": ctx.since.isoformat() if ctx.since else None,
              "until": ctx.until.isoformat() if ctx.until else None,
              "internal_networks": list(ctx.internal_networks)}
    return AnalyticsResult(table, runs, params)


def _finding(a: Analytic, h: Hit) -> dict[str, Any]:
    ts = h.ts or h.first_ts
    key = h.key or (h.host, h.user, h.src_ip, h.dst_ip, h.first_ts)
    level = h.level or level_of_score(h.score)
    entities = {k: _plain(v) for k, v in h.entities.items()}
    return {
        "finding_id": finding_id("analytic", a.name, *key), "kind": "analytic", "rule_id": f"analytic:{a.name}",
        "rule_title": h.title, "rule_path": None, "level": level, "status": "experimental", "author": AUTHOR,
        "tags": [f"attack.{t.lower()}" for t in (*a.attack, *h.attack)], "attack": [*a.attack, *h.attack],
        "description": h.why, "falsepositives": None, "ts": ts, "host": h.host, "user": h.user,
        "src_ip": h.src_ip, "dst_ip": h.dst_ip, "table_name": None, "segment": a.title, "src_file": None,
        "src_sha256": None, "src_record": None,
        "event": json.dumps(entities, ensure_ascii=False, sort_keys=True, default=str),
        "group_key": json.dumps([_plain(k) for k in key], ensure_ascii=False, default=str),
        "event_count": h.event_count, "first_ts": h.first_ts, "related": None, "score": round(h.score, 1),
        "last_ts": h.last_ts, "evidence": [],
    }


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _attach_evidence(ctx: CaseContext, found: list[dict[str, Any]], hits: list[Hit]) -> None:
    """The first EVIDENCE_KEPT rows behind each hit, one query per table for all the hits of an analytic;
    the finding's own src_file/src_record are its first evidence row."""
    by_table: dict[str, list[tuple[int, str]]] = {}
    for i, h in enumerate(hits):
        for q in h.evidence:
            if q.table in ctx.columns:
                by_table.setdefault(q.table, []).append((i, q.where))
    for table, conds in by_table.items():
        for part in range(0, len(conds), 200):  # bounded SQL size on cases with many hits
            _evidence_of(ctx, table, conds[part:part + 200], found)
    for f in found:
        f["evidence"].sort(key=lambda e: (e["ts"] is None, e["ts"] or 0, e["src_file"] or "", e["src_record"] or 0))
        del f["evidence"][EVIDENCE_KEPT:]
        if f["evidence"]:
            first = f["evidence"][0]
            f.update(table_name=first["table_name"], src_file=first["src_file"], src_sha256=first["src_sha256"],
                     src_record=first["src_record"])


def _evidence_of(ctx: CaseContext, table: str, conds: list[tuple[int, str]], found: list[dict[str, Any]]) -> None:
    which = " ".join(f"WHEN ({w}) THEN {i}" for i, w in conds)
    t = ctx.ident(table)
    sha = "src_sha256" if ctx.has(table, "src_sha256") else "CAST(NULL AS VARCHAR)"
    sql = f"""SELECT hit, src_file, src_sha256, src_record, ts FROM (
        SELECT hit, src_file, src_sha256, src_record, ts,
               row_number() OVER (PARTITION BY hit ORDER BY ts, src_file, src_record) AS n
        FROM (SELECT CASE {which} END AS hit, src_file, {sha} AS src_sha256, src_record, ts FROM {t}
              WHERE {' OR '.join(f'({w})' for _, w in conds)}) AS m) AS ranked
        WHERE n <= {EVIDENCE_KEPT}"""
    for r in ctx.rows(sql):
        found[r["hit"]]["evidence"].append({"table_name": table, "src_file": r["src_file"],
                                            "src_sha256": r["src_sha256"], "src_record": r["src_record"],
                                            "ts": r["ts"]})

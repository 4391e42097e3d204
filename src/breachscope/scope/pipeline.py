"""`scope`: statements -> replay -> exports -> levels -> counts. Returns typed results; writing is outputs.py."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from breachscope.engines import local
from breachscope.engines.duckdb_case import Case, open_case
from breachscope.model.exposure import (
    CONFIRMED_ACCESSED,
    CONFIRMED_EXFILTRATED,
    IGNORED,
    POTENTIAL,
    REPLAYED,
    STMT_POTENTIAL,
    Controller,
    ExposureSummary,
    LevelCounts,
)
from breachscope.model.inventory import Inventory, load_inventory
from breachscope.model.progress import report
from breachscope.scope import filescan
from breachscope.scope.backends import Backend, open_backend
from breachscope.scope.budget import Budget
from breachscope.scope.guards import check_case, check_inventory, check_suspects
from breachscope.scope.levels import aggregate
from breachscope.scope.match import FILE_HITS_SCHEMA, match_scans, wanted_kinds
from breachscope.scope.recognizers import IDENT
from breachscope.scope.replay import Replayer, ReplayResult
from breachscope.scope.staged import StagedSubjects
from breachscope.scope.statements import AuditStatement, Suspects, select_statements
from breachscope.scope.subject_sql import SubjectCounts


@dataclass(frozen=True)
class ScopeRequest:
    case_dir: Path
    inventory: Path
    snapshot: str
    suspects: Suspects
    scan_exports: bool = True
    budget: Budget = field(default_factory=Budget)
    allow_superuser: bool = False  # a PostgreSQL snapshot reached as a superuser (refused otherwise)
    snapshot_role: str | None = None  # SET ROLE to this role after connecting to a PostgreSQL snapshot


@dataclass
class ScopeResult:
    summary: ExposureSummary
    subjects: StagedSubjects  # subjects.parquet and the affected CSV, sorted by subject type and id
    statements: list[dict[str, Any]]  # rows of STATEMENTS_SCHEMA
    review: list[dict[str, Any]]  # rows of REVIEW_SCHEMA
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    host_resolution: list[dict[str, Any]] = field(default_factory=list)  # suspect host names -> addresses


def run_scope(req: ScopeRequest, progress: Callable[[str], None] | None = None) -> ScopeResult:
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    inventory = load_inventory(req.inventory)
    with open_case(req.case_dir) as case:
        check_case(case)  # before the snapshot is loaded: the cheap mistakes first
        resolutions, warnings = check_suspects(case, req.suspects)
        backend = open_backend(req.snapshot, req.budget, req.allow_superuser, req.snapshot_role, inventory.tables)
        try:
            warnings += backend.warnings
            check_inventory(inventory, backend)
            timings["snapshot_s"] = time.perf_counter() - t
            t = time.perf_counter()
            statements = select_statements(case, req.suspects, inventory.database, resolutions)
            if not statements:
                warnings.append("no executed statement of the suspects in the window (--since/--until) on the "
                                "inventory's database: only export files can show exposure")
            say(f"{len(statements):,} statement(s) selected")
            replay = Replayer(inventory, backend, req.budget, server_starts(case)).run(statements)
            timings["replay_s"] = time.perf_counter() - t
            t = time.perf_counter()
            exports, w = filescan.export_files(case) if req.scan_exports else ([], [])
            warnings += w
            return _finish(req, inventory, backend, statements, replay, exports, warnings, timings,
                           [r.to_dict() for r in resolutions])
        finally:
            backend.close()


def _finish(req: ScopeRequest, inventory: Inventory, backend: Backend, statements: list[AuditStatement],
            replay: ReplayResult, exports: list, warnings: list[str], timings: dict[str, float],
            resolution: list[dict[str, Any]]) -> ScopeResult:
    """Export files, levels, counts."""
    t = time.perf_counter()
    scans = []
    idents = IDENT in wanted_kinds(inventory)
    for i, f in enumerate(exports):
        report("scanning export files", i, len(exports))
        scan = filescan.scan_file(f, idents)
        warnings += scan.warnings
        scans.append(scan)
    fm = match_scans(inventory, backend, scans, len(replay.exposures))
    timings["files_s"] = time.perf_counter() - t
    t = time.perf_counter()
    report("exposure levels and names")
    hits = pa.concat_tables([_with_line(replay.hits), fm.hits.cast(FILE_HITS_SCHEMA)])
    agg = aggregate(inventory, backend, replay.exposures + fm.exposures, hits)
    timings["aggregate_s"] = time.perf_counter() - t
    review: list[dict[str, Any]] = [
        {"kind": k, "subject_ids": list(ids), "detail": d, "src_file": None, "src_record": None}
        for k, ids, d in agg.review]
    review += [{"kind": "weak_file_match" if a.value_kind == "weak_file_match" else "ambiguous_value",
                "subject_ids": list(a.subjects), "detail": a.detail, "src_file": a.src_file,
                "src_record": a.line or None} for a in fm.ambiguous]
    stmt_rows = _statement_rows(statements, replay)
    files = [{"path": s.file.path, "sha256": s.file.sha256, "host": s.file.host, "bytes": s.file.size,
              "lines": s.lines, "values": s.values.num_rows, "seconds": round(s.seconds, 3)} for s in scans]
    summary = summarize(inventory, req, backend, agg.counts, stmt_rows, scans, len(review), fm.recognized)
    return ScopeResult(summary, agg.subjects, stmt_rows, review, timings, sorted(set(warnings)), files, resolution)


def server_starts(case: Case) -> list[tuple[datetime, str]]:
    """(time, version() text) of every PostgreSQL server start in the case's logs."""
    rows = case.rows("SELECT ts, message FROM db_audit WHERE dialect = 'postgresql' AND ts IS NOT NULL "
                     "AND message LIKE 'starting PostgreSQL %'")
    return [(ts, str(msg)[len("starting "):].strip()) for ts, msg in rows]


def _with_line(hits: pa.Table) -> pa.Table:
    return hits.append_column("line", pa.nulls(hits.num_rows, pa.int64()))


def _statement_rows(statements: list[AuditStatement], replay: ReplayResult) -> list[dict[str, Any]]:
    subjects: Counter[str] = Counter()
    by_stmt = {e.index: e.statement_id for e in replay.exposures}
    if replay.hits.num_rows:  # in DuckDB: Arrow's hash aggregate held gigabytes at millions of hits
        con = local.connect()
        try:
            con.register("h", replay.hits)
            for e, n in con.execute("SELECT exposure, count(DISTINCT subject_key) FROM h GROUP BY exposure").fetchall():
                subjects[by_stmt[e]] += n
        finally:
            con.close()
    rows: list[dict[str, Any]] = []
    for s, o in zip(statements, replay.outcomes, strict=True):
        rows.append({
            "statement_id": s.statement_id, "outcome": o.outcome, "reason": "; ".join(sorted(set(o.reasons))) or None,
            "shape": o.shape, "src_file": s.src_file, "src_record": s.src_record, "duplicates": list(s.duplicates),
            "ts": s.ts, "user": s.user, "src_ip": s.src_ip, "session_id": s.session_id, "database": s.database,
            "dialect": s.dialect, "command": s.command, "tables": sorted(o.tables), "categories": sorted(o.categories),
            "rows_logged": s.rows, "rows_replayed": o.rows_replayed, "subjects": subjects.get(s.statement_id, 0),
            "statement": s.text,
        })
    return rows


def summarize(inventory: Inventory, req: ScopeRequest, backend: Backend, counts: SubjectCounts,
              statements: list[dict[str, Any]], scans: list[filescan.ScanResult], review: int,
              recognized: dict[str, int]) -> ExposureSummary:
    outcomes = Counter(str(s["outcome"]) for s in statements)
    return ExposureSummary(
        organizations=_counts(counts.organizations),
        persons=_counts(counts.persons),
        categories=tuple(sorted(counts.category_levels)),
        category_levels=dict(sorted(counts.category_levels.items())),
        excluded={**counts.excluded, "policies": counts.policies},
        statements={"replayed": outcomes[REPLAYED], "potential": outcomes[STMT_POTENTIAL],
                    "ignored": outcomes[IGNORED]},
        files={"scanned": len(scans), "values_found": sum(recognized.values()),
               **{f"found_{k}": v for k, v in sorted(recognized.items())}},
        review=review,
        jurisdictions=counts.jurisdictions,
        snapshot=backend.info.identity,
        inventory=inventory.name,
        suspects=req.suspects.to_dict(),
        controller=Controller(inventory.controller.country, tuple(inventory.controller.sectors)),
        organization_records=counts.organization_records,
    )


def _counts(c: Counter) -> LevelCounts:
    return LevelCounts(confirmed_exfiltrated=c[CONFIRMED_EXFILTRATED], confirmed_accessed=c[CONFIRMED_ACCESSED],
                       potential=c[POTENTIAL])

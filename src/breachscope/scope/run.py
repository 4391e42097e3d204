"""`scope`: statements -> replay -> exports -> levels -> counts. Returns typed results; writing is outputs.py."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import sqlglot

from breachscope.engines.duckdb_case import open_case
from breachscope.model.errors import UsageError
from breachscope.model.exposure import (
    CONFIRMED_ACCESSED,
    CONFIRMED_EXFILTRATED,
    IGNORED,
    LEVEL_RANK,
    NOT_EXPOSED,
    POTENTIAL,
    REPLAYED,
    STMT_POTENTIAL,
    ExposureSummary,
    LevelCounts,
)
from breachscope.model.inventory import Inventory, load_inventory
from breachscope.model.progress import report
from breachscope.scope import filescan
from breachscope.scope.backends import Backend, open_backend
from breachscope.scope.levels import aggregate
from breachscope.scope.match import FILE_HITS_SCHEMA, match_scans, wanted_kinds
from breachscope.scope.recognizers import IDENT
from breachscope.scope.replay import Replayer, ReplayResult
from breachscope.scope.statements import AuditStatement, Suspects, select_statements


@dataclass(frozen=True)
class ScopeRequest:
    case_dir: Path
    inventory: Path
    snapshot: str
    suspects: Suspects
    scan_exports: bool = True


@dataclass
class ScopeResult:
    summary: ExposureSummary
    subjects: list[dict[str, object]]
    statements: list[dict[str, object]]
    review: list[dict[str, object]]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[dict[str, object]] = field(default_factory=list)


def run_scope(req: ScopeRequest, progress: Callable[[str], None] | None = None) -> ScopeResult:
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    inventory = load_inventory(req.inventory)
    backend = open_backend(req.snapshot)
    try:
        warnings = check_inventory(inventory, backend)
        timings["snapshot_s"] = time.perf_counter() - t
        with open_case(req.case_dir) as case:
            t = time.perf_counter()
            statements = select_statements(case, req.suspects, inventory.database)
            say(f"{len(statements):,} statement(s) selected")
            replay = Replayer(inventory, backend).run(statements)
            timings["replay_s"] = time.perf_counter() - t
            t = time.perf_counter()
            exports, w = filescan.export_files(case) if req.scan_exports else ([], [])
        warnings += w
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
        for r in agg.subjects:
            r["snapshot"] = backend.info.identity
        review = [{"kind": k, "subject_ids": list(ids), "detail": d, "src_file": None, "src_record": None}
                  for k, ids, d in agg.grouping.review]
        review += [{"kind": "weak_file_match" if a.value_kind == "weak_file_match" else "ambiguous_value",
                    "subject_ids": list(a.subjects), "detail": a.detail, "src_file": a.src_file,
                    "src_record": a.line or None} for a in fm.ambiguous]
        stmt_rows = _statement_rows(statements, replay)
        files = [{"path": s.file.path, "sha256": s.file.sha256, "host": s.file.host, "bytes": s.file.size,
                  "lines": s.lines, "values": s.values.num_rows, "seconds": round(s.seconds, 3)} for s in scans]
        summary = summarize(inventory, req, backend, agg.subjects, stmt_rows, scans, len(review), fm.recognized)
        return ScopeResult(summary, agg.subjects, stmt_rows, review, timings, sorted(set(warnings)), files)
    finally:
        backend.close()


def check_inventory(inventory: Inventory, backend: Backend) -> list[str]:
    """Dataset tables and columns missing from the snapshot are reported; a broken exclusion stops the run."""
    warnings = []
    tables = backend.info.tables
    for d in inventory.datasets:
        if d.table not in tables:
            warnings.append(f"inventory table not in the snapshot: {d.table}")
            continue
        for col, _ in d.columns:
            if col not in tables[d.table]:
                warnings.append(f"inventory column not in the snapshot: {d.table}.{col}")
    for e in inventory.exclusions:
        if e.table not in tables:
            raise UsageError(f"exclusion {e.name}: table {e.table} is not in the snapshot")
        try:
            pred = sqlglot.transpile(e.where, read="postgres", write=backend.info.dialect)[0]
            schema, _, bare = e.table.rpartition(".")
            target = (f'"{schema}".' if schema else "") + f'"{bare}"'
            backend.query(f"SELECT count(*) AS n FROM {target} WHERE {pred}")
        except Exception as exc:
            raise UsageError(f"exclusion {e.name}: predicate does not run on the snapshot: {exc}") from exc
    return warnings


def _with_line(hits: pa.Table) -> pa.Table:
    return hits.append_column("line", pa.nulls(hits.num_rows, pa.int64()))


def _statement_rows(statements: list[AuditStatement], replay: ReplayResult) -> list[dict[str, object]]:
    subjects = Counter()
    by_stmt = {e.index: e.statement_id for e in replay.exposures}
    if replay.hits.num_rows:
        pairs = pa.table({"e": replay.hits.column("exposure"), "k": replay.hits.column("subject_key")})
        for row in pairs.group_by(["e"]).aggregate([("k", "count_distinct")]).to_pylist():
            subjects[by_stmt[row["e"]]] += row["k_count_distinct"]
    rows = []
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


def summarize(inventory: Inventory, req: ScopeRequest, backend: Backend, subjects: list[dict[str, object]],
              statements: list[dict[str, object]], scans: list[filescan.ScanResult], review: int,
              recognized: dict[str, int]) -> ExposureSummary:
    affected = [s for s in subjects if s["level"] != NOT_EXPOSED]
    excluded = [s for s in subjects if s["level"] == NOT_EXPOSED and s["excluded_by"]]
    persons = Counter(str(s["level"]) for s in affected if s["subject_type"] == "person")
    groups: dict[str, str] = {}
    for s in affected:
        if s["subject_type"] == "organization":
            g = str(s["organization_group"] or s["subject_id"])
            lv = str(s["level"])
            groups[g] = lv if g not in groups or LEVEL_RANK[lv] > LEVEL_RANK[groups[g]] else groups[g]
    orgs = Counter(groups.values())
    cat_levels: dict[str, str] = {}
    for s in affected:
        for c, lv in s["category_levels"]:  # type: ignore[union-attr]
            if c not in cat_levels or LEVEL_RANK[lv] > LEVEL_RANK[cat_levels[c]]:
                cat_levels[c] = lv
    by_policy: dict[str, dict[str, int]] = {}
    for s in excluded:
        for p in s["excluded_by"]:  # type: ignore[union-attr]
            d = by_policy.setdefault(str(p), {"organizations": 0, "persons": 0})
            d["organizations" if s["subject_type"] == "organization" else "persons"] += 1
    juris: dict[str, dict[str, int]] = {}
    for s in affected:
        d = juris.setdefault(str(s["jurisdiction"] or "unknown"), {"organizations": 0, "persons": 0})
        d["organizations" if s["subject_type"] == "organization" else "persons"] += 1
    outcomes = Counter(str(s["outcome"]) for s in statements)
    return ExposureSummary(
        organizations=_counts(orgs),
        persons=_counts(persons),
        categories=tuple(sorted(cat_levels)),
        category_levels=tuple(sorted(cat_levels.items())),
        excluded={"organizations": sum(1 for s in excluded if s["subject_type"] == "organization"),
                  "persons": sum(1 for s in excluded if s["subject_type"] == "person"),
                  "policies": {k: by_policy[k] for k in sorted(by_policy)}},
        statements={"replayed": outcomes[REPLAYED], "potential": outcomes[STMT_POTENTIAL],
                    "ignored": outcomes[IGNORED]},
        files={"scanned": len(scans), "values_found": sum(recognized.values()),
               **{f"found_{k}": v for k, v in sorted(recognized.items())}},
        review=review,
        jurisdictions={k: juris[k] for k in sorted(juris)},
        snapshot=backend.info.identity,
        inventory=inventory.name,
        suspects=req.suspects.to_dict(),
        controller={"country": inventory.controller.country, "sectors": list(inventory.controller.sectors)},
        organization_records=sum(1 for s in affected if s["subject_type"] == "organization"),
    )


def _counts(c: Counter) -> LevelCounts:
    return LevelCounts(confirmed_exfiltrated=c[CONFIRMED_EXFILTRATED], confirmed_accessed=c[CONFIRMED_ACCESSED],
                       potential=c[POTENTIAL])

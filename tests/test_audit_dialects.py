"""Audit dialects (model.audit_dialects): each database audit reader declares the `db_audit.dialect` values
it writes, each dialect which of its records carry an executed statement; scope replays exactly those.
Checked on the registry, on real logs (shared samples, a real server's logs in tests/fixtures) and on
the condition scope builds from the declarations."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.reader import Reader
from breachscope.ingest.registry import READERS, detect
from breachscope.model.audit_dialects import AUDIT_DIALECTS, AuditDialect, executed_condition
from breachscope.model.schema import DB_AUDIT_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures"


def _rows(path: Path, reader: Reader) -> pa.Table:
    src = SourceInfo(display=path.name, path=path, sha256="0" * 64, size=path.stat().st_size, mtime=0.0)
    ctx = ReadContext(source=src, options=IngestOptions(year=2025))
    return pa.Table.from_batches([b for _t, b in reader.read(ctx)], DB_AUDIT_SCHEMA)


def test_every_database_audit_reader_declares_its_dialects_and_the_table_lists_them_all() -> None:
    declared = [d for r in READERS for d in r.audit_dialects]
    assert {r.name for r in READERS if r.audit_dialects} == {r.name for r in READERS if r.family == "db_audit"}
    assert len({d.name for d in declared}) == len(declared), "a dialect is declared by two readers"
    assert sorted(d.name for d in declared) == sorted(d.name for d in AUDIT_DIALECTS)


def test_readers_write_only_the_dialects_they_declare(datasets: Path) -> None:
    files = [datasets / "db-audit-samples/pgaudit/expected/pgaudit.out",
             datasets / "db-audit-samples/mariadb-server_audit/server_audit.result.audit_lines.csv",
             *sorted(p for p in (FIXTURES / "pgaudit").iterdir() if p.suffix != ".md"),
             *sorted((FIXTURES / "mysql_general").glob("*.log"))]
    seen: set[str] = set()
    for path in files:
        reader = detect(path.read_bytes()[:65536], path.name)
        assert reader is not None and reader.family == "db_audit", path
        written = set(_rows(path, reader).column("dialect").to_pylist())
        assert written and written <= {d.name for d in reader.audit_dialects}, (path, written)
        seen |= written
    assert seen == {d.name for d in AUDIT_DIALECTS}  # every dialect is exercised on real logs


def test_the_executed_condition_selects_exactly_the_declared_audit_types(datasets: Path) -> None:
    tables = []
    for path in (datasets / "db-audit-samples/pgaudit/expected/pgaudit.out", FIXTURES / "pgaudit" / "csvlog.csv",
                 datasets / "db-audit-samples/mariadb-server_audit/server_audit.result.audit_lines.csv",
                 FIXTURES / "mysql_general" / "general_mysql8.log"):
        reader = detect(path.read_bytes()[:65536], path.name)
        assert reader is not None
        tables.append(_rows(path, reader).select(["dialect", "audit_type"]))
    rows = pa.concat_tables(tables)  # DuckDB reads it by name
    con = duckdb.connect()
    executed = con.sql(f"SELECT dialect, audit_type FROM rows WHERE {executed_condition()}").fetchall()
    expected = [(d, t) for d, t in zip(rows.column("dialect").to_pylist(), rows.column("audit_type").to_pylist(),
                                       strict=True)
                if any(d == a.name and t in a.executed for a in AUDIT_DIALECTS)]
    assert sorted(executed, key=str) == sorted(expected, key=str)
    kinds = {d for d, _t in executed}
    assert kinds == {"pgaudit", "mysql_general", "mariadb_audit"}  # each executing dialect has such records
    assert len(executed) < len(rows)  # and connections, errors, other server entries are left out


def test_a_dialect_without_executed_records_adds_nothing_and_values_are_quoted() -> None:
    assert executed_condition(()) == "FALSE"
    assert executed_condition([AuditDialect("x", (), "none")]) == "FALSE"
    odd = executed_condition([AuditDialect("o'x", ("A'B",), "quoted")])
    assert odd == "(dialect = 'o''x' AND audit_type IN ('A''B'))"
    assert duckdb.sql(f"SELECT count(*) FROM (SELECT 'o''x' AS dialect, 'A''B' AS audit_type) WHERE {odd}").fetchall() \
        == [(1,)]

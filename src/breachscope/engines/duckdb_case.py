"""A case opened in DuckDB: one view per event table over its committed Parquet parts, the `events`
view of core columns across all tables, `manifest` and `rejects`, and the views of the stages' runs
(`findings`, `subjects`, `obligations`, `runs`...: engines/run_views.py).

`Case` holds the case folder (model/case_folder.py: layout, manifest, runs; readable with no engine)
and the DuckDB engine its views are opened in; it answers the engine's calls by handing them to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from breachscope.engines.case_tables import case_tables, parquet_list
from breachscope.engines.duckdb_engine import DuckDBEngine
from breachscope.engines.run_views import create_run_views
from breachscope.model.case import CaseLayout, CaseState
from breachscope.model.case_folder import CaseFolder
from breachscope.model.runs import History
from breachscope.model.schema import CORE_FIELDS, CORE_NAMES, FIXED_SCHEMAS
from breachscope.model.sql import quote_ident, quote_literal

__all__ = ["Case", "DuckDBEngine", "attach_case", "open_case"]

_SQL_TYPES = {
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
}


def attach_case(engine: DuckDBEngine, folder: CaseFolder) -> None:
    """Create the case's views in the engine: its tables, `events`, `rejects`, `manifest`, the runs'."""
    con = engine.con
    for table, files in case_tables(folder).items():
        engine.tables[table] = files
        if files:
            con.execute(f"CREATE VIEW {quote_ident(table)} AS SELECT * FROM read_parquet({parquet_list(files)}, "
                        "union_by_name = true)")
        else:  # a fixed table always exists, if only empty
            con.register(f"empty_{table}", FIXED_SCHEMAS[table].empty_table())
            con.execute(f"CREATE VIEW {quote_ident(table)} AS SELECT * FROM empty_{table}")
    if "rejects" not in engine.tables:
        con.execute(
            "CREATE VIEW rejects AS SELECT NULL::VARCHAR AS src_file, NULL::VARCHAR AS src_sha256, "
            "NULL::VARCHAR AS location, NULL::VARCHAR AS reason, NULL::VARCHAR AS excerpt WHERE false"
        )
    cols = ", ".join(quote_ident(c) for c in CORE_NAMES)
    selects = [
        f"SELECT {cols}, {quote_literal(t)} AS table_name FROM {quote_ident(t)}"
        for t in engine.event_tables
    ]
    if not selects:
        typed = ", ".join(f"NULL::{_SQL_TYPES[f.type]} AS {quote_ident(f.name)}" for f in CORE_FIELDS)
        selects = [f"SELECT {typed}, NULL::VARCHAR AS table_name WHERE false"]
    con.execute("CREATE VIEW events AS " + " UNION ALL ".join(selects))
    manifest = pa.Table.from_pylist(
        [vars(f) for f in folder.state.files] or [],  # not asdict(): its deep copies cost ~1 ms a file
        schema=_MANIFEST_SCHEMA,
    )
    con.register("manifest_arrow", manifest)
    con.execute("CREATE VIEW manifest AS SELECT * FROM manifest_arrow")
    create_run_views(con, folder.layout, folder.history)


class Case:
    """An investigation case for analysts and for every later stage (read-only on the evidence): the
    folder, and the DuckDB engine that queries it (`case.engine`; the engine's calls work on the case)."""

    dialect = "duckdb"

    def __init__(self, path: str | Path, threads: int | None = None, memory_limit: str | None = None,
                 run: str | None = None) -> None:
        # the runs behind findings/subjects/obligations: the latest, or the case as it stood at `run`
        self.folder = CaseFolder.open(path, run=run)
        self.engine = DuckDBEngine(threads=threads, memory_limit=memory_limit)
        try:
            attach_case(self.engine, self.folder)
        except BaseException:
            self.engine.close()
            raise

    # --- the folder
    @property
    def layout(self) -> CaseLayout:
        return self.folder.layout

    @property
    def state(self) -> CaseState:
        return self.folder.state

    @property
    def history(self) -> History:
        return self.folder.history

    @property
    def root(self) -> Path:
        return self.folder.root

    # --- the engine (engines/protocol.py, and the analyst's calls)
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.engine.con

    @property
    def tables(self) -> dict[str, list[str]]:
        return self.engine.tables

    @property
    def event_tables(self) -> list[str]:
        return self.engine.event_tables

    def schemas(self) -> dict[str, pa.Schema]:
        return self.engine.schemas()

    def query(self, sql: str) -> pa.Table:
        return self.engine.query(sql)

    def hold_in_memory(self, max_bytes: int = 256 << 20) -> list[str]:
        return self.engine.hold_in_memory(max_bytes)

    def register(self, name: str, table: pa.Table) -> None:
        self.engine.register(name, table)

    def materialize(self, name: str, sql: str) -> int:
        return self.engine.materialize(name, sql)

    def drop(self, name: str) -> None:
        self.engine.drop(name)

    def sql(self, query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyRelation:
        return self.engine.sql(query, params)

    def rows(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.engine.rows(query, params)

    def one(self, query: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        return self.engine.one(query, params)

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        return self.engine.scalar(query, params)

    def count(self, table: str = "events") -> int:
        return self.engine.count(table)

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_MANIFEST_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("size", pa.int64()),
        ("format", pa.string()),
        ("status", pa.string()),
        ("records", pa.int64()),
        ("rejected", pa.int64()),
        ("rejects_by_reason", pa.map_(pa.string(), pa.int64())),
        ("first_rejects", pa.list_(pa.map_(pa.string(), pa.string()))),
        ("warnings", pa.list_(pa.string())),
        ("tables", pa.map_(pa.string(), pa.int64())),
        ("duration_s", pa.float64()),
        ("duplicate_of", pa.string()),
        ("error", pa.string()),
        ("note", pa.string()),
    ]
)


def open_case(path: str | Path, **kwargs: Any) -> Case:
    """Open a case folder for querying: `open_case("case").sql("SELECT ...")`; `run="RUN_ID"` shows the
    findings, subjects and obligations as they stood when that run was committed (see the `runs` view)."""
    return Case(path, **kwargs)

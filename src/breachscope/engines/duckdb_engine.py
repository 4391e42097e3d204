"""The DuckDB engine: a connection with event tables (views over Parquet parts, or Arrow tables) that
detection runs on (engines/protocol.py: dialect, schemas, query, register, materialize, drop), plus
analyst conveniences (sql, rows, one, scalar, count). A case folder opened in it: engines/duckdb_case.py."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from breachscope.engines import local
from breachscope.engines.case_tables import NON_EVENT_TABLES
from breachscope.engines.table_fields import part_schemas, with_fields
from breachscope.model.sql import quote_ident, quote_literal


def _decoded_bytes(files: list[str]) -> int:
    import pyarrow.parquet as pq  # here: it loads ssl and S3 support, ~0.1 s of every command's start

    total = 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return total


class DuckDBEngine:
    """A DuckDB connection with event tables: the query engine protocol detection runs on
    (dialect, schemas, query, register, materialize, drop) plus analyst conveniences."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None, threads: int | None = None,
                 memory_limit: str | None = None) -> None:
        self.con = con or local.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")  # DuckDB's own bar goes to stdout, even a pipe
        # Parquet footers read once: binding the `events` view re-read every part's (halves a case's open)
        self.con.execute("SET parquet_metadata_cache = true")
        # spill files go to a private temporary folder (DuckDB's default is ./.tmp in the caller's cwd)
        self._spill = tempfile.mkdtemp(prefix="breachscope-duckdb-")
        # removed on close(), and also when an engine nobody closed is collected or the process exits
        self._remove_spill = weakref.finalize(self, shutil.rmtree, self._spill, True)
        self.con.execute(f"SET temp_directory = {quote_literal(self._spill)}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
        self.tables: dict[str, list[str]] = {}
        self._registered: set[str] = set()
        self._arrow_schemas: dict[str, pa.Schema] = {}  # tables given as Arrow (from_arrow): their metadata

    @classmethod
    def from_arrow(cls, tables: dict[str, pa.Table]) -> DuckDBEngine:
        """An engine over in-memory tables (tests, notebooks)."""
        engine = cls()
        for name, table in tables.items():
            engine.con.register(name, table)
            engine.tables[name] = []
            engine._arrow_schemas[name] = table.schema
        return engine

    def schemas(self) -> dict[str, pa.Schema]:
        """Arrow schema of every event table (what rule compilation needs to know), with the event field
        each column holds (engines/table_fields.py)."""
        return {t: with_fields(t, self.con.sql(f"SELECT * FROM {quote_ident(t)} LIMIT 0").to_arrow_table().schema,
                               [s for s in (self._arrow_schemas.get(t),) if s] + part_schemas(t, self.tables[t]))
                for t in self.event_tables}

    def query(self, sql: str) -> pa.Table:
        try:
            return self._query(sql)
        except duckdb.OutOfMemoryException:
            # each thread keeps its own partitions of a wide aggregation: one thread needs about half
            # (measured: a 2.8M-event hunt under a 1.5 GB limit fails on 2 threads, passes on 1)
            threads = int(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
            if threads <= 1:
                raise
            self.con.execute("SET threads = 1")
            try:
                return self._query(sql)
            finally:
                self.con.execute(f"SET threads = {threads}")

    def _query(self, sql: str) -> pa.Table:
        with self._text_kept(sql):
            return self.con.sql(sql).to_arrow_table()

    @contextmanager
    def _text_kept(self, sql: str) -> Iterator[None]:
        """Keyword rules read the event's text from a subquery column; filter pushdown would paste that
        expression (a concatenation of every field) into each keyword test: measured 6x slower."""
        if "__bs_ltext" not in sql:
            yield
            return
        self.con.execute("SET disabled_optimizers = 'filter_pushdown'")
        try:
            yield
        finally:
            self.con.execute("SET disabled_optimizers = ''")

    def hold_in_memory(self, max_bytes: int = 256 << 20) -> list[str]:
        """Copy small event tables into memory for a run of many queries (detection): each query then
        skips Parquet decoding. The copies shadow the views (temp schema first) until close(). Only
        tables whose decoded size (Parquet metadata) is at most max_bytes: measured on 0.7M OTRF events
        (844 MB by Parquet metadata), holding them cost 2.4 GB RSS and saved no time."""
        held = []
        for t in self.event_tables:
            if self.tables[t] and _decoded_bytes(self.tables[t]) <= max_bytes:
                name = quote_ident(t)
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM main.{name}")
                held.append(t)
        return held

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)
        self._registered.add(name)

    def materialize(self, name: str, sql: str) -> int:
        """Run sql into a temporary table `name`; return its row count."""
        with self._text_kept(sql):
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS {sql}")
        return int(self.con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchall()[0][0])

    def drop(self, name: str) -> None:
        if name in self._registered:
            self._registered.discard(name)
            self.con.unregister(name)
        else:
            self.con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")

    @property
    def event_tables(self) -> list[str]:
        return sorted(t for t in self.tables if t not in NON_EVENT_TABLES)

    def sql(self, query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyRelation:
        return self.con.sql(query, params=params) if params else self.con.sql(query)

    def rows(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """All result rows (the result is complete when this returns)."""
        return self.con.execute(query, params or []).fetchall()

    def one(self, query: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        rows = self.rows(query, params)
        return rows[0] if rows else None

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        row = self.one(query, params)
        return row[0] if row else None

    def count(self, table: str = "events") -> int:
        return int(self.con.sql(f"SELECT count(*) FROM {quote_ident(table)}").fetchall()[0][0])

    def close(self) -> None:
        self.con.close()
        self._remove_spill()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

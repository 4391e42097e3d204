"""Rows of the snapshot for a set of subject keys, and key sets out of the levels' DuckDB tables, as Arrow
arrays: a million keys never become a million Python strings when the snapshot is DuckDB's."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from breachscope.scope.backends import Backend, DuckDBBackend


def lookup(backend: Backend, table: str, key: str, columns: list[str], ids: pa.Array) -> pa.Table:
    """The snapshot's rows of these keys (`__bs_key`, then the columns as text); DuckDB takes the keys as
    Arrow, a PostgreSQL server as a list."""
    keys: Any = ids if isinstance(backend, DuckDBBackend) else ids.to_pylist()
    return backend.lookup(table, key, columns, keys)


def ids_of(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Array:
    """The first column of a query, as one Arrow string array."""
    return con.sql(sql).to_arrow_table().column(0).combine_chunks().cast(pa.string())

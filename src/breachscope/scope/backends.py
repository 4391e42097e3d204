"""Replay backends: the point-in-time snapshot the statements are replayed against, read-only.

- DuckDB over the snapshot's Parquet files (one file per table: `customers.parquet`, `sales.orders.parquet`),
  copied into memory once so that thousands of replay queries skip Parquet decoding.
- A PostgreSQL database given by DSN (psycopg), every query in a READ ONLY transaction.

Both run the same generated queries (sqlglot writes them in each dialect) and return Arrow tables,
so a test can compare their subjects row for row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from breachscope.engines.duckdb_case import quote_ident, quote_literal
from breachscope.model.errors import UsageError
from breachscope.model.inventory import table_name

PARAMS = "__bs_params"


@dataclass(frozen=True)
class SnapshotInfo:
    identity: str  # what every exposed subject cites as its snapshot
    dialect: str  # sqlglot dialect of the generated queries: duckdb | postgres
    tables: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> type text
    files: tuple[tuple[str, str], ...] = ()  # (file, sha256) of a Parquet snapshot


class Backend(Protocol):
    info: SnapshotInfo

    def query(self, sql: str) -> pa.Table: ...

    def batch(self, final_sql: str, stmt_ids: list[int], slots: list[list[str | None]]) -> pa.Table: ...

    def lookup(self, table: str, key: str, columns: list[str], keys: list[str]) -> pa.Table: ...

    def match(self, table: str, key: str, column: str, norm: str, values: list[str],
              flags: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]: ...

    def close(self) -> None: ...


def is_dsn(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://")) or ("=" in text and not Path(text).exists())


def open_backend(snapshot: str) -> Backend:
    if is_dsn(snapshot):
        return PostgresBackend(snapshot)
    return DuckDBBackend(Path(snapshot))


class DuckDBBackend:
    """The Parquet snapshot in an in-memory DuckDB database."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        files = parquet_tables(path)
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")  # DuckDB's own bar goes to stdout, even a pipe
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        tables: dict[str, dict[str, str]] = {}
        digests = []
        for name, f in sorted(files.items()):
            schema, _, bare = name.rpartition(".")
            if schema:
                self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            target = (quote_ident(schema) + "." if schema else "") + quote_ident(bare)
            self.con.execute(f"CREATE TABLE {target} AS SELECT * FROM read_parquet({quote_literal(str(f))})")
            cols = self.con.execute(f"DESCRIBE {target}").fetchall()
            tables[name] = {str(c[0]).lower(): str(c[1]) for c in cols}
            digests.append((str(f), _sha256(f)))
        combined = hashlib.sha256("\n".join(f"{Path(f).name} {d}" for f, d in digests).encode()).hexdigest()
        self.info = SnapshotInfo(identity=f"parquet:{path}#sha256:{combined[:16]}", dialect="duckdb",
                                 tables=tables, files=tuple(digests))

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def batch(self, final_sql: str, stmt_ids: list[int], slots: list[list[str | None]]) -> pa.Table:
        cols: dict[str, Any] = {"__bs_stmt": pa.array(stmt_ids, pa.int64())}
        for i, values in enumerate(slots):
            cols[f"p{i + 1}"] = pa.array(values, pa.string())
        self.con.register(PARAMS, pa.table(cols))
        try:
            return self.con.sql(
                f"SELECT __bs_p.__bs_stmt, __bs_r.* FROM {PARAMS} AS __bs_p, LATERAL ({final_sql}) AS __bs_r"
            ).to_arrow_table()
        finally:
            self.con.unregister(PARAMS)

    def lookup(self, table: str, key: str, columns: list[str], keys: list[str]) -> pa.Table:
        self.con.register("__bs_keys", pa.table({"k": pa.array(keys, pa.string())}))
        try:
            return self.con.sql(_lookup_sql(table, key, columns, "IN (SELECT k FROM __bs_keys)")).to_arrow_table()
        finally:
            self.con.unregister("__bs_keys")

    def match(self, table: str, key: str, column: str, norm: str, values: list[str],
              flags: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]:
        """(subject key, normalized value, first exclusion policy of the row) of rows whose normalized
        column is among values."""
        self.con.register("__bs_vals", pa.table({"v": pa.array(values, pa.string())}))
        try:
            sql = _match_sql(table, key, column, norm, flags, "IN (SELECT v FROM __bs_vals)")
            return self.con.execute(sql).fetchall()
        finally:
            self.con.unregister("__bs_vals")

    def close(self) -> None:
        self.con.close()


class PostgresBackend:
    """A live PostgreSQL database: every replay query runs in a READ ONLY transaction."""

    def __init__(self, dsn: str) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            self.con = psycopg.connect(dsn, autocommit=False)
        except psycopg.Error as exc:
            raise UsageError(f"cannot connect to the snapshot database: {str(exc).strip()}") from exc
        self._errors = psycopg.Error
        self.con.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        self.con.execute("SET TIME ZONE 'UTC'")
        self.con.commit()
        parts = conninfo_to_dict(dsn)
        ident = " ".join(f"{k}={parts[k]}" for k in ("host", "port", "dbname") if parts.get(k))
        rows = self._rows(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, ordinal_position"
        )
        tables: dict[str, dict[str, str]] = {}
        for schema, tname, col, dtype in rows:
            try:
                name = table_name(tname if schema == "public" else f"{schema}.{tname}", "snapshot")
            except UsageError:
                continue  # a name the inventory could not hold cannot be one of its tables
            tables.setdefault(name, {})[str(col).lower()] = str(dtype)
        self.info = SnapshotInfo(identity=f"postgresql:{ident}", dialect="postgres", tables=tables)

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.con.transaction(), self.con.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute(sql, params)
            return cur.fetchall()

    def _table(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        with self.con.transaction(), self.con.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute(sql, params)
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
        return _rows_to_arrow(names, rows)

    def query(self, sql: str) -> pa.Table:
        return self._table(sql.replace("%", "%%"), [])

    def batch(self, final_sql: str, stmt_ids: list[int], slots: list[list[str | None]]) -> pa.Table:
        arrays = ", ".join(["%s::bigint[]"] + ["%s::text[]"] * len(slots))
        names = ", ".join(["__bs_stmt"] + [f"p{i + 1}" for i in range(len(slots))])
        sql = (f"SELECT __bs_p.__bs_stmt, __bs_r.* FROM unnest({arrays}) AS __bs_p({names}), "
               f"LATERAL ({final_sql.replace('%', '%%')}) AS __bs_r")
        return self._table(sql, [stmt_ids, *slots])

    def lookup(self, table: str, key: str, columns: list[str], keys: list[str]) -> pa.Table:
        return self._table(_lookup_sql(table, key, columns, "= ANY(%s)"), [keys])

    def match(self, table: str, key: str, column: str, norm: str, values: list[str],
              flags: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]:
        sql = _match_sql(table, key, column, norm, flags, "= ANY(__bs_values__)")
        return self._rows(sql.replace("%", "%%").replace("__bs_values__", "%s"), [values])

    def close(self) -> None:
        self.con.close()


def _target(table: str) -> str:
    schema, _, bare = table.rpartition(".")
    return (quote_ident(schema) + "." if schema else "") + quote_ident(bare)


def _lookup_sql(table: str, key: str, columns: list[str], keys_cond: str) -> str:
    """The named columns (as text) of the rows whose key (as text) is among the keys."""
    cols = ", ".join(f"CAST({quote_ident(c)} AS TEXT) AS {quote_ident(c)}" for c in columns)
    return (f"SELECT CAST({quote_ident(key)} AS TEXT) AS __bs_key{', ' + cols if cols else ''} "
            f"FROM {_target(table)} WHERE CAST({quote_ident(key)} AS TEXT) {keys_cond}")


#: Normalizations of a column for matching values found in files (the same on both engines).
NORMALIZE = {
    "lower": "lower(trim(CAST({col} AS TEXT)))",
    "digits": "regexp_replace(CAST({col} AS TEXT), '[^0-9]', '', 'g')",
}


def _match_sql(table: str, key: str, column: str, norm: str, flags: list[tuple[str, str]], values_cond: str) -> str:
    """flags: (policy, predicate) of the inventory's exclusions on this table (configuration, not evidence)."""
    expr = NORMALIZE[norm].format(col=quote_ident(column))
    policy = ("CASE " + " ".join(f"WHEN ({pred}) THEN {quote_literal(name)}" for name, pred in flags) + " END"
              if flags else "CAST(NULL AS TEXT)")
    return (f"SELECT CAST({quote_ident(key)} AS TEXT), {expr}, {policy} FROM {_target(table)} "
            f"WHERE {expr} {values_cond}")


def _rows_to_arrow(names: list[str], rows: list[tuple[Any, ...]]) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    arrays = []
    for n, values in zip(names, cols, strict=True):
        if n == "__bs_stmt" or n == "__bs_g":
            arrays.append(pa.array(values, pa.int64()))
        elif n.startswith("__bs_x"):
            arrays.append(pa.array(values, pa.bool_()))
        else:
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.table(dict(zip(names, arrays, strict=True))) if names else pa.table({})


def parquet_tables(path: Path) -> dict[str, Path]:
    """`<table>.parquet` or `<schema>.<table>.parquet` files under the snapshot folder (any depth)."""
    if path.is_file() and path.suffix == ".parquet":
        candidates = [path]
    elif path.is_dir():
        candidates = sorted(path.rglob("*.parquet"))
    else:
        raise UsageError(f"snapshot not found: {path} (a folder of Parquet files, or a PostgreSQL DSN)")
    out: dict[str, Path] = {}
    for f in candidates:
        try:
            name = table_name(f.stem, "snapshot")
        except UsageError:
            continue
        if name in out:
            raise UsageError(f"snapshot: two files for table {name}: {out[name]} and {f}")
        out[name] = f
    if not out:
        raise UsageError(f"snapshot {path}: no <table>.parquet file found")
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

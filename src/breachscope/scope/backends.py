"""Replay backends: the point-in-time snapshot the statements are replayed against, read-only.

- DuckDB over the snapshot's Parquet files (one file per table: `customers.parquet`, `sales.orders.parquet`),
  copied into memory once so that thousands of replay queries skip Parquet decoding; then locked down
  (no file or network access, no extension installed or loaded, configuration locked, a memory limit)
  and every query on the time budget (interrupted) and the row budget (docs/scope.md).
- A PostgreSQL database given by DSN (scope/pg_backend.py).

Both run the same generated queries (sqlglot writes them in each dialect) and return Arrow tables,
so a test can compare their subjects row for row.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from breachscope.engines import local
from breachscope.model.errors import UsageError
from breachscope.model.inventory import table_name
from breachscope.model.sql import quote_ident, quote_literal
from breachscope.scope.budget import Budget, OverBudget

PARAMS = "__bs_params"


@dataclass(frozen=True)
class SnapshotInfo:
    identity: str  # what every exposed subject cites as its snapshot
    dialect: str  # sqlglot dialect of the generated queries: duckdb | postgres
    tables: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> type text
    files: tuple[tuple[str, str], ...] = ()  # (file, sha256) of a Parquet snapshot
    shadowed: frozenset[str] = frozenset()  # names of functions the snapshot defines itself (PostgreSQL)
    shadowed_operators: frozenset[str] = frozenset()  # operators it defines itself


class Backend(Protocol):
    info: SnapshotInfo
    warnings: list[str]

    def query(self, sql: str) -> pa.Table: ...

    def batch(self, final_sql: str, stmt_ids: list[int], slots: list[list[str | None]]) -> pa.Table: ...

    def lookup(self, table: str, key: str, columns: list[str], keys: list[str]) -> pa.Table: ...

    def match(self, table: str, key: str, column: str, norm: str, values: list[str],
              flags: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]: ...

    def close(self) -> None: ...


def is_dsn(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://")) or ("=" in text and not Path(text).exists())


def open_backend(snapshot: str, budget: Budget | None = None, allow_superuser: bool = False,
                 role: str | None = None, inventory_tables: tuple[str, ...] = ()) -> Backend:
    if is_dsn(snapshot):
        from breachscope.scope.pg_backend import PostgresBackend

        return PostgresBackend(snapshot, budget, allow_superuser, role, inventory_tables)
    if role:
        raise UsageError("--snapshot-role applies to a PostgreSQL snapshot (a DSN), not to Parquet files")
    return DuckDBBackend(Path(snapshot), budget=budget)


class DuckDBBackend:
    """The Parquet snapshot in an in-memory DuckDB database."""

    def __init__(self, path: Path, threads: int | None = None, budget: Budget | None = None) -> None:
        files = parquet_tables(path)
        self.budget = budget or Budget()
        self.warnings: list[str] = []
        self.con = local.connect(utc=True, threads=threads)
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
        self._lock_down()

    def _lock_down(self) -> None:
        """After the snapshot is in memory nothing else is read: no files, no network, no extensions,
        no spilling to disk, memory capped at the snapshot plus the budget, settings frozen."""
        held = self.con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()
        limit_mb = int(held[0] if held else 0) // (1 << 20) + self.budget.memory_mb
        for setting in ("SET temp_directory = ''", "SET autoinstall_known_extensions = false",
                        "SET autoload_known_extensions = false", "SET allow_community_extensions = false",
                        f"SET memory_limit = '{limit_mb}MB'", "SET enable_external_access = false",
                        "SET lock_configuration = true"):
            self.con.execute(setting)

    def _table(self, sql: str) -> pa.Table:
        """One query on the time budget (interrupted) and the row budget (streamed, stopped at the limit)."""
        seconds = self.budget.statement_seconds
        timer = threading.Timer(seconds, self.con.interrupt)
        timer.daemon = True
        timer.start()
        reader = None
        try:
            reader = self.con.sql(sql).to_arrow_reader(100_000)
            batches, n = [], 0
            for b in reader:
                n += b.num_rows
                if n > self.budget.max_rows:
                    raise OverBudget(f"over the row budget (more than {self.budget.max_rows:,} rows)")
                batches.append(b)
            return pa.Table.from_batches(batches, schema=reader.schema)
        except (duckdb.Error, OSError) as exc:
            text = str(exc)
            if isinstance(exc, duckdb.InterruptException) or "INTERRUPT" in text:
                raise OverBudget(f"over the time budget ({seconds:g} s)") from exc
            if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory" in text:
                raise OverBudget(f"over the memory budget ({self.budget.memory_mb:,} MB)") from exc
            raise
        finally:
            timer.cancel()
            if reader is not None:
                reader.close()

    def query(self, sql: str) -> pa.Table:
        return self._table(sql)

    def batch(self, final_sql: str, stmt_ids: list[int], slots: list[list[str | None]]) -> pa.Table:
        cols: dict[str, Any] = {"__bs_stmt": pa.array(stmt_ids, pa.int64())}
        for i, values in enumerate(slots):
            cols[f"p{i + 1}"] = pa.array(values, pa.string())
        self.con.register(PARAMS, pa.table(cols))
        try:
            return self._table(
                f"SELECT __bs_p.__bs_stmt, __bs_r.* FROM {PARAMS} AS __bs_p, LATERAL ({final_sql}) AS __bs_r")
        finally:
            self.con.unregister(PARAMS)

    def lookup(self, table: str, key: str, columns: list[str], keys: list[str]) -> pa.Table:
        self.con.register("__bs_keys", pa.table({"k": pa.array(keys, pa.string())}))
        try:
            return self.con.sql(lookup_sql(table, key, columns, "IN (SELECT k FROM __bs_keys)")).to_arrow_table()
        finally:
            self.con.unregister("__bs_keys")

    def match(self, table: str, key: str, column: str, norm: str, values: list[str],
              flags: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]:
        """(subject key, normalized value, first exclusion policy of the row) of rows whose normalized
        column is among values."""
        self.con.register("__bs_vals", pa.table({"v": pa.array(values, pa.string())}))
        try:
            sql = match_sql(table, key, column, norm, flags, "IN (SELECT v FROM __bs_vals)")
            return self.con.execute(sql).fetchall()
        finally:
            self.con.unregister("__bs_vals")

    def close(self) -> None:
        self.con.close()


def _target(table: str) -> str:
    schema, _, bare = table.rpartition(".")
    return (quote_ident(schema) + "." if schema else "") + quote_ident(bare)


def lookup_sql(table: str, key: str, columns: list[str], keys_cond: str) -> str:
    """The named columns (as text) of the rows whose key (as text) is among the keys."""
    cols = ", ".join(f"CAST({quote_ident(c)} AS TEXT) AS {quote_ident(c)}" for c in columns)
    return (f"SELECT CAST({quote_ident(key)} AS TEXT) AS __bs_key{', ' + cols if cols else ''} "
            f"FROM {_target(table)} WHERE CAST({quote_ident(key)} AS TEXT) {keys_cond}")


#: Full-width digits and plus as ASCII (the file side reads values through NFKC: see recognizers).
_ASCII = "translate(CAST({col} AS TEXT), '０１２３４５６７８９＋', '0123456789+')"
_DIGITS = f"regexp_replace({_ASCII}, '[^0-9]', '', 'g')"
#: Normalizations of a column for matching values found in files (the same on both engines), as the
#: recognizers normalize the file's values: digits only; phone numbers in the national form, so a
#: number stored as '+81 80-1906-8441' or in full-width digits is the same number as 080-1906-8441.
NORMALIZE = {
    "lower": "lower(trim(CAST({col} AS TEXT)))",
    "digits": _DIGITS,
    "phone": f"CASE WHEN ltrim({_ASCII}) LIKE '+81%' THEN '0' || substr({_DIGITS}, 3) ELSE {_DIGITS} END",
}


def match_sql(table: str, key: str, column: str, norm: str, flags: list[tuple[str, str]], values_cond: str) -> str:
    """flags: (policy, predicate) of the inventory's exclusions on this table (configuration, not evidence)."""
    expr = NORMALIZE[norm].format(col=quote_ident(column))
    policy = ("CASE " + " ".join(f"WHEN ({pred}) THEN {quote_literal(name)}" for name, pred in flags) + " END"
              if flags else "CAST(NULL AS TEXT)")
    return (f"SELECT CAST({quote_ident(key)} AS TEXT), {expr}, {policy} FROM {_target(table)} "
            f"WHERE {expr} {values_cond}")


def rows_to_arrow(names: list[str], rows: list[tuple[Any, ...]]) -> pa.Table:
    cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [() for _ in names]
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

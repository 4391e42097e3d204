"""The PostgreSQL snapshot backend, locked down (docs/scope.md, "The replay sandbox").

- The session runs as a role that may read the inventory's tables and nothing else is needed: a
  superuser, or a member of pg_read_server_files / pg_write_server_files / pg_execute_server_program,
  is refused unless the user says `--allow-superuser`; `--snapshot-role` SETs ROLE to a restricted role
  after connecting (a superuser DSN may then be given). Tables the role can read beyond the inventory
  are reported as a warning.
- Every session: read-only transactions by default, `statement_timeout` (the time budget),
  `idle_in_transaction_session_timeout`, UTC, standard strings. The server cancels an over-budget
  query itself, even when this client has died.
- Results are fetched through a server-side cursor, at most the row budget.
- A query that fails costs that query: a cancelled one is over the time budget, a terminated session
  is opened again, and the caller reports the statement POTENTIAL with the reason.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pyarrow as pa

from breachscope.model.errors import UsageError
from breachscope.model.inventory import table_name
from breachscope.model.sql import quote_ident
from breachscope.scope.backends import SnapshotInfo, lookup_sql, match_sql, rows_to_arrow
from breachscope.scope.budget import Budget, OverBudget, ReplayFailed

FETCH = 50_000
#: Memberships that give a session the server's files or programs: as good as superuser for an attacker.
PRIVILEGED_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")
#: Objects created after initdb that are not part of an extension: defined by the database's users.
_USER_DEFINED = ("{cat}.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
                 "'{cat}'::regclass AND d.objid = {cat}.oid AND d.deptype = 'e')")


class PostgresBackend:
    """A live PostgreSQL database: every replay query runs in a READ ONLY transaction, on a budget."""

    def __init__(self, dsn: str, budget: Budget | None = None, allow_superuser: bool = False,
                 role: str | None = None, inventory_tables: tuple[str, ...] = ()) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        self.dsn = dsn
        self.role = role
        self.budget = budget or Budget()
        self._psycopg = psycopg
        self.warnings: list[str] = []
        self.con = self._connect()
        self._check_role(allow_superuser)
        parts = conninfo_to_dict(dsn)
        ident = " ".join(f"{k}={parts[k]}" for k in ("host", "port", "dbname") if parts.get(k))
        tables = self._catalog()
        shadowed = frozenset(r[0] for r in self._rows(
            "SELECT DISTINCT lower(proname) FROM pg_proc WHERE " + _USER_DEFINED.format(cat="pg_proc")))
        ops = frozenset(r[0] for r in self._rows(
            "SELECT DISTINCT oprname FROM pg_operator WHERE " + _USER_DEFINED.format(cat="pg_operator")))
        self.info = SnapshotInfo(identity=f"postgresql:{ident}", dialect="postgres", tables=tables,
                                 shadowed=shadowed, shadowed_operators=ops)
        extra = sorted(set(tables) - set(inventory_tables)) if inventory_tables else []
        if extra:
            self.warnings.append(f"the snapshot role can read tables outside the inventory: {', '.join(extra[:10])}"
                                 + (f" (+{len(extra) - 10} more)" if len(extra) > 10 else "")
                                 + "; a role with SELECT on the inventory's tables only is safer")

    # --- session ------------------------------------------------------------------------------
    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            con = psycopg.connect(self.dsn, autocommit=False, connect_timeout=30)
        except psycopg.Error as exc:
            raise UsageError(f"cannot connect to the snapshot database: {str(exc).strip()}") from exc
        ms = max(1, int(self.budget.statement_seconds * 1000))
        try:
            if self.role:
                con.execute(f"SET ROLE {quote_ident(self.role)}")
            for stmt in (f"SET statement_timeout = {ms}", f"SET idle_in_transaction_session_timeout = {ms * 2}",
                         "SET lock_timeout = 0", "SET default_transaction_read_only = on",
                         "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "SET TIME ZONE 'UTC'",
                         "SET standard_conforming_strings = on"):
                con.execute(stmt)
            con.commit()
        except psycopg.Error as exc:
            con.close()
            raise UsageError(f"snapshot database: cannot set up the replay session: {str(exc).strip()}") from exc
        return con

    def _check_role(self, allow_superuser: bool) -> None:
        rows = self._rows("SELECT current_user, current_setting('is_superuser') = 'on', "
                          + ", ".join(f"pg_has_role(current_user, '{r}', 'USAGE')" for r in PRIVILEGED_ROLES))
        user, superuser, *members = rows[0]
        powers = (["superuser"] if superuser else []) + [r for r, m in zip(PRIVILEGED_ROLES, members, strict=True) if m]
        if not powers:
            return
        what = f"the snapshot role {user!r} is {' and '.join(powers)}"
        if not allow_superuser:
            raise UsageError(f"{what}: replayed statements would run with its rights. Give a DSN (or "
                             "--snapshot-role) of a role with SELECT on the inventory's tables only, or "
                             "--allow-superuser to accept it")
        self.warnings.append(f"{what} (--allow-superuser): only the sandbox's allowlist stands between "
                             "the statements and the server")

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()
        try:
            self.con = self._connect()
        except UsageError as exc:
            raise ReplayFailed(f"replay failed: the snapshot database is gone ({exc})") from exc

    def _catalog(self) -> dict[str, dict[str, str]]:
        rows = self._rows(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, ordinal_position")
        tables: dict[str, dict[str, str]] = {}
        for schema, tname, col, dtype in rows:
            try:
                name = table_name(tname if schema == "public" else f"{schema}.{tname}", "snapshot")
            except UsageError:
                continue  # a name the inventory could not hold cannot be one of its tables
            tables.setdefault(name, {})[str(col).lower()] = str(dtype)
        return tables

    # --- queries ------------------------------------------------------------------------------
    def _run(self, sql: str, params: list[Any] | None, stream: bool) -> tuple[list[str], list[tuple[Any, ...]]]:
        """One read-only transaction; the failure of the query becomes OverBudget / ReplayFailed."""
        psycopg = self._psycopg
        start = time.monotonic()
        try:
            with self.con.transaction():
                cur = self.con.cursor(name="__bs_replay") if stream else self.con.cursor()
                try:
                    cur.execute(sql, params)
                    names = [d.name for d in cur.description or []]
                    if not stream:
                        return names, cur.fetchall()
                    rows: list[tuple[Any, ...]] = []
                    while True:
                        chunk = cur.fetchmany(FETCH)
                        rows += chunk
                        if len(rows) > self.budget.max_rows:
                            raise OverBudget(f"over the row budget (more than {self.budget.max_rows:,} rows)")
                        if time.monotonic() - start > self.budget.statement_seconds:
                            raise OverBudget(f"over the time budget ({self.budget.statement_seconds:g} s)")
                        if len(chunk) < FETCH:
                            return names, rows
                finally:
                    cur.close()
        except psycopg.errors.QueryCanceled as exc:
            raise OverBudget(f"over the time budget ({self.budget.statement_seconds:g} s)") from exc
        except psycopg.OperationalError as exc:
            if self.con.broken or self.con.closed:
                self._reconnect()
                raise ReplayFailed(f"replay failed: the server ended the session ({_first_line(exc)})") from exc
            raise ReplayFailed(f"replay failed: {_first_line(exc)}") from exc
        except psycopg.Error as exc:
            if self.con.broken or self.con.closed:
                self._reconnect()
            raise ReplayFailed(f"replay failed: {_first_line(exc)}") from exc

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._run(sql, params, stream=False)[1]

    def _table(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        return rows_to_arrow(*self._run(sql, params, stream=True))

    def query(self, sql: str) -> pa.Table:
        return self._table(sql.replace("%", "%%"), [])

    def batch(self, final_sql: str, stmt_ids: list[int], slots: list[list[str | None]]) -> pa.Table:
        arrays = ", ".join(["%s::bigint[]"] + ["%s::text[]"] * len(slots))
        names = ", ".join(["__bs_stmt"] + [f"p{i + 1}" for i in range(len(slots))])
        sql = (f"SELECT __bs_p.__bs_stmt, __bs_r.* FROM unnest({arrays}) AS __bs_p({names}), "
               f"LATERAL ({final_sql.replace('%', '%%')}) AS __bs_r")
        return self._table(sql, [stmt_ids, *slots])

    def lookup(self, table: str, key: str, columns: list[str], keys: list[str]) -> pa.Table:
        return self._table(lookup_sql(table, key, columns, "= ANY(%s)"), [keys])

    def match(self, table: str, key: str, column: str, norm: str, values: list[str],
              flags: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]:
        sql = match_sql(table, key, column, norm, flags, "= ANY(__bs_values__)")
        # ignore: _rows gives rows of any shape; match_sql selects (key, value, flag) rows
        return self._rows(sql.replace("%", "%%").replace("__bs_values__", "%s"), [values])  # type: ignore[return-value]

    def close(self) -> None:
        self.con.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__

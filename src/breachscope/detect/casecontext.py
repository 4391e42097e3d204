"""What a detector over a case's event tables is given (an analytic, an investigation detector): the engine,
which tables and columns exist, the time window, and which addresses are inside the network. Detectors
write DuckDB SQL; another engine gets it through sqlglot's dialect translation."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from breachscope.detect.casesql import DEFAULT_INTERNAL, internal_sql, networks_of
from breachscope.engines.protocol import SqlEngine
from breachscope.model.sql import quote_ident, quote_literal


@dataclass
class CaseContext:
    """The case as a detector sees it."""

    engine: SqlEngine
    columns: dict[str, set[str]]
    since: datetime | None = None
    until: datetime | None = None
    internal_networks: tuple[str, ...] = DEFAULT_INTERNAL

    def has(self, table: str, *columns: str) -> bool:
        have = self.columns.get(table)
        return have is not None and all(c in have for c in columns)

    def missing(self, table: str, *columns: str) -> str:
        if table not in self.columns:
            return f"the case has no {table} table"
        lacking = [c for c in columns if c not in self.columns[table]]
        return f"{table} has no column {', '.join(lacking)}"

    def window(self, ts: str = "ts") -> str:
        """SQL condition for the --since/--until window on a timestamp column."""
        parts = ["true"]
        if self.since is not None:
            parts.append(f"{ts} >= TIMESTAMPTZ {quote_literal(self.since.isoformat())}")
        if self.until is not None:
            parts.append(f"{ts} <= TIMESTAMPTZ {quote_literal(self.until.isoformat())}")
        return " AND ".join(parts)

    def internal(self, expr: str) -> str:
        return internal_sql(expr, self.internal_networks)

    def is_internal(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in networks_of(self.internal_networks))

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of DuckDB SQL, run on the case's engine (translated by sqlglot for another dialect)."""
        return self.table(sql).to_pylist()

    def table(self, sql: str) -> pa.Table:
        if self.engine.dialect != "duckdb":
            import sqlglot

            sql = sqlglot.transpile(sql, read="duckdb", write=self.engine.dialect)[0]
        result: pa.Table = self.engine.query(sql)
        return result

    @staticmethod
    def ident(name: str) -> str:
        return quote_ident(name)


def table_columns(engine: SqlEngine) -> dict[str, set[str]]:
    return {name: set(schema.names) for name, schema in engine.schemas().items()}

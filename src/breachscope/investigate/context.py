"""What every detector of the investigation is given: the case's engine, which tables and columns it has,
the time window, which addresses are inside the network, and the host names behind addresses.

Everything here is learned from the case (and an optional assets file): no name, address or account of
any network is written in this package.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from breachscope.engines.protocol import SqlEngine
from breachscope.model.sql import quote_ident, quote_literal

#: address ranges inside an organization's network unless assets.yaml says more: RFC 1918, shared (CGNAT)
#: space, IPv6 unique-local and link-local
DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10")


def host_key(name: str | None) -> str | None:
    """Comparable host name: first label, lower case, no machine-account `$` (WEB-3.corp = web-3$)."""
    if name is None:
        return None
    key = str(name).strip().split(".")[0].rstrip("$").lower()
    return key or None


def host_key_sql(expr: str) -> str:
    return f"nullif(rtrim(split_part(lower(trim({expr})), '.', 1), '$'), '')"


def epoch_us_sql(expr: str) -> str:
    """Microseconds since 1970 of a timestamp, in SQL that keeps its precision on every engine (DuckDB's
    epoch() becomes Spark's whole-second UNIX_TIMESTAMP)."""
    return f"date_diff('microsecond', TIMESTAMPTZ '1970-01-01 00:00:00+00', {expr})"


def ip4_int_sql(expr: str) -> str:
    """An IPv4 address text as a BIGINT (NULL for anything else)."""
    parts = [f"TRY_CAST(split_part({expr}, '.', {i}) AS BIGINT)" for i in (1, 2, 3, 4)]
    return (f"(CASE WHEN regexp_matches({expr}, '^[0-9]{{1,3}}\\.[0-9]{{1,3}}\\.[0-9]{{1,3}}\\.[0-9]{{1,3}}$') "
            f"THEN {parts[0]} * 16777216 + {parts[1]} * 65536 + {parts[2]} * 256 + {parts[3]} END)")


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def ip6_head_sql(expr: str) -> str:
    """The first 32 bits of an IPv6 address text as 8 lower-case hex digits (NULL for anything else). Two
    groups are always where the text puts them: `::` can only stand for zeros after them."""
    groups = [f"lpad(split_part(lower({expr}), ':', {i}), 4, '0')" for i in (1, 2)]
    return f"(CASE WHEN contains({expr}, ':') THEN {groups[0]} || {groups[1]} END)"


def internal_sql(expr: str, networks: Iterable[str]) -> str:
    """SQL true when the address text `expr` is in one of `networks` (CIDR). IPv6 networks are compared on
    their first 32 bits (exact for fc00::/7, fe80::/10 and any prefix up to /32; a longer one is taken
    as its /32)."""
    v4, v6 = [], []
    for net in networks:
        n = ipaddress.ip_network(net, strict=False)
        if n.version == 4:
            lo, hi = int(n.network_address), int(n.broadcast_address)
            v4.append(f"({ip4_int_sql(expr)} BETWEEN {lo} AND {hi})")
        else:
            lo6, hi6 = (f"{int(a) >> 96:08x}" for a in (n.network_address, n.broadcast_address))
            v6.append(f"({ip6_head_sql(expr)} BETWEEN '{lo6}' AND '{hi6}')")
    return "coalesce(" + " OR ".join(v4 + v6 or ["false"]) + ", false)"


@dataclass
class Context:
    """The case as the detectors see it."""

    engine: SqlEngine
    columns: dict[str, set[str]]
    since: datetime | None = None
    until: datetime | None = None
    internal_networks: tuple[str, ...] = DEFAULT_INTERNAL
    names: dict[str, str] = field(default_factory=dict)  # address -> host name (short, as written)
    crown_jewel_ips: set[str] = field(default_factory=set)
    crown_jewel_hosts: set[str] = field(default_factory=set)  # host keys
    display: dict[str, str] = field(default_factory=dict)  # host key -> the name as the evidence writes it
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # what a detector learned for the incident
    artifacts: SqlEngine | None = None  # the DuckDB case: the stages' results (findings) are read there

    @classmethod
    def of(cls, engine: SqlEngine, **kwargs: Any) -> Context:
        cols = {name: set(schema.names) for name, schema in engine.schemas().items()}
        return cls(engine=engine, columns=cols, **kwargs)

    def has(self, table: str, *columns: str) -> bool:
        have = self.columns.get(table)
        return have is not None and all(c in have for c in columns)

    def missing(self, table: str, *columns: str) -> str:
        if table == "findings" and table not in self.columns:
            return "no hunt findings in the case (run `breachscope hunt CASE --rules ...` or `investigate --rules`)"
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
        return any(ip.version == n.version and ip in n for n in _networks(self.internal_networks))

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The detectors write DuckDB SQL; another engine gets it through sqlglot's dialect translation."""
        if self.engine.dialect != "duckdb":
            import sqlglot

            sql = sqlglot.transpile(sql, read="duckdb", write=self.engine.dialect)[0]
        table: pa.Table = self.engine.query(sql)
        return table.to_pylist()

    def artifact_rows(self, sql: str) -> list[dict[str, Any]]:
        """Rows of the case's artifacts (findings of earlier hunts: small, derived, on the DuckDB case)."""
        engine = self.artifacts or self.engine
        table: pa.Table = engine.query(sql)
        return table.to_pylist()

    def name_of(self, address: str | None) -> str | None:
        """The host name behind an address (the one most evidence gives), else None."""
        return self.names.get(address) if address else None

    def actor(self, host: str | None, address: str | None) -> str | None:
        """How an alert names its acting host: the name when known, else the address."""
        return host_key(host) if host else (host_key(self.name_of(address)) or address)

    @staticmethod
    def ident(name: str) -> str:
        return quote_ident(name)

"""SQL over a case's event tables that every engine runs (DuckDB, and Spark through sqlglot): time in
microseconds, addresses inside the network, comparable host names. Shared by the analytics and the
investigation."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

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
def networks_of(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
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

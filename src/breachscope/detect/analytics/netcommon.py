"""What the network analytics share: the connections that cross the edge of the network, how many inside
hosts talk to an outside address (popularity: the strongest prior against false alarms, RITA's
"prevalence"), the evidence of an address pair in every sensor's table, and figures in words."""

from __future__ import annotations

import math

from breachscope.detect.analytics.base import EvidenceQuery, Skipped
from breachscope.detect.analytics.connections import parts
from breachscope.detect.casecontext import CaseContext
from breachscope.model.sql import quote_literal

RARITY_FLOOR = 0.3
SMALL_NETWORK = 10  # inside hosts talking outside below which popularity cannot tell rare from common
SMALL_NETWORK_CAP = 0.75
COMMON_HOSTS = 50.0  # inside hosts talking to an outside address that make it common in any network
NO_CONNECTIONS = "no connection records: the case has no zeek_conn, flow or firewall (Cisco ASA) table"


def raw_connections_sql(ctx: CaseContext) -> str | None:
    """Every sensor's connection records, not yet de-duplicated: the columns of connections.parts (ts, end_us,
    src, dst, port, bytes_out, bytes_in, sensor, prio, src_file, src_record, duration_s). The analytics
    aggregate these per address pair (and day) first and keep one sensor per group, which costs a hash
    aggregation instead of connections_sql's window over every record."""
    p = parts(ctx)
    return " UNION ALL ".join(p) if p else None


def special_sql(expr: str) -> str:
    """SQL true for an address that is no host outside: multicast, broadcast and reserved IPv4 (224/3),
    "this network" (0/8), loopback, IPv6 multicast (ff00::/8) and the unspecified/loopback ::, ::1."""
    first = f"TRY_CAST(split_part({expr}, '.', 1) AS INTEGER)"
    return (f"coalesce(CASE WHEN contains({expr}, ':') THEN starts_with(lower({expr}), 'ff') OR {expr} IN ('::', '::1')"
            f" ELSE {first} >= 224 OR {first} IN (0, 127) END, false)")


def addresses_sql(pairs: str, ctx: CaseContext) -> str:
    """CTE `addr`: every address of the CTE `pairs`, inside the network or not, special or not (the string
    work runs once per address, not per record)."""
    return f"""addr AS (SELECT a, {ctx.internal('a')} AS inside, {special_sql('a')} AS special
                FROM (SELECT src AS a FROM {pairs} UNION SELECT dst AS a FROM {pairs}) AS u)"""


def require_connections(ctx: CaseContext) -> str:
    """raw_connections_sql, or Skipped when the case (or the --since/--until window) has no connection record:
    an analytic over nothing says so rather than reporting that nothing was found."""
    raw = raw_connections_sql(ctx)
    if raw is None:
        raise Skipped(NO_CONNECTIONS)
    if not ctx.rows(f"SELECT 1 AS x FROM ({raw}) AS r LIMIT 1"):
        within = " in the --since/--until window" if ctx.since or ctx.until else ""
        raise Skipped(f"no connection records{within}: zeek_conn, flow and the firewall (Cisco ASA) teardowns "
                      "are empty")
    return raw


def classified_sql(pairs: str, ctx: CaseContext) -> str:
    """CTEs `addr` (addresses_sql) and `edge` (the rows of `pairs` from an inside src to a host outside)."""
    return f"""{addresses_sql(pairs, ctx)},
    edge AS (SELECT p.* FROM {pairs} AS p JOIN addr AS s ON p.src = s.a JOIN addr AS d ON p.dst = d.a
             WHERE s.inside AND NOT d.inside AND NOT d.special)"""


def rarity(hosts: int, population: int) -> float:
    """1.0 for an outside address one inside host talks to, down to RARITY_FLOOR once it is common: talked to
    by 5 % of the inside hosts seen talking outside (at least 4, at most COMMON_HOSTS whatever the size of the
    network). C2 and drop servers are rare; update services, clouds and SaaS are everybody's. With fewer than
    SMALL_NETWORK inside hosts talking outside (one workstation's capture) every address is "rare", which then
    says nothing: the value is capped at SMALL_NETWORK_CAP."""
    common = min(COMMON_HOSTS, max(4.0, 0.05 * population))
    value = 1.0 - (1 - RARITY_FLOOR) * min(1.0, max(0, hosts - 1) / common)
    return min(value, SMALL_NETWORK_CAP) if population < SMALL_NETWORK else value


def rarity_sql(hosts: str, population: str) -> str:
    """rarity() in SQL (to drop in SQL the pairs whose score could never be reported)."""
    return (f"(1.0 - {1 - RARITY_FLOOR} * least(1.0, greatest(0, {hosts} - 1) / "
            f"least({COMMON_HOSTS}, greatest(4.0, 0.05 * {population}))))")


def pair_evidence(ctx: CaseContext, src: str, dst: str) -> tuple[EvidenceQuery, ...]:
    """The records of the connections between two addresses, in each sensor's table the case has."""
    s, d = quote_literal(src), quote_literal(dst)
    out = []
    if ctx.has("zeek_conn", "id.orig_h", "id.resp_h"):
        out.append(EvidenceQuery("zeek_conn", f'"id.orig_h" = {s} AND "id.resp_h" = {d}'))
    if ctx.has("flow", "src_ip", "dst_ip"):
        out.append(EvidenceQuery("flow", f"(src_ip = {s} AND dst_ip = {d}) OR (src_ip = {d} AND dst_ip = {s})"))
    if ctx.has("syslog", "cisco_mnemonic", "src_ip", "dst_ip"):
        out.append(EvidenceQuery("syslog", f"cisco_mnemonic IN ('302014', '302016', '302021') AND "
                                           f"((src_ip = {s} AND dst_ip = {d}) OR (src_ip = {d} AND dst_ip = {s}))"))
    return tuple(out)


def human_bytes(n: float) -> str:
    """'43.1 MB (43,095,270 bytes)': both, so the figure can be checked against the records."""
    units = ("bytes", "KB", "MB", "GB", "TB")
    k = min(len(units) - 1, int(math.log(n, 1000))) if n >= 1000 else 0
    short = f"{n / 1000 ** k:.1f} {units[k]}" if k else f"{int(n)} bytes"
    return short if not k else f"{short} ({int(n):,} bytes)"


def human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def clamp01(x: float) -> float:
    return max(0.0, min(1.0, x))

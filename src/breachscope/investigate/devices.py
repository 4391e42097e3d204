"""The addresses of devices known only by their syslog name (routers, switches, firewalls: no Windows logon,
DHCP lease or DNS answer names them), from what a device logs and the sensors saw at that moment:

- a login, with the client's address ("Login Success [user: x] [Source: 10.0.0.5]", sshd's "Accepted ...
  from"): that client opened a connection (to the logged port, else SSH/Telnet) a moment before, to the
  device's own address;
- a transfer the device makes itself, written as a URL ("copy running-config tftp://192.0.2.9/r1.cfg"): a
  connection to that address started a moment after, from the device's address (one named in the message,
  such as a client's, is not the device).

Matched line by line, the address most of a device's lines point to is its address: its connections and
alerts then rank under its name, with its syslog alerts."""

from __future__ import annotations

from collections import defaultdict

from breachscope.detect.analytics.connections import parts
from breachscope.entities.hosts import is_address
from breachscope.investigate.context import Context

BEFORE_S, AFTER_S = 30, 5  # a login's connection opens this much before it is logged (or after: clock skew)
URL_BEFORE_S, URL_AFTER_S = 5, 30  # a transfer's connection opens this much after the command (or before)
MIN_MATCHES = 2  # lines matched to one address before it is the device's
MAJORITY = 2 / 3  # of the lines matched to an address, the share one device must have
IPV4 = "[0-9]{1,3}(?:[.][0-9]{1,3}){3}"


def device_addresses(ctx: Context) -> dict[str, str]:
    """Internal address -> device name (as syslog writes it), for addresses with no name yet."""
    # every sensor's records, not de-duplicated (that sorts them all): a line keeps only its nearest match
    conns = " UNION ALL ".join(f"SELECT ts, src, dst, port FROM ({p}) AS a" for p in parts(ctx))
    if not conns or not ctx.has("syslog", "host", "message"):
        return {}
    matched = [_transfers_sql()]
    if ctx.has("syslog", "src_ip", "user"):
        matched.append(_logins_sql(ctx))
    sql = f"""
    WITH c AS ({conns}),
    s AS (SELECT * FROM syslog WHERE host IS NOT NULL AND {ctx.window()}),
    m AS ({' UNION ALL '.join(matched)})
    SELECT addr, host, count(*) AS n FROM m WHERE k = 1 GROUP BY addr, host ORDER BY addr, n DESC, host"""
    votes: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in ctx.artifact_rows(sql):
        votes[str(r["addr"])].append((int(r["n"]), str(r["host"]).strip()))
    out = {}
    for address, found in votes.items():
        n, name = found[0]  # the most lines (then the name, for a stable choice)
        if (address in ctx.names or not ctx.is_internal(address) or is_address(name) or n < MIN_MATCHES
                or n < MAJORITY * sum(v for v, _ in found)):
            continue
        out[address] = name
    return out


def _logins_sql(ctx: Context) -> str:
    """(host, addr, k): each login's connection from its client, the nearest in time first (k = 1)."""
    port = "s.dst_port" if ctx.has("syslog", "dst_port") else "CAST(NULL AS INTEGER)"
    return f"""SELECT s.host, c.dst AS addr, row_number() OVER (PARTITION BY s.host, s.ts, s.src_ip
                   ORDER BY abs(date_diff('millisecond', c.ts, s.ts)), c.dst) AS k
        FROM s JOIN c ON c.src = s.src_ip AND c.dst <> s.src_ip AND c.port IS NOT NULL
          AND c.ts BETWEEN s.ts - INTERVAL {BEFORE_S} SECOND AND s.ts + INTERVAL {AFTER_S} SECOND
          AND (c.port = {port} OR ({port} IS NULL AND c.port IN (22, 23)))
        WHERE s.src_ip IS NOT NULL AND s."user" IS NOT NULL"""


def _transfers_sql() -> str:
    """(host, addr, k): each URL's connection to its address, from an address the message does not name."""
    return f"""SELECT u.host, c.src AS addr, row_number() OVER (PARTITION BY u.host, u.ts, u.target
                   ORDER BY abs(date_diff('millisecond', c.ts, u.ts)), c.src) AS k
        FROM (SELECT ts, host, message, regexp_extract(message, '[a-z]+://({IPV4})', 1) AS target
              FROM s WHERE message LIKE '%://%') AS u
        JOIN c ON c.dst = u.target AND c.src <> u.target AND NOT contains(u.message, c.src)
          AND c.ts BETWEEN u.ts - INTERVAL {URL_BEFORE_S} SECOND AND u.ts + INTERVAL {URL_AFTER_S} SECOND
        WHERE u.target <> ''"""

"""Data leaving by ways the connection-based `external` detector does not see as uploads:

- DNS tunnelling: many long, random-looking, unique names under one registered domain from one host (the
  candidate domains and their score come from detect's dns_tunnelling analytic). The host's resolver
  forwards each unseen name to the domain's authoritative server, the attacker's: that address (the
  resolver's queries at the edge) is where the data goes. Bytes: the payload the host's unique names carry
  (their characters times the bits per character of their alphabet), without the zone's labels and without
  a sequence label: tunnels number their queries (DNSExfiltrator's `<n>.<data>.domain`, a `<data>.<seq>`
  label), a short first or last label that, query after query, counts up in small steps.
- Uploads to cloud storage APIs (S3, GCS, Azure Blob, Dropbox...) recognised by TLS SNI or HTTP Host: a large
  upload from an inside host that does not upload there on other days (a weekly backup to a bucket recurs on
  several days and is left out). Bytes: the connections' (each counted once across sensors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from breachscope.detect.analytics.connections import connections_sql
from breachscope.detect.analytics.dns_tunnelling import REPORT as TUNNEL_REPORT
from breachscope.detect.analytics.dns_tunnelling import domains_sql as tunnel_domains_sql
from breachscope.detect.analytics.dns_tunnelling import score as tunnel_score
from breachscope.investigate.context import Context
from breachscope.investigate.detectors.base import Detector, Skipped, alert, evidence_sql
from breachscope.model.incident import Alert
from breachscope.model.sql import quote_literal

MIN_UPLOAD = 20_000  # bytes a day to a storage service: less is a request, not a file
ROUTINE_DAYS = 3  # a host uploading to storage on this many days of the case does it by schedule (backups)
# a server (it reaches at most SERVER_SHARE as many outside addresses as the median inside host: no browser)
# that uploads on one day only is reported; a workstation's upload through a browser is ordinary use
UPLOAD_SCORE, SERVER_BONUS, ONE_DAY_BONUS, RARE_BONUS, ROUTINE_MALUS = 20.0, 30.0, 15.0, 5.0, 45.0
SERVER_SHARE = 0.5
# a sequence label: at most COUNTER_CHARS, a number in base 10, 16 or 32 (RFC 4648) that goes up by 1 to
# COUNTER_STEP from a name to the next (in time order) for COUNTER_SHARE of the COUNTER_SAMPLE first names
COUNTER_CHARS, COUNTER_STEP, COUNTER_SHARE, COUNTER_SAMPLE = 12, 4096, 0.9, 5000
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
TUNNEL_FLOOR = 50.0  # a tunnel reported at all is a data movement (build's exfiltration threshold)
REPORTED = 50.0
#: the public names of cloud storage APIs (a bucket's virtual host or the service's own), as regexes on
#: the lowercased TLS SNI / HTTP Host: providers' endpoints, nothing of a particular network
STORAGE_NAMES = (
    "(^|[.])s3([.-][a-z0-9-]+)*[.]amazonaws[.]com$",
    "^(storage|www)[.]googleapis[.]com$", "[.]storage[.]googleapis[.]com$",
    "[.]blob[.]core[.]windows[.]net$", "[.]dfs[.]core[.]windows[.]net$",
    "(^|[.])(content|api)[.]dropboxapi[.]com$", "(^|[.])mega[.](nz|co[.]nz|io)$",
    "[.]backblazeb2[.]com$", "[.]r2[.]cloudflarestorage[.]com$", "[.]digitaloceanspaces[.]com$",
    "(^|[.])s3[.][a-z0-9.-]*wasabisys[.]com$", "^(upload|www)[.]box[.]com$",
)


# --- DNS tunnels -------------------------------------------------------------------------------------------
def _zone_labels(subs: list[str]) -> list[str]:
    """The labels every name ends with before the registered domain (cdn-metrics. of
    cdn-metrics.example.org): part of the zone, not of the payload."""
    split = [s.split(".") for s in subs if s]
    common: list[str] = []
    while split and all(len(x) > len(common) + 1 for x in split):
        label = split[0][-1 - len(common)]
        if any(x[-1 - len(common)] != label for x in split):
            break
        common.append(label)
    return common[::-1]


def _number(label: str, base: int) -> int | None:
    """A label as a number in base 10, 16 or 32 (RFC 4648's alphabet: no 0, 1, 8, 9), else None."""
    if not label.isascii() or not label.isalnum():  # int() would take "+1", " 1" or "1_0"
        return None
    if base == 32:
        if not label or any(c not in BASE32 for c in label):
            return None
        n = 0
        for c in label:
            n = n * 32 + BASE32.index(c)
        return n
    try:
        return int(label, base)
    except ValueError:
        return None


def _counter_position(payloads: list[list[str]]) -> int | None:
    """Which label of the names (their payload labels, in time order) is a sequence number: 0 (the first),
    -1 (the last), or None. Random data never counts up in small steps query after query."""
    if len(payloads) < 3 or any(len(x) < 2 for x in payloads):
        return None  # a name of one label is all payload
    for pos in (0, -1):
        labels = [x[pos] for x in payloads]
        if any(len(label) > COUNTER_CHARS for label in labels):
            continue
        for base in (10, 16, 32):
            values = [_number(label, base) for label in labels]
            steps = [b - a for a, b in pairwise(values) if a is not None and b is not None]
            if sum(1 <= d <= COUNTER_STEP for d in steps) >= COUNTER_SHARE * (len(labels) - 1):
                return pos
    return None


def _counter_sql(ctx: Context, domain: str, zone: str) -> str:
    """The domain's first COUNTER_SAMPLE unique names in time order."""
    return _tunnel_sql(ctx, {domain: zone}) + f"""
    SELECT name, min(ts) AS ts FROM d GROUP BY name ORDER BY ts, name LIMIT {COUNTER_SAMPLE}"""


def _counter(ctx: Context, domain: str, zone: str) -> int | None:
    names = [str(r["name"]) for r in ctx.rows(_counter_sql(ctx, domain, zone))]
    return _counter_position([n[:-len(zone) - 1].split(".") for n in names])


def _bits_per_char(subs: list[str]) -> int:
    """The payload's encoding from its alphabet (DNS is case-insensitive): hex 4, base32/36 5, else 6."""
    chars = set("".join(subs).replace(".", "").lower())
    if chars <= set("0123456789abcdef"):
        return 4
    return 5 if chars <= set("abcdefghijklmnopqrstuvwxyz0123456789") else 6


def _tunnel_sql(ctx: Context, zones: dict[str, str]) -> str:
    """CTE `d`: the queries for names in the tunnels' zones (domain -> zone: the labels all its names end
    with), with their domain, client and server. Another name of the registered domain is no tunnel's (a host
    that looks up ftp.example.org is not a client of the tunnel under cdn-metrics.example.org)."""
    case = " ".join(f"WHEN ends_with(name, {quote_literal('.' + z)}) THEN {quote_literal(d)}"
                    for d, z in sorted(zones.items()))
    parts = []
    if ctx.has("zeek_dns", "query", "id.orig_h", "id.resp_h"):
        parts.append(f"""SELECT ts, lower(rtrim(query, '.')) AS name, "id.orig_h" AS client, "id.resp_h" AS server,
            'zeek_dns' AS t, src_file, src_record FROM zeek_dns WHERE query IS NOT NULL AND {ctx.window()}""")
    if ctx.has("windows", "EventID", "QueryName", "host"):
        parts.append(f"""SELECT ts, lower(rtrim(QueryName, '.')) AS name, host AS client,
            CAST(NULL AS VARCHAR) AS server, 'windows' AS t, src_file, src_record
            FROM windows WHERE EventID = 22 AND QueryName IS NOT NULL AND {ctx.window()}""")
    return f"""WITH q AS (SELECT *, CASE {case} END AS domain FROM ({' UNION ALL '.join(parts)}) AS u),
    d AS (SELECT * FROM q WHERE domain IS NOT NULL)"""


def _clients_sql(ctx: Context, zones: dict[str, str], counters: dict[str, tuple[str, int]]) -> str:
    """Per domain and client: its unique names, their characters below the domain and in their sequence
    label (counters: domain -> its zone and the label's position; a name of one label below the zone has
    none), the servers it asked."""
    cases = " ".join(
        f"WHEN domain = {quote_literal(d)} THEN length(regexp_extract(name, "
        + quote_literal(("^([^.]+)[.].+[.]" if pos == 0 else "[.]([^.]+)[.]") + zone.replace(".", "[.]") + "$")
        + ", 1))"
        for d, (zone, pos) in sorted(counters.items()))
    counted = f"CASE {cases} ELSE 0 END" if cases else "0"
    return _tunnel_sql(ctx, zones) + f""",
    names AS (SELECT domain, client, name, min(ts) AS ts, max(ts) AS end_ts FROM d GROUP BY domain, client, name),
    per AS (SELECT domain, client, count(*) AS uniq, min(ts) AS ts, max(end_ts) AS end_ts,
                   sum(length(replace(left(name, length(name) - length(domain) - 1), '.', ''))) AS chars,
                   sum({counted}) AS counter_chars
            FROM names GROUP BY domain, client),
    asked AS (SELECT domain, client, list(DISTINCT server) AS servers, {evidence_sql('', table_sql='t')} AS ev
              FROM d GROUP BY domain, client)
    SELECT per.*, asked.servers, asked.ev FROM per JOIN asked ON per.domain = asked.domain
      AND per.client = asked.client ORDER BY per.domain, per.client"""


def _servers_sql(ctx: Context, zones: dict[str, str]) -> str:
    """Per domain and server: how many of the domain's names it was asked."""
    return _tunnel_sql(ctx, zones) + """
    SELECT domain, server, count(DISTINCT name) AS uniq FROM d WHERE server IS NOT NULL
    GROUP BY domain, server ORDER BY domain, server"""


def tunnels(ctx: Context) -> list[Alert]:
    if not (ctx.has("zeek_dns", "query", "id.orig_h") or ctx.has("windows", "EventID", "QueryName", "host")):
        return []
    found: dict[str, tuple[float, dict[str, Any], int]] = {}
    for r in ctx.rows(tunnel_domains_sql(ctx)):
        s, parts = tunnel_score(r, sorted(r["subs"]))
        if s >= TUNNEL_REPORT and parts["upstream"] >= parts["downstream"]:  # data carried in the names
            zone = _zone_labels(r["subs"])
            full = ".".join([*zone, r["domain"]])
            counter = _counter(ctx, r["domain"], full)
            payload = [x.rsplit(".", len(zone))[0] if zone else x for x in r["subs"]]
            if counter is not None:  # the alphabet is the data's, not the sequence label's
                cut = [x.split(".") for x in payload]
                payload = [".".join(y[1:] if counter == 0 else y[:-1]) for y in cut if len(y) > 1]
            found[r["domain"]] = (s, {**parts, "avg_len": r["avg_len"], "zone": full, "counter": counter,
                                      "zone_chars": sum(map(len, zone))}, _bits_per_char(payload))
    if not found:
        return []
    counters = {d: (f[1]["zone"], f[1]["counter"]) for d, f in found.items() if f[1]["counter"] is not None}
    zones = {d: str(f[1]["zone"]) for d, f in found.items()}
    clients = ctx.rows(_clients_sql(ctx, zones, counters))
    servers = ctx.rows(_servers_sql(ctx, zones))
    out = []
    for domain in sorted(found):
        out += _tunnel_alerts(ctx, found[domain], [r for r in clients if r["domain"] == domain],
                              {r["server"]: int(r["uniq"]) for r in servers if r["domain"] == domain})
    return out


def _tunnel_alerts(ctx: Context, found: tuple[float, dict[str, Any], int], clients: list[dict[str, Any]],
                   servers: dict[str, int]) -> list[Alert]:
    s, parts, bits = found
    # a resolver forwards its clients' names: a client that was itself asked for the domain's names is one
    origin = [r for r in clients if r["client"] not in servers] or clients
    outside = {k: n for k, n in servers.items() if not ctx.is_internal(k)}
    to = max(sorted(outside), key=lambda k: outside[k]) if outside else None  # the domain's name server
    out = []
    for r in origin:
        client = str(r["client"])
        nbytes = int((r["chars"] - r["uniq"] * parts["zone_chars"] - (r["counter_chars"] or 0)) * bits / 8)
        where = f"to {to}, the domain's name server, through the resolver" if to else "(name server not seen)"
        why = (f"{r['uniq']:,} unique names under {parts['zone']} (mean subdomain length "
               f"{parts['avg_len']:.0f}, entropy {parts['entropy']:.1f} bits/char) from {client}: about "
               f"{nbytes:,} bytes carried in the names {where}")
        ip = client if ctx.is_internal(client) else None
        out.append(alert(r["ts"], "exfiltration", "exfiltration", max(TUNNEL_FLOOR, s), why, r["ev"],
                         nbytes=nbytes, end_ts=r["end_ts"], host=ctx.actor(None if ip else client, ip),
                         src_ip=ip, dst_ip=to, dst_host=parts["zone"]))
    return out


# --- uploads to cloud storage ------------------------------------------------------------------------------
def _storage_names_sql(ctx: Context) -> str | None:
    parts = []
    if ctx.has("zeek_ssl", "id.orig_h", "id.resp_h", "server_name"):
        parts.append(f"""SELECT "id.orig_h" AS src, "id.resp_h" AS dst, lower(server_name) AS name FROM zeek_ssl
            WHERE server_name IS NOT NULL AND {ctx.window()}""")
    if ctx.has("zeek_http", "id.orig_h", "id.resp_h", "host"):
        parts.append(f"""SELECT "id.orig_h" AS src, "id.resp_h" AS dst, lower(split_part(host, ':', 1)) AS name
            FROM zeek_http WHERE host IS NOT NULL AND {ctx.window()}""")
    if not parts:
        return None
    match = " OR ".join(f"regexp_matches(name, {quote_literal(p)})" for p in STORAGE_NAMES)
    return f"""SELECT src, dst, min(name) AS name FROM ({' UNION ALL '.join(parts)}) AS n
               WHERE {match} GROUP BY src, dst"""


def cloud_uploads(ctx: Context) -> list[Alert]:
    conns, names = connections_sql(ctx), _storage_names_sql(ctx)
    if conns is None or names is None:
        return []
    sql = f"""
    WITH store AS ({names}),
    c AS (SELECT * FROM ({conns}) AS a WHERE {ctx.internal('src')} AND NOT {ctx.internal('dst')}),
    reach AS (SELECT src, count(DISTINCT dst) AS outside FROM c GROUP BY src),
    usual AS (SELECT median(outside) AS med_outside FROM reach),
    up AS (SELECT c.*, store.name, CAST(date_trunc('day', c.ts) AS DATE) AS d
           FROM c JOIN store ON c.src = store.src AND c.dst = store.dst),
    daily AS (SELECT src, d FROM up GROUP BY src, d HAVING sum(bytes_out) >= {MIN_UPLOAD}),
    habit AS (SELECT src, count(*) AS up_days FROM daily GROUP BY src),
    pop AS (SELECT dst, count(DISTINCT src) AS popularity FROM c GROUP BY dst)
    SELECT up.src, up.dst, up.d, min(up.ts) AS ts, max(up.end_us) AS end_us, sum(up.bytes_out) AS bytes_out,
           count(*) AS conns, min(up.name) AS name, any_value(habit.up_days) AS up_days,
           any_value(reach.outside) AS outside, any_value(usual.med_outside) AS med_outside,
           any_value(pop.popularity) AS popularity, {evidence_sql('', 'up.ts', 'up.sensor', 'up.')} AS ev
    FROM up JOIN daily ON up.src = daily.src AND up.d = daily.d JOIN habit ON up.src = habit.src
      JOIN reach ON up.src = reach.src JOIN pop ON up.dst = pop.dst CROSS JOIN usual
    GROUP BY up.src, up.dst, up.d ORDER BY ts, up.src, up.dst"""
    out = []
    for r in ctx.rows(sql):
        s = UPLOAD_SCORE
        why = [f"{r['bytes_out']:,} bytes uploaded to {r['name']} ({r['dst']}), a cloud storage service, in "
               f"{r['conns']} connection(s)"]
        if r["outside"] <= SERVER_SHARE * (r["med_outside"] or 0):
            s += SERVER_BONUS
            why.append(f"the host talks to {r['outside']} outside address(es) in the case (a server; the median "
                       f"inside host: {r['med_outside']:.0f})")
        if r["up_days"] == 1:
            s += ONE_DAY_BONUS
            why.append("it uploads to cloud storage on no other day of the case")
        elif r["up_days"] >= ROUTINE_DAYS:
            s -= ROUTINE_MALUS
            why.append(f"it uploads there on {r['up_days']} days (a schedule: backups)")
        if r["popularity"] <= 1:
            s += RARE_BONUS
            why.append("no other inside host talks to that address")
        if s < REPORTED:
            continue
        out.append(alert(r["ts"], "exfiltration", "exfiltration", s, "; ".join(why), r["ev"], nbytes=r["bytes_out"],
                         end_ts=_time(r["end_us"]), host=ctx.actor(None, r["src"]), src_ip=r["src"],
                         dst_ip=r["dst"], dst_host=r["name"]))
    return out


def _time(us: int | None) -> datetime | None:
    return None if us is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


def run(ctx: Context) -> list[Alert]:
    if not (ctx.has("zeek_dns", "query") or ctx.has("windows", "QueryName") or ctx.has("zeek_ssl", "server_name")
            or ctx.has("zeek_http", "host")):
        raise Skipped("no DNS queries (zeek_dns, Sysmon 22) and no TLS/HTTP server names (zeek_ssl, zeek_http)")
    return tunnels(ctx) + cloud_uploads(ctx)


DETECTOR = Detector("exfil_channels", (), run,
                    "data sent out in DNS names (tunnels) or uploaded to cloud storage APIs off schedule")

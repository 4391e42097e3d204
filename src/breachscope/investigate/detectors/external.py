"""Traffic with the outside: uploads out of the ordinary (exfiltration), periodic calls to a rare address
(C2 beaconing, RITA's idea: regular intervals, many connections, few hosts), and inbound connections
to a service that outsiders rarely reach (initial access candidates). Connections come from every
sensor without double counting (connections.py).

An upload is either one connection far above the usual of its pair (a C2 channel that suddenly carries a
file), or a bulk transfer to one rarely used outside server in one session (connections less than SESSION_GAP
apart, so a transfer across midnight stays one): spread over several connections (FTP's control and per-file
data connections, parallel HTTPS PUTs, SMB to outside), where every connection is an upload so the pair's
median is one too, or one large connection to an address no other inside host talks to and this host never
talked to before (a single HTTPS/FTP upload: the pair has no usual, the host's own is the yardstick). The
session's connections are summed as one transfer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from breachscope.detect.analytics.connections import connections_sql, epoch_us
from breachscope.investigate.context import Context, epoch_us_sql
from breachscope.investigate.detectors.base import Detector, Skipped, alert, evidence_sql
from breachscope.model.incident import Alert

LARGE = 100_000  # bytes: an upload below this is not a transfer of data worth scoping
UPLOAD_ALERT = 40.0  # a large upload to a known, shared destination is ordinary
BASELINE_DAYS = 3  # "new destination" needs at least this much of the case before it
HISTORY_DAYS = 3  # "never sent this much before" needs this much history of the host
# a bulk transfer: >= 2 connections of one session to an outside address at most BULK_POPULARITY inside hosts
# talk to (an update or SaaS service is shared, so never one), mostly upload; FTP_FILES names shown at most
BULK_POPULARITY, FTP_FILES = 2, 5
SESSION_GAP = 30 * 60 * 1_000_000  # us: a pause this long between a pair's connections starts a new transfer
# a single upload: a host that reaches more outside addresses than SERVER_SHARE times the median inside host's (it
# browses) posts files to new sites in ordinary use: for it only BROWSER_LARGE bytes in one go count
SERVER_SHARE, BROWSER_LARGE = 0.5, 10_000_000
FTP_SLACK = timedelta(minutes=10)  # ftp.log's STOR lines of a session: within its connections, give or take this


def _base(ctx: Context) -> str:
    conns = connections_sql(ctx)
    return f"""
    WITH c AS (SELECT *, {ctx.internal('src')} AS src_in, {ctx.internal('dst')} AS dst_in FROM ({conns})),
    bounds AS (SELECT min(ts) AS t0, max(ts) AS t1 FROM c),
    out_c AS (SELECT * FROM c WHERE src_in AND NOT dst_in),
    pop AS (SELECT dst, count(DISTINCT src) AS popularity, min(ts) AS dst_first FROM out_c GROUP BY dst)"""


def uploads(ctx: Context) -> list[Alert]:
    sql = _base(ctx) + f""",
    pair AS (SELECT src, dst, median(bytes_out) AS med, min(ts) AS pair_first FROM out_c GROUP BY ALL),
    host_up AS (SELECT src, median(bytes_out) AS host_med, count(DISTINCT dst) AS reach FROM out_c GROUP BY src),
    usual AS (SELECT median(reach) AS med_reach FROM host_up),
    -- a pair's sessions: a connection starting SESSION_GAP after every earlier one ended opens a new one
    prev AS (SELECT *, CAST(date_trunc('day', ts) AS DATE) AS d, {epoch_us(ctx, 'ts')} AS ts_us,
                    max(end_us) OVER (PARTITION BY src, dst ORDER BY ts, end_us, src_file, src_record
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
             FROM out_c),
    sess AS (SELECT *, sum(CASE WHEN prev_end IS NULL OR ts_us - prev_end > {SESSION_GAP} THEN 1 ELSE 0 END)
                         OVER (PARTITION BY src, dst ORDER BY ts, end_us, src_file, src_record
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sid
             FROM prev),
    day_c AS (SELECT o.*, p.pair_first, h.host_med,
                     CASE WHEN o.bytes_out >= {LARGE} AND o.bytes_out >= 10 * p.med THEN 1 ELSE 0 END AS spike
              FROM sess o JOIN pair p USING (src, dst) JOIN host_up h USING (src)),
    browse AS (SELECT h.src, CASE WHEN h.reach > {SERVER_SHARE} * u.med_reach THEN 1 ELSE 0 END AS browses
               FROM host_up h CROSS JOIN usual u),
    -- several connections to a rare server, or one far above the host's usual to a server only it ever reached
    bulk AS (SELECT src, dst, sid, 1 AS is_bulk, CASE WHEN count(*) >= 2 THEN 0 ELSE 1 END AS single
             FROM day_c JOIN pop USING (dst) JOIN browse USING (src) GROUP BY src, dst, sid
             HAVING max(spike) = 0 AND sum(bytes_out) >= {LARGE} AND sum(bytes_out) >= 10 * sum(bytes_in)
               AND max(popularity) <= {BULK_POPULARITY}
               AND (count(*) >= 2 OR (max(popularity) <= 1 AND min(ts) <= min(pair_first)
                                      AND sum(bytes_out) >= 10 * max(host_med)
                                      AND (max(browses) = 0 OR sum(bytes_out) >= {BROWSER_LARGE})))),
    big AS (SELECT x.*, coalesce(k.is_bulk, 0) AS bulk, coalesce(k.single, 0) AS single,
                   CASE WHEN k.is_bulk = 1 THEN CAST(NULL AS DATE) ELSE x.d END AS dkey
            FROM day_c x LEFT JOIN bulk k USING (src, dst, sid)
            WHERE x.spike = 1 OR k.is_bulk = 1),
    sched AS (SELECT src, dst, count(DISTINCT d) AS big_days FROM big GROUP BY ALL),
    -- a one-connection transfer has no pair usual: its schedule is every day with a large upload to the address
    up_days AS (SELECT src, dst, count(*) AS up_days FROM (
                    SELECT src, dst, d FROM day_c GROUP BY src, dst, d
                    HAVING sum(bytes_out) >= {LARGE} AND sum(bytes_out) >= 10 * sum(bytes_in)) AS u
                GROUP BY src, dst),
    -- the history of a bulk transfer is what the host sent outside before it, not its own earlier connections
    prior AS (SELECT b.src, b.dst, b.sid, b.dkey, max(o.bytes_out) AS before_max, min(o.ts) AS history_from
              FROM big b LEFT JOIN day_c o ON o.src = b.src AND o.ts < b.ts
                AND NOT (b.bulk = 1 AND o.dst = b.dst AND o.sid = b.sid)
              GROUP BY b.src, b.dst, b.sid, b.dkey)
    SELECT b.src, b.dst, min(b.ts) AS ts, max(b.end_us) AS end_us,
           sum(b.bytes_out) AS bytes_out, max(b.bulk) AS bulk, max(b.single) AS single,
           list(DISTINCT b.port) AS ports, sum(b.bytes_in) AS bytes_in, count(*) AS conns,
           list(DISTINCT b.sensor) AS sensors, count(DISTINCT b.d) AS days,
           any_value(s.big_days) AS big_days, any_value(u.up_days) AS up_days, any_value(p.popularity) AS popularity,
           any_value(p.dst_first) AS dst_first, any_value(bounds.t0) AS t0, any_value(bounds.t1) AS t1,
           max(pr.before_max) AS before_max, min(pr.history_from) AS history_from,
           {evidence_sql('', 'b.ts', 'b.sensor', 'b.')} AS ev
    FROM big b JOIN sched s ON b.src = s.src AND b.dst = s.dst JOIN pop p ON b.dst = p.dst
      LEFT JOIN up_days u ON b.src = u.src AND b.dst = u.dst
      JOIN prior pr ON b.src = pr.src AND b.dst = pr.dst AND b.sid = pr.sid
        AND (b.dkey = pr.dkey OR (b.dkey IS NULL AND pr.dkey IS NULL))
    CROSS JOIN bounds
    GROUP BY b.src, b.dst, b.sid, b.dkey ORDER BY ts, b.src, b.dst"""
    out, stored = [], _ftp_stored(ctx)
    for r in ctx.rows(sql):
        s, why = 10.0, [f"{r['bytes_out']:,} bytes sent to {r['dst']} in {r['conns']} connection(s)"]
        files: list[str] = []
        if r["bulk"]:
            ports = sorted(int(p) for p in r["ports"] or () if p is not None)
            listed = ", ".join(map(str, ports[:6])) + (" ..." if len(ports) > 6 else "")
            why[0] += (f" in one session, a bulk transfer (ports {listed})" if not r["single"] else
                       ", a single upload to an address only this host ever reached, and not before")
            if r["days"] > 1:
                why[0] += f" spanning {r['days']} calendar days"
            ftp = _ftp_in(stored.get((r["src"], r["dst"]), ()), r["ts"], _time(r["end_us"]))
            if ftp:
                files = ftp["names"]
                why.append(f"FTP STOR of {ftp['n']} file(s), {ftp['bytes']:,} bytes: "
                           + ", ".join(files[:FTP_FILES]) + (" ..." if len(files) > FTP_FILES else ""))
                # a data connection a sensor missed still counts: ftp.log has the stored size
                r["bytes_out"] = max(r["bytes_out"], ftp["bytes"])
        if _new_destination(r):
            s += 25
            why.append("nobody inside contacted it before the case was well under way")
        if r["popularity"] <= 1:
            s += 10
            why.append("no other host talks to it")
        if (r["bytes_in"] and r["bytes_out"] >= 10 * r["bytes_in"]) or not r["bytes_in"]:
            s += 10
            why.append("mostly upload")
        history = r["history_from"] is not None and r["ts"] - r["history_from"] >= timedelta(days=HISTORY_DAYS)
        if history and (r["before_max"] is None or r["bytes_out"] >= 5 * r["before_max"]):
            s += 15
            why.append("the host never sent this much outside before")
        big_days = max(r["big_days"], r["up_days"] or 0) if r["single"] else r["big_days"]
        if big_days >= 3:
            s -= 40
            why.append(f"large uploads to it recur on {big_days} days (a schedule)")
        if s < UPLOAD_ALERT:
            continue
        name = ctx.name_of(r["dst"])
        out.append(alert(r["ts"], "exfiltration", "exfiltration", s, "; ".join(why), r["ev"],
                         nbytes=r["bytes_out"], end_ts=_time(r["end_us"]), files=files,
                         host=ctx.actor(None, r["src"]),
                         src_ip=r["src"], dst_ip=r["dst"],
                         dst_host=name))
    return out


def _ftp_stored(ctx: Context) -> dict[tuple[str, str], list[tuple[datetime, str, int]]]:
    """Per (client, server): the files Zeek's ftp.log saw stored (STOR, 226 reply): time, name, size."""
    if not ctx.has("zeek_ftp", "id.orig_h", "id.resp_h", "command", "arg", "reply_code", "file_size"):
        return {}
    sql = f"""
    SELECT "id.orig_h" AS src, "id.resp_h" AS dst, ts, arg, coalesce(TRY_CAST(file_size AS BIGINT), 0) AS nbytes
    FROM zeek_ftp WHERE upper(command) = 'STOR' AND CAST(reply_code AS VARCHAR) = '226' AND {ctx.window()}
    ORDER BY ts, arg"""
    out: dict[tuple[str, str], list[tuple[datetime, str, int]]] = {}
    for r in ctx.rows(sql):
        out.setdefault((r["src"], r["dst"]), []).append((r["ts"], str(r["arg"]), int(r["nbytes"] or 0)))
    return out


def _ftp_in(stored: Any, start: datetime, end: datetime | None) -> dict[str, Any] | None:
    """The STOR lines of one transfer session (its connections' span, give or take FTP_SLACK)."""
    last = max(start, end or start) + FTP_SLACK
    rows = [x for x in stored if x[0] is not None and start - FTP_SLACK <= x[0] <= last]
    if not rows:
        return None
    return {"n": len(rows), "bytes": sum(x[2] for x in rows),
            "names": [a.rsplit("/", 1)[-1] for a in sorted({x[1] for x in rows})]}


def beacons(ctx: Context) -> list[Alert]:
    sql = _base(ctx) + f""",
    gaps AS (SELECT src, dst, ts, bytes_out, sensor, src_file, src_record,
                    ({epoch_us_sql('ts')} - {epoch_us_sql('lag(ts) OVER (PARTITION BY src, dst ORDER BY ts)')})
                      / 1e6 AS gap FROM out_c),
    g AS (SELECT src, dst, count(*) AS conns, median(gap) AS med_gap, median(bytes_out) AS med_bytes,
                 count(DISTINCT CAST(date_trunc('day', ts) AS DATE)) AS days, min(ts) AS ts,
                 {evidence_sql('', table_sql='sensor')} AS ev
          FROM gaps GROUP BY ALL
          HAVING count(*) >= 8 AND count(DISTINCT CAST(date_trunc('day', ts) AS DATE)) >= 2),
    mad AS (SELECT gaps.src, gaps.dst, median(abs(gap - g.med_gap)) AS mad FROM gaps JOIN g USING (src, dst)
            WHERE gap IS NOT NULL GROUP BY ALL)
    SELECT g.*, mad.mad, p.popularity, p.dst_first, bounds.t0, bounds.t1
    FROM g JOIN mad USING (src, dst) JOIN pop p USING (dst) CROSS JOIN bounds
    WHERE p.popularity <= 2 AND g.med_gap >= 60 ORDER BY g.ts"""
    out = []
    for r in ctx.rows(sql):
        regular = max(0.0, 1.0 - (r["mad"] or 0) / r["med_gap"]) if r["med_gap"] else 0.0
        if regular < 0.5:
            continue
        s = 20 + 25 * regular + (10 if r["popularity"] <= 1 else 0)
        why = [f"{r['conns']} connections to {r['dst']} over {r['days']} days, about every "
               f"{r['med_gap'] / 60:.0f} minutes (regularity {regular:.2f})", f"{r['popularity']} host(s) talk to it"]
        if _new_destination(r):
            s += 10
            why.append("first contacted after the case was well under way")
        out.append(alert(r["ts"], "c2", "c2", s, "; ".join(why), r["ev"], host=ctx.actor(None, r["src"]),
                         src_ip=r["src"], dst_ip=r["dst"], dst_host=ctx.name_of(r["dst"])))
    return out


def inbound(ctx: Context) -> list[Alert]:
    if not ctx.has("zeek_conn", "id.orig_h", "id.resp_h"):
        return []  # flows and firewall teardowns do not say reliably who opened a connection
    proto = "lower(proto)" if ctx.has("zeek_conn", "proto") else "NULL"
    sql = f"""
    WITH c AS (SELECT ts, "id.orig_h" AS src, "id.resp_h" AS dst, "id.resp_p" AS port, {proto} AS proto,
                      src_file, src_record
               FROM zeek_conn WHERE {ctx.internal('"id.resp_h"')} AND NOT {ctx.internal('"id.orig_h"')}
                 AND {ctx.window()}),
    svc AS (SELECT dst, port, count(DISTINCT src) AS outsiders FROM c GROUP BY ALL)
    SELECT c.src, c.dst, c.port, min(c.ts) AS ts, count(*) AS conns, any_value(svc.outsiders) AS outsiders,
           list(DISTINCT c.proto) AS protos,
           {evidence_sql('zeek_conn', 'c.ts', prefix='c.')} AS ev
    FROM c JOIN svc USING (dst, port) GROUP BY ALL HAVING any_value(svc.outsiders) <= 3 ORDER BY ts"""
    out = []
    for r in ctx.rows(sql):
        why = f"{r['src']} connected from outside to {ctx.name_of(r['dst']) or r['dst']}:{r['port']}, " \
              f"a service {r['outsiders']} outside address(es) reached in the case"
        out.append(alert(r["ts"], "inbound", "initial_access", 20.0, why, r["ev"], host=ctx.actor(None, r["dst"]),
                         src_ip=r["src"], dst_ip=r["dst"]))
        # the service reached (ExternalEndpoint.services): containment restricts it on the entry host
        services = ctx.facts.setdefault("inbound_services", {}).setdefault(f"{r['src']} {r['dst']}", set())
        services.update(f"{p}/{r['port']}" for p in r["protos"] or () if p and r["port"] is not None)
    return out


def _new_destination(r: dict) -> bool:
    """First contacted after a baseline of the case (a tenth of it, at least BASELINE_DAYS): a case too
    short for a baseline calls no destination new."""
    if not (r["t0"] and r["t1"] and r["dst_first"]):
        return False
    baseline = max((r["t1"] - r["t0"]) / 10, timedelta(days=BASELINE_DAYS))
    return bool(r["t1"] - r["t0"] >= 2 * baseline and r["dst_first"] > r["t0"] + baseline)


def _time(us: int | None) -> datetime | None:
    return None if us is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


def run(ctx: Context) -> list[Alert]:
    if connections_sql(ctx) is None:
        raise Skipped("no connection records: the case has no zeek_conn, flow or firewall (Cisco ASA) table")
    return uploads(ctx) + beacons(ctx) + inbound(ctx)


DETECTOR = Detector("external", (), run,
                    "uploads out of the ordinary, periodic calls to rare addresses, rare inbound services")

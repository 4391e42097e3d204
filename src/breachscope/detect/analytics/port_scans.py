"""Port scans: one source trying many (host, port) pairs, most of them unanswered, and the hosts that
outsiders probe on many ports.

A scan from inside the network is reconnaissance before lateral movement (high), unless the source scans
on several days (a vulnerability scanner's schedule: low). A scan from outside is the Internet's
background (low), and a host probed by many outside sources on several ports is exposed to it
(informational; low when some of the probed ports answered: an exposed service is being tried). Failed
attempts: Zeek conn states without an answer (S0, REJ, RSTOS0, RSTRH, SH, SHR), flow records in those
states or Argus REQ, and TCP flow records with SYN and no ACK.
"""

from __future__ import annotations

from typing import Any

from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped, clamp
from breachscope.detect.casecontext import CaseContext
from breachscope.model.sql import quote_literal

MIN_PAIRS = 20  # distinct (host, port) pairs a source must try to be a scanner
MIN_FAILED_SHARE = 0.5
SCHEDULE_DAYS = 3  # a source that scans on this many days is a scanner on a schedule
MIN_PROBERS = 20  # outside sources probing one inside host
MIN_PROBED_PORTS = 3  # a flood on one port is not a scan (the ddos analytic's)
MAX_HITS = 100
FAILED_STATES = ("S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR", "REQ")


def _attempts(ctx: CaseContext) -> str:
    states = ", ".join(quote_literal(s) for s in FAILED_STATES)
    parts = []
    w = ctx.window()
    if ctx.has("zeek_conn", "id.orig_h", "id.resp_h", "id.resp_p", "conn_state"):
        parts.append(f"""SELECT ts, "id.orig_h" AS src, "id.resp_h" AS dst, "id.resp_p" AS port,
            conn_state IN ({states}) AS failed FROM zeek_conn
            WHERE "id.orig_h" IS NOT NULL AND "id.resp_h" IS NOT NULL AND coalesce(proto, 'tcp') = 'tcp' AND {w}""")
    if ctx.has("flow", "src_ip", "dst_ip", "dst_port", "state", "tcp_flags", "proto"):
        parts.append(f"""SELECT ts, src_ip AS src, dst_ip AS dst, dst_port AS port,
            (coalesce(state IN ({states}), false) OR (contains(coalesce(tcp_flags, ''), 'S')
             AND NOT contains(coalesce(tcp_flags, ''), 'A'))) AS failed FROM flow
            WHERE src_ip IS NOT NULL AND dst_ip IS NOT NULL AND lower(coalesce(proto, '')) IN ('tcp', '6') AND {w}""")
    if not parts:
        raise Skipped("no TCP connection records with their state: the case has no zeek_conn (conn_state) or flow "
                      "(state, tcp_flags) table")
    return " UNION ALL ".join(parts)


def _scanners(ctx: CaseContext, attempts: str) -> list[dict[str, Any]]:
    return ctx.rows(f"""
        WITH a0 AS ({attempts}),
        -- cheap counts first: the distinct counts below run only for the sources that failed often enough
        cand AS (SELECT src FROM a0 GROUP BY src
                 HAVING count(*) >= {MIN_PAIRS}
                    AND sum(CASE WHEN failed THEN 1 ELSE 0 END) >= {MIN_FAILED_SHARE} * count(*)),
        a AS (SELECT a0.* FROM a0 JOIN cand ON a0.src = cand.src)
        SELECT src, count(*) AS n, sum(CASE WHEN failed THEN 1 ELSE 0 END) AS failed,
               count(DISTINCT dst) AS targets, count(DISTINCT port) AS ports,
               count(DISTINCT concat(dst, '|', CAST(port AS VARCHAR))) AS pairs,
               count(DISTINCT CAST(date_trunc('day', ts) AS DATE)) AS days, min(ts) AS first_ts, max(ts) AS last_ts
        FROM a GROUP BY src
        HAVING count(DISTINCT concat(dst, '|', CAST(port AS VARCHAR))) >= {MIN_PAIRS}
           AND sum(CASE WHEN failed THEN 1 ELSE 0 END) >= {MIN_FAILED_SHARE} * count(*)""")


def _probed(ctx: CaseContext, attempts: str) -> list[dict[str, Any]]:
    # grouped first, and inside/outside decided once per address, not per record (the address SQL is costly)
    return ctx.rows(f"""
        WITH a AS ({attempts}),
        g AS (SELECT src, dst, port, failed, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts
              FROM a GROUP BY src, dst, port, failed),
        addr AS (SELECT x, {ctx.internal('x')} AS inside FROM (SELECT src AS x FROM g UNION SELECT dst AS x FROM g) u),
        e AS (SELECT g.* FROM g JOIN addr s ON g.src = s.x JOIN addr d ON g.dst = d.x WHERE NOT s.inside AND d.inside),
        answered AS (SELECT DISTINCT dst, port FROM e WHERE NOT failed),
        probes AS (SELECT * FROM e WHERE failed)
        SELECT p.dst, sum(p.n) AS n, count(DISTINCT p.src) AS sources, count(DISTINCT p.port) AS ports,
               count(DISTINCT CASE WHEN an.port IS NOT NULL THEN p.port END) AS answered_ports,
               min(p.first_ts) AS first_ts, max(p.last_ts) AS last_ts
        FROM probes p LEFT JOIN answered an ON p.dst = an.dst AND p.port = an.port
        GROUP BY p.dst
        HAVING count(DISTINCT p.src) >= {MIN_PROBERS} AND count(DISTINCT p.port) >= {MIN_PROBED_PORTS}""")


def _evidence(ctx: CaseContext, column: str, address: str) -> tuple[EvidenceQuery, ...]:
    lit = quote_literal(address)
    out = []
    if ctx.has("zeek_conn", "id.orig_h"):
        zeek = '"id.orig_h"' if column == "src" else '"id.resp_h"'
        out.append(EvidenceQuery("zeek_conn", f"{zeek} = {lit}"))
    if ctx.has("flow", "src_ip"):
        out.append(EvidenceQuery("flow", f"{'src_ip' if column == 'src' else 'dst_ip'} = {lit}"))
    return tuple(out)


def _scan_hit(ctx: CaseContext, r: dict[str, Any]) -> Hit:
    src = r["src"]
    inside = ctx.is_internal(src)
    scheduled = r["days"] >= SCHEDULE_DAYS
    if inside and not scheduled:
        score, kind = 85.0, "Internal port scan"
    elif inside:
        score, kind = 45.0, "Internal port scan on a schedule"
    else:
        score, kind = 45.0, "Port scan from outside"
    why = (f"{src} tried {r['pairs']:,} (host, port) pairs ({r['targets']:,} host(s), {r['ports']:,} port(s)) in "
           f"{r['n']:,} attempts, {r['failed'] / r['n']:.0%} unanswered or refused, on {r['days']} day(s)")
    if scheduled:
        why += "; scanning on several days looks like a scheduled vulnerability scanner"
    return Hit(title=f"{kind}: {src} probed {r['targets']:,} host(s) on {r['ports']:,} port(s)", why=why,
               score=clamp(score), first_ts=r["first_ts"], last_ts=r["last_ts"], key=("scan", src), src_ip=src,
               event_count=r["n"], entities={k: r[k] for k in ("n", "failed", "targets", "ports", "pairs", "days")},
               evidence=_evidence(ctx, "src", src))


def _probed_hit(ctx: CaseContext, r: dict[str, Any]) -> Hit:
    exposed = r["answered_ports"] > 0
    why = (f"{r['sources']:,} outside sources tried {r['ports']:,} port(s) of {r['dst']} {r['n']:,} times without an "
           f"answer" + (f"; {r['answered_ports']} of those ports answered other outsiders (an exposed service being "
                        "tried)" if exposed else ""))
    return Hit(title=f"Inbound probing of {r['dst']} from {r['sources']:,} outside sources", why=why,
               score=45.0 if exposed else 30.0, first_ts=r["first_ts"], last_ts=r["last_ts"], key=("probed", r["dst"]),
               dst_ip=r["dst"], event_count=r["n"],
               entities={k: r[k] for k in ("n", "sources", "ports", "answered_ports")},
               evidence=_evidence(ctx, "dst", r["dst"]))


def run(ctx: CaseContext) -> list[Hit]:
    attempts = _attempts(ctx)
    hits = []
    for r in sorted(_scanners(ctx, attempts), key=lambda r: (-r["pairs"], r["src"]))[:MAX_HITS]:
        hits.append(_scan_hit(ctx, r))
    hits += [_probed_hit(ctx, r) for r in sorted(_probed(ctx, attempts), key=lambda r: (-r["sources"], r["dst"]))
             [:MAX_HITS]]
    return hits


ANALYTIC = Analytic(
    name="port_scans", title="Port scans",
    about="sources trying 20 or more (host, port) pairs, mostly unanswered or refused (Zeek conn states, flow "
          "states, SYN without ACK): from inside, reconnaissance (high; low when it recurs on 3+ days, a "
          "scheduled scanner); from outside, the Internet's background (low); and inside hosts probed by 20+ "
          "outside sources on 3+ ports (informational, low when probed ports answer others: an exposed service)",
    tables=("zeek_conn", "flow"), run=run, attack=("T1046", "T1595.001"))

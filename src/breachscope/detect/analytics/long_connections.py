"""Long connections: an inside host connected to an outside address for hours (a remote shell, a tunnel, C2
over a kept-open session), in one connection or summed over many. Durations from Zeek conn, flow records
(end - start) and firewall teardowns; the total of a pair is taken from the sensor that saw the most
of it (never summed across sensors, which see the same connections). Scored by duration and by how few
inside hosts talk to the address (long sessions to SaaS and video calls are everybody's)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from breachscope.detect.analytics.base import Analytic, Hit, clamp
from breachscope.detect.analytics.netcommon import (
    addresses_sql,
    human_seconds,
    pair_evidence,
    rarity,
    raw_connections_sql,
    require_connections,
)
from breachscope.detect.casecontext import CaseContext

MIN_SECONDS = 3600.0  # total time connected for a pair to be worth a look
REPORT = 30.0
MAX_HITS = 100


def _sql(ctx: CaseContext) -> str:
    # per pair and sensor first (a hash aggregation); the inside/outside test runs once per address
    return f"""
    WITH ps AS (SELECT src, dst, prio, count(*) AS n, sum(duration_s) AS total, max(duration_s) AS longest,
                       min(ts) AS first_ts, max(end_us) AS last_us, min(port) AS port
                FROM ({raw_connections_sql(ctx)}) AS r GROUP BY src, dst, prio),
    {addresses_sql('ps', ctx)},
    e AS (SELECT ps.*, s.inside AS outbound, CASE WHEN s.inside THEN ps.src ELSE ps.dst END AS inside_addr,
                 CASE WHEN s.inside THEN ps.dst ELSE ps.src END AS outside
          FROM ps JOIN addr AS s ON ps.src = s.a JOIN addr AS d ON ps.dst = d.a
          WHERE s.inside <> d.inside AND NOT s.special AND NOT d.special),
    per_pair AS (SELECT src, dst, max(total) AS total, max(longest) AS longest, max(n) AS n, min(first_ts) AS first_ts,
                        max(last_us) AS last_us, min(port) AS port, bool_or(outbound) AS outbound,
                        min(outside) AS outside
                 FROM e GROUP BY src, dst HAVING max(total) >= {MIN_SECONDS}),
    pop AS (SELECT outside, count(DISTINCT inside_addr) AS hosts FROM e
            WHERE outside IN (SELECT outside FROM per_pair) GROUP BY outside),
    population AS (SELECT count(DISTINCT inside_addr) AS inside_hosts FROM e)
    SELECT per_pair.*, pop.hosts, population.inside_hosts
    FROM per_pair JOIN pop ON per_pair.outside = pop.outside CROSS JOIN population"""


def score(r: dict[str, Any]) -> tuple[float, dict[str, float]]:
    # one connection kept open weighs more than the same time in many short ones
    effective = max(r["longest"], 0.5 * r["total"])
    duration = max(0.0, min(1.0, 0.4 + 0.2 * math.log2(max(effective, 1.0) / 3600)))  # 1 h: 0.4, 8 h: 1
    rare = rarity(r["hosts"], r["inside_hosts"])
    return clamp(100 * duration * rare), {"duration": duration, "rarity": rare}


def run(ctx: CaseContext) -> list[Hit]:
    require_connections(ctx)
    scored = [(score(r), r) for r in ctx.rows(_sql(ctx))]
    ranked = sorted((x for x in scored if x[0][0] >= REPORT),
                    key=lambda x: (-x[0][0], x[1]["src"], x[1]["dst"]))[:MAX_HITS]
    return [_hit(ctx, s, parts, r) for (s, parts), r in ranked]


def _hit(ctx: CaseContext, s: float, parts: dict[str, float], r: dict[str, Any]) -> Hit:
    port = f":{r['port']}" if r["port"] is not None else ""
    way = "to" if r["outbound"] else "from outside to"
    why = (f"{r['src']} connected {way} {r['dst']}{port} for {human_seconds(r['total'])} in all "
           f"({r['n']:,} connection(s), the longest {human_seconds(r['longest'])}); {r['hosts']} of "
           f"{r['inside_hosts']} inside host(s) talk to {r['outside']}")
    entities = {"src": r["src"], "dst": r["dst"], "port": r["port"], "total_seconds": round(r["total"], 1),
                "longest_seconds": round(r["longest"], 1), "connections": r["n"], "outbound": r["outbound"],
                "inside_hosts_to_outside": r["hosts"], "inside_hosts": r["inside_hosts"],
                **{k: round(v, 3) for k, v in parts.items()}}
    last = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(r["last_us"]))
    return Hit(title=f"Long connection {r['src']} -> {r['dst']}{port}: {human_seconds(r['total'])}", why=why,
               score=s, first_ts=r["first_ts"], last_ts=last, key=(r["src"], r["dst"]), src_ip=r["src"],
               dst_ip=r["dst"], event_count=r["n"], entities=entities, evidence=pair_evidence(ctx, r["src"], r["dst"]))


ANALYTIC = Analytic(
    name="long_connections",
    title="Long connections with the outside",
    about="Inside <-> outside address pairs connected for an hour or more in all (Zeek conn durations, flow "
          "records, firewall teardowns; the pair's total from its best sensor), scored by duration and by how "
          "few inside hosts talk to the outside address.",
    tables=("zeek_conn", "flow", "syslog"),
    run=run,
    attack=("T1071", "T1572"),
)

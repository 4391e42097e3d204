"""Beaconing: an inside host calling the same outside address at regular intervals with payloads of
the same size (command and control polling for orders). RITA's method: for each (inside, outside) pair,
the Bowley skew and the median absolute deviation (MAD) of the intervals between connections and of the
bytes sent, and how evenly the connections fill the time the pair is seen (a histogram of connections
per time bucket); scored together, then weighed by how many inside hosts talk to the address (update
services and SaaS are periodic too, but everybody's) and by the period (daily jobs are the common
periodic traffic of an office, C2 calls every few seconds to an hour)."""

from __future__ import annotations

import math
from typing import Any

from breachscope.detect.analytics.base import Analytic, Hit, clamp
from breachscope.detect.analytics.connections import epoch_us
from breachscope.detect.analytics.netcommon import (
    clamp01,
    classified_sql,
    human_bytes,
    human_seconds,
    pair_evidence,
    rarity,
    rarity_sql,
    raw_connections_sql,
    require_connections,
)
from breachscope.detect.casecontext import CaseContext

MIN_CONNECTIONS = 20  # fewer calls say nothing about regularity (and keeps the interval sort small)
MIN_GAP_US = 1_000_000  # calls less than a second apart are one burst (a page and its resources)
REPORT = 35.0  # below this a pair is ordinary traffic
MAX_HITS = 100
CONFIDENT_GAPS = 300  # intervals after which the count adds no confidence
HOUR_US = 3_600_000_000


def _pct(p: float, expr: str) -> str:
    # the ordered-set form: DuckDB computes it exactly, sqlglot gives Spark percentile_approx
    return f"percentile_cont({p}) WITHIN GROUP (ORDER BY {expr})"


def _sql(ctx: CaseContext) -> str:
    raw = raw_connections_sql(ctx)
    gap = f"CASE WHEN gap >= {MIN_GAP_US} THEN gap END"
    # pairs first (a hash aggregation), then the records of the few pairs that could be reported: enough
    # calls, an address few inside hosts talk to; each pair read from the sensor that saw most of it (one
    # sensor's clock: mixing a firewall's teardown times with Zeek's start times would blur the intervals)
    return f"""
    WITH pp AS (SELECT src, dst, prio, count(*) AS n FROM ({raw}) AS r GROUP BY src, dst, prio),
    {classified_sql('pp', ctx)},
    pop AS (SELECT dst, count(DISTINCT src) AS hosts FROM edge GROUP BY dst),
    population AS (SELECT count(DISTINCT src) AS inside FROM edge),
    best AS (SELECT src, dst, prio FROM (
                 SELECT edge.*, row_number() OVER (PARTITION BY src, dst ORDER BY n DESC, prio) AS k FROM edge) AS e
             WHERE k = 1 AND n >= {MIN_CONNECTIONS}),
    cand AS (SELECT best.*, pop.hosts, population.inside FROM best JOIN pop ON best.dst = pop.dst
             CROSS JOIN population WHERE 100 * {rarity_sql('pop.hosts', 'population.inside')} >= {REPORT}),
    calls AS (SELECT r.src, r.dst, r.port, r.ts, {epoch_us(ctx, 'r.ts')} AS t, CAST(r.bytes_out AS DOUBLE) AS bytes_out
              FROM ({raw}) AS r JOIN cand ON r.src = cand.src AND r.dst = cand.dst AND r.prio = cand.prio),
    seq AS (SELECT *, t - lag(t) OVER (PARTITION BY src, dst ORDER BY t) AS gap FROM calls),
    st AS (SELECT src, dst, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts, min(t) AS t0, max(t) AS t1,
                  mode(port) AS port, count(DISTINCT port) AS ports, sum(bytes_out) AS bytes_out,
                  count({gap}) AS gaps, {_pct(0.25, gap)} AS g1, {_pct(0.5, gap)} AS g2, {_pct(0.75, gap)} AS g3,
                  {_pct(0.25, 'bytes_out')} AS b1, {_pct(0.5, 'bytes_out')} AS b2, {_pct(0.75, 'bytes_out')} AS b3
           FROM seq GROUP BY src, dst HAVING count({gap}) >= {MIN_CONNECTIONS - 1}),
    -- a bucket of an hour, or of a few periods for slower beacons: the histogram of calls per bucket
    j AS (SELECT seq.src, seq.dst, seq.gap, seq.bytes_out, st.g2, st.b2,
                 CAST(floor((seq.t - st.t0) / greatest({HOUR_US}, 4 * st.g2)) AS BIGINT) AS bucket
          FROM seq JOIN st ON seq.src = st.src AND seq.dst = st.dst),
    dev AS (SELECT src, dst, median(abs({gap} - g2)) AS gap_mad, median(abs(bytes_out - b2)) AS bytes_mad
            FROM j GROUP BY src, dst),
    hist AS (SELECT src, dst, CAST(sum(k * k) AS DOUBLE) AS k2 FROM (
                 SELECT src, dst, bucket, count(*) AS k FROM j GROUP BY src, dst, bucket) AS b GROUP BY src, dst)
    SELECT st.*, dev.gap_mad, dev.bytes_mad, hist.k2, cand.hosts, cand.inside,
           CAST(floor((st.t1 - st.t0) / greatest({HOUR_US}, 4 * st.g2)) AS BIGINT) + 1 AS buckets
    FROM st JOIN dev ON st.src = dev.src AND st.dst = dev.dst
    JOIN hist ON st.src = hist.src AND st.dst = hist.dst
    JOIN cand ON st.src = cand.src AND st.dst = cand.dst"""


def bowley(q1: float, q2: float, q3: float) -> float:
    """Bowley's quartile skewness in [-1, 1]; 0 when the quartiles coincide (RITA's convention)."""
    if q3 <= q1 or q2 in (q1, q3):
        return 0.0
    return (q1 + q3 - 2 * q2) / (q3 - q1)


def regularity(r: dict[str, Any]) -> dict[str, float]:
    """The scores of one pair, each in [0, 1] (1: a perfect beacon)."""
    ts_skew = 1 - abs(bowley(r["g1"], r["g2"], r["g3"]))
    ts_mad = clamp01(1 - r["gap_mad"] / r["g2"]) if r["g2"] else 0.0
    mean = r["n"] / r["buckets"]
    cv = math.sqrt(max(0.0, r["k2"] / r["buckets"] - mean * mean)) / mean
    ts_hist = clamp01(1 - cv)
    ds_skew = 1 - abs(bowley(r["b1"], r["b2"], r["b3"]))
    ds_mad = clamp01(1 - r["bytes_mad"] / r["b2"]) if r["b2"] else float(r["bytes_mad"] == 0)
    ts = (ts_skew + ts_mad + ts_hist) / 3
    ds = (ds_skew + ds_mad) / 2
    return {"ts_skew": ts_skew, "ts_mad": ts_mad, "ts_hist": ts_hist, "ds_skew": ds_skew, "ds_mad": ds_mad,
            "regularity": (2 * ts + ds) / 3}


def period_weight(period_s: float) -> float:
    """1 up to an hour, down to 0.6 for a daily period (scheduled jobs)."""
    if period_s <= 3600:
        return 1.0
    return 1 - 0.4 * min(1.0, math.log(period_s / 3600) / math.log(24))


def score(r: dict[str, Any]) -> tuple[float, dict[str, float]]:
    parts = regularity(r)
    confidence = min(1.0, math.log(max(2, r["gaps"])) / math.log(CONFIDENT_GAPS))
    parts["rarity"] = rarity(r["hosts"], r["inside"])
    s = 100 * parts["regularity"] ** 2 * (0.5 + 0.5 * confidence) * period_weight(r["g2"] / 1e6) * parts["rarity"]
    return clamp(s), parts


def run(ctx: CaseContext) -> list[Hit]:
    require_connections(ctx)
    scored = [(score(r), r) for r in ctx.rows(_sql(ctx)) if r["g2"]]
    scored = sorted((x for x in scored if x[0][0] >= REPORT),
                    key=lambda x: (-x[0][0], x[1]["src"], x[1]["dst"]))[:MAX_HITS]
    return [_hit(ctx, s, parts, r) for (s, parts), r in scored]


def _hit(ctx: CaseContext, s: float, parts: dict[str, float], r: dict[str, Any]) -> Hit:
    period, span = r["g2"] / 1e6, (r["t1"] - r["t0"]) / 1e6
    port = f":{r['port']}" if r["port"] is not None else ""
    why = (f"{r['n']:,} connections from {r['src']} to {r['dst']}{port} over {human_seconds(span)}, every "
           f"{human_seconds(period)} (median; MAD {human_seconds(r['gap_mad'] / 1e6)}, interval skew "
           f"{1 - parts['ts_skew']:.2f}, histogram regularity {parts['ts_hist']:.2f}), sending "
           f"{human_bytes(r['b2'])} each (MAD {r['bytes_mad']:.0f} bytes); {r['hosts']} of {r['inside']} inside "
           f"host(s) talk to {r['dst']}")
    entities = {"src": r["src"], "dst": r["dst"], "port": r["port"], "ports": r["ports"], "connections": r["n"],
                "period_s": round(period, 3), "interval_mad_s": round(r["gap_mad"] / 1e6, 3),
                "bytes_median": r["b2"], "bytes_mad": r["bytes_mad"], "bytes_out": r["bytes_out"],
                "inside_hosts_to_dst": r["hosts"], "inside_hosts": r["inside"],
                **{k: round(v, 3) for k, v in parts.items()}}
    return Hit(title=f"Beaconing {r['src']} -> {r['dst']}{port}", why=why, score=s, first_ts=r["first_ts"],
               last_ts=r["last_ts"], key=(r["src"], r["dst"]), src_ip=r["src"], dst_ip=r["dst"],
               event_count=r["n"], entities=entities, evidence=pair_evidence(ctx, r["src"], r["dst"]))


ANALYTIC = Analytic(
    name="beaconing",
    title="Beaconing (periodic calls to an outside address)",
    about="Inside -> outside pairs with regular intervals and payload sizes (RITA: Bowley skew, MAD, histogram "
          "of calls over time), weighed by how few inside hosts talk to the address; over Zeek conn, flow "
          "records and firewall teardowns, each connection counted once.",
    tables=("zeek_conn", "flow", "syslog"),
    run=run,
    attack=("T1071", "T1573"),
    references=("https://github.com/activecm/rita",),
)

"""Exfiltration: an inside host sending much more than it receives to an outside address few inside hosts
talk to, more than it usually sends in a day. Per host, destination and day: bytes out (each connection
once, whichever sensors saw it: the day's best sensor; the answers of unidirectional flow records taken
from their reverse records), the out/in ratio, how many inside hosts talk to the destination, and the
host's own history (what it sends elsewhere outside on an average day). Uploads that recur on several days
to the same destination (nightly or weekly backups to a cloud) are a schedule, reported low at most unless
one day dwarfs the others."""

from __future__ import annotations

import math
from typing import Any

from breachscope.detect.analytics.base import Analytic, Hit, clamp
from breachscope.detect.analytics.netcommon import (
    clamp01,
    classified_sql,
    human_bytes,
    pair_evidence,
    rarity,
    rarity_sql,
    raw_connections_sql,
    require_connections,
)
from breachscope.detect.casecontext import CaseContext

MIN_UPLOAD = 100_000  # bytes in a day to one destination: less is not a transfer of data worth a finding
RECURRING_DAYS = 3  # large uploads to the same destination on this many days are a schedule
HISTORY_DAYS = 3  # the host's median daily upload means something from this many days on
REPORT = 30.0
MAX_HITS = 100


def _volume_sql(up: str) -> str:
    return f"least(1.0, greatest(0.0, log10({up} / {MIN_UPLOAD}) / 3))"


def _answers_sql(ctx: CaseContext) -> str:
    """CTE `back`: the bytes of the answer records of the candidate pairs' flows, per day (unidirectional
    NetFlow/IPFIX writes a connection's two directions as two records; connections.parts keeps the first)."""
    if not ctx.has("flow", "src_ip", "dst_ip", "bytes"):
        return ""
    nbytes = "coalesce(f.src_bytes, f.bytes, 0)" if ctx.has("flow", "src_bytes") else "coalesce(f.bytes, 0)"
    return f""", back AS (SELECT f.dst_ip AS src, f.src_ip AS dst, CAST(f.ts AS DATE) AS d,
                          sum(CAST({nbytes} AS DOUBLE)) AS back
                   FROM flow AS f JOIN cand ON f.src_ip = cand.dst AND f.dst_ip = cand.src
                   WHERE {ctx.window('f.ts')} GROUP BY f.dst_ip, f.src_ip, CAST(f.ts AS DATE))"""


def _sql(ctx: CaseContext) -> str:
    raw = raw_connections_sql(ctx)
    answers = _answers_sql(ctx)
    down = "CASE WHEN big.prio = 2 AND big.down = 0 THEN coalesce(back.back, 0) ELSE big.down END" if answers \
        else "big.down"
    back_join = "LEFT JOIN back ON big.src = back.src AND big.dst = back.dst AND big.d = back.d" if answers else ""
    # 1. per pair and sensor (a hash aggregation over the records): each pair's upload from its best sensor
    #    (Zeek, then flows, then the firewall: a connection seen by several is counted once), popularity,
    #    each host's upload to everything else per day of its presence; pairs that sent MIN_UPLOAD in all
    # 2. the records of those pairs only, per day, again from the day's best sensor
    return f"""
    WITH pp AS (SELECT src, dst, prio, sum(CAST(bytes_out AS DOUBLE)) AS up, min(ts) AS first_ts, max(ts) AS last_ts
                FROM ({raw}) AS r GROUP BY src, dst, prio),
    {classified_sql('pp', ctx)},
    pair AS (SELECT src, dst, arg_min(up, prio) AS up, min(first_ts) AS first_ts, max(last_ts) AS last_ts
             FROM edge GROUP BY src, dst),
    pop AS (SELECT dst, count(*) AS hosts FROM pair GROUP BY dst),
    population AS (SELECT count(*) AS inside FROM (SELECT DISTINCT src FROM pair) AS s),
    host AS (SELECT src, sum(up) AS host_up, greatest(1, date_diff('day', min(first_ts), max(last_ts)) + 1) AS host_days
             FROM pair GROUP BY src),
    cand AS (SELECT pair.src, pair.dst, pair.up AS pair_up, pop.hosts, population.inside, host.host_up, host.host_days
             FROM pair JOIN pop ON pair.dst = pop.dst JOIN host ON pair.src = host.src CROSS JOIN population
             WHERE pair.up >= {MIN_UPLOAD}
               -- the best score the pair could reach (a day sends at most the pair's total) must be reportable
               AND 100 * {rarity_sql('pop.hosts', 'population.inside')} * (1 - 0.35 * (1 - {_volume_sql('pair.up')}))
                   >= {REPORT}),
    dp AS (SELECT r.src, r.dst, CAST(r.ts AS DATE) AS d, r.prio, sum(CAST(r.bytes_out AS DOUBLE)) AS up,
                  sum(CAST(r.bytes_in AS DOUBLE)) AS down, count(*) AS n, min(r.ts) AS first_ts, max(r.ts) AS last_ts,
                  min(r.port) AS port
           FROM ({raw}) AS r JOIN cand ON r.src = cand.src AND r.dst = cand.dst
           GROUP BY r.src, r.dst, CAST(r.ts AS DATE), r.prio),
    day AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY src, dst, d ORDER BY prio) AS k FROM dp) AS x
            WHERE k = 1),
    big AS (SELECT * FROM day WHERE up >= {MIN_UPLOAD}),
    recur AS (SELECT src, dst, count(*) AS big_days, median(up) AS big_median FROM big GROUP BY src, dst)
    {answers}
    SELECT big.src, big.dst, big.d, big.prio, big.up, big.n, big.first_ts, big.last_ts, big.port,
           {down} AS down, recur.big_days, recur.big_median, cand.pair_up, cand.hosts, cand.inside, cand.host_up,
           cand.host_days
    FROM big JOIN recur ON big.src = recur.src AND big.dst = recur.dst
    JOIN cand ON big.src = cand.src AND big.dst = cand.dst
    {back_join}"""


def usual_upload(r: dict[str, Any]) -> float:
    """What the host sends outside on an average day of its presence, the pair in question left out."""
    return max(0.0, r["host_up"] - r["pair_up"]) / r["host_days"]


def score(r: dict[str, Any]) -> tuple[float, dict[str, float], list[str]]:
    notes = []
    volume = clamp01(math.log10(r["up"] / MIN_UPLOAD) / 3)  # 100 KB: 0, 100 MB: 1 (as _volume_sql)
    if r["prio"] == 3 or (r["prio"] == 2 and not r["down"]):
        # firewall teardowns give both directions together; flow records may lack the answer's
        ratio = 0.5
        notes.append("no bytes of the answers in these records: direction unknown")
    else:
        ratio = clamp01(math.log10(max(1.0, r["up"] / max(r["down"], 1.0))) / 2)  # 100 times more out: 1
    if r["host_days"] >= HISTORY_DAYS:
        novelty = clamp01(math.log10(max(1.0, r["up"] / max(usual_upload(r), 1000.0))) / 2)  # 100 times: 1
    else:
        novelty = 0.5
        notes.append(f"little history of the host ({r['host_days']} day(s))")
    rare = rarity(r["hosts"], r["inside"])
    s = 100 * rare * (0.15 + 0.35 * volume + 0.25 * ratio + 0.25 * novelty)
    recurring = r["big_days"] >= RECURRING_DAYS and r["up"] < 10 * r["big_median"]
    if recurring:
        s = min(0.5 * s, 39.0)
        notes.append(f"uploads of this size to it recur on {r['big_days']} days (a schedule)")
    parts = {"volume": volume, "ratio": ratio, "novelty": novelty, "rarity": rare}
    return clamp(s), parts, notes


def run(ctx: CaseContext) -> list[Hit]:
    require_connections(ctx)
    best: dict[tuple[str, str], tuple[float, dict[str, float], list[str], dict[str, Any]]] = {}
    totals: dict[tuple[str, str], list[float]] = {}
    for r in ctx.rows(_sql(ctx)):
        k = (r["src"], r["dst"])
        s, parts, notes = score(r)
        t = totals.setdefault(k, [0.0, 0.0, 0.0])
        t[0], t[1], t[2] = t[0] + r["up"], t[1] + r["down"], t[2] + r["n"]
        if k not in best or (-s, r["d"]) < (-best[k][0], best[k][3]["d"]):  # the top day, the first of equals
            best[k] = (s, parts, notes, r)
    ranked = sorted((v for v in best.values() if v[0] >= REPORT),
                    key=lambda v: (-v[0], v[3]["src"], v[3]["dst"]))[:MAX_HITS]
    return [_hit(ctx, *v, totals[(v[3]["src"], v[3]["dst"])]) for v in ranked]


def _hit(ctx: CaseContext, s: float, parts: dict[str, float], notes: list[str], r: dict[str, Any],
         total: list[float]) -> Hit:
    day = r["d"].isoformat()
    why = (f"{r['src']} sent {human_bytes(r['up'])} to {r['dst']} on {day} in {r['n']} connection(s), receiving "
           f"{human_bytes(r['down'])}; on an average day it sends {human_bytes(usual_upload(r))} elsewhere outside; "
           f"{r['hosts']} of {r['inside']} inside host(s) talk to {r['dst']}")
    if r["big_days"] > 1:
        why += f"; {human_bytes(total[0])} over {r['big_days']} days of uploads to it"
    if notes:
        why += "; " + "; ".join(notes)
    entities = {"src": r["src"], "dst": r["dst"], "port": r["port"], "day": day, "bytes_out": r["up"],
                "bytes_in": r["down"], "connections": r["n"], "bytes_out_all_days": total[0],
                "upload_days": r["big_days"], "host_daily_bytes_out_elsewhere": round(usual_upload(r)),
                "host_days": r["host_days"], "inside_hosts_to_dst": r["hosts"], "inside_hosts": r["inside"],
                **{k: round(v, 3) for k, v in parts.items()}}
    return Hit(title=f"Exfiltration {r['src']} -> {r['dst']}: {human_bytes(r['up']).split(' (')[0]} out on {day}",
               why=why, score=s, first_ts=r["first_ts"], last_ts=r["last_ts"], key=(r["src"], r["dst"]),
               src_ip=r["src"], dst_ip=r["dst"], event_count=r["n"], entities=entities,
               evidence=pair_evidence(ctx, r["src"], r["dst"]))


ANALYTIC = Analytic(
    name="exfiltration",
    title="Exfiltration (uploads out of the ordinary)",
    about="Bytes an inside host sends to an outside address per day (each connection once across Zeek, flows "
          "and the firewall), the out/in ratio, how few inside hosts talk to the address and what the host sends "
          "elsewhere on an average day; uploads that recur on several days (backups) stay low.",
    tables=("zeek_conn", "flow", "syslog"),
    run=run,
    attack=("T1041", "T1048", "T1567"),
)

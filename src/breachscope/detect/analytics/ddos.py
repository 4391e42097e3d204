"""DDoS: a destination that suddenly receives flood-like traffic (reflection from amplifying UDP services, SYN-only
TCP, UDP or ICMP floods) at a rate far above its own traffic of the hour before, from many sources (or one
source at a huge rate: a DoS). Over flow records (NetFlow/IPFIX/Argus, counters scaled by the sampling rate the
records carry) and Zeek conn: one finding per attack with its victim, onset (the first attack record), end,
vectors, sources and peak rates.

SQL (ddos_sql.py) finds the runs of loud buckets per destination; Python only sees those runs, decides which
are attacks, and asks the few details of each."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped, clamp
from breachscope.detect.analytics.ddos_sql import (
    BUCKET_S,
    PRIOR_BUCKETS,
    TRIGGER_PPS,
    Sensor,
    Window,
    first_ts_sql,
    islands_sql,
    plain,
    ports_sql,
    sensors,
    sources_sql,
    unusable,
    vectors_sql,
)
from breachscope.detect.casecontext import CaseContext
from breachscope.model.sql import quote_literal

BUCKET_US = BUCKET_S * 1_000_000
STEP = 4  # an attack's first buckets carry STEP times the loudest bucket of the destination's hour before
MIN_HISTORY_BUCKETS = 30  # with less than five minutes of the sensor's records before it, a run has no baseline
MIN_SOURCES = 20  # a distributed attack; fewer sources must be a flood that no service explains (DoS)
MIN_SHARE = 0.01  # a vector carrying less of the flood's packets is left out (stray answers to the victim)
AMPLIFIED_BYTES = 400  # mean reflected packet size of an amplification attack (ordinary DNS/NTP answers are small)
PORT_SHARE = 0.5  # a SYN flood aims at a port, or
REPEATS = 1.5  # hits each of the ports it spreads over again and again (a scan probes each once, or twice)
TOP_SOURCES = 10
MAX_RUNS = 200  # candidate attacks examined in detail (the loudest first)

LABELS = {"syn_flood": "SYN flood", "udp_flood": "UDP flood", "icmp_flood": "ICMP flood"}
FLOODS_WITH_A_PORT = ("syn_flood", "udp_flood")


@dataclass
class Attack:
    """A candidate attack on one destination seen by one sensor: buckets first..last, with its baseline."""

    sensor: Sensor
    victim: str
    first_bucket: int
    last_bucket: int
    peak_pkts: float
    peak_bytes: float
    onset_pkts: float
    prior_max: float  # the loudest bucket of the hour before (packets)
    prior_pps: float  # the mean packet rate of the hour before
    baseline: bool  # False: the records begin with the attack (no hour before to compare with)
    # filled by _details
    vectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    onset_us: int = 0
    end_us: int = 0
    sources: int = 0
    top_sources: list[dict[str, Any]] = field(default_factory=list)
    port: int | None = None
    rate: int = 1
    hits_per_port: float = 0.0  # packets of the SYN and UDP floods per port of the victim they reach
    also_seen_by: list[str] = field(default_factory=list)

    @property
    def flood_pkts(self) -> float:
        return sum(float(v["pkts"]) for v in self.vectors.values())

    @property
    def flows(self) -> int:
        return sum(int(v["flows"]) for v in self.vectors.values())


def run(ctx: CaseContext) -> list[Hit]:
    candidates: list[Attack] = []
    readable = sensors(ctx)
    empty = []
    for s in readable:
        first = ctx.rows(first_ts_sql(ctx, s))[0]["ts"]
        if first is None:
            empty.append(f"{s.table} has no records{'' if ctx.window() == 'true' else ' in the time window'}")
            continue
        runs = [plain(r) for r in ctx.rows(islands_sql(ctx, s))]
        candidates += _candidates(s, runs, int(first.timestamp()) // BUCKET_S)
    if len(empty) == len(readable):  # nothing read: say why
        raise Skipped("; ".join(empty + unusable(ctx)))
    candidates.sort(key=lambda a: -a.peak_pkts)
    attacks = [a for a in _details(ctx, candidates[:MAX_RUNS]) if _is_attack(a)]
    return [_hit(a) for a in _one_per_victim(attacks)]


def _candidates(s: Sensor, runs: list[dict[str, Any]], sensor_first: int) -> list[Attack]:
    """Runs that start with a step above the destination's hour before (or start the records); a run soon after
    an attack whose step does not show (its hour before is the attack) continues that attack."""
    out: list[Attack] = []
    current: Attack | None = None
    for r in runs:  # by destination, then time
        if current is not None and (current.victim != r["dst"] or
                                    r["first_bucket"] - current.last_bucket > PRIOR_BUCKETS):
            current = None
        history = min(PRIOR_BUCKETS, int(r["first_bucket"]) - sensor_first)
        baseline = history >= MIN_HISTORY_BUCKETS
        onset, prior_max = float(r["onset_pkts"] or 0), float(r["prior_max"] or 0)
        step = onset >= TRIGGER_PPS * BUCKET_S and (not baseline or onset >= STEP * prior_max)
        if current is not None and not step:
            current.last_bucket = int(r["last_bucket"])
            current.peak_pkts = max(current.peak_pkts, float(r["peak_pkts"]))
            current.peak_bytes = max(current.peak_bytes, float(r["peak_bytes"]))
        elif step:
            current = Attack(s, r["dst"], int(r["first_bucket"]), int(r["last_bucket"]), float(r["peak_pkts"]),
                             float(r["peak_bytes"]), onset, prior_max,
                             float(r["prior_sum"] or 0) / max(history, 1) / BUCKET_S, baseline)
            out.append(current)
    return out


def _details(ctx: CaseContext, candidates: list[Attack]) -> list[Attack]:
    """Vectors, onset, end, sources and port of every candidate, from the records to its victim during it: three
    queries per sensor for all its candidates."""
    out: list[Attack] = []
    for table in dict.fromkeys(a.sensor.table for a in candidates):
        group = [a for a in candidates if a.sensor.table == table]
        s = group[0].sensor
        windows = [Window(a.victim, _time((a.first_bucket - 2) * BUCKET_US), _time((a.last_bucket + 1) * BUCKET_US))
                   for a in group]
        by_id: dict[int, dict[str | None, dict[str, Any]]] = {}
        for r in ctx.rows(vectors_sql(ctx, s, windows)):
            by_id.setdefault(r["c_id"], {})[r["vector"]] = plain(r)
        kept = {i: a for i, a in enumerate(group) if _take_vectors(a, by_id.get(i, {}))}
        if not kept:
            continue
        for r in ctx.rows(sources_sql(ctx, s, windows, {i: list(a.vectors) for i, a in kept.items()}, TOP_SOURCES)):
            a = kept[r["c_id"]]
            a.sources = int(r["sources"])
            a.top_sources.append({"src": r["src"], "packets": int(r["pkts"]), "bytes": int(r["bytes"])})
        aimed = {i: [v for v in a.vectors if v in FLOODS_WITH_A_PORT] for i, a in kept.items()}
        for r in ctx.rows(ports_sql(ctx, s, windows, {i: v for i, v in aimed.items() if v})):
            a = kept[r["c_id"]]
            aimed_pkts = sum(float(a.vectors[v]["pkts"]) for v in aimed[r["c_id"]])
            if r["dport"] is not None and float(r["pkts"]) >= PORT_SHARE * aimed_pkts:
                a.port = int(r["dport"])
            a.hits_per_port = aimed_pkts / max(int(r["ports"]), 1)
        out += kept.values()
    return out


def _take_vectors(a: Attack, rows: dict[str | None, dict[str, Any]]) -> bool:
    """The candidate's vectors (those with MIN_SHARE of its flood packets), onset, end and sampling rate; False
    when it has no flood records."""
    floods = {v: r for v, r in rows.items() if v is not None}
    total = sum(float(r["pkts"]) for r in floods.values())
    if total <= 0:
        return False
    a.vectors = {v: r for v, r in sorted(floods.items(), key=lambda kv: (-float(kv[1]["pkts"]), kv[0]))
                 if float(r["pkts"]) >= MIN_SHARE * total}
    a.onset_us = min(int(r["first_us"]) for r in a.vectors.values())
    a.end_us = max(int(r["last_us"]) for r in a.vectors.values())
    a.rate = max(int(r["rate"] or 1) for r in rows.values())
    return True


def _amplified(v: str, r: dict[str, Any]) -> bool:
    return v.endswith("_reflection") and float(r["bytes"]) >= AMPLIFIED_BYTES * float(r["pkts"])


def _is_attack(a: Attack) -> bool:
    """Many sources after a step over the baseline; otherwise (one or a few sources, or no baseline) only floods
    that no ordinary service explains: SYN-only at one port or at ports it hits again and again, ICMP, amplified
    reflection."""
    return (a.sources >= MIN_SOURCES and a.baseline) or _unexplained(a) >= 0.5


def _unexplained(a: Attack) -> float:
    """The share of the flood no ordinary service explains."""
    strong = sum(float(r["pkts"]) for v, r in a.vectors.items()
                 if (v == "syn_flood" and (a.port is not None or a.hits_per_port >= REPEATS))
                 or v == "icmp_flood" or _amplified(v, r))
    return strong / max(a.flood_pkts, 1.0)


def _one_per_victim(attacks: list[Attack]) -> list[Attack]:
    """Two sensors that saw the same attack give one finding: the one that counted more of it."""
    kept: list[Attack] = []
    for a in sorted(attacks, key=lambda a: -a.flood_pkts):
        same = next((k for k in kept if k.victim == a.victim and a.onset_us <= k.end_us and k.onset_us <= a.end_us),
                    None)
        if same is None:
            kept.append(a)
        elif a.sensor.table != same.sensor.table and a.sensor.table not in same.also_seen_by:
            same.also_seen_by.append(a.sensor.table)
            same.onset_us, same.end_us = min(same.onset_us, a.onset_us), max(same.end_us, a.end_us)
    return kept


def _hit(a: Attack) -> Hit:
    onset, end = _time(a.onset_us), _time(a.end_us)
    seconds = max((a.end_us - a.onset_us) / 1e6, 1.0)
    pkts = a.flood_pkts
    byts = sum(float(r["bytes"]) for r in a.vectors.values())
    labels = [_label(v) for v in a.vectors]
    kind = "DDoS" if a.sources >= MIN_SOURCES else "DoS"
    target = f"{a.victim}:{a.port}" if a.port is not None else a.victim
    plural = "s" if a.sources != 1 else ""
    peak_pps, peak_bps = a.peak_pkts / BUCKET_S, a.peak_bytes * 8 / BUCKET_S
    ratio = (a.onset_pkts / BUCKET_S) / max(a.prior_max / BUCKET_S, 1.0)
    shares = ", ".join(f"{_label(v)} {float(r['pkts']) / pkts:.0%}" for v, r in a.vectors.items())
    baseline = (f"{a.prior_pps:,.1f} packets/s (loudest {BUCKET_S} s: {a.prior_max / BUCKET_S:,.0f}/s) in the hour "
                f"before" if a.baseline else "no baseline (the records begin with the attack)")
    scaled = (f"counters scaled by the sampling rate 1:{a.rate} the records carry" if a.rate > 1
              else "counters as recorded (the records carry no sampling rate)")
    few = "" if a.sources >= MIN_SOURCES else " (a NAT or spoofed addresses may hide more)"
    why = (f"{pkts:,.0f} flood packets ({_size(byts)}) to {a.victim} from {a.sources:,} source{plural}{few} between "
           f"{onset:%Y-%m-%d %H:%M:%S} and {end:%H:%M:%S} UTC ({_duration(seconds)}): {shares}; peak "
           f"{peak_pps:,.0f} packets/s and {_bits(peak_bps)} over {BUCKET_S} s against {baseline}; {scaled}"
           f" ({a.sensor.table}{''.join(', ' + t for t in a.also_seen_by)}).")
    score = (50 + (min(20.0, 7 * math.log10(max(ratio, 1.0))) if a.baseline else 0.0)
             + min(15.0, 5 * math.log10(max(a.sources, 1)))
             + min(15.0, 5 * math.log10(max(peak_pps / TRIGGER_PPS, 1.0))) + 10 * _unexplained(a))
    vectors = [{"vector": v, "label": _label(v), "packets": int(float(r["pkts"])), "bytes": int(float(r["bytes"])),
                "share": round(float(r["pkts"]) / pkts, 4), "sources": int(r["sources"]), "flows": int(r["flows"])}
               for v, r in a.vectors.items()]
    entities = {
        "victim": a.victim, "port": a.port, "onset": onset, "end": end, "duration_s": round(seconds, 3),
        "vectors": vectors, "sources": a.sources, "top_sources": a.top_sources, "packets": int(pkts),
        "bytes": int(byts), "flows": a.flows, "peak_pps": round(peak_pps), "peak_bps": round(peak_bps),
        "mean_pps": round(pkts / seconds), "mean_bps": round(byts * 8 / seconds), "bucket_s": BUCKET_S,
        "baseline_pps": round(a.prior_pps, 3) if a.baseline else None,
        "baseline_peak_pps": round(a.prior_max / BUCKET_S, 3) if a.baseline else None,
        "onset_over_baseline": round(ratio, 1) if a.baseline else None,
        "sampling_rate": a.rate, "scaled": a.rate > 1, "sensor": a.sensor.table, "also_seen_by": a.also_seen_by,
    }
    reflection = any(v.endswith("_reflection") for v in a.vectors)
    direct = any(not v.endswith("_reflection") for v in a.vectors)
    evidence = f"{a.sensor.dst} = {quote_literal(a.victim)} AND ts >= {_lit(onset)} AND ts <= {_lit(end)} " \
               f"AND {a.sensor.vector} IS NOT NULL"
    return Hit(
        title=f"{kind} on {target}: {', '.join(labels)} ({a.sources:,} source{plural})", why=why,
        score=clamp(score), first_ts=onset, last_ts=end, ts=onset, key=(a.victim, a.first_bucket * BUCKET_S),
        dst_ip=a.victim, src_ip=a.top_sources[0]["src"] if a.sources == 1 else None, event_count=a.flows,
        entities=entities, evidence=(EvidenceQuery(a.sensor.table, evidence),),
        attack=(*(("T1498.002",) if reflection else ()), *(("T1498.001",) if direct else ())))


def _label(vector: str) -> str:
    if vector.endswith("_reflection"):
        name = vector.removesuffix("_reflection")
        return f"{name.upper() if len(name) <= 5 else name} reflection"
    return LABELS.get(vector, vector)


def _time(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _lit(t: datetime) -> str:
    return f"TIMESTAMPTZ {quote_literal(t.isoformat())}"


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def _bits(bps: float) -> str:
    for unit, scale in (("Tbit/s", 1e12), ("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= scale:
            return f"{bps / scale:,.1f} {unit}"
    return f"{bps:,.0f} bit/s"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


ANALYTIC = Analytic(
    name="ddos",
    title="DDoS",
    about="Volumetric attacks from flow records (NetFlow/IPFIX/Argus, scaled by their sampling rate) and Zeek conn: "
          f"per destination, {BUCKET_S} s buckets of packets; a run of buckets over {TRIGGER_PPS} packets/s, mostly "
          "reflection from amplifying UDP services (NTP, DNS, memcached, SSDP, CLDAP, ...), SYN-only TCP, UDP or "
          f"ICMP, that starts at {STEP} times the destination's loudest bucket of the hour before, from many "
          "sources (or one flood no service explains). Victim, onset (first attack record), end, vectors, "
          "sources, peak and mean rates.",
    tables=("flow", "zeek_conn"),
    run=run,
    attack=("T1498",),
    references=("https://attack.mitre.org/techniques/T1498/",
                "https://www.cisa.gov/news-events/alerts/2014/01/17/udp-based-amplification-attacks"),
)

"""SQL of the DDoS analytic: what each sensor saw arrive at each destination in fixed time buckets, split into
flood-like traffic (UDP, ICMP, SYN-only TCP) and the rest; runs of loud buckets with the destination's own
traffic in the hour before them; and, for the few runs found, the attack vector of each record (reflection
from an amplifying UDP service, SYN flood, UDP flood, ICMP flood). Written once in DuckDB SQL (Spark gets it
through sqlglot); the scan of every record computes only cheap expressions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from breachscope.detect.casecontext import CaseContext
from breachscope.detect.casesql import epoch_us_sql
from breachscope.model.sql import quote_literal

BUCKET_S = 10  # the resolution of rates, onsets and ends
PRIOR_BUCKETS = 360  # the destination's own traffic in the hour before a run is its baseline
GAP_BUCKETS = 6  # a run survives a minute of quiet (sampled or bursty floods leave holes)
FLOOR_PPS = 100  # a bucket below this packet rate is never part of an attack, whatever the baseline
TRIGGER_PPS = 500  # a run is an attack candidate only with a bucket at this rate

#: UDP services that answer a small request with a big response (amplification), by source port
REFLECTORS = {123: "ntp", 53: "dns", 11211: "memcached", 1900: "ssdp", 19: "chargen", 389: "cldap", 161: "snmp",
              111: "portmap", 137: "netbios", 17: "qotd", 3702: "ws-discovery", 5353: "mdns", 3283: "ard",
              10001: "ubiquiti", 5683: "coap", 520: "rip", 27015: "steam", 37810: "dvr"}

#: every vector's name
VECTORS = frozenset({f"{n}_reflection" for n in REFLECTORS.values()} | {"syn_flood", "udp_flood", "icmp_flood"})

#: flow columns (kept in `extra`) that may carry the exporter's 1:N sampling rate: IPFIX, NetFlow v9 / nProbe,
#: pmacct, goflow
SAMPLING_KEYS = ("samplingInterval", "samplingPacketInterval", "samplerRandomInterval", "sampling_interval",
                 "SAMPLING_INTERVAL", "sampling_rate", "SAMPLING_RATE", "SamplingRate", "sample_rate")


@dataclass(frozen=True)
class Sensor:
    """One table's records towards a destination: SQL expressions over the table's own columns."""

    table: str
    dst: str
    src: str
    dport: str
    pkts: str  # packets from the source to the destination (scaled by the sampling rate)
    bytes: str
    rate: str  # the sampling rate applied (1: none)
    end_us: str  # the record's end, microseconds since 1970
    flood: str  # true for flood-like records (UDP, ICMP, SYN-only TCP): cheap, computed on every record
    vector: str  # the attack vector of a record, NULL for ordinary traffic (computed on the few attack rows)


def vector_sql(proto: str, sport: str, syn_only: str) -> str:
    reflect = " ".join(f"WHEN {sport} = {p} THEN '{n}_reflection'" for p, n in REFLECTORS.items())
    return (f"(CASE WHEN {proto} = 'udp' THEN (CASE {reflect} ELSE 'udp_flood' END) "
            f"WHEN {proto} = 'tcp' AND {syn_only} THEN 'syn_flood' "
            f"WHEN {proto} IN ('icmp', 'ipv6-icmp') THEN 'icmp_flood' END)")


def flood_sql(proto: str, syn_only: str) -> str:
    return f"({proto} IN ('udp', 'icmp', 'ipv6-icmp') OR ({proto} = 'tcp' AND {syn_only}))"


def _flow_syn_only(ctx: CaseContext) -> str:
    """A TCP record whose initiator sent SYN and never ACK. One-way records (NetFlow, IPFIX): their flags in
    nfdump's letters (`......S.`, old `....S.`: SYN is the second letter from the end) or words (`SYN`). Two-way
    records OR both sides' flags, so their state tells: Zeek's (captures: `S0`, `REJ`, `RSTOS0`, `SH`, and `S1`
    when the initiator sent no more than its SYNs) or Argus's (`REQ`, `S_RA`: the source's flags first)."""
    if not ctx.has("flow", "tcp_flags"):
        return "false"
    flags = ("(tcp_flags NOT LIKE '%A%' AND (tcp_flags LIKE '%SYN%' OR tcp_flags = 'S' "
             "OR (length(tcp_flags) IN (6, 8) AND substr(tcp_flags, -2, 1) = 'S')))")
    if not ctx.has("flow", "state", "src_packets", "src_bytes"):
        return f"coalesce({flags}, false)"
    zeek = ("(state IN ('S0', 'REJ', 'RSTOS0', 'SH', 'REQ') OR (state = 'S1' AND src_packets <= 3 "
            "AND src_bytes <= 64 * src_packets))")
    argus = ("(state LIKE 'S%' AND split_part(state, '_', 1) <> state "
             "AND split_part(state, '_', 1) NOT LIKE '%A%')")
    return f"coalesce({zeek} OR {flags} OR {argus}, false)"


def _zeek_syn_only(ctx: CaseContext) -> str:
    """Zeek: the originator's SYN without its ACK or data (history `S`, `Sh`, `Sr`), else the state."""
    if ctx.has("zeek_conn", "history"):
        return ("coalesce(history LIKE 'S%' AND history NOT LIKE '%A%' AND history NOT LIKE '%D%', "
                "conn_state IN ('S0', 'REJ'), false)" if ctx.has("zeek_conn", "conn_state") else
                "coalesce(history LIKE 'S%' AND history NOT LIKE '%A%' AND history NOT LIKE '%D%', false)")
    if ctx.has("zeek_conn", "conn_state"):
        return "coalesce(conn_state IN ('S0', 'REJ'), false)"
    return "false"


FLOW_COLUMNS = ("src_ip", "dst_ip", "src_port", "proto", "packets", "bytes")
ZEEK_COLUMNS = ("id.orig_h", "id.resp_h", "id.orig_p", "id.resp_p", "proto", "orig_pkts")


def unusable(ctx: CaseContext) -> list[str]:
    """Why the tables the analytic reads cannot be read (for the reason it was skipped)."""
    return [ctx.missing(t, *cols) for t, cols in (("flow", FLOW_COLUMNS), ("zeek_conn", ZEEK_COLUMNS))
            if not ctx.has(t, *cols)]


def sensors(ctx: CaseContext) -> list[Sensor]:
    out = []
    if ctx.has("flow", *FLOW_COLUMNS):
        rate = sampling_rate_sql(sampling_keys(ctx))
        syn = _flow_syn_only(ctx)
        pkts = "coalesce(src_packets, packets, 0)" if ctx.has("flow", "src_packets") else "coalesce(packets, 0)"
        byts = "coalesce(src_bytes, bytes, 0)" if ctx.has("flow", "src_bytes") else "coalesce(bytes, 0)"
        if rate != "1":
            pkts, byts = f"{pkts} * {rate}", f"{byts} * {rate}"
        end = epoch_us_sql("coalesce(end_ts, ts)" if ctx.has("flow", "end_ts") else "ts")
        out.append(Sensor("flow", "dst_ip", "src_ip", "dst_port", pkts, byts, rate, end,
                          flood_sql("proto", syn), vector_sql("proto", "src_port", syn)))
    if ctx.has("zeek_conn", *ZEEK_COLUMNS):
        syn = _zeek_syn_only(ctx)
        byts = "coalesce(orig_ip_bytes, orig_bytes, 0)" if ctx.has("zeek_conn", "orig_ip_bytes") else "0"
        dur = "coalesce(duration, 0)" if ctx.has("zeek_conn", "duration") else "0"
        out.append(Sensor("zeek_conn", '"id.resp_h"', '"id.orig_h"', '"id.resp_p"',
                          "coalesce(orig_pkts, 0)", byts, "1",
                          f"{epoch_us_sql('ts')} + CAST({dur} * 1e6 AS BIGINT)", flood_sql("proto", syn),
                          vector_sql("proto", '"id.orig_p"', syn)))
    return out


def sampling_keys(ctx: CaseContext) -> list[str]:
    """The sampling-rate columns the flow files have: an exporter writes the rate in every record of a file, so
    the first records of each file tell (reading `extra` of every record would cost more than the analytic)."""
    if not ctx.has("flow", "extra", "src_record"):
        return []
    found: set[str] = set()
    for r in ctx.rows("SELECT extra FROM flow WHERE src_record <= 10 AND extra IS NOT NULL"):
        items = r["extra"].items() if isinstance(r["extra"], dict) else (r["extra"] or [])
        found.update(k for k, v in items if k in SAMPLING_KEYS and v)
    return [k for k in SAMPLING_KEYS if k in found]


def sampling_rate_sql(keys: list[str]) -> str:
    """The record's 1:N sampling rate when the exporter wrote it (counters are then multiplied by N), else 1."""
    if not keys:
        return "1"
    rates = ", ".join(f"TRY_CAST(extra[{k!r}] AS BIGINT)" for k in keys)
    return f"greatest(coalesce({rates}, 1), 1)"


def islands_sql(ctx: CaseContext, s: Sensor) -> str:
    """Per destination, runs of loud buckets (packet rate over the floor, mostly flood-like) with at most
    GAP_BUCKETS quiet buckets inside, that reach TRIGGER_PPS in a bucket; with what the destination received in
    the PRIOR_BUCKETS before the run (its baseline) and the loudest of the run's first three buckets. The
    destinations are first narrowed to those with such a bucket of flood-like traffic alone (a scan of the
    flood-like records); only theirs are then counted bucket by bucket, all their traffic."""
    floor, trigger = FLOOR_PPS * BUCKET_S, TRIGGER_PPS * BUCKET_S
    bucket = f"CAST(floor(epoch(ts) / {BUCKET_S}) AS BIGINT)"
    base = f"{s.dst} IS NOT NULL AND {s.src} IS NOT NULL AND {ctx.window()}"
    # the bucket just before a run is left out of its baseline: an attack that began late in it is there
    prior = f"OVER (PARTITION BY dst ORDER BY bucket RANGE BETWEEN {PRIOR_BUCKETS + 1} PRECEDING AND 2 PRECEDING)"
    return f"""WITH hot AS (
        SELECT DISTINCT dst FROM (
            SELECT {s.dst} AS dst, {bucket} AS bucket, sum({s.pkts}) AS pkts FROM {s.table}
            WHERE {base} AND {s.flood} GROUP BY 1, 2) AS fb
        WHERE pkts * 2 >= {trigger}),
    b AS (SELECT {s.dst} AS dst, {bucket} AS bucket, sum({s.pkts}) AS pkts, sum({s.bytes}) AS bytes,
            sum(CASE WHEN {s.flood} THEN {s.pkts} ELSE 0 END) AS flood_pkts
          FROM {s.table} WHERE {base} AND {s.dst} IN (SELECT dst FROM hot) GROUP BY 1, 2),
    w AS (SELECT dst, bucket, pkts, bytes, pkts >= {floor} AND flood_pkts * 2 >= pkts AS loud,
            coalesce(max(pkts) {prior}, 0) AS prior_max, coalesce(sum(pkts) {prior}, 0) AS prior_sum
          FROM b),
    e AS (SELECT *, CASE WHEN bucket - lag(bucket) OVER (PARTITION BY dst ORDER BY bucket) <= {GAP_BUCKETS + 1}
                    THEN 0 ELSE 1 END AS new_run
          FROM w WHERE loud),
    r AS (SELECT *, sum(new_run) OVER (PARTITION BY dst ORDER BY bucket
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run FROM e),
    g AS (SELECT *, min(bucket) OVER (PARTITION BY dst, run) AS start FROM r)
    SELECT dst, min(bucket) AS first_bucket, max(bucket) AS last_bucket, count(*) AS buckets,
        sum(pkts) AS pkts, sum(bytes) AS bytes, max(pkts) AS peak_pkts, max(bytes) AS peak_bytes,
        max(CASE WHEN bucket = start THEN prior_max END) AS prior_max,
        max(CASE WHEN bucket = start THEN prior_sum END) AS prior_sum,
        max(CASE WHEN bucket <= start + 2 THEN pkts END) AS onset_pkts
    FROM g GROUP BY dst, run HAVING max(pkts) >= {trigger}
    ORDER BY dst, first_bucket"""


def first_ts_sql(ctx: CaseContext, s: Sensor) -> str:
    """The sensor's first record: a run that begins soon after it has no full baseline."""
    return f"SELECT min(ts) AS ts FROM {s.table} WHERE {ctx.window()}"


@dataclass(frozen=True)
class Window:
    """A candidate attack's records: to `victim`, from `lo` (two buckets before its first loud one, where the
    first attack records are) to `hi`."""

    victim: str
    lo: datetime
    hi: datetime


def _batch(ctx: CaseContext, s: Sensor, windows: list[Window], vectors: dict[int, list[str]] | None = None) -> str:
    """A WITH clause naming the windows `c` (and, when given, each window's vectors `m`), and the records of every
    window (its number c_id first): all the candidates of a sensor are read in one scan."""
    def lit(t: datetime) -> str:
        return f"TIMESTAMPTZ {quote_literal(t.isoformat())}"

    rows = ", ".join(f"({i}, {quote_literal(w.victim)}, {lit(w.lo)}, {lit(w.hi)})" for i, w in enumerate(windows))
    cte = f"WITH c AS (SELECT * FROM (VALUES {rows}) AS v(c_id, c_victim, c_lo, c_hi))"
    if vectors is not None:
        pairs = ", ".join(f"({i}, '{v}')" for i, vs in vectors.items() for v in vs if v in VECTORS) or "(-1, '')"
        cte += f", m AS (SELECT * FROM (VALUES {pairs}) AS v(m_id, m_vector))"
    lo, hi = min(w.lo for w in windows), max(w.hi for w in windows)
    records = f"""SELECT c_id, {s.src} AS src, {s.dport} AS dport, {epoch_us_sql('ts')} AS us, {s.end_us} AS end_us,
            {s.pkts} AS pkts, {s.bytes} AS bytes, {s.rate} AS rate, {s.vector} AS vector
        FROM {s.table} JOIN c ON {s.dst} = c_victim AND ts >= c_lo AND ts < c_hi
        WHERE ts >= {lit(lo)} AND ts < {lit(hi)} AND {ctx.window()}"""
    if vectors is not None:
        records = f"SELECT f.* FROM ({records}) AS f JOIN m ON f.c_id = m_id AND f.vector = m_vector"
    return f"{cte} SELECT * FROM ({records}) AS r"


def vectors_sql(ctx: CaseContext, s: Sensor, windows: list[Window]) -> str:
    """Per window and vector (NULL: ordinary traffic): packets, bytes, records, sources, first start, last end."""
    return f"""SELECT c_id, vector, sum(pkts) AS pkts, sum(bytes) AS bytes, count(*) AS flows,
        count(DISTINCT src) AS sources, min(us) AS first_us, max(end_us) AS last_us, max(rate) AS rate
        FROM ({_batch(ctx, s, windows)}) AS f GROUP BY c_id, vector"""


def sources_sql(ctx: CaseContext, s: Sensor, windows: list[Window], vectors: dict[int, list[str]], top: int) -> str:
    """Per window, the sources of its vectors: how many, and the top ones by packets."""
    return f"""SELECT c_id, src, pkts, bytes, sources FROM (
            SELECT *, count(*) OVER (PARTITION BY c_id) AS sources,
                row_number() OVER (PARTITION BY c_id ORDER BY pkts DESC, src) AS n
            FROM (SELECT c_id, src, sum(pkts) AS pkts, sum(bytes) AS bytes
                  FROM ({_batch(ctx, s, windows, vectors)}) AS f GROUP BY c_id, src) AS g) AS ranked
        WHERE n <= {top} ORDER BY c_id, n"""


def ports_sql(ctx: CaseContext, s: Sensor, windows: list[Window], vectors: dict[int, list[str]]) -> str:
    """Per window, the victim's port most hit by its SYN and UDP floods (reflection lands anywhere), and how many
    ports they reach."""
    return f"""SELECT c_id, dport, pkts, ports FROM (
            SELECT *, count(*) OVER (PARTITION BY c_id) AS ports,
                row_number() OVER (PARTITION BY c_id ORDER BY pkts DESC, dport) AS n
            FROM (SELECT c_id, dport, sum(pkts) AS pkts FROM ({_batch(ctx, s, windows, vectors)}) AS f
                  GROUP BY c_id, dport) AS g) AS ranked
        WHERE n = 1"""


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """Sums come back as Decimal (HUGEINT) from DuckDB: figures are floats here."""
    from decimal import Decimal

    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}

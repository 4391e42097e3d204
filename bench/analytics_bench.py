"""Analytics benchmark: time and memory of every analytic together (`hunt --no-builtin-rules --analytics all`)
over a case of N flow records, and whether the planted behaviours are found.

    .venv/bin/python bench/analytics_bench.py [--rows 1000000[,10000000]] [--repeat 3] [--work DIR]

For each --rows N: N NetFlow/IPFIX CSV records (the IPFIX element names the netflow_csv reader reads) are
generated with numpy over 14 days: 2,000 internal hosts talking to 50,000 outside addresses of
Zipf-like popularity (web, DNS, NTP, mail, updates), with planted a C2 beacon (one host, one rare
address, 60 s period with 20% jitter, 3 days), a large upload to a rare address, and a 20-minute
reflection + SYN flood DDoS on a public server. The records are ingested once (time printed, no goal),
then the analytics run --repeat times.

- time: median wall time of the hunt. Goal (issue 13): 10^7 records <= 60 s on 2 cores.
- memory: peak RSS of the hunt's process tree (sampled every 50 ms), max over the repeats. Goal <= 2 GB.
- found: beacon ranked first among beacon findings; upload found; DDoS victim found.
The machine is shared, so the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from investigate_bench import CLI, StepError, run  # bench/ is the script's folder: on sys.path

GOAL_SECONDS = {10**7: 60.0}
GOAL_RSS = 2 * 10**9
DAY_MS = 86_400_000
T0_MS = 1_738_368_000_000  # 2025-02-01 00:00 UTC
FILES = 8
BEACON = ("10.1.7.77", "198.18.250.7")
UPLOAD = ("10.1.3.33", "198.18.251.9")
VICTIM = "198.19.0.80"


def _ip(prefix: str, n: np.ndarray) -> pa.Array:
    """Addresses prefix.a.b from integers (a = n // 250, b = n % 250 + 1)."""
    a = pa.array((n // 250).astype(str))
    b = pa.array((n % 250 + 1).astype(str))
    return pc.binary_join_element_wise(prefix, a, b, ".")


def ordinary(rng: np.random.Generator, n: int) -> dict[str, np.ndarray | pa.Array]:
    hosts = rng.integers(0, 2000, n)
    popularity = np.minimum(rng.zipf(1.3, n) - 1, 49_999)
    kind = rng.choice(4, n, p=[0.8, 0.12, 0.04, 0.04])  # tcp/443, udp/53, udp/123, tcp/25
    dport = np.array([443, 53, 123, 25])[kind]
    proto = np.array([6, 17, 17, 6])[kind]
    start = T0_MS + rng.integers(0, 14 * DAY_MS, n)
    dur = rng.exponential(2_000, n).astype(np.int64)
    out_b = rng.lognormal(7, 1.5, n).astype(np.int64) + 40
    return {"start": start, "end": start + dur, "src": _ip("10.1", hosts), "dst": _ip("198.18", popularity),
            "sport": rng.integers(1024, 65536, n), "dport": dport, "proto": proto, "octets": out_b,
            "packets": out_b // 800 + 1, "flags": np.where(proto == 6, 27, 0)}


def planted(rng: np.random.Generator) -> list[dict[str, np.ndarray | pa.Array]]:
    out = []
    k = 3 * 1440  # beacon: one call a minute for 3 days, jitter 20%
    t = T0_MS + 5 * DAY_MS + np.cumsum(rng.uniform(48_000, 72_000, k)).astype(np.int64)
    out.append({"start": t, "end": t + 300, "src": pa.array([BEACON[0]] * k), "dst": pa.array([BEACON[1]] * k),
                "sport": rng.integers(1024, 65536, k), "dport": np.full(k, 443), "proto": np.full(k, 6),
                "octets": rng.integers(900, 1100, k), "packets": np.full(k, 4), "flags": np.full(k, 27)})
    k = 40  # upload: 40 connections of ~50 MB in one night
    t = T0_MS + 9 * DAY_MS + 3_600_000 + np.arange(k) * 60_000
    out.append({"start": t, "end": t + 50_000, "src": pa.array([UPLOAD[0]] * k), "dst": pa.array([UPLOAD[1]] * k),
                "sport": rng.integers(1024, 65536, k), "dport": np.full(k, 443), "proto": np.full(k, 6),
                "octets": rng.integers(45_000_000, 55_000_000, k), "packets": np.full(k, 40_000),
                "flags": np.full(k, 27)})
    k = 20_000  # DDoS: 20 minutes, NTP and DNS reflection and a SYN flood from 3,000 sources
    t = T0_MS + 11 * DAY_MS + 40_000_000 + np.sort(rng.integers(0, 1_200_000, k))
    vec = rng.choice(3, k)
    srcs = rng.integers(0, 3000, k)
    out.append({"start": t, "end": t + 1000, "src": _ip("198.20", srcs), "dst": pa.array([VICTIM] * k),
                "sport": np.where(vec == 0, 123, np.where(vec == 1, 53, rng.integers(1024, 65536, k))),
                "dport": np.where(vec == 2, 80, rng.integers(1024, 65536, k)),
                "proto": np.where(vec == 2, 6, 17), "octets": rng.integers(200_000, 2_000_000, k),
                "packets": rng.integers(500, 3000, k), "flags": np.where(vec == 2, 2, 0)})
    return out


def write_flows(rows: int, folder: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    names = ["flowStartMilliseconds", "flowEndMilliseconds", "sourceIPv4Address", "destinationIPv4Address",
             "sourceTransportPort", "destinationTransportPort", "protocolIdentifier", "octetDeltaCount",
             "packetDeltaCount", "tcpControlBits"]
    parts = [ordinary(rng, rows // FILES) for _ in range(FILES)]
    parts[0] = _concat([parts[0], *planted(rng)])
    for i, p in enumerate(parts):
        table = pa.table([pa.array(p[k]) if isinstance(p[k], np.ndarray) else p[k] for k in
                          ("start", "end", "src", "dst", "sport", "dport", "proto", "octets", "packets", "flags")],
                         names=names)
        pacsv.write_csv(table, folder / f"flows-{i:02d}.csv",
                        pacsv.WriteOptions(quoting_style="none", include_header=True))


def _concat(parts: list[dict[str, np.ndarray | pa.Array]]) -> dict[str, np.ndarray | pa.Array]:
    out: dict[str, np.ndarray | pa.Array] = {}
    for k in parts[0]:
        vals = [p[k] for p in parts]
        out[k] = (pa.concat_arrays([v if isinstance(v, pa.Array) else pa.array(v) for v in vals])
                  if any(isinstance(v, pa.Array) for v in vals) else np.concatenate(vals))  # type: ignore[arg-type]
    return out


def found(findings: list[dict]) -> dict[str, bool]:
    beacons = sorted((f for f in findings if "beacon" in json.dumps(f).lower()), key=lambda f: -(f.get("score") or 0))
    top = json.dumps(beacons[0]) if beacons else ""
    return {"beacon_first": BEACON[0] in top and BEACON[1] in top,
            "upload": any(UPLOAD[1] in json.dumps(f) for f in findings),
            "ddos": any(VICTIM in json.dumps(f) and "ddos" in json.dumps(f).lower() for f in findings)}


def bench(rows: int, repeat: int, work: Path) -> list[str]:
    d = work / f"rows-{rows}"
    shutil.rmtree(d, ignore_errors=True)
    print(f"# {rows:,} flow records: generate ...", file=sys.stderr, flush=True)
    write_flows(rows, d / "evidence")
    t_ing, _, out = run("ingest", [*CLI, "ingest", str(d / "evidence"), "--case", str(d / "case"), "--json"])
    print(f"# ingest {t_ing:.1f} s", file=sys.stderr, flush=True)
    walls, peaks = [], []
    summary: dict = {}
    for i in range(repeat):
        wall, peak, out = run("hunt", [*CLI, "hunt", str(d / "case"), "--no-builtin-rules", "--analytics", "all",
                                       "--format", "jsonl", "--out", str(d / "findings.jsonl"), "--json"], poll=True)
        walls.append(wall)
        peaks.append(peak)
        summary = json.loads(out)
        print(f"# run {i + 1}: {wall:.1f} s, {peak / 2**20:,.0f} MiB", file=sys.stderr, flush=True)
    findings = [json.loads(x) for x in (d / "findings.jsonl").read_text().splitlines() if x.strip()]
    per = {a["name"]: (a["status"], a["findings"], a["seconds"]) for a in (summary.get("analytics") or {}).get(
        "analytics", [])}
    med = statistics.median(walls)
    goal = GOAL_SECONDS.get(rows)
    lines = [f"rows={rows:,} ingest={t_ing:.1f}s analytics median={med:.1f}s (runs: "
             + ", ".join(f"{w:.1f}" for w in walls) + f") goal={'-' if goal is None else f'{goal:.0f}s'} "
             f"{'ok' if goal is None or med <= goal else 'MISSED'}; peak RSS {max(peaks) / 2**20:,.0f} MiB "
             f"{'ok' if max(peaks) <= GOAL_RSS else 'MISSED'}; load {os.getloadavg()[0]:.2f}",
             f"  found: {found(findings)}; findings {len(findings):,}",
             "  per analytic (status, findings, s of the last run): " + json.dumps(per)]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000", help="comma-separated record counts")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="breachscope-analytics-bench-"))
    try:
        for n in (int(x) for x in args.rows.split(",")):
            for line in bench(n, args.repeat, work):
                print(line, flush=True)
    except StepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

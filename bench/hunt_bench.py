"""Detection benchmark (issue: Sigma engine, item 6). Prints Markdown tables for the README.

    .venv/bin/python bench/hunt_bench.py [--repeat 3] [--only a,b] [--sizes 1,3,10] [--work DIR]

(a) `breachscope hunt` of evtx-attack-samples with all of rules/windows, as a user runs it (a new
    process): cold = empty caches (BREACHSCOPE_CACHE_DIR: compiled rules and ingested cases), then
    --no-cache with the rules cached (ingest again), then warm = both caches filled.
(b) detection only on cases of 1M, 3M and 10M Windows events, made by replicating the shared EVTX and
    OTRF events with shifted times and host names; all Windows rules, then 100 and 1,000 rules on the
    smallest case. DuckDB memory_limit 1200MB; peak RSS is sampled every 50 ms (this process: DuckDB and
    Python).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
SIGMA = ROOT.parent / "shared" / "sigma"
WINDOWS_RULES = SIGMA / "rules" / "windows"
CLI = [sys.executable, "-m", "breachscope.cli.main"]


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    out = subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, json.loads(out.stdout)


def bench_a(work: Path, repeat: int) -> list[str]:
    """cold = empty caches; warm rules = the compiled rules cached, ingest again (--no-cache, the old
    path); warm = both the rules and the ingested case cached (evidence unchanged)."""
    rows = []
    colds, warm_rules, warms = [], [], []
    summary: dict[str, object] = {}
    for i in range(repeat):
        cache = work / f"cache{i}"
        env = {**os.environ, "BREACHSCOPE_CACHE_DIR": str(cache)}
        args = ["hunt", str(DATASETS / "evtx-attack-samples"), "--rules", str(WINDOWS_RULES), "--json"]
        cold, first = run_cli(args, env)
        rules_only, _ = run_cli([*args, "--no-cache"], env)
        warm, summary = run_cli(args, env)
        assert first["findings"] == summary["findings"], (first["findings"], summary["findings"])
        colds.append(cold)
        warm_rules.append(rules_only)
        warms.append(warm)
    rows.append(f"| (a) hunt evtx-attack-samples, {summary['rules']['run']:,} Windows rules, "  # type: ignore[index]
                f"{summary['findings']:,} findings | cold **{statistics.median(colds):.1f} s** | "
                f"warm rules, --no-cache {statistics.median(warm_rules):.1f} s | "
                f"warm **{statistics.median(warms):.1f} s** | detection {summary['seconds']} |")  # type: ignore[index]
    return rows


def base_case(work: Path) -> Path:
    """The shared EVTX folders and the OTRF atomic Windows archives, ingested once."""
    case = work / "base"
    if not (case / "case.json").exists():
        inputs = [DATASETS / d for d in ("evtx-attack-samples", "deepbluecli-evtx", "evtx-parser-samples")]
        inputs.append(DATASETS / "otrf-security-datasets" / "datasets" / "atomic" / "windows")
        subprocess.run([*CLI, "ingest", *map(str, inputs), "--case", str(case), "--json"], check=True,
                       capture_output=True)
    return case


def replicate(base: Path, target_rows: int, out: Path) -> int:
    """A case of ~target_rows Windows events: copies of the base with times shifted by k days and
    host names suffixed with ~k (so every copy is a distinct event, as in a real larger estate)."""
    from breachscope.engines.duckdb_case import open_case
    from breachscope.ingest.store import CaseWriter
    from breachscope.model.case import INGESTED, FileEntry, Part

    if (out / "case.json").exists():
        with open_case(out) as c:
            return c.count("windows")
    writer = CaseWriter(out)
    meta = _field_meta(base)
    with open_case(base) as b:
        n_base = b.count("windows")
        copies = max(1, round(target_rows / n_base))
        per_part = max(1, 1_500_000 // n_base)
        total = 0
        for k0 in range(0, copies, per_part):
            k1 = min(copies, k0 + per_part)
            rel = f"events/windows/replica-{k0:05d}.parquet"
            (out / "events" / "windows").mkdir(parents=True, exist_ok=True)
            reader = b.con.sql(f"""SELECT * REPLACE (ts + to_days(CAST(k AS INTEGER)) AS ts,
                              host || '~' || k AS host, Computer || '~' || k AS Computer,
                              src_sha256 || '~' || k AS src_sha256)
                              FROM windows, range({k0}, {k1}) r(k)""").to_arrow_reader(122880)
            _write_like(reader, out / rel, meta)
            rows = n_base * (k1 - k0)
            total += rows
            writer.commit([FileEntry(path=f"replica {k0}-{k1}", sha256=f"replica-{k0}", size=0,
                                     format="replica", status=INGESTED, records=rows, tables={"windows": rows})],
                          [Part("windows", rel, rows)], "bench")
    writer.close()
    return total


def _field_meta(base: Path) -> dict[str, dict[bytes, bytes]]:
    """Each column's field metadata in the base case's parts (which field a renamed column holds)."""
    meta: dict[str, dict[bytes, bytes]] = {}
    for part in sorted((base / "events" / "windows").glob("*.parquet")):
        for f in pq.read_schema(part):
            if f.metadata:
                meta.setdefault(f.name, dict(f.metadata))
    return meta


def _write_like(reader: pa.RecordBatchReader, path: Path, meta: dict[str, dict[bytes, bytes]]) -> None:
    """The replica's rows with the columns' field metadata and the current layout, as the readers write
    them (a part without them is refused as an earlier layout)."""
    from breachscope.model.schema import LAYOUT_META, LAYOUT_VERSION

    schema = pa.schema([f.with_metadata(meta[f.name]) if f.name in meta else f for f in reader.schema],
                       metadata={LAYOUT_META: LAYOUT_VERSION})
    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        for batch in reader:
            w.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema), row_group_size=122880)


class PeakRSS:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        p = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, p.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def detect_only(case: Path, rules: list[Path] | None, limit: int | None) -> tuple[float, int, int, int]:
    from breachscope.detect.sigma.hunt import hunt
    from breachscope.detect.sigma.ruleset import load_ruleset
    from breachscope.engines.duckdb_case import open_case

    rs = load_ruleset(rules or [WINDOWS_RULES])
    if limit is not None:
        rs.rules = rs.rules[:limit]
    with PeakRSS() as rss, open_case(case, memory_limit="1200MB") as c:
        c.hold_in_memory()
        n = c.count("windows")
        start = time.perf_counter()
        result = hunt(c, [], ruleset=rs)
        elapsed = time.perf_counter() - start
    return elapsed, n, result.findings.num_rows, rss.peak


def bench_b(work: Path, sizes: list[int]) -> list[str]:
    base = base_case(work)
    rows = []
    smallest = None
    for m in sizes:
        case = work / f"case{m}m"
        replicate(base, m * 1_000_000, case)
        secs, n, found, peak = detect_only(case, None, None)
        rows.append(f"| (b) {n:,} events, all Windows rules | {secs:.1f} s | **{n / secs:,.0f} events/s** | "
                    f"{found:,} findings | {peak / 2**20:,.0f} MiB |")
        smallest = smallest or case
    if smallest is not None:  # growth with rules, on the smallest case (the largest takes too long)
        for limit in (100, 1000):
            secs, n, found, peak = detect_only(smallest, None, limit)
            rows.append(f"| (b) {n:,} events, first {limit} Windows rules | {secs:.1f} s | {n / secs:,.0f} events/s | "
                        f"{found:,} findings | {peak / 2**20:,.0f} MiB |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="a,b")
    ap.add_argument("--sizes", default="1,3,10")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bs-hunt-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()}", file=sys.stderr)
    rows: list[str] = []
    if "a" in args.only:
        rows += bench_a(work, args.repeat)
    if "b" in args.only:
        rows += bench_b(work, [int(s) for s in args.sizes.split(",")])
    print("| benchmark | time | throughput | result | peak RSS |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

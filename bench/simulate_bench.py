"""Simulator benchmark (issue 4): records written per second of wall time and peak RSS of all the
processes (main + workers, sampled every 50 ms; shared pages of forked workers count once per process,
so this over-estimates), at each --events size.

    .venv/bin/python bench/simulate_bench.py [--sizes 1000000,10000000] [--repeat 3] [--work DIR]
        [--scenarios ntt-2025,logistics-vpn,clinic-web]

Runs of the scenarios alternate (one run of each, then again), so they share the machine's load.

Each run writes into WORK/sim and deletes it (10^7 events are ~6.4 GB of logs).
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
import time
from pathlib import Path

import psutil
from proctree import tree_rss  # bench/ is the script's folder: on sys.path

CLI = [sys.executable, "-m", "breachscope.cli.main"]


def one_run(events: int, out: Path, scenario: str) -> tuple[int, float, int]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen([*CLI, "simulate", "--out", str(out), "--events", str(events), "--scenario", scenario,
                             "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    main, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(main))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    assert proc.stdout is not None
    records = int(json.loads(proc.stdout.read())["records"])
    shutil.rmtree(out, ignore_errors=True)
    return records, wall, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", default=None)
    ap.add_argument("--scenarios", default="ntt-2025")
    args = ap.parse_args()
    scenarios = args.scenarios.split(",")
    work = Path(args.work or tempfile.mkdtemp(prefix="bs-sim-bench-"))
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()}", file=sys.stderr)
    print("| scenario | --events | records written | wall (median) | records/s | peak RSS, all processes |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        runs: dict[str, list[tuple[int, float, int]]] = {name: [] for name in scenarios}
        for _ in range(args.repeat):
            for name in scenarios:
                runs[name].append(one_run(size, work / "sim", name))
        for name, done in runs.items():
            wall = statistics.median(r[1] for r in done)
            print(f"| {name} | {size:,} | {done[0][0]:,} | {wall:.1f} s | **{done[0][0] / wall:,.0f}** | "
                  f"{max(r[2] for r in done) / 2**20:,.0f} MiB |", flush=True)
    print(f"# load average at the end {os.getloadavg()}", file=sys.stderr)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

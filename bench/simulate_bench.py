"""Simulator benchmark (issue 4): records written per second of wall time and peak RSS of all the
processes (main + workers, sampled every 50 ms; shared pages of forked workers count once per process,
so this over-estimates), at each --events size.

    .venv/bin/python bench/simulate_bench.py [--sizes 1000000,10000000] [--repeat 3] [--work DIR]

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


def one_run(events: int, out: Path) -> tuple[int, float, int]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen([*CLI, "simulate", "--out", str(out), "--events", str(events), "--json"],
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
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bs-sim-bench-"))
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()}", file=sys.stderr)
    print("| --events | records written | wall (median) | records/s | peak RSS, all processes |")
    print("|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        runs = [one_run(size, work / "sim") for _ in range(args.repeat)]
        wall = statistics.median(r[1] for r in runs)
        print(f"| {size:,} | {runs[0][0]:,} | {wall:.1f} s | **{runs[0][0] / wall:,.0f}** | "
              f"{max(r[2] for r in runs) / 2**20:,.0f} MiB |")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

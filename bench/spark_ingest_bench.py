"""`ingest --engine spark` against the local ingest on the same input (issue 15, part 4). Prints a table.

    .venv/bin/python bench/spark_ingest_bench.py [--repeat 3] [--big-gb 0.4] [--only evtx,big]

- evtx: the unique EVTX files of the three shared EVTX folders (one Spark task per job of files).
- big: JSON lines made by ingest_bench.make_big (200 MB files; on Spark, read in chunks of 128 MiB).

Each figure is the median of --repeat runs of the command (`breachscope ingest ... --json`, a new case
each time): wall time as the user sees it, the Spark one with the start of its local JVM (local[*]).
"Spark, warm" is `engines.spark_ingest.ingest_on_spark` in one process whose session is already started
(what a cluster's long-lived driver or a second ingest pays). The machine is shared: load averages printed.
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

from ingest_bench import make_big, unique_evtx  # bench/ is the script's folder: on sys.path

CLI = [sys.executable, "-m", "breachscope.cli.main"]


def cli(inputs: list[Path], case: Path, engine: str) -> tuple[float, dict[str, object]]:
    shutil.rmtree(case, ignore_errors=True)
    start = time.perf_counter()
    out = subprocess.run([*CLI, "ingest", *map(str, inputs), "--case", str(case), "--engine", engine, "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True).stdout
    return time.perf_counter() - start, json.loads(out)


def warm(inputs: list[Path], case: Path, repeat: int) -> list[float]:
    from breachscope.engines.spark_case import spark_session
    from breachscope.engines.spark_ingest import ingest_on_spark

    spark_session()
    times = []
    for _ in range(repeat):
        shutil.rmtree(case, ignore_errors=True)
        start = time.perf_counter()
        ingest_on_spark([str(p) for p in inputs], case)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-gb", type=float, default=0.4)
    ap.add_argument("--only", default="evtx,big")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bs-spark-bench-"))
    inputs = {}
    if "evtx" in args.only:
        inputs["evtx"] = unique_evtx()
    if "big" in args.only:
        inputs["big"] = make_big(work / "big", int(args.big_gb * 1e9))
    print("| input | MB | events | local (s) | spark, CLI (s) | spark, warm (s) | load before / after |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, files in inputs.items():
        before = os.getloadavg()
        mb = sum(p.stat().st_size for p in files) / 1e6
        local = [cli(files, work / "local", "local") for _ in range(args.repeat)]
        spark = [cli(files, work / "spark", "spark") for _ in range(args.repeat)]
        assert local[0][1]["tables"] == spark[0][1]["tables"], (local[0][1]["tables"], spark[0][1]["tables"])
        hot = warm(files, work / "warm", args.repeat)
        after = os.getloadavg()
        print(f"| {name} ({len(files)} files) | {mb:,.0f} | {local[0][1]['records']:,} "
              f"| {statistics.median(t for t, _ in local):.2f} | {statistics.median(t for t, _ in spark):.2f} "
              f"| {statistics.median(hot):.2f} | {before[0]:.1f} / {after[0]:.1f} |", flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

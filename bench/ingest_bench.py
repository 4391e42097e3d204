"""Ingest benchmark (issue: Foundation, item 8). Prints a Markdown table for the README.

    .venv/bin/python bench/ingest_bench.py [--repeat 3] [--big-gb 2.0] [--only evtx,json,big]

- evtx: the three shared EVTX folders (unique files). Baseline: the single-process raw `evtx`
  parse of the same files (records_json(), no JSON decoding), in this run. Goal: ingest wall time
  <= 1.5x the baseline, start-up not counted: the start-up is measured as the same command on the
  smallest file alone, and the ratio is given with and without it.
- json: the OTRF atomic Windows archives (NXLog JSON lines). Goal: >= 200k events/s.
- big: >= 2 GB of JSON lines made by replicating an OTRF capture with shifted timestamps and host
  names. Goal: peak RSS (main process + workers, sampled every 50 ms) <= 1.5 GB.

Figures are medians of --repeat runs; the machine is shared, so the load average is printed too.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import psutil
from evtx import PyEvtxParser
from proctree import tree_rss  # bench/ is the script's folder: on sys.path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
EVTX_FOLDERS = ("evtx-attack-samples", "deepbluecli-evtx", "evtx-parser-samples")
OTRF = DATASETS / "otrf-security-datasets" / "datasets" / "atomic" / "windows"
CLI = [sys.executable, "-m", "breachscope.cli.main"]


def unique_evtx() -> list[Path]:
    seen: set[str] = set()
    out = []
    for folder in EVTX_FOLDERS:
        for p in sorted((DATASETS / folder).rglob("*.evtx")):
            h = hashlib.sha256(p.read_bytes()).hexdigest()
            if h not in seen:
                seen.add(h)
                out.append(p)
    return out


def raw_parse(files: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    n = 0
    for p in files:
        try:
            it = PyEvtxParser(str(p)).records_json()
        except (RuntimeError, OSError):
            continue
        while True:
            try:
                next(it)
            except StopIteration:
                break
            except RuntimeError:
                continue
            n += 1
    return time.perf_counter() - start, n


def run_ingest(inputs: list[Path], case: Path) -> tuple[float, int, dict[str, object]]:
    """Wall time, peak RSS of the whole process tree, and the --json summary."""
    shutil.rmtree(case, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen([*CLI, "ingest", *map(str, inputs), "--case", str(case), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        peak = max(peak, tree_rss(ps))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else ""
    import json

    return wall, peak, json.loads(out)


def make_big(folder: Path, target_bytes: int) -> list[Path]:
    """Copies of one OTRF capture, each with its own host names and time shift (+1 day per copy)."""
    src = OTRF / "lateral_movement" / "host" / "covenant_sharpsc_create_dcerpc_smb_svcctl.zip"
    with zipfile.ZipFile(src) as z:
        name = next(n for n in z.namelist() if n.endswith(".json"))
        data = z.read(name)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    per_file = 200 * 1024 * 1024
    copies_per_file = max(1, per_file // len(data))
    i = 0
    written = 0
    while written < target_bytes:
        out = folder / f"big{len(files):03d}.json"
        with out.open("wb") as fh:
            for _ in range(copies_per_file):
                i += 1
                shifted = re.sub(rb'"2020-08-(\d\d)', lambda m, k=i: b'"2020-%02d-%s' % (1 + k // 28 % 12, m.group(1)),
                                 data)
                shifted = shifted.replace(b".theshire.local", b".copy%05d.local" % i)
                fh.write(shifted)
                written += len(shifted)
        files.append(out)
    return files


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-gb", type=float, default=2.0)
    ap.add_argument("--only", default="evtx,json,big")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    work = Path(args.work or tempfile.mkdtemp(prefix="bs-bench-"))
    rows: list[str] = []
    print(f"# machine: {os.cpu_count()} cores, load average {os.getloadavg()}", file=sys.stderr)

    if "evtx" in only:
        files = unique_evtx()
        size = sum(p.stat().st_size for p in files)
        base, ingest, rss = [], [], []
        records = 0
        for _ in range(args.repeat):
            t, records = raw_parse(files)
            base.append(t)
            wall, peak, summary = run_ingest(files, work / "evtx-case")
            assert summary["records"] == records, (summary["records"], records)
            ingest.append(wall)
            rss.append(peak)
        # start-up: the same command on the smallest of the files (interpreter, imports, worker pool)
        smallest = min(files, key=lambda p: p.stat().st_size)
        startup = median([run_ingest([smallest], work / "evtx-startup")[0] for _ in range(args.repeat)])
        b, w = median(base), median(ingest)
        rows.append(f"| EVTX, 3 shared folders ({len(files)} unique files, {size / 1e6:.0f} MB) | {records:,} | "
                    f"raw parse {b:.2f} s; ingest {w:.2f} s = **{w / b:.2f}x**; start-up {startup:.2f} s "
                    f"(one {smallest.stat().st_size // 1024} KiB file), without it **{(w - startup) / b:.2f}x** | "
                    f"{records / w:,.0f} rec/s, {size / w / 1e6:.0f} MB/s | {max(rss) / 2**20:.0f} MiB |")

    if "json" in only:
        walls, rss = [], []
        summary: dict[str, object] = {}
        for _ in range(args.repeat):
            wall, peak, summary = run_ingest([OTRF], work / "json-case")
            walls.append(wall)
            rss.append(peak)
        w = median(walls)
        n = int(summary["records"])  # type: ignore[arg-type]
        rows.append(f"| JSON lines: OTRF atomic Windows archives (NXLog, ~2.1 KB/event, zip) | {n:,} | "
                    f"ingest {w:.2f} s | **{n / w:,.0f} events/s** | {max(rss) / 2**20:.0f} MiB |")

    if "big" in only:
        files = make_big(work / "big", int(args.big_gb * 1e9))
        size = sum(p.stat().st_size for p in files)
        wall, peak, summary = run_ingest(files, work / "big-case")
        n = int(summary["records"])  # type: ignore[arg-type]
        rows.append(f"| JSON lines, replicated with shifted times and hosts ({size / 1e9:.2f} GB, {len(files)} files) "
                    f"| {n:,} | ingest {wall:.1f} s | {n / wall:,.0f} events/s, {size / wall / 1e6:.0f} MB/s | "
                    f"**{peak / 2**20:.0f} MiB** |")

    print("| input | records | time | throughput | peak RSS (all processes) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

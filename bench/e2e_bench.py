"""End to end: simulate, ingest, hunt and investigate at growing sizes, time and peak memory per stage.

    .venv/bin/python bench/e2e_bench.py [--events 1000000,10000000] [--rules DIR] [--work DIR]

Each stage is a `breachscope` process: `simulate --events N --jobs 2`, `ingest` of the evidence,
`hunt CASE` (the package's rule packs and every analytic, plus the Sigma rules of --rules if given),
`investigate --case --inventory --hunt never` (it reuses the hunt's findings). Peak RSS is that of the
stage's process tree, sampled every 50 ms. Before simulating, the free disk is compared with what the
size needs (the raw logs, ~650 bytes a record, plus the case): a size that cannot fit is reported as not
run, with the figures, instead of filling the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from investigate_bench import CLI, StepError, run  # bench/ is the script's folder: on sys.path

RAW_BYTES_PER_RECORD = 650  # measured: 10^7 simulated records are 6.37 GB of logs
CASE_FRACTION = 0.25  # the case's Parquet against the raw logs (zstd), with room to spare


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def stage(name: str, cmd: list[str]) -> tuple[str, float, int, str]:
    print(f"#   {name} ...", file=sys.stderr, flush=True)
    wall, peak, out = run(name, cmd, poll=True)
    print(f"#   {name}: {wall:.1f} s, {peak / 2**20:,.0f} MiB", file=sys.stderr, flush=True)
    return name, wall, peak, out


def bench(events: int, work: Path, rules: str | None) -> list[str]:
    need = int(events * RAW_BYTES_PER_RECORD * (1 + CASE_FRACTION))
    free = shutil.disk_usage(work).free
    if need > free:
        return [f"| {events:,} | not run: needs ~{need / 1e9:,.0f} GB of disk, {free / 1e9:,.0f} GB free | | | | |"]
    d = work / f"events-{events}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    sim, case = d / "sim", d / "case"
    print(f"# {events:,} events", file=sys.stderr, flush=True)
    hunt = [*CLI, "hunt", str(case), "--json", "--out", str(d / "findings.jsonl")]
    if rules:
        hunt += ["--rules", rules]
    steps = [
        stage("simulate", [*CLI, "simulate", "--out", str(sim), "--events", str(events), "--jobs", "2", "--json"]),
        stage("ingest", [*CLI, "ingest", str(sim / "evidence"), "--case", str(case), "--json"]),
        stage("hunt", hunt),
        stage("investigate", [*CLI, "investigate", "--case", str(case), "--inventory", str(sim / "inventory.yaml"),
                              "--hunt", "never"]),
    ]
    records = json.loads(steps[1][3])["records"]
    findings = json.loads(steps[2][3]).get("findings")
    sizes = f"raw {du(sim / 'evidence') / 1e9:.2f} GB, case {du(case) / 1e9:.2f} GB"
    shutil.rmtree(d, ignore_errors=True)
    cells = " | ".join(f"{w:,.1f} s, {p / 2**20:,.0f} MiB" for _n, w, p, _o in steps)
    total = sum(w for _n, w, _p, _o in steps)
    return [f"| {events:,} ({records:,} records; {findings:,} findings; {sizes}) | {cells} | {total:,.0f} s |"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", default="1000000", help="comma-separated sizes, e.g. 1000000,10000000")
    ap.add_argument("--rules", default=None, help="Sigma rules to hunt with besides the package's packs")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed)")
    args = ap.parse_args()
    try:
        sizes = [int(float(s)) for s in args.events.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--events: expected integers, got {args.events!r}")
    work = Path(args.work or tempfile.mkdtemp(prefix="bs-e2e-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# machine: {os.cpu_count()} cores, load average {os.getloadavg()}", file=sys.stderr)
    rows: list[str] = []
    status = 0
    try:
        for n in sizes:
            try:
                rows += bench(n, work, args.rules)
            except StepError as e:
                print(f"error: {n:,} events: {e}", file=sys.stderr)
                rows.append(f"| {n:,} | failed: {str(e).splitlines()[0]} | | | | |")
                status = 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("| events | simulate | ingest | hunt | investigate | total |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    print(f"\nload average {os.getloadavg()} on {os.cpu_count()} cores")
    return status


if __name__ == "__main__":
    sys.exit(main())

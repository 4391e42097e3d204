"""Investigate benchmark: time, memory and alert budget of `breachscope investigate` on simulations.

    .venv/bin/python bench/investigate_bench.py [--events 1000000[,10000000]] [--repeat 3] [--work DIR]

For each --events N: simulate (`simulate --events N --jobs 2`), ingest the evidence into a case, then
run `investigate --case D/case --inventory D/sim/inventory.yaml` --repeat times.

- time: median wall time of investigate. Goals: 10^6 events <= 60 s, 10^7 events <= 10 min.
- memory: peak RSS of the investigate process tree (sampled every 50 ms), max over the repeats.
  Goal: <= 2 GB.
- alert budget: lateral-movement alerts (kind == 'lateral_movement') on benign logons per 10^6 logons.
  An alert is benign when none of its evidence rows (src_file/src_record and the `evidence` list) is
  an attack record of truth.json (evidence.records with an `attack:` tag; file is relative to the
  simulation folder, line = src_record). Logons = windows rows with EventID 4624. Hopper's budget:
  5 per 10^6 logons.

If D/case/exposure exists, ../shared/checks/check_investigation.py is run as well.
Simulate and ingest are run once per size (their times are printed, not goals). The machine is
shared, so the load average is printed too.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import psutil
from proctree import tree_rss  # bench/ is the script's folder: on sys.path

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).with_name("breachscope")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "breachscope.cli.main"]
CHECK = ROOT.parent / "shared" / "checks" / "check_investigation.py"  # the shared checks, when present
GOAL_RSS = 2 * 10**9
BUDGET = 5.0  # lateral-movement alerts on benign logons per 10^6 logons (Hopper)


class StepError(RuntimeError):
    pass


def goal_seconds(events: int) -> float | None:
    """60 s for 10^6 events, 10 min for 10^7; other sizes: no goal."""
    return {10**6: 60.0, 10**7: 600.0}.get(events)


def run(step: str, cmd: list[str], *, poll: bool = False) -> tuple[float, int, str]:
    """Run cmd; wall time, peak RSS of its process tree (if poll), stdout. StepError if it fails."""
    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        except OSError as e:
            raise StepError(f"{step}: cannot start {cmd[0]}: {e}") from e
        peak = 0
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            if poll:
                peak = max(peak, tree_rss(ps))
            time.sleep(0.05)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise StepError(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return wall, peak, stdout


def attack_index(truth: dict) -> dict[tuple[str, int], list[str]]:
    """(basename, line) -> the sim-relative paths of attack records with that basename and line."""
    index: dict[tuple[str, int], list[str]] = {}
    for r in truth["evidence"]["records"]:
        if not str(r.get("tag", "attack:")).startswith("attack"):
            continue  # response:* records are the defenders' actions, not the attack
        rel = str(r["file"]).replace("\\", "/").removeprefix("./")
        index.setdefault((rel.rsplit("/", 1)[-1], int(r["line"])), []).append(rel)
    return index


def is_attack(index: dict[tuple[str, int], list[str]], src_file: str | None, src_record: int | None) -> bool:
    if not src_file or src_record is None:
        return False
    path = str(src_file).replace("\\", "/")
    for rel in index.get((path.rsplit("/", 1)[-1], int(src_record)), ()):
        if path == rel or path.endswith("/" + rel):
            return True
    return False


def alert_budget(sim: Path, case: Path) -> tuple[int, int, int, float]:
    """(lateral-movement alerts, of which benign, logons, benign per 10^6 logons)."""
    alerts = case / "investigation" / "alerts.parquet"
    if not alerts.exists():
        raise StepError(f"alert budget: {alerts} is missing (did investigate write it?)")
    index = attack_index(json.loads((sim / "truth.json").read_text()))
    con = duckdb.connect()
    rows = con.execute("SELECT src_file, src_record, evidence FROM read_parquet(?) WHERE kind = 'lateral_movement'",
                       [str(alerts)]).fetchall()
    benign = 0
    for src_file, src_record, evidence in rows:
        refs = [(src_file, src_record)] + [(e.get("src_file"), e.get("src_record")) for e in evidence or []]
        if not any(is_attack(index, f, r) for f, r in refs):
            benign += 1
    _, _, out = run("query logons", [*CLI, "query", "--case", str(case), "--format", "csv",
                                     "SELECT count(*) FROM windows WHERE EventID = 4624"])
    try:
        logons = int(list(csv.reader(io.StringIO(out.strip())))[-1][0])
    except (IndexError, ValueError) as e:
        raise StepError(f"query logons: unexpected output {out!r}") from e
    per_million = benign / logons * 1e6 if logons else float("nan")
    return len(rows), benign, logons, per_million


def bench(events: int, repeat: int, work: Path) -> list[str]:
    d = work / f"events-{events}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    sim, case = d / "sim", d / "case"
    print(f"# {events:,} events: simulate ...", file=sys.stderr, flush=True)
    t_sim, _, _ = run("simulate", [*CLI, "simulate", "--out", str(sim), "--events", str(events), "--jobs", "2"])
    print(f"# {events:,} events: ingest ... (simulate {t_sim:.1f} s)", file=sys.stderr, flush=True)
    t_ing, _, out = run("ingest", [*CLI, "ingest", str(sim / "evidence"), "--case", str(case), "--json"])
    try:
        records = int(json.loads(out)["records"])
    except (ValueError, KeyError, TypeError) as e:
        raise StepError(f"ingest: unexpected --json output: {out[:300]!r}") from e
    walls, peaks = [], []
    for i in range(repeat):
        print(f"# {events:,} events: investigate {i + 1}/{repeat} ... (ingest {t_ing:.1f} s)", file=sys.stderr,
              flush=True)
        wall, peak, _ = run("investigate", [*CLI, "investigate", "--case", str(case),
                                            "--inventory", str(sim / "inventory.yaml")], poll=True)
        walls.append(wall)
        peaks.append(peak)
    if (case / "exposure").exists() and CHECK.exists():
        _, _, out = run("check_investigation", ["python3", str(CHECK), str(sim / "truth.json"), str(case)])
        print(out, file=sys.stderr)
    else:
        print(f"# {case / 'exposure'} does not exist: check_investigation.py skipped", file=sys.stderr)
    lateral, benign, logons, per_million = alert_budget(sim, case)

    wall, peak = statistics.median(walls), max(peaks)
    goal = goal_seconds(events)
    time_goal = f"goal <= {goal:.0f} s: **{'met' if wall <= goal else 'MISSED'}**" if goal else "no goal"
    rss_goal = f"goal <= 2 GB: **{'met' if peak <= GOAL_RSS else 'MISSED'}**"
    budget_goal = f"budget {BUDGET:g}: **{'met' if per_million <= BUDGET else 'OVER'}**"
    runs = ", ".join(f"{w:.1f}" for w in walls)
    return [f"| {events:,} ({records:,} records) | {t_sim:.0f} s / {t_ing:.0f} s | {wall:.1f} s (runs: {runs}); "
            f"{time_goal} | {peak / 2**20:,.0f} MiB; {rss_goal} | {lateral} lateral, {benign} benign / "
            f"{logons:,} logons = **{per_million:.2f} per 10^6**; {budget_goal} |"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", default="1000000", help="comma-separated sizes, e.g. 1000000,10000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", default=None, help="scratch folder, kept (default: a temporary one, removed)")
    args = ap.parse_args()
    try:
        sizes = [int(float(s)) for s in args.events.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--events: expected integers, got {args.events!r}")
    if not sizes or min(sizes) <= 0 or args.repeat < 1:
        ap.error("--events must be positive and --repeat >= 1")
    work = Path(args.work or tempfile.mkdtemp(prefix="bs-investigate-bench-"))
    print(f"# machine: {os.cpu_count()} cores, load average {os.getloadavg()}", file=sys.stderr)
    rows: list[str] = []
    status = 0
    try:
        for n in sizes:
            try:
                rows += bench(n, args.repeat, work)
            except StepError as e:
                print(f"error: {n:,} events: {e}", file=sys.stderr)
                rows.append(f"| {n:,} | failed: {str(e).splitlines()[0]} | | | |")
                status = 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("| events (ingested records) | simulate / ingest | investigate, median wall time | "
          "investigate peak RSS (max) | lateral movement on benign logons |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    print(f"\nrepeats: {args.repeat}; load average {os.getloadavg()} on {os.cpu_count()} cores")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Command-line benchmark (issue 10 item 2 and 5): start-up of `breachscope --help` and
`query "SELECT 1"` (goal: --help under 0.5 s), and `query --format csv` of a whole table written by
DuckDB (neutralized) against DuckDB's own COPY of the same rows. Medians of --repeat runs of the
installed `breachscope` script; the interpreter's own start (`python -c pass`) is shown beside.

    .venv/bin/python bench/cli_bench.py [--repeat 9] [--case DIR] [--table events] [--work DIR]

Without --case, a case is built once from `breachscope simulate` (default size: 223,926 records) in
WORK (kept for the next run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SCRIPT = str(BIN / "breachscope")


def median_seconds(cmd: list[str], repeat: int, out: Path | None = None) -> tuple[float, float]:
    """Median and minimum wall time of `cmd`; its stdout to `out` (rewritten each run) or discarded."""
    times = []
    for _ in range(repeat):
        with open(out or os.devnull, "wb") as fh:
            start = time.perf_counter()
            subprocess.run(cmd, stdout=fh, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def build_case(work: Path) -> Path:
    case = work / "case"
    if not (case / "case.json").is_file():
        subprocess.run([SCRIPT, "simulate", "--out", str(work / "sim"), "--json"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([SCRIPT, "ingest", str(work / "sim" / "evidence"), "--case", str(case), "--json"],
                       check=True, stdout=subprocess.DEVNULL)
    return case


def duckdb_copy_seconds(case: Path, table: str, out: Path, repeat: int) -> tuple[float, int]:
    """DuckDB's COPY of the same rows to a file, inside one process (no start-up counted), and the rows."""
    from breachscope.engines.duckdb_case import open_case

    times = []
    with open_case(case) as c:
        rows = c.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for _ in range(repeat):
            start = time.perf_counter()
            c.con.execute(f"COPY (SELECT * FROM {table}) TO '{out}' (HEADER)")
            times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--case", type=Path)
    ap.add_argument("--table", default="events")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "breachscope-cli-bench")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("breachscope --help", [SCRIPT, "--help"]),
    ]
    case = args.case or build_case(args.work)
    rows.append(('breachscope query "SELECT 1"', [SCRIPT, "query", "--case", str(case), "SELECT 1"]))
    for label, cmd in rows:
        med, low = median_seconds(cmd, args.repeat)
        print(f"{label:<40} median {med:6.3f} s   min {low:6.3f} s   ({args.repeat} runs)")
    csv_repeat = max(3, args.repeat // 3)
    out = args.work / "out.csv"
    args.work.mkdir(parents=True, exist_ok=True)
    med, low = median_seconds([SCRIPT, "query", "--case", str(case), f"SELECT * FROM {args.table}", "--format",
                               "csv"], csv_repeat, out)
    copy, rows = duckdb_copy_seconds(case, args.table, args.work / "copy.csv", csv_repeat)
    print(f"{'query --format csv (' + args.table + ')':<40} median {med:6.3f} s   min {low:6.3f} s   "
          f"({csv_repeat} runs, {rows:,} rows, {out.stat().st_size / 1e6:.1f} MB)")
    print(f"{'DuckDB COPY of the same rows (in-process)':<40} median {copy:6.3f} s")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Export pattern scan (issue 15, part 3): today's scan against the first version (rz.reference_sql).

    .venv/bin/python bench/filescan_bench.py [--export-mb 60] [--runs 3] [--file PATH]...

Writes scope_bench's CSV export of --export-mb MB (same generator and seed), scans it with both versions
(median of --runs each, alternated so that load changes hit both), checks that both give the same rows
(kind, value, line_no, context) as multisets, and does the same for every --file (exports of the tests'
fixtures, any file). Exits 1 when the rows differ. The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from breachscope.scope import filescan
from breachscope.scope import recognizers as rz

sys.path.insert(0, str(Path(__file__).parent))
from scope_bench import make_export  # a sibling script, not a package


def differences(a: pa.Table, b: pa.Table) -> tuple[int, int]:
    """Rows of a missing from b and rows of b missing from a, counted as multisets."""
    con = duckdb.connect()
    con.register("a", a)
    con.register("b", b)
    cols = "kind, value, line_no, context"
    only_a = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM a EXCEPT ALL SELECT {cols} FROM b)").fetchone()
    only_b = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM b EXCEPT ALL SELECT {cols} FROM a)").fetchone()
    con.close()
    return (only_a[0] if only_a else 0), (only_b[0] if only_b else 0)


def export_file(path: Path) -> filescan.ExportFile:
    return filescan.ExportFile(str(path), hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size, None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--export-mb", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--file", action="append", default=[])
    args = ap.parse_args()
    bad = 0
    for name in args.file:
        f = export_file(Path(name))
        new, ref = filescan.scan_file(f, True), filescan.scan_file(f, True, rz.reference_sql)
        diff = differences(new.values, ref.values)
        bad += diff != (0, 0)
        print(f"{name}: {new.values.num_rows:,} values, {ref.values.num_rows:,} with the reference; "
              f"only new {diff[0]}, only reference {diff[1]}")
    with tempfile.TemporaryDirectory(prefix="filescan-bench-") as tmp:
        export = Path(tmp) / "export.csv"
        size = make_export(export, args.export_mb, random.Random(5))
        f = export_file(export)
        times: dict[str, list[float]] = {"reference": [], "new": []}
        results: dict[str, filescan.ScanResult] = {}
        for _ in range(args.runs):
            for label, sql in (("reference", rz.reference_sql), ("new", rz.recognize_sql)):
                t = time.perf_counter()
                results[label] = filescan.scan_file(f, True, sql)
                times[label].append(time.perf_counter() - t)
        diff = differences(results["new"].values, results["reference"].values)
        bad += diff != (0, 0)
    load = os.getloadavg()
    print(f"| scan | {size / 1e6:,.0f} MB CSV | median s (of {args.runs}) | rate |")
    print("|---|---|---|---|")
    for label, ts in times.items():
        med = statistics.median(ts)
        print(f"| {label} | {results[label].values.num_rows:,} values | {med:.2f} ({', '.join(f'{x:.2f}' for x in ts)})"
              f" | **{size / 1e6 / med:,.1f} MB/s** |")
    print(f"\nrows only in the new scan: {diff[0]}, only in the reference: {diff[1]}")
    print(f"load average (1, 5, 15 min) at the end:"
          f" {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

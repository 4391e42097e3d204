"""Writing findings: CSV (and the other file formats) of a large findings set.

The findings are a real hunt's (a case's findings.parquet, e.g. `breachscope hunt` of the
evtx-attack-samples with all Windows rules: 1,165 findings) repeated until --rows, each copy with its
own finding id, time and event (one field added), so the values (command lines, script blocks,
paths) are real ones.

    .venv/bin/python bench/findings_out_bench.py --findings CASE/findings.parquet --rows 200000 \
        [--formats csv,jsonl,timesketch] [--repeat 3] [--compare-copy]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from breachscope.cli import findings_out


def replicate(table: pa.Table, rows: int) -> pa.Table:
    copies = []
    n = 0
    i = 0
    while n < rows:
        t = table.slice(0, min(table.num_rows, rows - n))
        ids = pc.binary_join_element_wise(t.column("finding_id"), pa.scalar(f"-{i}"), "")
        t = t.set_column(t.schema.get_field_index("finding_id"), "finding_id", ids)
        ts = pc.add(t.column("ts"), pa.scalar(timedelta(seconds=i), pa.duration("us")))
        t = t.set_column(t.schema.get_field_index("ts"), "ts", ts.cast(table.schema.field("ts").type))
        # each copy's event differs (one more field), so no writer can reuse work across copies
        ev = pc.replace_substring_regex(t.column("event"), r"\}$", f',"bench_copy":{i}}}')
        t = t.set_column(t.schema.get_field_index("event"), "event", ev)
        copies.append(t)
        n += t.num_rows
        i += 1
    return pa.concat_tables(copies).combine_chunks()


def _duckdb_copy(table: pa.Table, out: Path, repeat: int) -> None:
    """The same CSV columns (details, neutralized cells) written by DuckDB's COPY instead of Arrow's writer."""
    import duckdb

    t0 = time.perf_counter()
    prepared = findings_out.csv_table(table)
    prep = time.perf_counter() - t0
    con = duckdb.connect()
    con.register("prepared", prepared)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        con.execute(f"COPY prepared TO '{out}' (HEADER)")
        times.append(time.perf_counter() - t0)
    arrow = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pacsv.write_csv(prepared, str(out) + ".arrow")
        arrow.append(time.perf_counter() - t0)
    print(f"  columns prepared (details, neutralize): {prep:.2f} s; then DuckDB COPY median "
          f"{statistics.median(times):.2f} s, Arrow CSV writer median {statistics.median(arrow):.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", required=True, type=Path)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--formats", default="csv")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare-copy", action="store_true",
                    help="also time DuckDB's COPY ... TO csv of the same prepared columns (the writer not chosen)")
    args = ap.parse_args()
    table = replicate(pq.read_table(args.findings), args.rows)
    print(f"load average {os.getloadavg()[0]:.2f}; {table.num_rows:,} findings")
    with tempfile.TemporaryDirectory(prefix="bs-findings-out-") as tmp:
        for fmt in args.formats.split(","):
            times = []
            out = Path(tmp) / f"findings.{fmt}"
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                findings_out.write(table, fmt, out)
                times.append(time.perf_counter() - t0)
            size = out.stat().st_size
            print(f"{fmt}: median {statistics.median(times):.2f} s of {[round(t, 2) for t in times]}; "
                  f"{size / 1e6:.1f} MB; {table.num_rows / statistics.median(times):,.0f} findings/s")
            if fmt == "csv" and args.compare_copy:
                _duckdb_copy(table, Path(tmp) / "copy.csv", args.repeat)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

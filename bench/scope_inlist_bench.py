"""Planning time of one statement with a long IN list (issue 9: 2,000 values took 7.4 s, 18,000 over 120 s).

    .venv/bin/python bench/scope_inlist_bench.py [--sizes 2000,18000] [--replay]

Plans `SELECT email FROM contacts WHERE contact_id IN (0, 1, ..., n-1)` (parse, qualify, rewrite) with
`Replayer.plan` on a small Parquet snapshot, and with --replay also runs it. Uses only the API that
predates the sandbox, so the same script measures an older checkout. The machine is shared: the load
average is printed with the figures, and the CPU time of the planning beside its wall time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.model.inventory import parse_inventory
from breachscope.scope.backends import DuckDBBackend
from breachscope.scope.replay import Replayer
from breachscope.scope.statements import AuditStatement

INVENTORY = {
    "version": 1, "name": "bench", "database": "orders",
    "subjects": {"person": {"table": "contacts", "key": "contact_id", "name": "contact_name"}},
    "datasets": [{"table": "contacts", "subject": "person", "subject_key": "contact_id",
                  "columns": {"contact_name": ["contact_person_name"], "email": ["email"]}}],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,18000")
    ap.add_argument("--replay", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        n_rows = 50_000
        pq.write_table(pa.table({"contact_id": pa.array(range(n_rows), pa.int64()),
                                 "contact_name": [f"n{i}" for i in range(n_rows)],
                                 "email": [f"p{i}@example.jp" for i in range(n_rows)]}), Path(tmp) / "contacts.parquet")
        backend = DuckDBBackend(Path(tmp))
        inventory = parse_inventory(INVENTORY)
        print(f"load average: {os.getloadavg()[0]:.1f}")
        print("| values | plan s (CPU s) | plan + replay s |\n|---|---|---|")
        for n in (int(x) for x in args.sizes.split(",")):
            text = "SELECT email FROM contacts WHERE contact_id IN (" + ", ".join(map(str, range(n))) + ")"
            s = AuditStatement("s", "bench.log", 1, (), None, "u", None, "1", "orders", "pgaudit", "SELECT", "READ",
                               text, (), None, None, ())
            replayer = Replayer(inventory, backend)
            t, c = time.perf_counter(), time.process_time()
            replayer.plan(0, s)
            planned, cpu = time.perf_counter() - t, time.process_time() - c
            replayed = ""
            if args.replay:
                t = time.perf_counter()
                result = Replayer(inventory, backend).run([s])
                replayed = f"{time.perf_counter() - t:.2f} ({result.outcomes[0].outcome})"
            print(f"| {n:,} | {planned:.2f} ({cpu:.2f}) | {replayed} |", flush=True)


if __name__ == "__main__":
    main()

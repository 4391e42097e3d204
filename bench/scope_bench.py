"""Scope benchmark (issue 5, item 5). Prints a Markdown table for the README.

    .venv/bin/python bench/scope_bench.py [--rows 1000000] [--statements 10000] [--export-mb 60]

- replay: a snapshot of --rows customers, --rows contacts and --rows contracts (Parquet), and
  --statements audited statements of a realistic mix: point lookups with bind parameters and with
  inlined literals (same shapes, batched), paged range reads with ORDER BY + LIMIT/OFFSET, joins,
  LIMIT without ORDER BY (potential), a few unparseable statements (potential over a whole table),
  and two full-table COPYs. Goal: <= 180 s for 10k statements on 1M rows (planning + replay + levels).
- levels + names: the pipeline's own path after the replay (scope/pipeline.py `_finish`: levels, names,
  evidence, organizations, the summary), then the artifact written as a run (scope/outputs.py).
- peak RSS per step (VmHWM, reset before each step through /proc/self/clear_refs; Linux).
- files: a CSV export of Japanese customer data (company, corporate number, person, phone, email,
  postal code, address, contract number) of --export-mb MB. Goal: pattern scanning >= 20 MB/s.

The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from stdnum.jp import cn

from breachscope.model.inventory import parse_inventory
from breachscope.scope import filescan
from breachscope.scope.backends import DuckDBBackend
from breachscope.scope.outputs import write_outputs
from breachscope.scope.pipeline import ScopeRequest, _finish
from breachscope.scope.replay import Replayer
from breachscope.scope.statements import AuditStatement, Suspects

INVENTORY = {
    "version": 1, "name": "bench", "database": "orders", "default_jurisdiction": "JP",
    "subjects": {"organization": {"table": "customers", "key": "customer_id", "name": "company_name",
                                  "match_keys": ["corporate_number", "customer_id"]},
                 "person": {"table": "contacts", "key": "contact_id", "name": "contact_name",
                            "organization": "customer_id"}},
    "datasets": [
        {"table": "customers", "subject": "organization", "subject_key": "customer_id",
         "columns": {"company_name": ["organization_name"], "corporate_number": ["corporate_number"],
                     "address": ["postal_address"]}},
        {"table": "contracts", "subject": "organization", "subject_key": "customer_id",
         "columns": {"contract_no": ["contract_number"], "provider_brand": []}},
        {"table": "contacts", "subject": "person", "subject_key": "contact_id",
         "columns": {"contact_name": ["contact_person_name"], "phone": ["phone"], "email": ["email"]}},
    ],
    "exclusions": [{"name": "docomo", "table": "contracts", "where": "provider_brand = 'docomo'"}],
}


def make_snapshot(folder: Path, rows: int) -> None:
    con = duckdb.connect()
    f = str(folder).replace("'", "''")
    con.execute(f"COPY (SELECT i AS customer_id, '株式会社サンプル' || i AS company_name, "
                f"lpad(CAST(i AS VARCHAR), 13, '1') AS corporate_number, '東京都千代田区' || i AS address "
                f"FROM range(1, {rows} + 1) t(i)) "
                f"TO '{f}/customers.parquet'")
    con.execute(f"COPY (SELECT i AS contract_id, 1 + (i * 7919) % {rows} AS customer_id, "
                f"'C' || lpad(CAST(i AS VARCHAR), 8, '0') AS contract_no, "
                f"CASE WHEN i % 9 = 0 THEN 'docomo' ELSE 'ntt' END AS provider_brand "
                f"FROM range(1, {rows} + 1) t(i)) TO '{f}/contracts.parquet'")
    con.execute(f"COPY (SELECT i AS contact_id, 1 + i % {rows} AS customer_id, '担当' || i AS contact_name, "
                f"'03-' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0') || '-' "
                f"|| lpad(CAST(i // 10000 AS VARCHAR), 4, '0') AS phone, 'p' || i || '@example.co.jp' AS email "
                f"FROM range(1, {rows} + 1) t(i)) "
                f"TO '{f}/contacts.parquet'")


def make_statements(n: int, rows: int, rng: random.Random) -> list[AuditStatement]:
    out = []

    def add(text: str, params: tuple[str, ...] | None = ()) -> None:
        i = len(out)
        out.append(AuditStatement(f"s{i}", "bench.log", i + 1, (), None, "mallory", "10.0.0.9", str(i // 50),
                                  "orders", "pgaudit", "SELECT", "READ", text, params, None, None, ()))

    # garbage (unparseable) statements reach whole tables: a handful, as in a real log
    mix = [(0.55, "bind"), (0.2, "literal"), (0.1, "join"), (0.1, "page"), (0.0495, "limit"), (0.0005, "garbage")]
    for _ in range(n - 2):
        r, kind = rng.random(), "bind"
        for share, k in mix:
            if r < share:
                kind = k
                break
            r -= share
        k = rng.randrange(1, rows + 1)
        if kind == "bind":
            add("SELECT company_name, corporate_number FROM customers WHERE customer_id = $1", (str(k),))
        elif kind == "literal":
            add(f"SELECT contact_name, phone, email FROM contacts WHERE contact_id = {k}")
        elif kind == "join":
            add("SELECT c.company_name, p.email FROM customers c JOIN contacts p ON p.customer_id = c.customer_id "
                "WHERE c.customer_id = $1", (str(k),))
        elif kind == "page":
            add("SELECT customer_id, contract_no FROM contracts WHERE customer_id BETWEEN $1 AND $2 "
                "ORDER BY contract_no LIMIT 100 OFFSET $3", (str(k), str(k + 500), str(rng.randrange(0, 3) * 100)))
        elif kind == "limit":
            add(f"SELECT email FROM contacts WHERE customer_id BETWEEN {k} AND {k + 50} LIMIT 10")
        else:
            add(f"SELEC company_name FRM customers WHERE id = {k}")
    add("COPY customers TO STDOUT WITH (FORMAT csv)")
    add("COPY (SELECT k.customer_id, k.contract_no FROM contracts k WHERE k.provider_brand <> 'docomo') TO STDOUT")
    return out


def make_export(path: Path, mb: int, rng: random.Random) -> int:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("customer_id,company_name,法人番号,contact,phone,email,postal,address,contract_no\n")
        size, i = 0, 0
        while size < mb * 1_000_000:
            i += 1
            base = f"{i:012d}"
            line = (f"{i},株式会社サンプル{i},{cn.calc_check_digit(base)}{base},山田 太郎{i},"
                    f"03-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)},user{i}@example{i % 50}.co.jp,"
                    f"〒100-{i % 10000:04d},東京都千代田区丸の内{i % 9}-{i % 30},C{i:08d}\n")
            fh.write(line)
            size += len(line.encode())
    return path.stat().st_size


def peak_mib() -> float:
    """The process's peak RSS since the last reset_peak() (VmHWM), in MiB."""
    status = Path("/proc/self/status").read_text()
    m = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(m.group(1)) / 1024 if m else float("nan")


def reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--statements", type=int, default=10_000)
    ap.add_argument("--export-mb", type=int, default=60)
    args = ap.parse_args()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="scope-bench-") as tmp:
        root = Path(tmp)
        (root / "snap").mkdir()
        t = time.perf_counter()
        make_snapshot(root / "snap", args.rows)
        print(f"snapshot written: {args.rows:,} rows x 3 tables in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        inv = parse_inventory(INVENTORY)
        stmts = make_statements(args.statements, args.rows, rng)
        reset_peak()
        t0 = time.perf_counter()
        backend = DuckDBBackend(root / "snap")
        t1 = time.perf_counter()
        peak = {"snapshot": peak_mib()}
        reset_peak()
        result = Replayer(inv, backend).run(stmts)
        t2 = time.perf_counter()
        peak["replay"] = peak_mib()
        reset_peak()
        req = ScopeRequest(root / "case", Path("inventory.yaml"), str(root / "snap"), Suspects(users=("mallory",)),
                           scan_exports=False)
        timings: dict[str, float] = {}
        scoped = _finish(req, inv, backend, stmts, result, [], [], timings, [])
        t3 = time.perf_counter()
        backend.close()
        peak["levels"] = peak_mib()
        reset_peak()
        write_outputs(root / "case", scoped, {})
        t3w = time.perf_counter()
        peak["outputs"] = peak_mib()
        n_subjects = pq.ParquetFile(root / "case" / "exposure" / "subjects.parquet").metadata.num_rows
        del scoped
        outcomes = {o: sum(1 for x in result.outcomes if x.outcome == o) for o in ("replayed", "potential", "ignored")}
        export = root / "export.csv"
        size = make_export(export, args.export_mb, rng)
        sha = hashlib.sha256(export.read_bytes()).hexdigest()
        reset_peak()
        t4 = time.perf_counter()
        scan = filescan.scan_file(filescan.ExportFile(str(export), sha, size, None), True)
        t5 = time.perf_counter()
        peak["scan"] = peak_mib()
    load = os.getloadavg()[0]
    agg = timings.get("aggregate_s", 0.0)
    print("| step | input | seconds | peak RSS | rate |")
    print("|---|---|---|---|---|")
    print(f"| load snapshot into DuckDB | {args.rows:,} rows x 3 tables | {t1 - t0:.1f} | "
          f"{peak['snapshot']:,.0f} MiB | |")
    print(f"| plan + replay | {len(stmts):,} statements, {result.shapes:,} shapes, {result.batches:,} batches "
          f"({outcomes['replayed']:,} replayed, {outcomes['potential']:,} potential, {outcomes['ignored']:,} ignored) "
          f"| {t2 - t1:.1f} | {peak['replay']:,.0f} MiB | {len(stmts) / (t2 - t1):,.0f} statements/s |")
    print(f"| levels + names | {result.hits.num_rows:,} hits -> {n_subjects:,} subjects | {agg:.1f} | | |")
    print(f"| summary, statements (rest of _finish) | | {t3 - t2 - agg:.1f} | {peak['levels']:,.0f} MiB "
          f"(levels + summary) | |")
    print(f"| write the artifact (run) | subjects.parquet, CSV, statements, summary | {t3w - t3:.1f} | "
          f"{peak['outputs']:,.0f} MiB | |")
    top = max(peak[k] for k in ("snapshot", "replay", "levels", "outputs"))
    print(f"| **total scope** | | **{t3w - t0:.1f}** | **{top:,.0f} MiB** | goal <= 60 s, <= 2 GB |")
    print(f"| pattern scan | {size / 1e6:,.0f} MB CSV, {scan.values.num_rows:,} values | {t5 - t4:.1f} | "
          f"{peak['scan']:,.0f} MiB | **{size / 1e6 / (t5 - t4):,.1f} MB/s** (goal >= 100) |")
    print(f"\nload average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

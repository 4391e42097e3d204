"""A small order database for the scope tests: the same rows as Parquet files and as PostgreSQL SQL.

customers 1..40 (names, corporate numbers with valid check digits); contracts 1..80, contract i
belongs to customer (i + 1) // 2, and contracts whose id is a multiple of 5, and contract 79, are
provided by 'docomo' (so customer 40 has only docomo contracts); contacts 1..60, contact i belongs to
customer 1 + i % 40; a non-personal table `products`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from stdnum.jp import cn

INVENTORY = """\
version: 1
name: Test order database
database: orders
default_jurisdiction: JP
subjects:
  organization:
    table: customers
    key: customer_id
    name: company_name
    match_keys: [corporate_number, customer_id]
  person:
    table: contacts
    key: contact_id
    name: contact_name
    organization: customer_id
datasets:
  - table: customers
    subject: organization
    subject_key: customer_id
    columns:
      customer_id: [customer_id]
      company_name: [organization_name]
      corporate_number: [corporate_number]
      address: [postal_address]
  - table: contracts
    subject: organization
    subject_key: customer_id
    columns:
      contract_no: [contract_number]
      service_plan: [service_usage]
      provider_brand: []
  - table: contacts
    subject: person
    subject_key: contact_id
    columns:
      contact_name: [contact_person_name]
      phone: [phone]
      email: [email]
exclusions:
  - name: docomo_provided_mobile
    description: contracts provided by the mobile carrier brand are out of scope
    source: test policy
    table: contracts
    where: "provider_brand = 'docomo'"
"""


def corporate_number(i: int) -> str:
    base = f"{1000000 + i:012d}"
    return cn.calc_check_digit(base) + base


def tables() -> dict[str, pa.Table]:
    customers = pa.table({
        "customer_id": pa.array(range(1, 41), pa.int64()),
        "company_name": [f"株式会社テスト{i}" for i in range(1, 41)],
        "corporate_number": [corporate_number(i) for i in range(1, 41)],
        "address": [f"東京都千代田区{i}" for i in range(1, 41)],
    })
    contracts = pa.table({
        "contract_id": pa.array(range(1, 81), pa.int64()),
        "customer_id": pa.array([1 + (i - 1) // 2 for i in range(1, 81)], pa.int64()),
        "contract_no": [f"C{i:06d}" for i in range(1, 81)],
        "service_plan": [f"plan{i % 3}" for i in range(1, 81)],
        "provider_brand": ["docomo" if i % 5 == 0 or i == 79 else "ntt" for i in range(1, 81)],
    })
    contacts = pa.table({
        "contact_id": pa.array(range(1, 61), pa.int64()),
        "customer_id": pa.array([1 + i % 40 for i in range(1, 61)], pa.int64()),
        "contact_name": [f"担当 {i}" for i in range(1, 61)],
        "phone": [f"03-5555-{i:04d}" for i in range(1, 61)],
        "email": [f"person{i}@example.co.jp" for i in range(1, 61)],
    })
    products = pa.table({"product_id": pa.array(range(1, 4), pa.int64()), "label": ["a", "b", "c"]})
    return {"customers": customers, "contracts": contracts, "contacts": contacts, "products": products}


def write_snapshot(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, t in tables().items():
        pq.write_table(t, folder / f"{name}.parquet")
    return folder


def write_inventory(path: Path) -> Path:
    path.write_text(INVENTORY, encoding="utf-8")
    return path


_PG_TYPES = {pa.int64(): "bigint", pa.string(): "text"}


def postgres_sql() -> str:
    """CREATE TABLE + INSERT of the same rows (values are generated above, never evidence)."""
    out = []
    for name, t in tables().items():
        cols = ", ".join(f"{f.name} {_PG_TYPES[f.type]}" for f in t.schema)
        out.append(f"CREATE TABLE {name} ({cols});")
        rows = []
        for r in t.to_pylist():
            vals = ", ".join(str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"
                             for v in r.values())
            rows.append(f"({vals})")
        out.append(f"INSERT INTO {name} VALUES {', '.join(rows)};")
    return "\n".join(out)


def pgaudit_line(n: int, stmt_id: int, sql: str, params: str = "<none>", rows: int | None = None,
                 user: str = "mallory", ip: str = "10.0.0.9", pid: int = 4242, ts: str = "2025-02-05 10:00:00") -> str:
    """One pgAudit stderr record (prefix '%m [%p] %q%u@%d %r %a ') with the statement CSV-quoted."""
    quoted = '"' + sql.replace('"', '""') + '"'
    tail = "" if rows is None else f",{rows}"
    return (f"{ts}.{n % 1000:03d} JST [{pid}] {user}@orders {ip}(5000) psql LOG:  AUDIT: SESSION,{stmt_id},1,READ,"
            f"SELECT,TABLE,public.customers,{quoted},{params}{tail}")

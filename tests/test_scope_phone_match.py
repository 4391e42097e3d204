"""A value found in an export file is matched to the snapshot's rows with the same normalization on both
sides and on both engines: full-width digits are digits, +81 is the national 0. Before, a number stored as
'+８１ ８０ １９０６ ８４４１' matched nothing, so a file value shared with another person's '080-1906-8441'
looked unique and confirmed the wrong person (seen on a simulation: one organization too many)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.scope.backends import DuckDBBackend, open_backend

PHONES = [(1, "080-1906-8441"), (2, "+８１ ８０ １９０６ ８４４１"), (3, "+81 90-1234-5678"),
          (4, "０３−１２３４−５６７８"), (5, "(03) 9999-0000"), (6, None)]
WANTED = ["08019068441", "09012345678", "0312345678", "0399990000", "818019068441"]
EXPECTED = {("1", "08019068441"), ("2", "08019068441"), ("3", "09012345678"), ("4", "0312345678"),
            ("5", "0399990000")}


def test_phone_numbers_match_in_any_written_form_on_duckdb(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    pq.write_table(pa.table({"contact_id": [i for i, _ in PHONES], "phone": [p for _, p in PHONES]}),
                   snap / "contacts.parquet")
    backend = DuckDBBackend(snap)
    try:
        rows = backend.match("contacts", "contact_id", "phone", "phone", WANTED, [])
    finally:
        backend.close()
    assert {(k, v) for k, v, _ in rows} == EXPECTED


def test_phone_numbers_match_in_any_written_form_on_postgresql(pg_server: object) -> None:
    import psycopg

    dsn = pg_server.dsn  # type: ignore[attr-defined]
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS bs_phones")
        con.execute("CREATE TABLE bs_phones (contact_id int, phone text)")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO bs_phones VALUES (%s, %s)", PHONES)
    backend = open_backend(dsn, allow_superuser=True, inventory_tables=("bs_phones",))
    try:
        rows = backend.match("bs_phones", "contact_id", "phone", "phone", WANTED, [])
    finally:
        backend.close()
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute("DROP TABLE bs_phones")
    assert {(k, v) for k, v, _ in rows} == EXPECTED

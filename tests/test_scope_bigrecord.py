"""Audit records of any size: a statement padded past 128 KiB (Python's csv field-size limit) was rejected
at ingest as a malformed pgAudit record, so it never reached scope. Now it is stored and replayed, in
the stderr and csvlog layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.engines.duckdb_case import open_case
from tests import scopedata
from tests.conftest import run_ingest

PAD = 300 * 1024  # past the 128 KiB limit, with a comma and quotes inside (the field is CSV-quoted)


def _statement(contact: int) -> str:
    return (f"SELECT email FROM contacts WHERE contact_id = {contact} /* "
            + ("a, \"b\" " * (PAD // 8)) + " */ AND email <> '" + "z" * PAD + "'")


def _csvlog_line(sql: str) -> str:
    payload = 'AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.contacts,"' + sql.replace('"', '""') + '",<none>,1'
    return ('2025-02-05 10:00:00.000 JST,"mallory","orders",4242,"10.0.0.9:5000",67a2b8f0.1092,1,"SELECT",'
            '2025-02-05 10:00:00 JST,3/1,0,LOG,00000,"' + payload.replace('"', '""')
            + '",,,,,,,,,"psql","client backend",,0')


@pytest.mark.parametrize("layout", ["stderr", "csvlog"])
def test_statement_over_128_kib_is_stored_and_replayed(tmp_path: Path, layout: str) -> None:
    sql = _statement(5)
    log = tmp_path / "evidence" / ("postgresql.log" if layout == "stderr" else "postgresql.csv")
    log.parent.mkdir()
    head = scopedata.pgaudit_line(1, 7, "SELECT email FROM contacts WHERE contact_id = 1")
    if layout == "stderr":
        text = head + "\n" + scopedata.pgaudit_line(2, 8, sql) + "\n"
    else:
        small = _csvlog_line("SELECT email FROM contacts WHERE contact_id = 1")
        text = small + "\n" + _csvlog_line(sql).replace(",1,1,READ", ",2,1,READ") + "\n"
    log.write_text(text, encoding="utf-8")
    summary = run_ingest([log], tmp_path / "case", tz="Asia/Tokyo")
    assert summary.rejected == 0
    with open_case(tmp_path / "case") as c:
        lengths = [r[0] for r in c.rows("SELECT length(statement) FROM db_audit WHERE statement IS NOT NULL "
                                        "ORDER BY src_record")]
    assert lengths[-1] == len(sql) > 128 * 1024
    snap = scopedata.write_snapshot(tmp_path / "snapshot")
    inv = scopedata.write_inventory(tmp_path / "inventory.yaml")
    res = CliRunner().invoke(app, ["scope", "--case", str(tmp_path / "case"), "--inventory", str(inv),
                                   "--snapshot", str(snap), "--suspect-user", "mallory", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["statements"] == {"replayed": 2, "potential": 0, "ignored": 0}
    st = pq.read_table(tmp_path / "case" / "exposure" / "statements.parquet").to_pylist()
    big = next(s for s in st if len(s["statement"]) > PAD)
    assert (big["outcome"], big["subjects"]) == ("replayed", 1)


@pytest.mark.parametrize("reader", ["mysql_general", "mariadb_audit"])
def test_mysql_and_mariadb_records_over_128_kib(tmp_path: Path, reader: str) -> None:
    sql = _statement(9)
    log = tmp_path / "evidence" / f"{reader}.log"
    log.parent.mkdir()
    if reader == "mysql_general":
        text = ("/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n"
                "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n"
                "Time                 Id Command    Argument\n"
                "2025-02-05T01:00:03.410021Z\t   12 Connect\tmallory@10.0.0.9 on orders using TCP/IP\n"
                "2025-02-05T01:00:04.000000Z\t   12 Query\tSELECT email FROM contacts WHERE contact_id = 1\n"
                f"2025-02-05T01:00:05.000000Z\t   12 Query\t{sql}\n")
    else:
        quoted = sql.replace("\\", "\\\\").replace("'", "\\'")
        text = ("20250205 10:00:03,dbhost,mallory,10.0.0.9,12,0,CONNECT,orders,,0\n"
                "20250205 10:00:04,dbhost,mallory,10.0.0.9,12,1,QUERY,orders,'SELECT email FROM contacts',0\n"
                f"20250205 10:00:05,dbhost,mallory,10.0.0.9,12,2,QUERY,orders,'{quoted}',0\n")
    log.write_text(text, encoding="utf-8")
    summary = run_ingest([log], tmp_path / "case", tz="UTC")
    assert summary.rejected == 0
    snap = scopedata.write_snapshot(tmp_path / "snapshot")
    inv = scopedata.write_inventory(tmp_path / "inventory.yaml")
    res = CliRunner().invoke(app, ["scope", "--case", str(tmp_path / "case"), "--inventory", str(inv),
                                   "--snapshot", str(snap), "--suspect-user", "mallory", "--json"])
    assert res.exit_code == 0, res.output
    st = pq.read_table(tmp_path / "case" / "exposure" / "statements.parquet").to_pylist()
    big = next(s for s in st if len(s["statement"]) > PAD)
    assert big["statement"] == sql and (big["outcome"], big["subjects"]) == ("replayed", 1)

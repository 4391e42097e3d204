"""Database audit readers: pgAudit (stderr, csvlog, jsonlog, psql output), MariaDB server_audit, MySQL
general query log. Real samples (shared datasets, a real server's logs in tests/fixtures) plus small
files written here for the edge cases. Every line is accounted for: stored, rejected, or a declared
non-record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.db_audit import mariadb_audit, mysql_general, pgaudit
from breachscope.ingest.db_audit.common import sql_command
from breachscope.ingest.reader import Reader
from breachscope.ingest.registry import detect
from breachscope.model.case import EMPTY, INGESTED
from breachscope.model.schema import DB_AUDIT_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures"
PG = FIXTURES / "pgaudit"
MYSQL = FIXTURES / "mysql_general"


def read(path: Path, reader: Reader, **options: Any) -> tuple[list[dict[str, Any]], ReadContext]:
    """Rows (as dicts, in file order) and the read context of one file read by one reader."""
    src = SourceInfo(display=path.name, path=path, sha256="0" * 64, size=path.stat().st_size, mtime=0.0)
    ctx = ReadContext(source=src, options=IngestOptions(**options))
    batches = []
    for table, batch in reader.read(ctx):
        assert table == "db_audit"
        assert batch.schema.equals(DB_AUDIT_SCHEMA)
        batches.append(batch)
    rows = pa.Table.from_batches(batches, DB_AUDIT_SCHEMA).to_pylist() if batches else []
    for r in rows:
        r["extra"] = dict(r["extra"]) if r["extra"] is not None else {}
    return rows, ctx


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- pgAudit: the regression output of pgaudit's own test suite ---------------------------------------

@pytest.fixture(scope="module")
def regression(datasets: Path) -> tuple[list[dict[str, Any]], ReadContext, Path]:
    out = datasets / "db-audit-samples/pgaudit/expected/pgaudit.out"
    rows, ctx = read(out, pgaudit.READER)
    return rows, ctx, out


def test_pgaudit_regression_output_all_415_records(regression: Any) -> None:
    rows, ctx, out = regression
    assert pgaudit.detect_variant(out.read_text()[:65536]) == "psql"
    assert len(rows) == 415 and ctx.rejected == 0
    assert {r["dialect"] for r in rows} == {"pgaudit"}
    count = lambda key: {v: sum(1 for r in rows if r[key] == v) for v in {r[key] for r in rows}}  # noqa: E731
    assert count("audit_type") == {"SESSION": 373, "OBJECT": 42}
    assert count("audit_class") == {"DDL": 97, "WRITE": 93, "READ": 81, "MISC": 78, "ROLE": 50, "FUNCTION": 16}
    # every line accounted for: record lines + psql output lines (counted in a warning) + blank lines
    lines = out.read_text().split("\n")[:-1]
    covered: set[int] = set()
    for r in rows:
        own_statement = r["statement"] if "statement_source" not in r["extra"] else ""
        span = 1 + (own_statement or "").count("\n") + sum(p.count("\n") for p in r["parameters"] or [])
        record_lines = set(range(r["src_record"], r["src_record"] + span))
        assert not covered & record_lines
        covered |= record_lines
    outside = [ln for i, ln in enumerate(lines, 1) if i not in covered]
    blank_outside = sum(1 for ln in outside if not ln.strip())
    psql_lines = ctx.warnings["psql output lines between the AUDIT lines are not records"]
    assert (len(lines), len(covered), psql_lines, blank_outside) == (2669, 922, 1677, 70)
    assert len(covered) + psql_lines + blank_outside == len(lines)


def test_pgaudit_regression_statements_match_the_sql_script(regression: Any, datasets: Path) -> None:
    rows, _, _ = regression
    script = (datasets / "db-audit-samples/pgaudit/sql/pgaudit.sql").read_text()
    multi = [r["statement"] for r in rows if r["statement"] and "\n" in r["statement"]]
    assert len(multi) == 190
    assert all(s in script for s in multi)  # multi-line statements are joined back exactly
    logged = [r["statement"] for r in rows if r["statement"] is not None]
    assert sum(1 for s in logged if s in script) == 400  # the rest: <REDACTED> passwords, SQL run by functions
    by_line = {r["src_record"]: r for r in rows}
    r = by_line[70]
    assert (r["audit_type"], r["statement_id"], r["substatement_id"], r["audit_class"], r["command"],
            r["object_type"], r["object_name"]) == ("SESSION", 1, 1, "DDL", "CREATE TABLE", "TABLE", "public.test")
    assert r["statement"] == "CREATE TABLE public.test\n(\n\tid INT\n)"
    assert r["parameters"] is None and r["extra"]["parameters"] == "<not logged>"
    assert r["extra"]["severity"] == "NOTICE" and r["ts"] is None and r["message"] == "CREATE TABLE public.test"
    first = by_line[10]
    assert (first["audit_class"], first["command"], first["statement"]) == (
        "MISC", "SET", "SET pgaudit.log_level = 'notice'")
    grant = by_line[108]
    assert grant["statement"] == "GRANT SELECT, INSERT, UPDATE, DELETE\n   ON test2\n   TO regress_user2, regress_user1"
    # OBJECT record with log_statement_once: the statement comes from the SESSION record of the same id
    obj = by_line[186]
    assert (obj["audit_type"], obj["object_type"], obj["object_name"]) == ("OBJECT", "TABLE", "public.test2")
    assert obj["statement"] == by_line[184]["statement"] == "SELECT *\n  FROM test3, test2"
    assert obj["extra"]["statement"] == "<previously logged>" and obj["extra"]["severity"] == "WARNING"
    # parameters logged as a list, including pgaudit's own placeholder for a long value
    assert by_line[397]["parameters"] == ["1", "<long param suppressed>"]
    assert sum(1 for r in rows if r["extra"].get("statement") == "<not logged>" and r["statement"] is None) == 2


# --- pgAudit: real server logs (tests/fixtures/pgaudit, see its README) --------------------------------

def test_pgaudit_real_stderr_log() -> None:
    path = PG / "stderr_prefix_r_a.log"
    rows, ctx = read(path, pgaudit.READER)
    assert ctx.rejected == 0 and ctx.warnings == {}
    continuation = sum(1 for ln in path.read_text().splitlines() if ln.startswith("\t"))
    assert len(rows) == 35 and continuation == 5 and len(rows) + continuation == 40
    assert sum(1 for r in rows if r["dialect"] == "pgaudit") == 15
    by_line = {r["src_record"]: r for r in rows}
    sel = by_line[5]
    assert sel["statement"] == "SELECT id,\n       name\n  FROM customers\n ORDER BY id;"
    assert (sel["user"], sel["database"], sel["src_ip"], sel["src_port"], sel["application_name"]) == (
        "postgres", "fixture", "127.0.0.1", 57942, "psql-admin")
    assert (sel["session_id"], sel["statement_id"], sel["rows"], sel["parameters"]) == ("11515", 3, 2, [])
    assert sel["ts"] == utc(2026, 11, 29, 7, 48, 20, 843000)  # 16:48:20.843 JST
    assert (sel["ts_text"], sel["ts_resolution"]) == ("2026-11-29 16:48:20.843 JST", "zone_abbreviation")
    ins = by_line[4]
    assert ins["statement"] == "INSERT INTO customers VALUES (1, 'Alice \"A\" O''Hara', '4111-1111'), " \
                               "(2, 'Bob, Jr.', '5500-0000');"
    assert (ins["audit_class"], ins["command"], ins["object_name"], ins["rows"]) == (
        "WRITE", "INSERT", "public.customers", 2)
    bound = by_line[10]  # EXECUTE of a prepared statement: parameters with a comma, a quote, a line break
    assert bound["parameters"] == ['a,b"c\nd', "2"]
    assert bound["statement"] == "PREPARE q(text, int) AS SELECT name, card FROM customers WHERE id = $2 OR name = $1;"
    assert by_line[12]["statement"] == "EXECUTE q('a,b\"c\nd', 2);"
    hidden = by_line[15]
    assert hidden["parameters"] is None and hidden["extra"]["parameters"] == "<not logged>"
    assert (by_line[18]["audit_class"], by_line[18]["command"]) == ("READ", "COPY")
    assert by_line[27]["parameters"] == ["2"] and by_line[27]["application_name"] == "pgbench"  # extended protocol
    err, stmt = by_line[19], by_line[20]
    assert (err["dialect"], err["audit_type"], err["extra"]["severity"]) == ("postgresql", None, "ERROR")
    assert stmt["statement"] == "SELECT * FROM no_such_table;" and stmt["extra"]["severity"] == "STATEMENT"
    received = by_line[1]
    assert (received["src_ip"], received["src_port"], received["user"]) == ("127.0.0.1", 57942, None)
    assert by_line[31]["user"] == "mallory" and by_line[31]["extra"]["severity"] == "FATAL"
    local = by_line[34]
    assert local["src_ip"] is None and local["extra"]["client_host"] == "[local]"
    # after the prefix changed to '%m [%p] ': user and database from the message, the application from the backend
    last = by_line[40]
    assert (last["user"], last["database"], last["session_id"], last["application_name"]) == (
        "postgres", "fixture", "11547", "psql")
    assert last["extra"]["from_connection_lines"] == "application_name"


def test_pgaudit_default_prefix_takes_client_from_connection_lines() -> None:
    rows, ctx = read(PG / "stderr_default_prefix.log", pgaudit.READER)
    assert ctx.rejected == 0 and [r["src_record"] for r in rows] == [1, 2, 3, 7]
    audit = rows[2]
    assert audit["statement"] == "SELECT name,\n       card\n  FROM customers\n WHERE card LIKE '4%'"
    assert (audit["user"], audit["database"], audit["src_ip"], audit["src_port"], audit["application_name"]) == (
        "postgres", "fixture", "127.0.0.1", 57990, "report")
    assert audit["extra"]["from_connection_lines"] == "user,database,application_name,client,src_port"
    assert audit["session_id"] == "11555" and audit["extra"]["pid"] == "11555"


def _audit_key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["ts"], r["user"], r["database"], r["src_ip"], r["src_port"], r["application_name"], r["audit_type"],
            r["statement_id"], r["substatement_id"], r["audit_class"], r["command"], r["object_type"],
            r["object_name"], r["statement"], tuple(r["parameters"]) if r["parameters"] is not None else None,
            r["rows"])


def test_pgaudit_stderr_csvlog_jsonlog_agree() -> None:
    """The same server wrote the three logs at once: the AUDIT rows must be the same."""
    stderr, _ = read(PG / "stderr_prefix_r_a.log", pgaudit.READER)
    csvlog, csv_ctx = read(PG / "csvlog.csv", pgaudit.READER)
    jsonlog, json_ctx = read(PG / "jsonlog.json", pgaudit.READER)
    assert csv_ctx.rejected == json_ctx.rejected == 0
    assert len(csvlog) == len(jsonlog) == 34  # stderr has one more: its STATEMENT line is the query column here
    audit = [_audit_key(r) for r in stderr if r["dialect"] == "pgaudit"]
    assert len(audit) == 15
    assert [_audit_key(r) for r in csvlog if r["dialect"] == "pgaudit"] == audit
    assert [_audit_key(r) for r in jsonlog if r["dialect"] == "pgaudit"] == audit
    assert [r["src_record"] for r in jsonlog] == list(range(1, 35))
    err = next(r for r in csvlog if r["extra"].get("severity") == "ERROR")
    assert err["statement"] == "SELECT * FROM no_such_table;" and err["extra"]["sqlstate"] == "42P01"
    assert err["session_id"] == "6b0bd8c4.2cfb" and err["extra"]["pid"] == "11515"
    csv_lines = (PG / "csvlog.csv").read_text().split("\n")[:-1]
    starts = [r["src_record"] for r in csvlog]
    assert starts[0] == 1 and len(csv_lines) == 39  # 34 records over 39 lines (multi-line quoted fields)


PREFIX_VARIANTS = "".join(line + "\n" for line in (
    "2025-02-05 10:00:00 UTC [101]: [1-1] user=alice,db=shop,app=psql,client=10.1.2.3 "
    "LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>",
    "2025-02-05 10:00:01.5 +09 [102] 6b0bd735.19e6 bob@hr "
    'LOG:  AUDIT: OBJECT,2,1,WRITE,UPDATE,TABLE,hr.pay,"UPDATE hr.pay SET x = 1",<not logged>',
    "1738749602.250 [103] carol@db [local] LOG:  AUDIT: SESSION,3,1,ROLE,GRANT,,,GRANT x TO y,<none>,0",
    "2025-02-05 10:00:03.000 CST [104] dave@db ::1(5432) app "
    "LOG:  AUDIT: SESSION,4,1,DDL,DROP TABLE,TABLE,public.t,DROP TABLE t,<none>,0",
    "2025-02-05 10:00:04.000 XYZ [105] LOG:  checkpoint starting: time",
    "2025-02-05 10:00:05.000 [106] LOG:  connection received: host=192.0.2.7 port=40000",
    "2025-02-05 10:00:05.100 [106] "
    'LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.card,"SELECT ""number"" FROM card",<none>,12',
))


def test_pgaudit_prefix_and_zone_variants(tmp_path: Path) -> None:
    rows, ctx = read(write(tmp_path, "pg.log", PREFIX_VARIANTS), pgaudit.READER)
    assert ctx.rejected == 0 and len(rows) == 7
    a, b, c, d, e, f, g = rows
    assert (a["user"], a["database"], a["application_name"], a["src_ip"], a["extra"]["pid"]) == (
        "alice", "shop", "psql", "10.1.2.3", "101")
    assert (a["ts"], a["ts_resolution"]) == (utc(2025, 2, 5, 10), "zone_in_text")
    assert (b["ts"], b["session_id"], b["user"], b["database"]) == (
        utc(2025, 2, 5, 1, 0, 1, 500000), "6b0bd735.19e6", "bob", "hr")
    assert (b["audit_type"], b["parameters"], b["extra"]["parameters"]) == ("OBJECT", None, "<not logged>")
    assert (c["ts"], c["user"], c["extra"]["client_host"]) == (utc(2025, 2, 5, 10, 0, 2, 250000), "carol", "[local]")
    assert (d["ts"], d["src_ip"], d["src_port"], d["application_name"]) == (
        utc(2025, 2, 5, 16, 0, 3), "::1", 5432, "app")  # CST taken as US Central, and said so
    assert any("CST is ambiguous" in w for w in ctx.warnings)
    assert (e["ts"], e["ts_resolution"], e["dialect"], e["message"]) == (
        utc(2025, 2, 5, 10, 0, 4), "zone_assumed_utc", "postgresql", "checkpoint starting: time")
    assert any("unknown zone abbreviation XYZ" in w for w in ctx.warnings)
    assert any("without a zone taken as UTC" in w for w in ctx.warnings)
    assert (f["src_ip"], f["src_port"]) == ("192.0.2.7", 40000)
    assert (g["src_ip"], g["src_port"], g["statement"], g["rows"]) == (
        "192.0.2.7", 40000, 'SELECT "number" FROM card', 12)
    rows_tz, ctx_tz = read(write(tmp_path, "pg2.log", PREFIX_VARIANTS), pgaudit.READER, tz="America/Chicago")
    assert rows_tz[3]["ts"] == utc(2025, 2, 5, 16, 0, 3) and rows_tz[3]["ts_resolution"] == "zone_abbreviation"
    assert not any("CST is ambiguous" in w for w in ctx_tz.warnings)
    assert rows_tz[4]["ts"] == utc(2025, 2, 5, 16, 0, 4) and rows_tz[4]["ts_resolution"] == "zone_from_option"


def test_pgaudit_crlf_bom_bad_bytes_garbage_and_truncated_last_record(tmp_path: Path) -> None:
    text = (
        "2025-02-05 10:00:00.000 UTC [7] u@d LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,\"SELECT a,\n"
        "\t       b FROM t\",<none>\n"
        "this line is not a log entry\n"
        "2025-02-05 10:00:01.000 UTC [7] u@d LOG:  AUDIT: SESSION,2,1,MISC,SET,,,SET x = 'caf\xe9',<none>\n"
        "2025-02-05 10:00:02.000 UTC [7] u@d LOG:  AUDIT: SESSION,3,1,WRITE,INSERT,,,\"INSERT INTO t VALUES ('cut\n"
        "\tshort"
    ).encode("latin-1").replace(b"\n", b"\r\n")
    rows, ctx = read(write(tmp_path, "pg.log", b"\xef\xbb\xbf" + text), pgaudit.READER)
    assert [r["src_record"] for r in rows] == [1, 4, 5]
    assert rows[0]["statement"] == "SELECT a,\n       b FROM t"
    assert rows[1]["statement"] == "SET x = 'caf\ufffd'" and any("U+FFFD" in w for w in ctx.warnings)
    cut = rows[2]
    assert cut["statement"] == "INSERT INTO t VALUES ('cut\nshort" and cut["extra"]["truncated"] == "true"
    assert cut["parameters"] is None and ctx.rejected == 1
    assert ctx.reject_rows[0][:2] == ("line 3", "not a PostgreSQL log entry")


def test_pgaudit_unterminated_quote_does_not_swallow_the_file(tmp_path: Path) -> None:
    text = (
        '2025-02-05 10:00:00.000 UTC [7] LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,"SELECT \'oops,<none>\n'
        "2025-02-05 10:00:01.000 UTC [7] LOG:  AUDIT: SESSION,2,1,READ,SELECT,,,SELECT 2,<none>\n"
        "2025-02-05 10:00:02.000 UTC [7] LOG:  AUDIT: SESSION,3,1,READ,SELECT,,,SELECT 3,<none>\n"
        "2025-02-05 10:00:03.000 UTC [7] LOG:  AUDIT: not,csv,\"at all\n"
    )
    rows, ctx = read(write(tmp_path, "pg.log", text), pgaudit.READER)
    assert [(r["src_record"], r["statement"]) for r in rows] == [(2, "SELECT 2"), (3, "SELECT 3")]
    assert [(loc, reason) for loc, reason, _ in ctx.reject_rows] == [
        ("line 1", "pgaudit AUDIT record with an unterminated quote"), ("line 4", "malformed pgaudit AUDIT record")]


def test_pgaudit_csvlog_truncated_unterminated_and_malformed(tmp_path: Path) -> None:
    lines = (PG / "csvlog.csv").read_text().split("\n")[:-1]
    head, cut = lines[:9], lines[9][:300]  # 6 whole records, then line 10 cut inside its quoted message
    rows, ctx = read(write(tmp_path, "cut.csv", "\n".join([*head, cut])), pgaudit.READER)
    assert pgaudit.detect_variant("\n".join(head)) == "csvlog"
    assert [r["src_record"] for r in rows] == [1, 2, 3, 4, 5, 9, 10] and ctx.rejected == 0
    assert rows[-1]["extra"]["truncated"] == "true" and rows[-1]["statement_id"] == 5
    assert rows[-1]["statement"].startswith("PREPARE q(text, int)")
    text = "\n".join([*head, cut, lines[13], "2025,not,enough"]) + "\n"
    rows, ctx = read(write(tmp_path, "broken.csv", text), pgaudit.READER)
    assert [r["src_record"] for r in rows] == [1, 2, 3, 4, 5, 9, 11]
    assert [(loc, reason) for loc, reason, _ in ctx.reject_rows] == [
        ("line 10", "csvlog record with an unterminated quote"), ("line 12", "csvlog record with too few fields")]


def test_pgaudit_jsonlog_bad_lines(tmp_path: Path) -> None:
    lines = (PG / "jsonlog.json").read_text().split("\n")[:-1]
    text = "\n".join([*lines[:3], "{not json", "[1, 2]", *lines[3:5], lines[5][:40]]) + "\n"
    rows, ctx = read(write(tmp_path, "pg.json", text), pgaudit.READER)
    assert [r["src_record"] for r in rows] == [1, 2, 3, 6, 7]
    assert [(loc, reason) for loc, reason, _ in ctx.reject_rows] == [
        ("line 4", "invalid JSON"), ("line 5", "JSON line is not a PostgreSQL log entry"), ("line 8", "invalid JSON")]


# --- MariaDB server_audit ------------------------------------------------------------------------------

def test_mariadb_audit_plugin_test_suite_all_138_lines(datasets: Path) -> None:
    path = datasets / "db-audit-samples/mariadb-server_audit/server_audit.result.audit_lines.csv"
    rows, ctx = read(path, mariadb_audit.READER)
    assert len(rows) == 138 == len(path.read_text().splitlines()) and ctx.rejected == 0
    assert [r["src_record"] for r in rows] == list(range(1, 139))
    assert all(r["ts"] is None and r["ts_text"] == "TIME" for r in rows)  # masked by mysql-test: kept, ts null
    assert "masked or unreadable timestamps (ts is null)" in ctx.warnings
    types: dict[str, int] = {}
    for r in rows:
        types[r["audit_type"]] = types.get(r["audit_type"], 0) + 1
    # the same as `cut -d, -f7 | sort | uniq -c` of the file
    assert types == {"QUERY": 78, "WRITE": 42, "READ": 5, "CREATE": 3, "DROP": 2, "CONNECT": 2, "DISCONNECT": 3,
                     "FAILED_CONNECT": 1, "ALTER": 1, "RENAME": 1}
    by_line = {r["src_record"]: r for r in rows}
    assert by_line[6]["statement"] == "set global server_audit_incl_users='odin, root, dva, tri'"
    assert by_line[117]["statement"] == "select 'A', "
    assert (by_line[4]["audit_type"], by_line[4]["user"], by_line[4]["extra"]["retcode"]) == (
        "FAILED_CONNECT", "no_such_user", "ID")
    ren = by_line[24]
    assert (ren["object_name"], ren["extra"]["renamed_to"], ren["audit_class"]) == ("test.t1", "test.renamed_t1", "DDL")
    grant = by_line[76]
    assert (grant["command"], grant["audit_class"], grant["statement"], grant["retcode"]) == (
        "GRANT", "ROLE", "GRANT ALL ON sa_db TO u2 IDENTIFIED BY *****", 0)
    read_ev = by_line[13]
    assert (read_ev["audit_class"], read_ev["object_type"], read_ev["object_name"], read_ev["database"]) == (
        "READ", "TABLE", "test.t1", "test")
    assert (by_line[1]["host"], by_line[1]["user"], by_line[1]["extra"]["client_host"]) == ("HOSTNAME", "root",
                                                                                            "localhost")
    assert by_line[106]["command"] == "SELECT" and by_line[106]["statement"] == "/*! select 2*/"


MARIADB = (
    "20250205 10:00:00,db01,app,10.0.0.5,42,0,CONNECT,shop,,0,TCP/IP\r\n"
    "20250205 10:00:01,db01,app,10.0.0.5,42,17,QUERY,shop,"
    "'SELECT \\'a,b\\', \"c\"\\nFROM t\\tWHERE x = \\'\\\\\\'',0\r\n"
    "garbage that is not a record\r\n"
    "20250205 10:00:02,db01,app,10.0.0.5,42,18,QUERY,shop,'SELECT 1\r\n"
    "FROM dual',1064\r\n"
    "20250205 10:00:03,db01,mallory,203.0.113.9,43,0,FAILED_CONNECT,,,1045\r\n"
    "20250205 10:00:04,db01,app,10.0.0.5,42,19,QUERY,shop,no quotes here,0\r\n"
    "20250205 10:00:05,db01,app,10.0.0.5,42,20,QUERY,shop,'SELECT * FROM customers WHERE name = \\'cut"
)


def test_mariadb_escapes_multiline_crlf_garbage_truncated(tmp_path: Path) -> None:
    rows, ctx = read(write(tmp_path, "server_audit.log", MARIADB), mariadb_audit.READER, tz="Asia/Tokyo")
    assert [r["src_record"] for r in rows] == [1, 2, 4, 6, 8]
    assert [(loc, reason) for loc, reason, _ in ctx.reject_rows] == [
        ("line 3", "not a server_audit record"), ("line 7", "server_audit QUERY without a quoted statement")]
    conn, query, multi, failed, cut = rows
    assert (conn["ts"], conn["ts_resolution"], conn["extra"]["connection_type"], conn["retcode"]) == (
        utc(2025, 2, 5, 1), "zone_from_option", "TCP/IP", 0)
    assert (conn["host"], conn["user"], conn["src_ip"], conn["session_id"]) == ("db01", "app", "10.0.0.5", "42")
    assert query["statement"] == "SELECT 'a,b', \"c\"\nFROM t\tWHERE x = '\\'"
    assert (query["statement_id"], query["command"], query["audit_class"]) == (17, "SELECT", "READ")
    assert multi["statement"] == "SELECT 1\nFROM dual" and multi["retcode"] == 1064  # pre-1.4 plugin: raw newline
    assert (failed["user"], failed["src_ip"], failed["retcode"], failed["database"]) == (
        "mallory", "203.0.113.9", 1045, None)
    assert cut["statement"] == "SELECT * FROM customers WHERE name = 'cut" and cut["extra"]["truncated"] == "true"
    assert any("no zone: taken as Asia/Tokyo" in w for w in ctx.warnings)


# --- MySQL general query log ---------------------------------------------------------------------------

def test_mysql_general_log_mysql8() -> None:
    path = MYSQL / "general_mysql8.log"
    rows, ctx = read(path, mysql_general.READER)
    assert ctx.rejected == 0 and len(rows) == 27
    lines = path.read_text().splitlines()
    header = sum(1 for ln in lines if mysql_general._is_header(ln))
    continuation = sum(r["statement"].count("\n") for r in rows if r["statement"])
    assert (header, continuation) == (6, 5) and len(rows) + header + continuation == len(lines) == 38
    by_line = {r["src_record"]: r for r in rows}
    sel = by_line[10]
    assert sel["statement"] == (
        "SELECT id, name, email\n  FROM customers\n WHERE email LIKE '%@example.com'\n ORDER BY id")
    assert (sel["user"], sel["src_ip"], sel["database"], sel["session_id"], sel["audit_type"]) == (
        "app", "10.0.0.5", "shop", "12", "Query")
    assert (sel["ts"], sel["ts_resolution"]) == (utc(2025, 2, 5, 1, 0, 3, 411007), "zone_in_text")
    assert (by_line[14]["audit_type"], by_line[15]["statement"]) == (
        "Prepare", "SELECT name, card FROM customers WHERE id = 2")
    assert by_line[17]["statement"] == "UPDATE customers SET email = 'x,y\"z', note = 'O''Brien, Jr.' WHERE id = 1"
    denied = by_line[19]
    assert (denied["user"], denied["src_ip"], denied["extra"]["connect_error"]) == (
        "mallory", "203.0.113.66", "access denied")
    assert (by_line[22]["audit_class"], by_line[23]["command"], by_line[23]["audit_class"]) == (
        "READ", "CREATE USER", "ROLE")
    assert by_line[26]["database"] == "billing"  # after `use billing`
    assert by_line[26]["statement"] == (
        "INSERT INTO invoices (id, memo) VALUES (7, 'line one\nline two, with a comma\n\tand a tab')")
    assert by_line[31]["user"] == "app"  # thread 12 again after thread 14 quit
    assert (by_line[36]["user"], by_line[36]["src_ip"]) == ("report", "192.0.2.10")  # after the restart header
    assert by_line[7]["audit_type"] == "Quit" and by_line[4]["extra"]["client_host"] == "localhost"


def test_mysql_general_log_old_layout_inherits_the_second(tmp_path: Path) -> None:
    rows, ctx = read(MYSQL / "general_old.log", mysql_general.READER, tz="Europe/Paris")
    assert ctx.rejected == 0 and [r["src_record"] for r in rows] == [4, 5, 6, 7, 9, 10, 11]
    assert [r["ts"] for r in rows] == [utc(2025, 2, 5, 8, 59, 58)] * 2 + [utc(2025, 2, 5, 9)] * 3 + [
        utc(2025, 2, 5, 9, 0, 1)] * 2
    assert {r["ts_resolution"] for r in rows} == {"zone_from_option"}
    assert rows[3]["statement"] == "SELECT id\nFROM customers" and rows[3]["user"] == "app"
    assert rows[0]["user"] == "root" and rows[0]["database"] is None


def test_mysql_general_spaces_crlf_garbage_and_truncated(tmp_path: Path) -> None:
    text = (
        "this is not a general log line\r\n"
        "2025-02-05T10:00:00.123456Z    12 Connect   app@10.0.0.5 on shop using TCP/IP\r\n"
        "2025-02-05T10:00:00.200000+09:00    12 Query     SELECT 1\r\n"
        "2025-02-05T10:00:01.000000Z\t   12 Query\tSELECT name\r\n"
        "FROM custo"
    )
    rows, ctx = read(write(tmp_path, "general.log", text), mysql_general.READER)
    assert ctx.reject_rows[0][:2] == ("line 1", "not a general query log record") and ctx.rejected == 1
    assert [r["src_record"] for r in rows] == [2, 3, 4]
    assert rows[1]["ts"] == utc(2025, 2, 5, 1, 0, 0, 200000) and rows[1]["statement"] == "SELECT 1"
    assert (rows[1]["user"], rows[1]["src_ip"], rows[1]["database"]) == ("app", "10.0.0.5", "shop")
    assert rows[2]["statement"] == "SELECT name\nFROM custo" and rows[2]["extra"]["truncated"] == "true"


# --- the three together ------------------------------------------------------------------------------------

def test_sniffers_pick_the_right_reader(datasets: Path) -> None:
    samples = datasets / "db-audit-samples"
    cases = {
        samples / "pgaudit/expected/pgaudit.out": "pgaudit",
        samples / "pgaudit/sql/pgaudit.sql": None,
        samples / "mariadb-server_audit/server_audit.result.audit_lines.csv": "mariadb_audit",
        PG / "stderr_prefix_r_a.log": "pgaudit", PG / "csvlog.csv": "pgaudit", PG / "jsonlog.json": "pgaudit",
        PG / "stderr_default_prefix.log": "pgaudit", PG / "README.md": None,
        MYSQL / "general_mysql8.log": "mysql_general", MYSQL / "general_old.log": "mysql_general",
    }
    for path, expected in cases.items():
        head = path.read_bytes()[:65536]
        got = [r.name for r in (pgaudit.READER, mariadb_audit.READER, mysql_general.READER) if r.sniff(head, path.name)]
        assert got == ([expected] if expected else []), path
        if expected:
            assert detect(head, path.name).name == expected  # type: ignore[union-attr]
    # PostgreSQL through syslog (split lines, #011 for tabs) is the syslog reader's, whatever the stamp
    audit = "LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>"
    for stamp in ("2025-02-05T10:00:00.123+01:00", "Feb  5 10:00:00"):
        assert not pgaudit.sniff(f"{stamp} db1 postgres[123]: [1-1] {audit}\n".encode() * 5, "postgresql.log")
    assert pgaudit.sniff(f"2025-02-05 10:00:00.123 UTC [123] {audit}\n".encode(), "x")
    assert not mysql_general.sniff(b"", "general.log") and not mariadb_audit.sniff(b"\n\n", "server_audit.log")


def test_ingest_into_a_case(ingest_case: Any, datasets: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_bytes(b"")
    summary, case = ingest_case([
        datasets / "db-audit-samples/pgaudit/expected/pgaudit.out",
        datasets / "db-audit-samples/mariadb-server_audit/server_audit.result.audit_lines.csv",
        PG / "csvlog.csv", MYSQL / "general_mysql8.log", tmp_path / "empty.log",
    ])
    got = {Path(f.path).name: (f.status, f.format, f.records, f.rejected) for f in summary.files}
    assert got == {
        "pgaudit.out": (INGESTED, "pgaudit", 415, 0),
        "server_audit.result.audit_lines.csv": (INGESTED, "mariadb_audit", 138, 0),
        "csvlog.csv": (INGESTED, "pgaudit", 34, 0),
        "general_mysql8.log": (INGESTED, "mysql_general", 27, 0),
        "empty.log": (EMPTY, None, 0, 0),
    }
    assert case.rows("SELECT dialect, count(*) FROM db_audit GROUP BY 1 ORDER BY 1") == [
        ("mariadb_audit", 138), ("mysql_general", 27), ("pgaudit", 430), ("postgresql", 19)]
    assert case.scalar("SELECT count(*) FROM events WHERE table_name = 'db_audit'") == 614
    assert case.scalar("SELECT parameters FROM db_audit WHERE src_file LIKE '%csvlog.csv' AND src_record = 10") == [
        'a,b"c\nd', "2"]


def test_sql_command_kinds() -> None:
    assert sql_command("  /* hint */ (SELECT 1)") == ("SELECT", "READ")
    assert sql_command("/*!40101 SET NAMES utf8 */") == ("SET", "MISC_SET")
    assert sql_command("CREATE OR REPLACE TEMPORARY TABLE t (a int)") == ("CREATE TABLE", "DDL")
    assert sql_command("create user 'x'@'%'") == ("CREATE USER", "ROLE")
    assert sql_command("SET PASSWORD FOR u = 'p'") == ("SET PASSWORD", "ROLE")
    assert sql_command("LOAD DATA INFILE '/tmp/x' INTO TABLE t") == ("LOAD DATA", "WRITE")
    assert sql_command("call proc()") == ("CALL", "FUNCTION")
    assert sql_command("-- only a comment") == (None, None)
    assert sql_command("") == (None, None)


# --- round trips: text written the way the servers write it comes back exactly ---------------------------

def _pg_csv(value: str) -> str:
    """pgAudit's append_valid_csv."""
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\x00"), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statements=st.lists(_TEXT, min_size=1, max_size=4), params=st.lists(_TEXT, max_size=3))
def test_pgaudit_stderr_round_trip(tmp_path: Path, statements: list[str], params: list[str]) -> None:
    lines = []
    for i, stmt in enumerate(statements, 1):
        param_field = _pg_csv(",".join(_pg_csv(p) for p in params)) if params else "<none>"
        payload = f"SESSION,{i},1,READ,SELECT,TABLE,public.t,{_pg_csv(stmt)},{param_field},{i}"
        message = f"AUDIT: {payload}".replace("\n", "\n\t")  # the server indents continuation lines
        lines.append(f"2025-02-05 10:00:0{i}.000 UTC [42] u@db 10.0.0.1(5000) app LOG:  {message}")
    rows, ctx = read(write(tmp_path, "rt.log", "\n".join(lines) + "\n"), pgaudit.READER)
    assert ctx.rejected == 0
    assert [r["statement"] for r in rows] == statements
    assert all(r["parameters"] == (params if params else []) for r in rows)
    assert [r["rows"] for r in rows] == list(range(1, len(statements) + 1))


def _mariadb_escape(value: str) -> str:
    """server_audit's escape_string (plugin 1.4+)."""
    table = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "'": "\\'", "\\": "\\\\"}
    return "".join(table.get(c, c) for c in value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statements=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                                   max_size=40), min_size=1, max_size=4))
def test_mariadb_escape_round_trip(tmp_path: Path, statements: list[str]) -> None:
    text = "".join(f"20250205 10:00:0{i},db,u,10.0.0.1,7,{i},QUERY,shop,'{_mariadb_escape(s)}',0\n"
                   for i, s in enumerate(statements))
    rows, ctx = read(write(tmp_path, "rt.log", text), mariadb_audit.READER)
    assert ctx.rejected == 0 and [r["statement"] for r in rows] == statements

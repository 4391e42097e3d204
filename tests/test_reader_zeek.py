"""Zeek reader (TSV and JSON): every Zeek log in the shared datasets, and edge cases written here.

Expectations are computed from the files themselves (gzip/zipfile, plain splitting), not by the
reader: every line that is not a header (`#...`) and not empty is either a row or a reject.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from breachscope.engines.duckdb_case import Case, open_case
from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.pipeline import IngestSummary, ingest
from breachscope.ingest.registry import detect
from breachscope.ingest.zeek import readers as zeek
from breachscope.model.case import DUPLICATE, INGESTED

ZEEK_DIRS = ("wrccdc-zeek-sample", "stratosphere-security-datasets", "stratosphere-slips-dataset",
             "otrf-security-datasets")
TSV_TYPES_INT = {"count", "int", "port"}
TSV_TYPES_FLOAT = {"time", "interval", "double"}


# --- independent reading of the evidence -------------------------------------------------------------

def _looks_zeek(name: str, head: bytes) -> bool:
    """Zeek TSV starts with its #separator header; Zeek JSON has a ts and Zeek's ids, or is named
    like a Zeek log (software.log, loaded_scripts.log)."""
    text = head.lstrip(b"\xef\xbb\xbf \t")
    if text.startswith(b"#separator"):
        return True
    if not text.startswith(b"{"):
        return False
    base = name.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    first = text.split(b"\n", 1)[0]
    return (b'"ts"' in first and (b'"uid"' in first or b'"id.orig_h"' in first)) or bool(
        re.fullmatch(r"(conn|dns|http|ssl|x509|files|dhcp|notice|weird|ssh|software|smtp|tunnel|arp|pe|"
                     r"packet_filter|loaded_scripts)\.log", base))


def zeek_logs(datasets: Path) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every Zeek log under the Zeek dataset folders, archives opened here."""
    for d in ZEEK_DIRS:
        for p in sorted((datasets / d).rglob("*")):
            if not p.is_file():
                continue
            if p.name.endswith(".gz") and not p.name.endswith(".tar.gz"):
                data = gzip.decompress(p.read_bytes())
                name = f"{p}!{p.name[:-3]}"
                if _looks_zeek(name, data[:4096]):
                    yield name, data
            elif p.suffix.lower() == ".zip":
                with zipfile.ZipFile(p) as z:
                    for m in z.infolist():
                        if m.is_dir():
                            continue
                        with z.open(m) as fh:
                            head = fh.read(4096)
                        if _looks_zeek(f"{p}!{m.filename}", head):
                            yield f"{p}!{m.filename}", z.read(m)
            else:
                with p.open("rb") as fh:
                    head = fh.read(4096)
                if _looks_zeek(str(p), head):
                    yield str(p), p.read_bytes()


def lines_of(data: bytes) -> list[bytes]:
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def record_lines(data: bytes) -> int:
    """Lines that are records: not a header/comment line, not empty."""
    return sum(1 for ln in lines_of(data) if ln.strip() and not ln.lstrip(b" \t").startswith(b"#"))


def tsv_header(data: bytes) -> dict[str, Any]:
    """The first header block: path, fields, types (split on tab, as every file here declares)."""
    out: dict[str, Any] = {}
    for ln in lines_of(data):
        ln = ln.lstrip(b" \t")
        if not ln.startswith(b"#"):
            break
        key, _, value = ln.decode().partition("\t")
        if key in ("#path", "#fields", "#types"):
            out[key[1:]] = value if key == "#path" else value.split("\t")
    return out


def _unescape(s: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s)


def _json_value(text: str, ztype: str) -> Any:
    if text == "-":
        return None
    if ztype.startswith(("set[", "vector[")):
        inner = ztype[ztype.index("[") + 1:-1]
        return [] if text == "(empty)" else [_json_value(e, inner) for e in text.split(",")]
    if ztype in TSV_TYPES_INT:
        return int(text)
    if ztype in TSV_TYPES_FLOAT:
        return float(text)
    if ztype == "bool":
        return text == "T"
    return "" if text == "(empty)" else _unescape(text)


def tsv_to_json(data: bytes, nested_id: bool = False, iso_ts: bool = False) -> bytes:
    """What Zeek writes for the same log with LogAscii::use_json=T: unset fields left out."""
    hdr = tsv_header(data)
    out = []
    for ln in lines_of(data):
        if not ln.strip() or ln.lstrip(b" \t").startswith(b"#"):
            continue
        obj: dict[str, Any] = {}
        for name, ztype, text in zip(hdr["fields"], hdr["types"], ln.decode().split("\t"), strict=True):
            value = _json_value(text, ztype)
            if value is None:
                continue
            if name == "ts" and iso_ts:
                value = datetime.fromtimestamp(value, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            if nested_id and name.startswith("id."):
                obj.setdefault("id", {})[name[3:]] = value
            else:
                obj[name] = value
        out.append(json.dumps(obj))
    return ("\n".join(out) + "\n").encode()


def run(paths: list[Path | str], case_dir: Path, **options: Any) -> tuple[IngestSummary, Case]:
    summary = ingest([str(p) for p in paths], case_dir, IngestOptions(**options), jobs=1)
    return summary, open_case(case_dir)


def entry(summary: IngestSummary, path: Path) -> Any:
    return next(f for f in summary.files if f.path == str(path.resolve()))


def zeek_tables(case: Case) -> list[str]:
    return [t for t in case.event_tables if t.startswith("zeek_")]


# --- all Zeek data in the shared datasets ------------------------------------------------------------

@pytest.fixture(scope="module")
def all_logs(datasets: Path) -> dict[str, bytes]:
    return dict(zeek_logs(datasets))


@pytest.fixture(scope="module")
def datasets_case(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IngestSummary, Case]]:
    summary, case = run([datasets / d for d in ZEEK_DIRS[:3]], tmp_path_factory.mktemp("zeek") / "case")
    yield summary, case
    case.close()


def test_all_zeek_logs_are_found(all_logs: dict[str, bytes]) -> None:
    wrccdc = [n for n in all_logs if "wrccdc" in n]
    assert len(wrccdc) == 32  # the 32 log types of the sample
    assert sum("stratosphere-security" in n for n in all_logs) == 33
    assert sum("stratosphere-slips" in n for n in all_logs) == 37


def test_every_zeek_line_is_a_row_or_a_reject(datasets_case: tuple[IngestSummary, Case],
                                             all_logs: dict[str, bytes]) -> None:
    summary, _ = datasets_case
    by_path = {f.path: f for f in summary.files}
    ingested = {f.sha256: f for f in summary.files if f.status == INGESTED}
    checked = 0
    for name, data in all_logs.items():
        if "otrf" in name:  # inside the big OTRF zips: test_otrf_zeek_logs
            continue
        f = by_path[name]
        if f.status == DUPLICATE:  # same bytes as another file of the run, counted there
            assert f.duplicate_of in {g.path for g in ingested.values()}
            continue
        assert f.status == INGESTED, name
        assert f.format == ("zeek_tsv" if data.lstrip(b" \t").startswith(b"#") else "zeek_json"), name
        assert f.records + f.rejected == record_lines(data), name
        checked += 1
        if name.endswith("test10-mixed-zeek-dir/notice.log"):  # one line has a space for a tab
            assert f.rejects_by_reason == {"wrong number of fields": 1}
            assert f.first_rejects == [{"location": "line 21", "reason": "wrong number of fields"}]
        else:
            assert f.rejected == 0, (name, f.first_rejects)
    assert checked == 100


def test_tables_are_named_after_the_log_path(datasets_case: tuple[IngestSummary, Case],
                                            all_logs: dict[str, bytes]) -> None:
    summary, _ = datasets_case
    by_path = {f.path: f for f in summary.files}
    for name, data in all_logs.items():
        f = by_path.get(name)
        if f is None or f.status != INGESTED or not f.records:
            continue
        if data.lstrip(b" \t").startswith(b"#"):
            path = tsv_header(data)["path"]
        else:
            path = name.rsplit("/", 1)[-1].split(".")[0]
        assert f.tables == {f"zeek_{path}": f.records}, name


def test_types_follow_the_zeek_header(datasets_case: tuple[IngestSummary, Case]) -> None:
    _, case = datasets_case
    cols = dict(case.rows("SELECT column_name, column_type FROM (DESCRIBE zeek_conn)"))
    assert cols["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert cols["id.orig_p"] == "INTEGER" and cols["id.resp_p"] == "INTEGER"
    assert cols["id.orig_h"] == "VARCHAR" and cols["proto"] == "VARCHAR"
    assert cols["duration"] == "DOUBLE" and cols["orig_bytes"] == "BIGINT"
    assert cols["local_orig"] == "BOOLEAN" and cols["tunnel_parents"] == "VARCHAR[]"
    assert cols["label"] == "VARCHAR"  # the Stratosphere label columns come from their own header
    assert "ts" not in [c for c in cols if c != "ts"] and list(cols)[:12] == [
        "ts", "family", "host", "user", "src_ip", "src_port", "dst_ip", "dst_port", "message",
        "src_file", "src_sha256", "src_record"]
    dns = dict(case.rows("SELECT column_name, column_type FROM (DESCRIBE zeek_dns)"))
    assert dns["TTLs"] == "DOUBLE[]" and dns["answers"] == "VARCHAR[]" and dns["rtt"] == "DOUBLE"
    x509 = dict(case.rows("SELECT column_name, column_type FROM (DESCRIBE zeek_x509)"))
    assert x509["certificate.not_valid_before"] == "TIMESTAMP WITH TIME ZONE"
    http = dict(case.rows("SELECT column_name, column_type FROM (DESCRIBE zeek_http)"))
    assert "host_header" in http and "host" in http  # renamed field; core host stays null
    assert case.one("SELECT count(*) FROM zeek_http WHERE host IS NOT NULL") == (0,)
    assert case.one("SELECT count(*) FROM zeek_http WHERE host_header IS NOT NULL")[0] > 9000


def test_core_columns_of_conn_and_friends(datasets_case: tuple[IngestSummary, Case]) -> None:
    _, case = datasets_case
    n, ts, src, dst, sport, dport, fam = case.one(
        "SELECT count(*), count(ts), count(src_ip), count(dst_ip), count(src_port), count(dst_port), "
        "count(*) FILTER (family = 'zeek') FROM zeek_conn")
    assert n == 19_686 and ts == src == dst == sport == dport == fam == n
    assert case.one('SELECT count(*) FROM zeek_conn WHERE src_ip <> "id.orig_h" OR dst_port <> "id.resp_p"'
                    ) == (0,)
    row = case.one(
        "SELECT ts, src_ip, src_port, dst_ip, dst_port, query, answers, TTLs, src_record FROM zeek_dns "
        "WHERE src_file LIKE '%wrccdc%dns.log' ORDER BY src_record LIMIT 1")
    assert row == (datetime(2018, 3, 24, 17, 15, 20, 865716, tzinfo=UTC), "10.47.1.100", 41772,
                   "10.0.0.100", 53, "ise.wrccdc.org", ["ise.wrccdc.cpp.edu", "134.71.3.16"],
                   [2230.0, 41830.0], 9)
    # user and message come from each log's natural field
    assert case.one("SELECT count(*) FROM zeek_kerberos WHERE \"user\" IS DISTINCT FROM client") == (0,)
    assert case.one("SELECT count(*) FROM zeek_ftp WHERE \"user\" IS DISTINCT FROM username") == (0,)
    assert case.one("SELECT count(*) FROM zeek_ntlm WHERE \"user\" IS NOT NULL")[0] > 300
    assert case.one("SELECT count(*) FROM zeek_notice WHERE message IS DISTINCT FROM msg") == (0,)
    assert case.one("SELECT count(*) FROM zeek_weird WHERE message IS DISTINCT FROM name") == (0,)
    assert case.one("SELECT count(*) FROM zeek_syslog WHERE message IS DISTINCT FROM msg_text") == (0,)
    assert case.one("SELECT count(*) FROM zeek_files WHERE src_ip IS DISTINCT FROM "
                    "tx_hosts[1]") == (0,)
    assert case.one("SELECT count(*) FROM zeek_dhcp WHERE src_ip IS DISTINCT FROM client_addr") == (0,)
    assert case.one("SELECT count(*) FROM zeek_software WHERE src_ip IS DISTINCT FROM host_header") == (0,)
    # notices about a scanner name it in src only
    assert case.one("SELECT count(*) FROM zeek_notice WHERE src_ip IS NULL") == (0,)
    assert case.one("SELECT count(*) FROM events WHERE family = 'zeek' AND host IS NOT NULL") == (0,)


def test_labeled_stratosphere_logs_keep_their_labels(datasets_case: tuple[IngestSummary, Case]) -> None:
    _, case = datasets_case
    counts = dict(case.rows("SELECT label, count(*) FROM zeek_conn WHERE src_file LIKE '%008-zeek-mixed%' "
                           "GROUP BY 1"))
    assert counts == {"Benign": 1402, "Malicious": 4201, "Background": 60}  # as INVENTORY.tsv counts
    # `(empty)` is Zeek's empty string
    assert case.one("SELECT count(*) FROM zeek_conn WHERE src_file LIKE '%008-zeek-mixed%' "
                    "AND detailedlabel = ''") == (60,)


# --- JSON and TSV of the same content --------------------------------------------------------------

SAME_CONTENT = [
    "wrccdc-zeek-sample/zeek-default/dns.log.gz",
    "wrccdc-zeek-sample/zeek-default/notice.log.gz",
    "wrccdc-zeek-sample/zeek-default/x509.log.gz",
    "wrccdc-zeek-sample/zeek-default/kerberos.log.gz",
    "wrccdc-zeek-sample/zeek-default/smtp.log.gz",
    "wrccdc-zeek-sample/zeek-default/software.log.gz",
    "stratosphere-security-datasets/008-zeek-mixed/data/conn.log.labeled",
    "stratosphere-security-datasets/005-zeek-scenario-malicious/http.log",
    "stratosphere-slips-dataset/dataset/test10-mixed-zeek-dir/files.log",
]


@pytest.mark.parametrize("variant", ["flat", "nested_id_iso_ts"])
def test_json_and_tsv_of_the_same_content_give_the_same_rows(datasets: Path, tmp_path: Path, variant: str) -> None:
    tsv_dir, json_dir = tmp_path / "tsv", tmp_path / "json"
    tsv_dir.mkdir()
    json_dir.mkdir()
    for rel in SAME_CONTENT:
        p = datasets / rel
        data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        data = b"".join(data.splitlines(keepends=True)[:3000])  # enough of each log, and fast
        path = tsv_header(data)["path"]
        (tsv_dir / f"{path}.log").write_bytes(data)
        (json_dir / f"{path}.log").write_bytes(
            tsv_to_json(data, nested_id=variant != "flat", iso_ts=variant != "flat"))
    _, c_tsv = run([tsv_dir], tmp_path / "c_tsv")
    s_json, c_json = run([json_dir], tmp_path / "c_json", batch_rows=1000)  # several batches per file
    try:
        assert {f.format for f in s_json.files} == {"zeek_json"}
        assert all(f.rejected == 0 and not f.warnings for f in s_json.files), [f.warnings for f in s_json.files]
        assert zeek_tables(c_tsv) == zeek_tables(c_json) and len(zeek_tables(c_tsv)) == len(SAME_CONTENT)
        for table in zeek_tables(c_tsv):
            t = c_tsv.sql(f'SELECT * EXCLUDE (src_file, src_sha256, src_record) FROM "{table}" '
                          "ORDER BY src_record").to_arrow_table()
            j = c_json.sql(f'SELECT * EXCLUDE (src_file, src_sha256, src_record) FROM "{table}" '
                           "ORDER BY src_record").to_arrow_table()
            assert t.num_rows == j.num_rows > 0
            assert set(j.column_names) <= set(t.column_names), table
            for name in t.column_names:
                if name in j.column_names:
                    assert j.schema.field(name).type == t.schema.field(name).type, (table, name)
                    assert j[name].to_pylist() == t[name].to_pylist(), (table, name)
                else:  # never set in this log: Zeek's JSON leaves the key out
                    assert t[name].null_count == t.num_rows, (table, name)
    finally:
        c_tsv.close()
        c_json.close()


# --- edge cases written here -----------------------------------------------------------------------

CONN_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n"
    "#open\t2024-01-01-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tlocal_orig\t"
    "tunnel_parents\tservice\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tbool\tset[string]\tstring\n"
)


def conn_line(i: int, extra: str = "") -> str:
    return (f"1700000000.{i:06d}\tC{i}\t10.0.0.{i % 250}\t{1000 + i}\t192.0.2.1\t443\ttcp\t0.5\t{i}\tT\t"
            f"(empty)\tssl{extra}\n")


def conn_log(n: int, path: str = "conn", start: int = 0) -> str:
    return CONN_HEADER.format(path=path) + "".join(conn_line(i) for i in range(start, start + n))


def test_concatenated_logs_with_two_header_blocks(tmp_path: Path) -> None:
    dns = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
           "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tquery\tanswers\tTTLs\n"
           "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tvector[string]\tvector[interval]\n"
           "1700000001.5\tCd1\t10.0.0.1\t5353\t10.0.0.53\t53\texample.org\t192.0.2.7,192.0.2.8\t60.0,120.5\n"
           "1700000002.5\tCd2\t10.0.0.1\t5354\t10.0.0.53\t53\texample.com\t(empty)\t-\n"
           "#close\t2024-01-01-00-00-00\n")
    # a second conn block with one more field: same table, a new column
    conn2 = CONN_HEADER.replace("\tservice\n", "\tservice\tlabel\n").replace(
        "\tstring\n#", "\tstring\tstring\n#").format(path="conn") + conn_line(7, "\tMalicious")
    f = tmp_path / "joined.log"
    f.write_text(conn_log(3) + "#close\t2024-01-01-00-00-00\n" + dns + conn2)
    summary, case = run([f], tmp_path / "case", batch_rows=2)
    with case:
        e = entry(summary, f)
        assert (e.records, e.rejected, e.tables) == (6, 0, {"zeek_conn": 4, "zeek_dns": 2})
        assert case.rows("SELECT src_record, label FROM zeek_conn ORDER BY 1") == [
            (9, None), (10, None), (11, None), (31, "Malicious")]
        assert case.rows("SELECT query, answers, TTLs, dst_port FROM zeek_dns ORDER BY src_record") == [
            ("example.org", ["192.0.2.7", "192.0.2.8"], [60.0, 120.5], 53), ("example.com", [], None, 53)]


def test_crlf_bom_and_lf_give_the_same_rows(tmp_path: Path) -> None:
    text = conn_log(50)
    (tmp_path / "lf").mkdir()
    (tmp_path / "crlf").mkdir()
    (tmp_path / "lf" / "conn.log").write_text(text)
    (tmp_path / "crlf" / "conn.log").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    _, a = run([tmp_path / "lf"], tmp_path / "a")
    _, b = run([tmp_path / "crlf"], tmp_path / "b")
    with a, b:
        q = "SELECT * EXCLUDE (src_file, src_sha256) FROM zeek_conn ORDER BY src_record"
        rows = a.rows(q)
        assert len(rows) == 50 and rows == b.rows(q)
        assert a.rows("SELECT DISTINCT service FROM zeek_conn") == [("ssl",)]  # no CR left


def test_truncated_last_line_and_short_line_are_rejected(tmp_path: Path) -> None:
    text = conn_log(5)
    lines = text.splitlines(keepends=True)
    lines[10] = "1700000000.000002\tC2\t10.0.0.2\n"  # too few fields
    f = tmp_path / "conn.log"
    f.write_text("".join(lines) + conn_line(9)[:40])  # cut mid-line, no newline
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert e.records == 4 and e.rejected == 2
        assert e.rejects_by_reason == {"wrong number of fields": 2}
        assert [r["location"] for r in e.first_rejects] == ["line 11", "line 14"]
        assert case.one("SELECT excerpt FROM rejects WHERE location = 'line 11'") == (lines[10][:-1],)
        assert record_lines(f.read_bytes()) == e.records + e.rejected


def test_values_not_of_their_type_become_null_with_a_warning(tmp_path: Path) -> None:
    f = tmp_path / "conn.log"
    f.write_text(conn_log(2) + conn_line(2).replace("\t0.5\t2\tT\t", "\tlong\t-3x\tmaybe\t")
                 + conn_line(3).replace("\t1003\t", "\t99999999999\t"))
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert (e.records, e.rejected) == (4, 0)
        rows = case.rows('SELECT duration, orig_bytes, local_orig, "id.orig_p", src_port FROM zeek_conn '
                        "ORDER BY src_record")
        assert rows == [(0.5, 0, True, 1000, 1000), (0.5, 1, True, 1001, 1001), (None, None, None, 1002, 1002),
                        (0.5, 3, True, None, None)]
        warned = " ".join(e.warnings)
        for field in ("'duration'", "'orig_bytes'", "'local_orig'", "'id.orig_p'"):
            assert field in warned


def test_invalid_utf8_is_replaced_and_reported(tmp_path: Path) -> None:
    f = tmp_path / "conn.log"
    f.write_bytes(conn_log(2).encode() + conn_line(5).replace("\tssl\n", "\tssl\xff\n").encode("latin-1"))
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert (e.records, e.rejected) == (3, 0)
        assert case.one("SELECT service FROM zeek_conn ORDER BY src_record DESC LIMIT 1") == ("ssl\ufffd",)
        assert any("invalid UTF-8" in w for w in e.warnings)


@pytest.mark.parametrize("evil", ["../../etc", "conn; DROP TABLE zeek_conn", "Conn\x01", "x" * 80, ""])
def test_evil_path_goes_to_zeek_unknown(tmp_path: Path, evil: str) -> None:
    f = tmp_path / "evil.log"
    f.write_text(conn_log(3, path=evil))
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert e.tables == {"zeek_unknown": 3} and e.rejected == 0
        assert any("zeek_unknown" in w for w in e.warnings)
        assert zeek_tables(case) == ["zeek_unknown"]
        assert sorted(p.name for p in (tmp_path / "case" / "events").iterdir()) == ["zeek_unknown"]
        assert not (tmp_path / "etc").exists()


def test_log_type_from_the_file_name_when_there_is_no_path(tmp_path: Path) -> None:
    names = {"conn.00:00:00-01:00:00.log": "zeek_conn", "dns.log.labeled": "zeek_dns",
             "weird.log": "zeek_weird", "labeled-conn.log": "zeek_conn", "2024 notes.txt": "zeek_unknown"}
    for i, name in enumerate(names):  # different content, or the files would be duplicates
        (tmp_path / name).write_text(conn_log(2, start=10 * i).replace("#path\tconn\n", ""))
    summary, case = run([tmp_path / n for n in names], tmp_path / "case")
    with case:
        for name, table in names.items():
            assert entry(summary, tmp_path / name).tables == {table: 2}, name
    assert zeek.log_type_from_name("/x/conn.log.gz!conn.log") == "conn"
    assert zeek.log_type_from_name("a.zip!logs/json_streaming_dns.1.log") == "dns"


def test_markers_escapes_and_a_custom_separator(tmp_path: Path) -> None:
    text = ("#separator \\x7c\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n#path|http\n"
            "#fields|ts|uid|host|uri|tags|status_code\n#types|time|string|string|string|set[enum]|count\n"
            "1700000000.25|C1|a\\x7cb.example|\\x2d|x;y|200\n"
            "1700000001.25|C2|NONE|EMPTY|EMPTY|NONE\n"
            "1700000002.25|C3|caf\\xc3\\xa9|-|NONE|404\n")
    f = tmp_path / "http.log"
    f.write_text(text)
    summary, case = run([f], tmp_path / "case")
    with case:
        assert entry(summary, f).records == 3
        assert case.rows("SELECT host_header, uri, tags, status_code FROM zeek_http ORDER BY src_record") == [
            ("a|b.example", "-", ["x", "y"], 200), (None, "", [], None), ("café", "-", None, 404)]


def test_data_before_any_header_and_empty_lines(tmp_path: Path) -> None:
    f = tmp_path / "conn.log"
    f.write_text("#separator \\x09\n" + conn_line(1) + "\n" + conn_log(2)[len("#separator \\x09\n"):] + "\n\n")
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert (e.records, e.rejected) == (2, 1)
        assert e.rejects_by_reason == {"data line without a valid #fields header": 1}
        assert any("empty lines" in w for w in e.warnings)


def test_header_only_file_stores_nothing(tmp_path: Path) -> None:
    f = tmp_path / "conn.log"
    f.write_text(CONN_HEADER.format(path="conn") + "#close\t2024-01-01-00-00-00\n")
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert (e.format, e.records, e.rejected) == ("zeek_tsv", 0, 0)


def test_json_edge_cases(tmp_path: Path) -> None:
    lines = [
        {"_path": "conn", "ts": 1700000000.5, "uid": "C1", "id.orig_h": "10.0.0.1", "id.orig_p": 1234,
         "id.resp_h": "10.0.0.2", "id.resp_p": 80, "proto": "tcp", "duration": 1.5},
        {"_path": "dns", "ts": "2023-11-14T22:13:21.123456Z", "uid": "C2",
         "id": {"orig_h": "10.0.0.1", "orig_p": 53000, "resp_h": "10.0.0.53", "resp_p": 53},
         "query": "example.org", "answers": ["192.0.2.1"], "TTLs": [60]},
        {"_path": "conn", "ts": 1700000001, "uid": "C3", "id.orig_h": "10.0.0.3", "id.orig_p": "not a port",
         "duration": 2},
        {"_path": "../../etc/passwd", "ts": 1700000002.0, "uid": "C4"},
    ]
    text = "\n".join(json.dumps(d) for d in lines)
    text += '\n{"ts": 1, "uid": "C5", broken\n[1, 2]\n\n   \n'
    f = tmp_path / "json_streaming.log"
    f.write_text(text)
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert e.format == "zeek_json"
        assert e.tables == {"zeek_conn": 2, "zeek_dns": 1, "zeek_unknown": 1}
        assert e.rejected == 2 and e.rejects_by_reason["JSON line is not an object"] == 1
        assert [r["location"] for r in e.first_rejects] == ["line 5", "line 6"]
        assert e.first_rejects[0]["reason"].startswith("invalid JSON")
        assert e.records + e.rejected == record_lines(f.read_bytes())
        assert case.rows('SELECT src_ip, src_port, "id.orig_p", duration FROM zeek_conn ORDER BY src_record'
                        ) == [("10.0.0.1", 1234, 1234, 1.5), ("10.0.0.3", None, None, 2.0)]
        assert case.rows("SELECT ts, src_ip, dst_port, answers, TTLs FROM zeek_dns") == [
            (datetime(2023, 11, 14, 22, 13, 21, 123456, tzinfo=UTC), "10.0.0.1", 53, ["192.0.2.1"], [60.0])]
        assert any("'id.orig_p'" in w for w in e.warnings)


def test_sniffing(datasets: Path) -> None:
    tsv = (datasets / "stratosphere-security-datasets/005-zeek-scenario-malicious/conn.log").read_bytes()[:65536]
    js = (datasets / "stratosphere-security-datasets/002-zeek-scenario-port-scanning/conn.log").read_bytes()[:65536]
    soft = (datasets / "stratosphere-slips-dataset/dataset/test9-mixed-zeek-dir/software.log").read_bytes()
    eve = (datasets / "stratosphere-slips-dataset/dataset/test6-malicious.suricata.json").read_bytes()[:65536]
    win = b'{"EventID": 4624, "Channel": "Security", "Hostname": "DC1", "ts": 1, "uid": "x"}\n'
    assert zeek.sniff_tsv(tsv, "x") and not zeek.sniff_json(tsv, "conn.log")
    assert zeek.sniff_json(js, "anything.txt") and not zeek.sniff_tsv(js, "conn.log")
    assert zeek.sniff_json(soft, "software.log") and not zeek.sniff_json(soft, "notes.json")
    assert not zeek.sniff_json(eve, "eve.json") and not zeek.sniff_json(win, "conn.log")
    r = detect(tsv, "x.log")
    assert r is not None and r.name == "zeek_tsv"
    r = detect(js, "conn.log")
    assert r is not None and r.name == "zeek_json"


def test_many_log_types_in_one_file_are_capped(tmp_path: Path) -> None:
    f = tmp_path / "streaming.log"
    f.write_text("".join(json.dumps({"_path": f"p{i}", "ts": 1700000000 + i, "uid": f"C{i}"}) + "\n"
                         for i in range(200)))
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert e.records == 200 and e.rejected == 0
        assert len(e.tables) == zeek._Tables.MAX_TABLES + 1 and e.tables["zeek_unknown"] == 200 - 64
        assert any("too many log types" in w for w in e.warnings)


def test_utf16_and_uint64_counts(tmp_path: Path) -> None:
    text = conn_log(3) + conn_line(3).replace("\t3\tT\t", "\t18446744073709551615\tT\t")
    f = tmp_path / "conn.log"
    f.write_bytes(text.encode("utf-16"))  # with a BOM
    summary, case = run([f], tmp_path / "case")
    with case:
        e = entry(summary, f)
        assert (e.format, e.records, e.rejected) == ("zeek_tsv", 4, 0)
        assert case.rows("SELECT orig_bytes FROM zeek_conn ORDER BY src_record") == [(0,), (1,), (2,), (None,)]
        assert any("'orig_bytes'" in w and "count" in w for w in e.warnings)


def test_mutated_logs_never_raise_and_every_line_is_accounted_for(datasets: Path, tmp_path: Path) -> None:
    """Garbage mixed into real logs (seeded, so reproducible): rows + rejects always match the lines."""
    bases = [
        (zeek.read_tsv, (datasets / "stratosphere-security-datasets/008-zeek-mixed/data/http.log.labeled"
                         ).read_bytes()[:12000]),
        (zeek.read_json, (datasets / "stratosphere-slips-dataset/dataset/test9-mixed-zeek-dir/files.log"
                          ).read_bytes()[:12000]),
    ]
    tokens = [b"\t", b"\n", b"#", b"-", b"(empty)", b"\\x", b"\xff", b"\r", b"{", b"}", b'"', b",", b"\x00",
              b"#separator \\x7c\n", b"#fields\ta\n", b"#path\t../x\n", b"1e400", b"99999999999999999999"]
    rnd = random.Random(20240101)
    for it in range(120):
        read, base = bases[it % 2]
        data = bytearray(base)
        for _ in range(rnd.randint(1, 25)):
            pos = rnd.randrange(len(data))
            op = rnd.random()
            if op < 0.4:
                data[pos:pos] = rnd.choice(tokens)
            elif op < 0.7:
                del data[pos:pos + rnd.randint(1, 50)]
            else:
                data[pos] = rnd.randrange(256)
        p = tmp_path / f"m{it}.log"
        p.write_bytes(bytes(data))
        ctx = ReadContext(SourceInfo("x.log", p, "", len(data), 0.0), IngestOptions(batch_rows=rnd.choice([3, 64])))
        rows = sum(b.num_rows for _, b in read(ctx))
        expected = record_lines(bytes(data)) if read is zeek.read_tsv else sum(
            1 for ln in lines_of(bytes(data)) if ln.strip())  # in JSON a '#' line is a bad record
        assert rows + ctx.rejected == expected, it

"""Event fields are never shadowed by core columns (or by each other) ignoring case: DuckDB and Spark
match names ignoring case, so a Sysmon `User` beside the core `user` became `User_1` and rules
silently missed it. Checked over every reader (each on a real sample, or on a file built with hostile
field names), over every Zeek header in the shared datasets, and on generated Zeek headers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breachscope.detect.sigma.fields import TableInfo
from breachscope.detect.sigma.sqlgen import Ref
from breachscope.engines.duckdb_case import open_case
from breachscope.ingest.registry import READERS
from breachscope.ingest.zeek.layout import spec_for
from breachscope.model.schema import (
    CORE_NAMES,
    FIXED_SCHEMAS,
    LAYOUT_META,
    LAYOUT_VERSION,
    WINDOWS_SCHEMA,
    case_collisions,
    field_columns,
    field_of,
)
from tests.conftest import DATASETS, SIGMA, run_ingest
from tests.test_reader_flows import nfdump_text

FIXTURES = Path(__file__).parent / "fixtures"
SLIPS = DATASETS / "stratosphere-slips-dataset" / "dataset"
ZEEK_TSV = DATASETS / "wrccdc-zeek-sample" / "zeek-default"
# names a hostile or odd source could use: every core column in three spellings, and the Windows pairs
CLASHING = [v for n in CORE_NAMES for v in (n, n.upper(), n.capitalize())] + ["ProcessID", "ProcessId", "processid"]


def _winlogbeat(tmp: Path) -> Path:
    data = {k: f"v-{k}" for k in CLASHING}
    path = tmp / "winlogbeat.json"
    path.write_text(json.dumps({"@timestamp": "2025-02-05T01:00:00Z", "winlog": {
        "channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "computer_name": "WS1",
        "record_id": 7, "process": {"pid": 2212, "thread": {"id": 3}}, "event_data": data}}) + "\n")
    return path


def _zeek_json(tmp: Path) -> Path:
    path = tmp / "odd.log"
    row = {"ts": 1.5, "_path": "odd", **{k: f"v-{k}" for k in CLASHING if k != "ts"}, "host_header": "real"}
    path.write_text(json.dumps(row) + "\n")
    return path


def _nfdump(tmp: Path) -> Path:
    path = tmp / "flows.csv"
    path.write_text(nfdump_text(3))
    return path


def _vpc(tmp: Path) -> Path:
    path = tmp / "vpc.log"
    path.write_text("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
                    "action log-status\n2 1 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 "
                    "1418530070 ACCEPT OK\n")
    return path


#: One input per reader: a real sample where the datasets have one, else a file built here.
SAMPLES = {
    "evtx": lambda tmp: [DATASETS / "evtx-attack-samples" / "Execution" / "sysmon_exec_from_vss_persistence.evtx"],
    "evtx_json": lambda tmp: [SIGMA / "regression_data" / "rules" / "windows" / "process_creation"
                              / "proc_creation_win_bitsadmin_download" / "d059842b-6b9d-4ed1-b5c3-5b89143c6ede.json"],
    "zeek_tsv": lambda tmp: [ZEEK_TSV / n for n in ("ftp.log.gz", "known_hosts.log.gz", "notice.log.gz", "rdp.log.gz")],
    "zeek_json": lambda tmp: [SLIPS / "test9-mixed-zeek-dir", _zeek_json(tmp)],
    "windows_json": lambda tmp: [_winlogbeat(tmp)],
    "pgaudit": lambda tmp: [FIXTURES / "pgaudit" / "csvlog.csv"],
    "mariadb_audit": lambda tmp: [DATASETS / "db-audit-samples" / "mariadb-server_audit"
                                  / "server_audit.result.audit_lines.csv"],
    "mysql_general": lambda tmp: [FIXTURES / "mysql_general" / "general_mysql8.log"],
    "argus_binetflow": lambda tmp: [SLIPS / "test11-portscan.binetflow"],
    "nfdump_csv": lambda tmp: [_nfdump(tmp)],
    "netflow_csv": lambda tmp: [_vpc(tmp)],
    "pcap": lambda tmp: [SLIPS / "test-cc" / "test-cc-capture-2.pcap"],  # flow, zeek_dns, zeek_ssl
    "syslog": lambda tmp: [DATASETS / "cisco-ios-syslog-samples" / "elastic-integrations" / "packages" / "cisco_ios"
                           / "data_stream" / "log" / "_dev" / "test" / "pipeline" / "test-cisco-ios.log"],
}


def test_every_reader_has_a_sample() -> None:
    assert set(SAMPLES) == {r.name for r in READERS}


def test_fixed_schemas_are_unique_ignoring_case() -> None:
    for name, schema in FIXED_SCHEMAS.items():
        assert case_collisions(schema.names) == [], name
        assert schema.metadata[LAYOUT_META] == LAYOUT_VERSION


@pytest.mark.parametrize("reader", sorted(SAMPLES))
def test_reader_writes_columns_unique_ignoring_case(reader: str, tmp_path: Path) -> None:
    summary = run_ingest(SAMPLES[reader](tmp_path), tmp_path / "case")
    assert reader in {f.format for f in summary.files}, [(f.path, f.format, f.status) for f in summary.files]
    with open_case(tmp_path / "case") as c:
        for table, files in c.tables.items():
            for f in files:
                schema = pq.read_schema(f)
                assert case_collisions(schema.names) == [], (table, f)
                assert schema.metadata[LAYOUT_META] == LAYOUT_VERSION, (table, f)
            # DuckDB renamed nothing (a clash shows as Name_1) and the field map came through
            viewed = c.schemas()[table]
            if files:
                assert set(viewed.names) <= {n for f in files for n in pq.read_schema(f).names}, table
            info = TableInfo.from_schema(table, viewed)
            for col, field in info.renamed_columns.items():
                assert info.fields[field] == col


def test_hostile_windows_field_names_each_keep_their_value(tmp_path: Path) -> None:
    """Every spelling of a core name in EventData is its own field; Sysmon's User its own column."""
    run_ingest([_winlogbeat(tmp_path)], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        info = TableInfo.from_schema("windows", c.schemas()["windows"])
        row = c.sql("SELECT * FROM windows").to_arrow_table().to_pylist()[0]
    assert info.resolver({})("User") == Ref("str", "EventData_User")
    assert row["EventData_User"] == "v-User" and row["user"] == "v-User"  # core user derived from User
    assert info.resolver({})("ProcessId") == Ref("str", "ProcessId") and row["ProcessId"] == "v-ProcessId"
    assert row["Execution_ProcessID"] == 2212 and row["Execution_ThreadID"] == 3
    extra = dict(row["extra"])
    for name in CLASHING:
        if name not in ("User", "ProcessId"):
            assert info.resolver({})(name) == Ref("str", "extra", key=name), name
            assert extra[name] == f"v-{name}"


def _zeek_headers() -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """(log path, fields) of every Zeek TSV header block in the shared datasets."""
    out = set()
    for f in DATASETS.rglob("*"):
        if not f.is_file() or f.stat().st_size > 64 << 20 or not (".log" in f.name or f.suffix == ".labeled"):
            continue
        opener = gzip.open if f.suffix == ".gz" else open
        try:
            with opener(f, "rt", errors="replace") as fh:
                head = [fh.readline() for _ in range(12)]
        except (OSError, EOFError):
            continue
        meta = {ln.split("\t", 1)[0]: ln.rstrip("\n").split("\t")[1:] for ln in head if ln.startswith("#")}
        if "#fields" in meta and "#types" in meta and len(meta["#fields"]) == len(meta["#types"]):
            path = (meta.get("#path") or ["unknown"])[0]
            out.add((path, tuple(zip(meta["#fields"], meta["#types"], strict=True))))
    return sorted(out)


def _check_zeek_layout(path: str, declared: tuple[tuple[str, str], ...]) -> None:
    spec = spec_for(path, f"zeek_{path}", declared)
    assert case_collisions(spec.schema.names) == [], declared
    fields = field_columns(spec.schema, spec.table)
    by_column = {f.name: field_of(f) for f in spec.schema}
    for i, (name, col, _) in enumerate(spec.fields):  # each column records the field it holds
        if col is not None:
            assert by_column[col] == (name if name.strip() else f"field_{i + 1}"), (name, col)
    seen: set[str] = set()
    for name, col, _ in spec.fields:  # a field's first column answers the field's name
        if name in seen:
            continue
        seen.add(name)
        if col is None:  # Zeek's ts is the core ts
            assert fields[name] == "ts"
        elif name == by_column[col]:
            assert fields[name] == col, (name, col)


def test_every_zeek_header_in_the_datasets() -> None:
    headers = _zeek_headers()
    assert len(headers) >= 40  # the datasets hold that many distinct header blocks
    for path, declared in headers:
        _check_zeek_layout(path, declared)
    http = next(d for p, d in headers if p == "http")
    schema = spec_for("http", "zeek_http", http).schema
    assert field_columns(schema, "zeek_http")["host"] == "host_header" and "host" in schema.names  # core host


NAMES = st.sampled_from([*CLASHING, "host_header", "username", "msg_text", "zeek_user", "zeek_host", "User_2",
                         "a", "A", "uid", "id.orig_h", ""])


@settings(max_examples=300, deadline=None)
@given(st.lists(NAMES, min_size=1, max_size=12))
def test_generated_zeek_headers_never_clash(names: list[str]) -> None:
    _check_zeek_layout("gen", tuple((n, "string") for n in names))


def test_windows_schema_field_map() -> None:
    fields = field_columns(WINDOWS_SCHEMA, "windows")
    assert fields["User"] == "EventData_User" and "user" not in fields  # core user is derived: no rule field
    assert "ProcessID" not in fields and fields["ProcessId"] == "ProcessId"
    assert fields["Execution_ProcessID"] == "Execution_ProcessID"

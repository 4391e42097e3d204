"""One connection policy and a case apart from its engine: the per-process scratch connection is the
child's own after a fork, the case folder opens with no engine at all, the case's views merge parts
the way the Spark engine is told they do, and pySigma is set up when rules are compiled, not on import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.engines import local
from breachscope.engines.case_tables import case_tables, merged_schemas
from breachscope.engines.duckdb_case import open_case
from breachscope.model.case_folder import CaseFolder
from breachscope.model.sql import quote_backslash_literal, quote_ident, quote_literal
from tests.conftest import run_ingest

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_scratch_connection_is_the_processs_own_after_fork() -> None:
    parent = local.scratch()
    assert local.scratch() is parent  # one per process
    parent.execute("CREATE TEMP TABLE only_in_parent AS SELECT 1 AS x")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a connection of its own, without the parent's state, and working
        try:
            child = local.scratch()
            names = [r[0] for r in child.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
            ok = child is not parent and "only_in_parent" not in names \
                and child.execute("SELECT regexp_matches('abc', 'b')").fetchall() == [(True,)]
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.close(read)
    os.waitpid(pid, 0)
    assert local.scratch() is parent  # the parent's is untouched
    parent.execute("DROP TABLE only_in_parent")


def test_case_folder_opens_without_any_engine(tmp_path: Path) -> None:
    (tmp_path / "ev.json").write_text(json.dumps({"@timestamp": "2025-02-05T01:00:00Z", "winlog": {
        "channel": "Security", "event_id": 4624, "computer_name": "DC1", "record_id": 1,
        "event_data": {"TargetUserName": "alice"}}}) + "\n")
    run_ingest([tmp_path / "ev.json"], tmp_path / "case")
    out = _python(
        "import sys, json\n"
        "from breachscope.model.case_folder import CaseFolder\n"
        f"f = CaseFolder.open({str(tmp_path / 'case')!r})\n"
        "print(json.dumps([sorted(f.part_files()), len(f.state.files), 'duckdb' in sys.modules]))")
    assert json.loads(out) == [["windows"], 1, False]


def test_merged_schemas_are_the_duckdb_views_schemas(tmp_path: Path) -> None:
    """The Spark engine is given the schemas the DuckDB case shows (without opening the case in DuckDB):
    parts whose columns differ only in case and in type are merged the same way."""
    (tmp_path / "a.json").write_text(json.dumps({"@timestamp": "2025-02-05T01:00:00Z", "winlog": {
        "channel": "Security", "event_id": 4624, "computer_name": "DC1", "record_id": 1,
        "event_data": {"TargetUserName": "alice", "LogonType": "3"}}}) + "\n")
    run_ingest([tmp_path / "a.json"], tmp_path / "case")
    (tmp_path / "b.json").write_text(json.dumps({"@timestamp": "2025-02-05T02:00:00Z", "winlog": {
        "channel": "Security", "event_id": 4688, "computer_name": "WS1", "record_id": 2,
        "event_data": {"NewProcessName": "C:\\x.exe", "Extra": 7}}}) + "\n")
    run_ingest([tmp_path / "b.json"], tmp_path / "case")
    folder = CaseFolder.open(tmp_path / "case")
    assert len(folder.part_files()["windows"]) == 2
    merged = merged_schemas(case_tables(folder))
    with open_case(tmp_path / "case") as c:
        assert merged == c.schemas()
        assert all(merged[t].equals(s, check_metadata=True) for t, s in c.schemas().items())


def test_parts_of_another_schema_merge_like_duckdb(tmp_path: Path) -> None:
    """A table of parts whose column types differ: the merged schema is DuckDB's union_by_name."""
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"x": pa.array([1], pa.int32()), "Name": ["n"]}), a)
    pq.write_table(pa.table({"x": pa.array([2], pa.int64()), "y": ["z"]}), b)
    schemas = merged_schemas({"other": [str(a), str(b)]})
    assert [(f.name, str(f.type)) for f in schemas["other"]] == [("x", "int64"), ("Name", "string"),
                                                                     ("y", "string")]


def test_pysigma_is_set_up_when_rules_compile_not_on_import() -> None:
    out = _python(
        "from sigma.modifiers import modifier_mapping\n"
        "from breachscope.detect.sigma import loader\n"
        "before = 'utf16le' in modifier_mapping\n"
        "rule = b'title: t\\nlogsource: {product: windows}\\ndetection:\\n  s: {CommandLine|utf16le|base64: ab}\\n'"
        "  b'  condition: s\\n'\n"
        "got = loader.compile_file('r.yml', rule, {})\n"
        "again = loader.compile_file('r.yml', rule, {})\n"
        "print(before, len(got['rules']), got['problems'], again == got, modifier_mapping['utf16le'].__name__)")
    assert out == "False 1 [] True SigmaWideModifier"


def test_quoting() -> None:
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_ident("a`b", "`") == "`a``b`"
    assert quote_literal("it's C:\\x") == "'it''s C:\\x'"
    assert quote_backslash_literal("it's C:\\x") == "'it\\'s C:\\\\x'"
    con = local.connect()
    try:
        for text in ("it's", "a\\b", "'; DROP TABLE t; --", "\"", ""):
            assert con.execute(f"SELECT {quote_literal(text)} AS {quote_ident(text or 'e')}").fetchall() == [(text,)]
    finally:
        con.close()


"""`ingest --engine spark` makes the case the local ingest makes: the same rows in every table (events and
rejects, provenance included), the same manifest entries, whatever the part files; big JSON-lines files read
in chunks on several tasks give what reading them whole gives. The case then answers `query` and `hunt` on
both engines. Spark in local mode, as in tests/test_spark_engine.py."""

from __future__ import annotations

import codecs
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.engines.spark_case import spark_session
from breachscope.engines.spark_ingest import ingest_on_spark
from breachscope.ingest.context import IngestOptions
from breachscope.ingest.pipeline import IngestSummary, ingest
from breachscope.model.case import CaseLayout, load_state
from tests.conftest import DATASETS, SIGMA

OTRF = DATASETS / "otrf-security-datasets" / "datasets" / "atomic" / "windows" / "credential_access" / "host"
CISCO = DATASETS / "cisco-ios-syslog-samples" / "elastic-integrations" / "packages" / "cisco_ios" / "data_stream"
ZEEK = DATASETS / "stratosphere-slips-dataset" / "dataset" / "test9-mixed-zeek-dir"
EVTX = DATASETS / "evtx-attack-samples" / "Credential Access"
CHUNK = 256 << 10  # small chunks: the 1.5 MB JSON-lines file is read by 6 tasks
OPTIONS = IngestOptions(max_record_bytes=256 << 10)
SECURITY_RULES = SIGMA / "rules" / "windows" / "builtin" / "security"
RULES = ("vssaudit_secevent_source_registration", "default_domain_gpo_modification", "audit_log_cleared",
         "ad_replication_non_machine_account", "ad_replication_machine_account")  # each finds events here
CHUNK_PART = re.compile(r"-c\d{5}-(\d{4})-\d{4}\.parquet$")  # a part of a chunk (engines/spark_ingest.py)


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pyspark is not installed (the `spark` extra)")
    spark, owned = spark_session("local[2]")
    yield spark
    if owned:
        spark.stop()


def _evidence(root: Path) -> list[Path]:
    """Shared dataset files, and files built here: JSON lines with bad lines of every kind spread over the
    chunks, an unknown format, an empty file, a duplicate under another name."""
    built = root / "built"
    built.mkdir()
    with zipfile.ZipFile(OTRF / "cmd_sam_copy_esentutl.zip") as z:
        lines = z.read(z.namelist()[0]).splitlines(keepends=True)
    bad = [b"{broken json\n", b"[1, 2]\n", b'{"not": "a windows event"}\n', b"\n",
           b'{"EventID": 4624, "Channel": "Security", "Message": "\xff\xfe bad utf-8", "Hostname": "h"}\n',
           b'{"x": "' + b"A" * (300 << 10) + b'"}\n',  # over --max-record-bytes
           b'{"EventID": 1, "winlog": 5, "\\ud800": "lone surrogate"}\r\n']
    mixed = []
    for i, line in enumerate(lines):
        mixed.append(line if i % 7 else line.replace(b"\n", b"\r\n"))
        if i % 70 == 3:
            mixed.append(bad[(i // 70) % len(bad)])
    (built / "winlogs.json").write_bytes(b"".join(mixed))
    (built / "small.json").write_bytes(b"".join(lines[:50]) + b"{cut\n" + lines[50].rstrip(b"\n"))
    (built / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    (built / "empty.log").write_bytes(b"")
    shutil.copyfile(ZEEK / "dns.log", built / "dns-copy.log")
    return [built, OTRF / "cmd_sam_copy_esentutl.zip", CISCO / "log" / "_dev" / "test" / "pipeline",
            ZEEK / "conn.log", ZEEK / "dns.log", ZEEK / "http.log",
            EVTX / "CA_DCSync_4662.evtx", EVTX / "ACL_ForcePwd_SPNAdd_User_Computer_Accounts.evtx"]


def _tables(case: Path) -> dict[str, list[str]]:
    """Every committed table's rows (rejects included), in an order of their own; the parts' schemas."""
    out: dict[str, list[str]] = {}
    for table, parts in load_state(CaseLayout(case)).parts_by_table().items():
        rows = out.setdefault(table, [])
        schemas = set()
        for part in parts:
            data = pq.read_table(case / part.path)
            schemas.add(data.schema.to_string())
            rows.extend(json.dumps(r, sort_keys=True, default=str) for r in data.to_pylist())
        rows.sort()
        out[f"{table} schemas"] = sorted(schemas)
    return out


def _manifest(case: Path) -> list[dict[str, Any]]:
    """The entries, apart from durations and the order of the first rejects listed (it follows the reader's
    batches, which chunks change; the rejects table has them all)."""
    entries = [{**f.to_dict(), "duration_s": None, "first_rejects": sorted(f.first_rejects, key=json.dumps)}
               for f in load_state(CaseLayout(case)).files]
    return sorted(entries, key=lambda e: (e["path"], e["sha256"]))


def _summary(summary: IngestSummary) -> dict[str, Any]:
    d = summary.to_dict()
    for key in ("run_id", "case", "duration_s"):
        d.pop(key)
    for f in d["files_with_rejects"]:  # type: ignore[union-attr]  # a list of dicts
        f.pop("first")  # the first three of first_rejects: see _manifest
    return {k: sorted(v, key=json.dumps) if isinstance(v, list) else v for k, v in d.items()}


@pytest.fixture(scope="module")
def cases(session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same evidence ingested locally and on Spark."""
    root = tmp_path_factory.mktemp("spark-ingest")
    evidence = [str(p) for p in _evidence(root)]
    local = ingest(evidence, root / "local", OPTIONS, jobs=1)
    spark = ingest_on_spark(evidence, root / "spark", OPTIONS, chunk_bytes=CHUNK)
    return {"evidence": evidence, "root": root, "local": local, "spark": spark}


def test_spark_ingest_makes_the_local_case(cases: dict[str, Any]) -> None:
    root, local, spark = cases["root"], cases["local"], cases["spark"]
    chunked = {m[1] for p in (root / "spark" / "events" / "windows").iterdir() if (m := CHUNK_PART.search(p.name))}
    assert len(chunked) >= 4  # the big JSON-lines file was read in chunks, by several tasks

    tables = _tables(root / "spark")
    assert tables == _tables(root / "local")
    assert {"windows", "syslog", "zeek_conn", "zeek_http", "rejects"} <= tables.keys()
    assert _manifest(root / "spark") == _manifest(root / "local")
    assert _summary(spark) == _summary(local)
    built = next(f for f in spark.files if f.path.endswith("winlogs.json"))
    assert 10 <= built.rejected == len(built.first_rejects) <= 20 and built.warnings, built
    assert {f.status for f in spark.files} >= {"ingested", "empty", "duplicate", "unrecognized", "expanded"}
    assert not (root / "spark" / "tmp").exists()  # no staging folder left behind

    # the command: ingesting again is a no-op, on Spark as locally
    result = CliRunner().invoke(app, ["ingest", *cases["evidence"], "--case", str(root / "spark"),
                                      "--engine", "spark", "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["records"] == 0 and again["files_already_in_case"] == len(local.files) - 1  # duplicates too
    assert _tables(root / "spark") == tables

    # --force: the chunked file forgotten, then read again into the same rows
    winlogs = str(root / "built" / "winlogs.json")
    forced = ingest_on_spark([winlogs], root / "spark", OPTIONS, force=True, chunk_bytes=CHUNK)
    assert forced.forced is not None and forced.records == built.records
    assert _tables(root / "spark") == tables
    assert _manifest(root / "spark") == _manifest(root / "local")


def test_the_spark_case_answers_query_and_hunt(cases: dict[str, Any]) -> None:
    root = cases["root"]
    runner = CliRunner()
    count = "SELECT src_file, count(*) AS n FROM events GROUP BY src_file ORDER BY src_file"
    answers = []
    for case in ("local", "spark"):
        result = runner.invoke(app, ["query", "--case", str(root / case), count, "--format", "json"])
        assert result.exit_code == 0, result.output
        answers.append(result.stdout)
    assert answers[0] == answers[1] and "winlogs.json" in answers[0]
    rules = [str(SECURITY_RULES / f"win_security_{name}.yml") for name in RULES]
    found = {}
    for case, engine in (("local", "duckdb"), ("spark", "duckdb"), ("spark", "spark")):
        out = root / f"{case}-{engine}.jsonl"
        result = runner.invoke(app, ["hunt", str(root / case), "--rules", *rules, "--no-builtin-rules",
                                     "--engine", engine, "--analytics", "none", "--format", "jsonl",
                                     "--out", str(out)])
        assert result.exit_code == 0, result.output
        found[(case, engine)] = sorted(json.dumps({k: v for k, v in json.loads(x).items() if k != "seconds"},
                                                  sort_keys=True) for x in out.read_text().splitlines())
    assert len(found[("local", "duckdb")]) >= 30
    assert found[("spark", "duckdb")] == found[("local", "duckdb")] == found[("spark", "spark")]


class _Tasks:
    """A stand-in for the SparkContext that runs the tasks here, one after the other (the chunk and commit
    logic without a JVM)."""

    defaultParallelism = 2

    def __init__(self, data: list[Any] | None = None) -> None:
        self.data = data or []

    def parallelize(self, data: list[Any], _slices: int) -> _Tasks:
        return _Tasks(list(data))

    def map(self, fn: Any) -> _Tasks:
        return _Tasks([fn(x) for x in self.data])

    def collect(self) -> list[Any]:
        return self.data

    @property
    def context(self) -> _Tasks:
        return self

    def setJobGroup(self, *_args: object, **_kwargs: object) -> None:
        pass

    def cancelJobGroup(self, _group: str) -> None:
        pass


@pytest.mark.parametrize("chunk", [700, 3000, 1 << 14])
def test_chunks_read_what_the_whole_file_gives(tmp_path: Path, chunk: int) -> None:
    """Chunk borders anywhere: CRLF, blank lines, a BOM, lines over --max-record-bytes across borders, bad
    UTF-8, a last line without its line end; the rows, rejects and entry equal the whole file's."""
    with zipfile.ZipFile(OTRF / "cmd_sam_copy_esentutl.zip") as z:
        lines = z.read(z.namelist()[0]).splitlines()[:60]
    out = [codecs.BOM_UTF8]
    for i, line in enumerate(lines):
        out.append(line + (b"\r\n" if i % 3 else b"\n"))
        out.append([b"\n", b'{"x": "' + b"B" * 5000 + b'"}\n', b"{bad\r\n", b'{"EventID": 1, "Hostname": "\xff"}\n',
                    b"7\n"][i % 5])
    out.append(lines[0])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "w.json").write_bytes(b"".join(out))
    options = IngestOptions(max_record_bytes=4000)
    ingest([str(tmp_path / "in")], tmp_path / "local", options, jobs=1)
    from breachscope.engines import spark_ingest

    summary = spark_ingest._ingest(_Tasks(), spark_ingest.expand_inputs([str(tmp_path / "in")]), tmp_path / "chunked",
                                   options, None, False, chunk)
    assert summary.files[0].rejected >= 30
    assert len(list((tmp_path / "chunked" / "events" / "windows").iterdir())) > 3
    tables = _tables(tmp_path / "chunked")
    assert tables == _tables(tmp_path / "local")
    # over 20 rejects, the 20 listed in the entry may be others than the local ingest lists (they follow the
    # reader's batches); each is one of the file's rejects, all of which are in the rejects table
    chunked, local = _manifest(tmp_path / "chunked"), _manifest(tmp_path / "local")
    listed = chunked[0]["first_rejects"]
    assert len(listed) == len(local[0]["first_rejects"]) == 20
    rejects = {(r["location"], r["reason"]) for r in map(json.loads, tables["rejects"])}
    assert {(r["location"], r["reason"]) for r in listed} <= rejects
    assert [{**e, "first_rejects": None} for e in chunked] == [{**e, "first_rejects": None} for e in local]

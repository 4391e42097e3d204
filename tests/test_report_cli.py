"""`breachscope report`: the result document gathers every stage's artifact of the demo case, and each
rendering (HTML, CSV, Timesketch, JSON, PDF) reads only that document. The HTML in a browser:
tests/test_report_html*.py."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.model.case import CaseLayout
from breachscope.model.errors import MissingCaseError, UsageError
from breachscope.model.result import ResultDocument


def _run(*args: str) -> object:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's case on a small noise volume: hunt, investigation, exposure, obligations, report."""
    out = tmp_path_factory.mktemp("report") / "demo"
    res = _run("demo", "--out", str(out), "--events", "20000")
    assert "the incident report and the containment plan" in res.output  # type: ignore[attr-defined]
    return out / "case"


def test_the_demo_writes_the_report_and_the_plan(demo: Path) -> None:
    report = CaseLayout(demo).report
    for name in ("result.json", "report.html", "report_ja.html", "containment.nft", "containment.ps1"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name


def test_the_document_holds_every_stage_with_the_case_figures(demo: Path) -> None:
    doc = ResultDocument.read(CaseLayout(demo).result)
    assert doc.missing == ()
    assert doc.findings is not None and doc.findings.total == pq.read_table(CaseLayout(demo).findings).num_rows
    assert sum(doc.findings.by_level.values()) == doc.findings.total
    assert doc.incident is not None and doc.incident.hosts
    assert doc.exposure is not None
    assert doc.exposure.subjects_total == pq.read_table(CaseLayout(demo).subjects).num_rows
    assert len(doc.exposure.subjects) == doc.exposure.subjects_total  # under the cap: every subject
    orgs = doc.exposure.summary.organizations
    assert orgs.confirmed_exfiltrated + orgs.confirmed_accessed == 17_891
    saved = json.loads(CaseLayout(demo).obligations.read_text(encoding="utf-8"))
    assert doc.obligations is not None and doc.obligations.to_json() == saved  # the decision notify made
    assert doc.containment is not None and doc.containment.steps
    assert doc.timeline and doc.timeline_total == len(doc.timeline)
    times = [e.ts for e in doc.timeline if e.ts is not None]
    assert times == sorted(times)
    assert {e.source for e in doc.timeline} == {"incident", "alert", "finding"}
    # round trip: the document reads back as the same document
    assert ResultDocument.from_json(doc.to_json()).to_json() == doc.to_json()


def test_the_document_validates_against_its_published_schema(demo: Path) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parents[1] / "docs" / "artifacts" / "result.schema.json").read_text())
    document = json.loads(CaseLayout(demo).result.read_text(encoding="utf-8"))
    document["exposure"]["subjects"] = document["exposure"]["subjects"][:200]  # the rest have the same shape
    jsonschema.validate(document, schema)


def test_same_case_same_report_even_after_a_new_investigation(demo: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    _run("report", "--case", str(demo), "--out", str(first))
    _run("investigate", "--case", str(demo), "--hunt", "never")  # a new run: a new generated_at, a new run id
    _run("report", "--case", str(demo), "--out", str(second))
    assert first.read_bytes() == second.read_bytes()


def test_csv_tables_come_from_the_document(demo: Path, tmp_path: Path) -> None:
    doc = ResultDocument.read(CaseLayout(demo).result)
    assert doc.exposure is not None and doc.obligations is not None and doc.containment is not None
    for table, rows in (("subjects", len(doc.exposure.subjects)), ("timeline", len(doc.timeline)),
                        ("obligations", len(doc.obligations.obligations)),
                        ("containment", len(doc.containment.steps))):
        out = tmp_path / f"{table}.csv"
        _run("report", "--case", str(demo), "--format", "csv", "--table", table, "--out", str(out))
        parsed = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert len(parsed) == rows + 1, table
    subjects = list(csv.DictReader(io.StringIO((tmp_path / "subjects.csv").read_text(encoding="utf-8"))))
    assert subjects[0]["subject_id"] == doc.exposure.subjects[0].subject_id
    assert subjects[0]["level"] == "CONFIRMED_EXFILTRATED"  # strongest level first


def test_timesketch_has_every_dated_timeline_entry(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "timeline.jsonl"
    _run("report", "--case", str(demo), "--format", "timesketch", "--out", str(out))
    doc = ResultDocument.read(CaseLayout(demo).result)
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(events) == sum(e.ts is not None for e in doc.timeline)
    assert all({"message", "datetime", "timestamp", "timestamp_desc"} <= e.keys() for e in events)


def test_the_drafts_say_what_the_incident_established(demo: Path) -> None:
    doc = ResultDocument.read(CaseLayout(demo).result)
    assert doc.incident is not None
    entry = next(h for h in doc.incident.hosts if h.role == "entry")
    en = (CaseLayout(demo).notify / "appi_report_en.md").read_text(encoding="utf-8")
    assert f"Entry point: `{entry.name}`" in en
    assert "the first sign of the attack in the evidence is" in en
    assert "Entry point and method: [UNKNOWN]" not in en
    ja = (CaseLayout(demo).notify / "appi_report_ja.md").read_text(encoding="utf-8")
    assert f"侵入口: `{entry.name}`" in ja


def test_a_case_with_no_stage_run_says_what_is_missing(tmp_path: Path) -> None:
    from breachscope.ingest.pipeline import ingest

    evidence = tmp_path / "ev.jsonl"
    evidence.write_text('{"EventID": 4624, "Computer": "ws1", "TimeCreated": "2025-02-05T01:00:00Z"}\n')
    ingest([str(evidence)], tmp_path / "case")
    res = CliRunner().invoke(app, ["report", "--case", str(tmp_path / "case"), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = ResultDocument.read(CaseLayout(tmp_path / "case").result)
    assert doc.incident is None and doc.exposure is None and doc.obligations is None and doc.containment is None
    assert [m.split(":")[0] for m in doc.missing] == ["findings", "incident", "containment", "exposure",
                                                     "obligations"]
    assert "no investigation has run" in res.output


def test_report_usage_errors(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["report", "--case", str(tmp_path / "none")])
    assert isinstance(res.exception, MissingCaseError)
    (tmp_path / "case").mkdir()
    CaseLayout(tmp_path / "case").marker.write_text("{}")
    for bad in (["--format", "docx"], ["--lang", "fr"], ["--format", "csv", "--table", "nope"],
                ["--keep-access", "10.0.0.1;reboot"]):
        res = CliRunner().invoke(app, ["report", "--case", str(tmp_path / "case"), *bad])
        assert isinstance(res.exception, UsageError), bad


def test_attack_layer_names_the_findings_techniques(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "layer.json"
    _run("report", "--case", str(demo), "--format", "attack-layer", "--out", str(out))
    layer = json.loads(out.read_text(encoding="utf-8"))
    doc = ResultDocument.read(CaseLayout(demo).result)
    assert doc.findings is not None
    named = {t.upper() for r in doc.findings.rules for t in r.attack if t.upper().startswith("T")}
    assert {t["techniqueID"] for t in layer["techniques"]} == named and named
    assert layer["domain"] == "enterprise-attack"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (Debian package chromium)")
def test_pdf_through_chromium(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    _run("report", "--case", str(demo), "--format", "pdf", "--out", str(out))
    assert out.read_bytes().startswith(b"%PDF-")

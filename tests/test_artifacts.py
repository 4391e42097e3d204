"""Typed, versioned artifacts between stages: what hunt, scope and notify write is what their types and
the JSON Schemas published in docs/artifacts/ say; readers go through the types; the case layout owns
every artifact path."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.model.artifacts import json_schemas, schema_text
from breachscope.model.case import CaseLayout
from breachscope.model.exposure import ExposureSummary
from breachscope.model.exposure_artifact import ExposedSubject, Exposure
from breachscope.model.findings import Finding, iter_findings, read_findings
from breachscope.model.jsondoc import VERSION_KEY, ArtifactError
from breachscope.model.obligations import Notification
from breachscope.model.runs import read_history
from tests import scopedata
from tests.conftest import run_ingest
from tests.test_history import RULE, logon

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "artifacts"
runner = CliRunner()


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One case through hunt, scope and notify."""
    root = tmp_path_factory.mktemp("artifacts")
    ev = root / "evidence"
    ev.mkdir()
    (ev / "security.json").write_text("\n".join([logon(1, 4624, "alice"), logon(2, 4624, "bob")]) + "\n",
                                      encoding="utf-8")
    (ev / "postgresql.log").write_text(scopedata.pgaudit_line(
        1, 1, "SELECT c.company_name, k.contract_no FROM customers c JOIN contracts k "
              "ON k.customer_id = c.customer_id WHERE c.customer_id BETWEEN 1 AND 12") + "\n", encoding="utf-8")
    rules = root / "success.yml"
    rules.write_text(RULE.format(title="Logon success", n=1, eid=4624, level="low"), encoding="utf-8")
    case = root / "case"
    run_ingest([ev], case)
    for args in (["hunt", str(case), "--rules", str(rules), "--no-builtin-rules", "--analytics", "none",
                  "--json"],
                 ["scope", "--case", str(case), "--inventory", str(scopedata.write_inventory(root / "inv.yaml")),
                  "--snapshot", str(scopedata.write_snapshot(root / "snap")), "--suspect-user", "mallory", "--json"],
                 ["notify", "--case", str(case), "--aware-at", "2025-02-07T10:00:00+09:00", "--json"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    return case


def test_published_json_schemas_are_current() -> None:
    """docs/artifacts/*.schema.json are generated from the dataclasses
    (`python -m breachscope.model.artifacts docs/artifacts` after changing a type)."""
    schemas = json_schemas()
    assert sorted(p.name for p in DOCS.glob("*.schema.json")) == sorted(f"{n}.schema.json" for n in schemas)
    for name, schema in schemas.items():
        assert (DOCS / f"{name}.schema.json").read_text(encoding="utf-8") == schema_text(schema), name
        jsonschema.Draft202012Validator.check_schema(schema)


def _validate(name: str, document: object) -> None:
    schema = json.loads((DOCS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)


def test_what_the_stages_write_is_what_the_schemas_say(case: Path) -> None:
    layout = CaseLayout(case)
    for line in layout.runs_journal.read_text(encoding="utf-8").splitlines():
        _validate("run", json.loads(line))
    summary = json.loads(layout.exposure_summary.read_text(encoding="utf-8"))
    _validate("exposure-summary", summary)
    assert ExposureSummary.from_json(summary).to_json() == summary  # the type reads back what it wrote
    notes = json.loads(layout.obligations.read_text(encoding="utf-8"))
    _validate("obligations", notes)
    assert Notification.read(layout.obligations).to_json() == notes
    findings = list(iter_findings(read_findings(layout.findings)))
    assert len(findings) == 2 and all(isinstance(f, Finding) for f in findings)
    for f in findings:
        _validate("finding", f.to_json())
        assert Finding.from_json(f.to_json()) == f
    exposure = Exposure.read(layout)
    subjects = list(exposure.subject_rows())
    assert subjects and all(isinstance(s, ExposedSubject) for s in subjects)
    for s in subjects:
        _validate("exposed-subject", s.to_json())
        assert ExposedSubject.from_json(s.to_json()) == s
    for row in exposure.statement_rows():
        _validate("scoped-statement", row.to_json())
    for item in exposure.review_rows():
        _validate("review-item", item.to_json())


def test_a_statement_is_one_piece_of_evidence_however_many_tables_it_read(case: Path) -> None:
    """The join of customers and contracts reached each organization through two tables: one evidence."""
    layout = CaseLayout(case)
    for s in Exposure.read(layout).subject_rows():
        keys = [(e.kind, e.statement_id, e.src_file, e.src_record, e.detail) for e in s.evidence]
        assert len(keys) == len(set(keys)), s.subject_id
        assert s.evidence_count == len(s.evidence)  # one statement: one piece of evidence
    rows = list(csv.DictReader(layout.affected_csv.open(encoding="utf-8")))
    assert rows
    for r in rows:  # the statement once for the rows kept, once more for rows an exclusion policy removed
        parts = r["evidence"].split("; ")
        assert [p for p in parts if "excluded by" not in p] == ["statement " + parts[0].split(" ")[1] +
                                                                " (postgresql.log:1)"], r
        assert len(parts) == len(set(parts)) and "more" not in r["evidence"]


def test_newer_or_damaged_artifacts_are_refused_by_name(tmp_path: Path, case: Path) -> None:
    layout = CaseLayout(case)
    summary = json.loads(layout.exposure_summary.read_text(encoding="utf-8"))
    with pytest.raises(ArtifactError, match="version 2 was written by a newer breachscope"):
        ExposureSummary.from_json({**summary, "version": 2}, "x/summary.json")
    with pytest.raises(ArtifactError, match=r"x/summary.json: damaged ExposureSummary: organizations: .*total 1 is"):
        ExposureSummary.from_json({**summary, "organizations": {**summary["organizations"], "total": 1}},
                                  "x/summary.json")
    legacy = {k: v for k, v in summary.items() if k not in ("version", "organization_records", "review")}
    assert ExposureSummary.from_json(legacy).version == 1  # written before versions: version 1
    newer = tmp_path / "findings.parquet"
    table = pq.read_table(layout.findings)
    pq.write_table(table.replace_schema_metadata({VERSION_KEY: b"3"}), newer)
    with pytest.raises(ArtifactError, match="findings version 3"):
        read_findings(newer)
    older = table.drop_columns(["score", "last_ts", "evidence"]).replace_schema_metadata({VERSION_KEY: b"1"})
    pq.write_table(older, newer)  # version 1 (before analytics): read with the added columns empty
    assert read_findings(newer).column("score").null_count == table.num_rows
    pq.write_table(table.drop_columns(["event"]), newer)
    with pytest.raises(ArtifactError, match="not a findings table"):
        read_findings(newer)
    with pytest.raises(ArtifactError, match="damaged Notification"):
        Notification.from_json({"aware_at": "2025-02-07", "obligations": "none"})


def test_history_records_runs_and_inputs(case: Path) -> None:
    runs = read_history(CaseLayout(case)).runs
    assert [(r.artifact, r.command) for r in runs] == [("findings", "hunt"), ("exposure", "scope"),
                                                         ("obligations", "notify")]
    assert runs[2].inputs == (runs[1].run_id,)
    assert runs[1].parameters["suspects"]["users"] == ["mallory"]


def test_artifact_paths_are_defined_by_the_case_layout_only() -> None:
    """No module but model/case.py names an artifact file of the case, or joins an artifact folder to a path."""
    files = re.compile(r"""["'](findings\.parquet|summary\.json|subjects\.parquet|statements\.parquet|"""
                       r"""review\.parquet|affected_subjects\.csv|obligations\.json|run_info\.json|journal\.jsonl)["']""")
    folders = re.compile(r"""/ ["'](exposure|notify|runs)["']""")
    src = ROOT / "src" / "breachscope"
    offenders = [f"{path.relative_to(src)}:{n}: {line.strip()}"
                 for path in src.rglob("*.py")
                 if path.relative_to(src).parts[0] != "simulate" and path.name != "case.py"
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if files.search(line) or folders.search(line)]
    assert offenders == []

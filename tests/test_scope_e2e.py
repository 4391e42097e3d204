"""End to end on the simulator's ntt-2025 output: simulate, ingest the evidence, scope with the suspects
of truth.json's `investigation_inputs`, compare with truth.json (only tests read it)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from tests.conftest import run_ingest

runner = CliRunner()
CONFIRMED = ("CONFIRMED_ACCESSED", "CONFIRMED_EXFILTRATED")


def _simulate(out: Path, customers: int | None, events: int | None) -> dict:
    args = ["simulate", "--scenario", "ntt-2025", "--out", str(out), "--json"]
    if customers:
        args += ["--customers", str(customers), "--events", str(events)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads((out / "truth.json").read_text(encoding="utf-8"))


def _ids(subjects: list[dict], kind: str, levels: tuple[str, ...]) -> set[int]:
    return {int(s["subject_id"]) for s in subjects if s["subject_type"] == kind and s["level"] in levels}


def _check(tmp: Path, customers: int | None, events: int | None, expected_orgs: int | None) -> None:
    sim = tmp / "sim"
    truth = _simulate(sim, customers, events)
    affected = truth["affected"]
    if expected_orgs is not None:
        assert affected["organization_count"] == expected_orgs
    case = tmp / "case"
    run_ingest([sim / "evidence"], case)
    inputs = truth["investigation_inputs"]
    args = ["scope", "--case", str(case), "--inventory", str(sim / "inventory.yaml"),
            "--snapshot", str(sim / "snapshot"), "--since", inputs["time_window"]["start"],
            "--until", inputs["time_window"]["end"], "--json"]
    for sess in inputs["database_sessions"]:  # device A also serves the app: the attacker's sessions only
        args += ["--suspect-session", sess]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    subjects = pq.read_table(case / "exposure" / "subjects.parquet").to_pylist()
    statements = {(Path(s["src_file"]).name, s["src_record"]): s
                  for s in pq.read_table(case / "exposure" / "statements.parquet").to_pylist()}
    # every attacker statement is selected, and replayed unless the log cannot tell its rows
    for q in truth["database"]["statements"]:
        rec = q["records"][0]
        s = statements.get((Path(rec["file"]).name, rec["line"]))
        assert s is not None, q["ref"]
        if q["organizations"] or q["persons"]:
            assert s["outcome"] == ("replayed" if q["certain"] else "potential"), (q["ref"], s["reason"])
    assert _ids(subjects, "organization", CONFIRMED) == set(affected["organizations"])
    assert summary["organizations"]["confirmed_exfiltrated"] + summary["organizations"]["confirmed_accessed"] \
        == affected["organization_count"]
    assert _ids(subjects, "organization", ("POTENTIAL",)) == set(affected["potential"]["organizations"])
    assert _ids(subjects, "organization", ("NOT_EXPOSED",)) == {e["id"] for e in affected["excluded"]["organizations"]}
    assert summary["excluded"]["organizations"] == affected["excluded"]["organization_count"]
    assert _ids(subjects, "person", CONFIRMED) == set(affected["confirmed"]["persons"])
    assert _ids(subjects, "person", ("POTENTIAL",)) == set(affected["potential"]["persons"]) - set(
        affected["confirmed"]["persons"])
    cats = sorted({c for s in subjects if s["level"] != "NOT_EXPOSED" for c in s["categories"]})
    assert cats == sorted(affected["categories"])
    assert _ids(subjects, "organization", ("CONFIRMED_EXFILTRATED",))  # the staged export file


def test_ntt_small(tmp_path: Path) -> None:
    _check(tmp_path, 2000, 5000, None)


@pytest.mark.slow
def test_ntt_default_17891(tmp_path: Path) -> None:
    _check(tmp_path, None, None, 17_891)

"""The case keeps its history: hunt, scope and notify runs are views with their run ids and parameters,
a rerun adds a run, the views show the latest unless asked (--run), and a run killed at any point
leaves the case as it was, with nothing lost or doubled."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope import open_case
from breachscope.cli.main import app
from breachscope.model.case import CaseLayout
from breachscope.model.errors import UsageError
from breachscope.model.findings import FINDINGS_SCHEMA, commit_findings
from breachscope.model.runs import read_history
from breachscope.model.runstore import RunWriter
from tests import scopedata
from tests.conftest import run_ingest

runner = CliRunner()
T0 = datetime(2025, 2, 5, 1, 0, tzinfo=UTC)
RULE = """
title: {title}
id: 20000000-0000-0000-0000-00000000000{n}
status: test
author: breachscope tests
level: {level}
logsource: {{product: windows, service: security}}
detection:
  sel: {{EventID: {eid}}}
  condition: sel
"""


def logon(minute: int, eid: int, user: str) -> str:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return json.dumps({"@timestamp": ts, "winlog": {
        "channel": "Security", "event_id": eid, "provider_name": "Microsoft-Windows-Security-Auditing",
        "computer_name": "DC1", "record_id": minute, "event_data": {"TargetUserName": user, "IpAddress": "10.0.0.9"}}})


@pytest.fixture
def hunt_case(tmp_path: Path) -> dict[str, Path]:
    ev = tmp_path / "security.json"
    ev.write_text("\n".join([logon(1, 4624, "alice"), logon(2, 4625, "bob"), logon(3, 4625, "bob"),
                             logon(4, 4624, "carol")]) + "\n", encoding="utf-8")
    rules = {}
    for n, (name, eid, level) in enumerate((("success", 4624, "low"), ("failed", 4625, "medium")), 1):
        rules[name] = tmp_path / f"{name}.yml"
        rules[name].write_text(RULE.format(title=f"Logon {name}", n=n, eid=eid, level=level), encoding="utf-8")
    case = tmp_path / "case"
    run_ingest([ev], case)
    return {"case": case, **rules}


def hunt(case: Path, rules: Path) -> None:
    res = runner.invoke(app, ["hunt", str(case), "--rules", str(rules), "--no-builtin-rules", "--analytics", "none",
                              "--json"])
    assert res.exit_code == 0, res.output


def query(case: Path, sql: str, *extra: str) -> list[dict]:
    res = runner.invoke(app, ["query", "--case", str(case), sql, "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_findings_are_a_view_and_a_rerun_adds_a_run(hunt_case: dict[str, Path]) -> None:
    case = hunt_case["case"]
    hunt(case, hunt_case["success"])
    first = query(case, "SELECT run_id, user FROM findings ORDER BY user")
    assert [r["user"] for r in first] == ["alice", "carol"] and len({r["run_id"] for r in first}) == 1
    hunt(case, hunt_case["failed"])
    latest = query(case, "SELECT run_id, rule_title, count(*) AS n FROM findings GROUP BY ALL")
    assert [(r["rule_title"], r["n"]) for r in latest] == [("Logon failed", 2)]  # the rerun replaced, not added
    runs = query(case, "SELECT run_id, artifact, source, command, parameters, counts, shown FROM runs")
    assert [(r["artifact"], r["source"], r["command"], r["shown"]) for r in runs] == \
        [("findings", "sigma", "hunt", False), ("findings", "sigma", "hunt", True)]
    assert json.loads(runs[0]["parameters"])["rules"] == [str(hunt_case["success"].absolute())]
    assert runs[1]["run_id"] == latest[0]["run_id"] and runs[1]["counts"] == {"findings": 2}
    assert query(case, "SELECT count(*) AS n FROM all_findings")[0]["n"] == 4  # history: both runs
    back = query(case, "SELECT DISTINCT run_id, rule_title FROM findings", "--run", runs[0]["run_id"])
    assert back == [{"run_id": runs[0]["run_id"], "rule_title": "Logon success"}]
    copy = pq.read_table(case / "findings.parquet")  # the latest run's copy, as before
    assert set(copy.column("rule_title").to_pylist()) == {"Logon failed"}
    with open_case(case, run=runs[0]["run_id"]) as c:  # the same from Python
        assert c.scalar("SELECT count(*) FROM findings WHERE user = 'alice'") == 1


def test_findings_of_each_detector_accumulate(hunt_case: dict[str, Path]) -> None:
    case = hunt_case["case"]
    hunt(case, hunt_case["success"])
    analytic = pa.Table.from_pylist([{"finding_id": "a1", "kind": "analytic", "rule_id": "spray",
                                      "rule_title": "Password spray", "level": "high", "user": "bob"}],
                                    schema=FINDINGS_SCHEMA)
    commit_findings(case, analytic, "analytics", "investigate", {"window": "1h"})
    hunt(case, hunt_case["failed"])  # a Sigma rerun replaces the Sigma findings only
    got = query(case, "SELECT kind, rule_title, count(*) AS n FROM findings GROUP BY ALL ORDER BY kind")
    assert [(r["kind"], r["rule_title"], r["n"]) for r in got] == [("analytic", "Password spray", 1),
                                                                  ("sigma", "Logon failed", 2)]
    assert sorted(pq.read_table(case / "findings.parquet").column("kind").to_pylist()) == \
        ["analytic", "sigma", "sigma"]
    with pytest.raises(Exception, match="do not come from sigma"):
        commit_findings(case, analytic, "sigma", "hunt", {})


def _scope_scenario(root: Path) -> dict[str, Path]:
    ev = root / "evidence"
    ev.mkdir(parents=True)
    lines = [scopedata.pgaudit_line(1, 1, "SELECT c.company_name, k.contract_no FROM customers c JOIN contracts k "
                                          "ON k.customer_id = c.customer_id WHERE c.customer_id BETWEEN 1 AND 12"),
             scopedata.pgaudit_line(2, 2, "SELECT contact_name, email FROM contacts WHERE customer_id < 4",
                                    ts="2025-02-06 10:00:00")]
    (ev / "postgresql.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    case = root / "case"
    run_ingest([ev], case)
    return {"case": case, "snapshot": scopedata.write_snapshot(root / "snapshot"),
            "inventory": scopedata.write_inventory(root / "inventory.yaml")}


def scope(s: dict[str, Path], *extra: str) -> None:
    res = runner.invoke(app, ["scope", "--case", str(s["case"]), "--inventory", str(s["inventory"]),
                              "--snapshot", str(s["snapshot"]), "--suspect-host", "10.0.0.9", "--json", *extra])
    assert res.exit_code == 0, res.output


def test_exposure_and_obligations_are_views_per_run(tmp_path: Path) -> None:
    s = _scope_scenario(tmp_path)
    case = s["case"]
    scope(s, "--until", "2025-02-05T12:00:00+09:00")  # the first statement only
    scope(s)  # both
    runs = query(case, "SELECT run_id, parameters, counts FROM runs WHERE artifact = 'exposure'")
    assert len(runs) == 2 and json.loads(runs[0]["parameters"])["suspects"]["until"] == ["2025-02-05T12:00:00+09:00"]
    persons = query(case, "SELECT run_id, count(*) AS n FROM subjects WHERE subject_type = 'person' GROUP BY 1")
    assert persons == [{"run_id": runs[1]["run_id"], "n": runs[1]["counts"]["persons"]}] and persons[0]["n"] > 0
    assert query(case, "SELECT count(*) AS n FROM subjects WHERE subject_type = 'person'", "--run",
                 runs[0]["run_id"])[0]["n"] == 0  # the first run reached no person
    assert query(case, "SELECT count(DISTINCT run_id) AS n FROM all_subjects")[0]["n"] == 2
    assert query(case, "SELECT count(*) AS n FROM exposure_statements")[0]["n"] == 2
    res = runner.invoke(app, ["notify", "--case", str(case), "--aware-at", "2025-02-07T10:00:00+09:00"])
    assert res.exit_code == 0, res.output
    obs = query(case, "SELECT run_id, exposure_run, rule, obligation, owed, deadline FROM obligations")
    assert {o["exposure_run"] for o in obs} == {runs[1]["run_id"]} and len({o["run_id"] for o in obs}) == 1
    final = next(o for o in obs if o["obligation"] == "ppc_final")
    assert final["owed"] == "yes" and final["deadline"] == "2025-04-07T23:59:59+09:00"  # unauthorized access: 60 days
    assert query(case, "SELECT count(*) AS n FROM obligations", "--run", runs[1]["run_id"])[0]["n"] == 0
    notify_run = query(case, "SELECT run_id, inputs FROM runs WHERE artifact = 'obligations'")[0]
    assert notify_run["inputs"] == [runs[1]["run_id"]]


def test_unknown_run_is_a_usage_error(hunt_case: dict[str, Path]) -> None:
    hunt(hunt_case["case"], hunt_case["success"])
    res = runner.invoke(app, ["query", "--case", str(hunt_case["case"]), "SELECT 1", "--run", "nope"])
    assert isinstance(res.exception, UsageError) and "latest runs:" in str(res.exception)


CRASH = textwrap.dedent("""
    import os, sys
    import pyarrow as pa
    from breachscope.model import runstore
    from breachscope.model.findings import FINDINGS_SCHEMA, commit_findings

    point = sys.argv[2]
    def die(*args, **kwargs):
        os._exit(9)
    if point == "while-writing":
        runstore.write_parquet = lambda path, table: (path.parent.mkdir(parents=True, exist_ok=True),
                                                      path.write_bytes(b"PAR1 half"), die())
    elif point == "after-rename":
        runstore._append = die
    elif point == "torn-journal":
        def torn(journal, record):
            with journal.open("ab") as fh:
                fh.write(b'{"run_id": "torn')
            die()
        runstore._append = torn
    elif point == "before-publish":
        runstore.publish = die
    table = pa.Table.from_pylist([{"finding_id": "second", "kind": "sigma"}], schema=FINDINGS_SCHEMA)
    commit_findings(sys.argv[1], table, "sigma", "hunt", {})
""")


def _first_run(case: Path) -> None:
    case.mkdir()
    (case / "case.json").write_text('{"breachscope_case": 1}\n', encoding="utf-8")
    commit_findings(case, pa.Table.from_pylist([{"finding_id": "first", "kind": "sigma"}], schema=FINDINGS_SCHEMA),
                    "sigma", "hunt", {})


@pytest.mark.parametrize("point", ["while-writing", "after-rename", "torn-journal", "before-publish"])
def test_a_killed_run_loses_and_doubles_nothing(tmp_path: Path, point: str) -> None:
    case = tmp_path / "case"
    _first_run(case)
    proc = subprocess.run([sys.executable, "-c", CRASH, str(case), point], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 9, proc.stderr
    committed = point == "before-publish"  # the journal line was written: the run is part of the case
    with open_case(case) as c:
        assert c.rows("SELECT finding_id FROM findings") == [("second",) if committed else ("first",)]
        assert c.scalar("SELECT count(*) FROM runs") == (2 if committed else 1)
    copy = pq.read_table(case / "findings.parquet").column("finding_id").to_pylist()
    assert copy == ["first"]  # the copies are refreshed by a commit: killed before, they are stale
    commit_findings(case, pa.Table.from_pylist([{"finding_id": "third", "kind": "sigma"}], schema=FINDINGS_SCHEMA),
                    "sigma", "hunt", {})
    layout = CaseLayout(case)
    history = read_history(layout)
    assert len(history.runs) == (3 if committed else 2)  # nothing doubled, the killed run not half-kept
    assert sorted(p.name for p in layout.runs.iterdir() if p.is_dir() and not p.name.startswith(".")) == \
        sorted(r.run_id for r in history.runs)  # no orphan run folder
    assert list(layout.runs_tmp.iterdir()) == []
    assert layout.runs_journal.read_bytes().endswith(b"\n") and b"torn" not in layout.runs_journal.read_bytes()
    assert pq.read_table(case / "findings.parquet").column("finding_id").to_pylist() == ["third"]


def test_a_live_writer_is_left_alone(tmp_path: Path) -> None:
    case = tmp_path / "case"
    _first_run(case)
    slow = RunWriter(case, "hunt", "findings", "sigma", {})
    pq.write_table(pa.Table.from_pylist([{"finding_id": "slow", "kind": "sigma"}], schema=FINDINGS_SCHEMA),
                   slow.paths.findings)
    commit_findings(case, pa.Table.from_pylist([{"finding_id": "fast", "kind": "sigma"}], schema=FINDINGS_SCHEMA),
                    "sigma", "hunt", {})  # its commit cleans up after dead writers only
    assert slow.paths.findings.is_file()
    slow.commit({"findings": 1})
    with open_case(case) as c:
        assert c.rows("SELECT finding_id FROM findings") == [("slow",)]  # committed last: the latest
        assert c.scalar("SELECT count(*) FROM all_findings") == 3

"""scope's guardrails: suspects that match nothing, host names resolved to addresses over time from the
case's evidence (and the resolution reported), a case without database statements, a snapshot without
the inventory's columns: an error (exit 1) or a warning in the output and in --json, never a silent zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.engines.duckdb_case import open_case
from breachscope.entities.hosts import resolve_hosts
from breachscope.model.errors import BreachscopeError
from tests import scopedata
from tests.conftest import run_ingest

runner = CliRunner()
LEASE_1 = 1738627200.0  # 2025-02-04T00:00:00Z: ORD-AP02 leases 10.0.0.9
LEASE_2 = 1738719000.0  # 2025-02-05T01:30:00Z: the address goes to another machine


def _evidence(root: Path, with_db: bool = True) -> Path:
    ev = root / "evidence"
    ev.mkdir(parents=True)
    if with_db:
        lines = [scopedata.pgaudit_line(1, 1, "SELECT email FROM contacts WHERE contact_id = 5"),  # 01:00Z
                 scopedata.pgaudit_line(2, 2, "SELECT email FROM contacts WHERE contact_id = 6",
                                        ts="2025-02-05 11:00:00"),
                 scopedata.pgaudit_line(3, 3, "SELECT email FROM contacts WHERE contact_id = 7", ip="10.0.0.7",
                                        user="app", pid=77)]
        (ev / "postgresql.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    dhcp = [{"ts": LEASE_1, "uids": ["C1"], "client_addr": "10.0.0.9", "server_addr": "10.0.0.1",
             "mac": "aa:bb:cc:dd:ee:01", "host_name": "ORD-AP02", "assigned_addr": "10.0.0.9", "lease_time": 86400.0,
             "msg_types": ["REQUEST", "ACK"], "_path": "dhcp"},
            {"ts": LEASE_2, "uids": ["C2"], "client_addr": "10.0.0.9", "server_addr": "10.0.0.1",
             "mac": "aa:bb:cc:dd:ee:02", "host_name": "PRN07", "assigned_addr": "10.0.0.9", "lease_time": 86400.0,
             "msg_types": ["REQUEST", "ACK"], "_path": "dhcp"}]
    (ev / "dhcp.log").write_text("\n".join(json.dumps(d) for d in dhcp) + "\n", encoding="utf-8")
    logon = {"EventID": 4624, "Channel": "Security", "Hostname": "DB01.corp.example.jp",
             "SourceName": "Microsoft-Windows-Security-Auditing", "@timestamp": "2025-02-05T00:50:00.000Z",
             "RecordNumber": 1, "TargetUserName": "svc_app", "WorkstationName": "ORD-AP02", "IpAddress": "10.0.0.9",
             "LogonType": "3"}
    (ev / "security.json").write_text(json.dumps(logon) + "\n", encoding="utf-8")
    return ev


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("guards")
    run_ingest([_evidence(root)], root / "case")
    return {"root": root, "case": root / "case", "snapshot": scopedata.write_snapshot(root / "snapshot"),
            "inventory": scopedata.write_inventory(root / "inventory.yaml")}


def _scope(s: dict, *extra: str, case: Path | None = None, inventory: Path | None = None,
           snapshot: Path | None = None) -> object:
    return runner.invoke(app, ["scope", "--case", str(case or s["case"]), "--inventory",
                               str(inventory or s["inventory"]), "--snapshot", str(snapshot or s["snapshot"]),
                               "--no-files", *extra])


def test_host_name_resolved_to_its_address_over_time(scenario: dict) -> None:
    res = _scope(scenario, "--suspect-host", "ORD-AP02", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # only the statement from 10.0.0.9 while ORD-AP02 held it (the 02:00Z one came from PRN07's lease)
    assert out["statements"] == {"replayed": 1, "potential": 0, "ignored": 0}
    st = pq.read_table(scenario["case"] / "exposure" / "statements.parquet").to_pylist()
    assert [s["src_record"] for s in st] == [1]
    (r,) = out["host_resolution"]
    (a,) = r["addresses"]
    assert (r["name"], a["address"], a["from"], a["until"]) == ("ORD-AP02", "10.0.0.9", None,
                                                                 "2025-02-05T01:30:00+00:00")
    assert set(a["evidence_kinds"]) == {"zeek dhcp lease (host_name, assigned_addr)",
                                        "windows logon (WorkstationName, IpAddress)"}
    assert all(e["src_file"] and e["src_record"] for e in a["evidence"])
    text = _scope(scenario, "--suspect-host", "ord-ap02.corp.example.jp")
    assert text.exit_code == 0 and "suspect host ord-ap02.corp.example.jp = 10.0.0.9" in text.stdout
    info = json.loads((scenario["case"] / "exposure" / "run_info.json").read_text())
    assert info["host_resolution"][0]["addresses"][0]["address"] == "10.0.0.9"


def test_resolver_spans_follow_the_leases(scenario: dict) -> None:
    with open_case(scenario["case"]) as c:
        ap02, prn07, nobody = resolve_hosts(c, ["ORD-AP02", "prn07", "NOBODY"])
    assert [(s.address, s.valid_from, s.valid_until) for s in prn07.spans] == [
        ("10.0.0.9", ap02.spans[0].last_seen, None)]
    assert ap02.spans[0].sightings == 2 and not nobody.spans
    assert "zeek dns answer" not in nobody.looked_in  # the case has no DNS log: not claimed as looked at


@pytest.mark.parametrize(("args", "message"), [
    (["--suspect-host", "NO-SUCH-HOST"], "--suspect-host NO-SUCH-HOST"),
    (["--suspect-session", "nosuch"], "--suspect-session nosuch"),
    (["--suspect-user", "nobody", "--suspect-host", "10.9.9.9"], "--suspect-host 10.9.9.9, --suspect-user nobody"),
])
def test_suspects_that_match_nothing_stop_the_run(scenario: dict, args: list[str], message: str) -> None:
    res = _scope(scenario, *args, "--json")
    assert isinstance(res.exception, BreachscopeError) and res.exception.exit_code == 1
    assert "no executed statement of the case matches the suspects" in str(res.exception)
    assert message in str(res.exception)


def test_a_suspect_that_matches_nothing_beside_others_is_a_warning(scenario: dict) -> None:
    res = _scope(scenario, "--suspect-user", "mallory", "--suspect-session", "nosuch", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["statements"]["replayed"] == 2
    assert "--suspect-session nosuch matches no executed statement of the case" in out["warnings"]


def test_window_without_statements_is_a_warning(scenario: dict) -> None:
    res = _scope(scenario, "--suspect-user", "mallory", "--until", "2025-02-04T00:00:00Z", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["statements"] == {"replayed": 0, "potential": 0, "ignored": 0}
    assert any("no executed statement of the suspects in the window" in w for w in out["warnings"])


def test_case_without_database_statements_is_an_error(tmp_path: Path, scenario: dict) -> None:
    case = tmp_path / "case"
    run_ingest([_evidence(tmp_path, with_db=False)], case)
    proc = subprocess.run([sys.executable, "-m", "breachscope.cli.main", "scope", "--case", str(case), "--inventory",
                           str(scenario["inventory"]), "--snapshot", str(scenario["snapshot"])],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "holds no executed database statement" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_inventory_columns_missing_from_the_snapshot_are_named(tmp_path: Path, scenario: dict) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(scopedata.INVENTORY.replace("      email: [email]", "      emial: [email]")
                     .replace("name: contact_name", "name: contact_nam"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "breachscope.cli.main", "scope", "--case", str(scenario["case"]),
                           "--inventory", str(wrong), "--snapshot", str(scenario["snapshot"]),
                           "--suspect-user", "mallory"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "column contacts.emial (datasets[2] (contacts) columns) is not in the snapshot" in proc.stderr
    assert "column contacts.contact_nam (subjects.person name)" in proc.stderr
    assert "BinderException" not in proc.stderr and "internal error" not in proc.stderr
    # the same inventory against a snapshot that lost a column
    snap = tmp_path / "snap"
    scopedata.write_snapshot(snap)
    pq.write_table(pq.read_table(snap / "contacts.parquet").drop_columns(["phone"]), snap / "contacts.parquet")
    res = _scope(scenario, "--suspect-user", "mallory", snapshot=snap)
    assert isinstance(res.exception, BreachscopeError) and res.exception.exit_code == 1
    assert "column contacts.phone" in str(res.exception)

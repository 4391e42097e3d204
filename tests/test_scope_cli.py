"""`breachscope scope` end to end on a small scenario the test writes: audit log + staged export + snapshot."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.model.errors import UsageError
from tests import scopedata
from tests.conftest import run_ingest

runner = CliRunner()
SUSPECT = "10.0.0.9"


def _evidence(root: Path) -> Path:
    ev = root / "evidence"
    (ev / "db").mkdir(parents=True)
    lines = [
        scopedata.pgaudit_line(1, 1, "SELECT c.company_name, k.contract_no FROM customers c JOIN contracts k "
                                     "ON k.customer_id = c.customer_id WHERE c.customer_id BETWEEN 1 AND 12 "
                                     "ORDER BY k.contract_no"),
        scopedata.pgaudit_line(2, 2, "SELECT contact_name, phone, email FROM contacts WHERE customer_id = $1", "5"),
        scopedata.pgaudit_line(3, 3, "SELECT contract_no FROM contracts WHERE customer_id = 40"),
        scopedata.pgaudit_line(4, 4, "SELECT email FROM contacts WHERE contact_id = $1 AND customer_id < 20",
                               "<not logged>"),
        scopedata.pgaudit_line(5, 1, "SELECT * FROM customers", user="app", ip="10.0.0.5", pid=77),
    ]
    (ev / "db" / "postgresql.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    staged = ev / "hosts" / "deviceB" / "C" / "Users" / "Public"
    staged.mkdir(parents=True)
    rows = [["company", "contact", "tel", "mail"]]
    for i in (5, 45, 12, 52, 33):  # contacts of customer 5 and 12 (via contact_id % 40), and 33 (not returned)
        rows.append([f"=cmd|' /C calc'!A{i}", f"担当 {i}", f"03-5555-{i:04d}", f"person{i}@example.co.jp"])
    with (staged / "export_0205.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return ev


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("scope_cli")
    ev = _evidence(root)
    case = root / "case"
    run_ingest([ev], case)
    return {"root": root, "case": case, "snapshot": scopedata.write_snapshot(root / "snapshot"),
            "inventory": scopedata.write_inventory(root / "inventory.yaml")}


def _scope(s: dict, *extra: str) -> dict:
    res = runner.invoke(app, ["scope", "--case", str(s["case"]), "--inventory", str(s["inventory"]),
                              "--snapshot", str(s["snapshot"]), "--suspect-host", SUSPECT, "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_summary_json_has_exactly_the_issue_keys(scenario: dict) -> None:
    out = _scope(scenario)
    assert list(out) == ["organizations", "persons", "categories", "excluded", "statements", "warnings",
                         "host_resolution"]
    assert set(out["organizations"]) == {"confirmed_exfiltrated", "confirmed_accessed", "potential", "total"}
    # statements: the join, the bound lookup, the docomo-only read replayed; the unlogged parameter potential
    assert out["statements"] == {"replayed": 3, "potential": 1, "ignored": 0}
    # organization 40: every row returned is a docomo contract -> excluded, not affected
    assert out["excluded"]["organizations"] == 1
    assert out["excluded"]["policies"] == {"docomo_provided_mobile": {"organizations": 1, "persons": 0}}


def test_levels_and_exfiltration_rule(scenario: dict) -> None:
    _scope(scenario)
    subjects = {(r["subject_type"], r["subject_id"]): r
                for r in pq.read_table(scenario["case"] / "exposure" / "subjects.parquet").to_pylist()}
    # contact i belongs to customer 1 + i % 40: the $1 = 5 lookup returned contacts 4 and 44
    for pid in ("4", "44"):
        assert subjects[("person", pid)]["level"] == "CONFIRMED_ACCESSED"
        assert subjects[("person", pid)]["categories"] == ["contact_person_name", "email", "phone"]
    # the unlogged parameter reached contacts of customers < 20 (never confirmed by that alone)
    assert subjects[("person", "1")]["level"] == "POTENTIAL"
    # contacts 5, 12, 33, 45, 52 are in the staged export but no replayed statement returned them: accessed
    for pid in ("5", "12", "33", "45", "52"):
        assert subjects[("person", pid)]["level"] == "CONFIRMED_ACCESSED", pid
        assert any(e["kind"] == "file" and e["src_record"] > 1 for e in subjects[("person", pid)]["evidence"])
    assert subjects[("organization", "40")]["level"] == "NOT_EXPOSED"
    assert subjects[("organization", "40")]["excluded_by"] == ["docomo_provided_mobile"]
    org12 = subjects[("organization", "12")]
    assert org12["level"] == "CONFIRMED_ACCESSED" and org12["evidence"][0]["src_record"] == 1
    assert org12["snapshot"].startswith("parquet:")
    assert subjects[("organization", "6")]["organization_group"] == "6"


def test_exfiltrated_needs_returned_rows_and_the_export(tmp_path: Path, scenario: dict) -> None:
    ev = _evidence(tmp_path)
    log = ev / "db" / "postgresql.log"
    log.write_text(log.read_text(encoding="utf-8") + scopedata.pgaudit_line(
        9, 9, "SELECT email, phone FROM contacts WHERE contact_id IN (5, 45, 12, 52, 33, 1)") + "\n",
        encoding="utf-8")
    case = tmp_path / "case"
    run_ingest([ev], case)
    res = runner.invoke(app, ["scope", "--case", str(case), "--inventory", str(scenario["inventory"]),
                              "--snapshot", str(scenario["snapshot"]), "--suspect-host", SUSPECT, "--json"])
    assert res.exit_code == 0, res.output
    subjects = {(r["subject_type"], r["subject_id"]): r
                for r in pq.read_table(case / "exposure" / "subjects.parquet").to_pylist()}
    for pid in ("5", "45", "12", "52", "33"):
        assert subjects[("person", pid)]["level"] == "CONFIRMED_EXFILTRATED", pid
        assert dict(subjects[("person", pid)]["category_levels"])["email"] == "CONFIRMED_EXFILTRATED"
    assert subjects[("person", "1")]["level"] == "CONFIRMED_ACCESSED"  # returned, not in the export
    assert subjects[("organization", "6")]["level"] == "CONFIRMED_EXFILTRATED"  # through its persons


def test_csv_cells_are_neutralized_and_outputs_identical_on_rerun(scenario: dict) -> None:
    _scope(scenario)
    out = scenario["case"] / "exposure"
    names = ["subjects.parquet", "statements.parquet", "review.parquet", "affected_subjects.csv", "summary.json"]
    first = {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in names}
    _scope(scenario)
    assert {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in names} == first
    rows = list(csv.reader((out / "affected_subjects.csv").open(encoding="utf-8")))
    assert rows[0] == ["subject_type", "subject_id", "name", "level", "categories", "evidence"]
    assert all(not c.startswith(("=", "+", "-", "@")) for r in rows for c in r)
    assert json.loads((out / "run_info.json").read_text())["started_at"]


def test_window_selects_statements(scenario: dict) -> None:
    out = _scope(scenario, "--until", "2025-02-05T00:00:00Z", "--no-files")  # JST 10:00 = 01:00 UTC
    assert out["statements"] == {"replayed": 0, "potential": 0, "ignored": 0}
    assert out["organizations"]["total"] == 0
    out = _scope(scenario, "--until", "2025-02-05T00:00:00Z")  # the export still shows five contacts
    assert out["persons"] == {"confirmed_exfiltrated": 0, "confirmed_accessed": 5, "potential": 0, "total": 5}
    out = _scope(scenario, "--since", "2025-02-05T01:00:00.0025Z", "--no-files")
    assert out["statements"] == {"replayed": 1, "potential": 1, "ignored": 0}


def test_usage_errors_exit_2(scenario: dict, tmp_path: Path) -> None:
    bad = tmp_path / "inv.yaml"
    bad.write_text("version: 2\n", encoding="utf-8")
    res = runner.invoke(app, ["scope", "--case", str(scenario["case"]), "--inventory", str(bad),
                              "--snapshot", str(scenario["snapshot"])])
    assert isinstance(res.exception, UsageError) and res.exception.exit_code == 2
    res = runner.invoke(app, ["scope", "--case", str(scenario["case"]), "--inventory", str(scenario["inventory"]),
                              "--snapshot", str(tmp_path / "nothing")])
    assert isinstance(res.exception, UsageError)
    injected = tmp_path / "inj.yaml"
    injected.write_text(scopedata.INVENTORY.replace("table: contracts\n    subject", "table: \"contracts; DROP\"\n"
                                                    "    subject"), encoding="utf-8")
    res = runner.invoke(app, ["scope", "--case", str(scenario["case"]), "--inventory", str(injected),
                              "--snapshot", str(scenario["snapshot"])])
    assert isinstance(res.exception, UsageError) and "not a table name" in str(res.exception)


def test_pgaudit_fixture_from_a_real_server(tmp_path: Path) -> None:
    """tests/fixtures/pgaudit: PREPARE with logged bind parameters, <not logged>, COPY, pgbench's $1."""
    case = tmp_path / "case"
    run_ingest([Path(__file__).parent / "fixtures" / "pgaudit" / "stderr_prefix_r_a.log"], case)
    snap = tmp_path / "snap"
    snap.mkdir()
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32()), "name": ['Alice "A" O\'Hara', "Bob, Jr."],
                             "card": ["4111-1111", "5500-0000"]}), snap / "customers.parquet")
    inv = tmp_path / "inv.yaml"
    inv.write_text("version: 1\nname: fixture\ndatabase: fixture\nsubjects:\n  person: {table: customers, key: id, "
                   "name: name}\ndatasets:\n  - table: customers\n    subject: person\n    subject_key: id\n"
                   "    columns: {id: [], name: [contact_person_name], card: [payment_card]}\n", encoding="utf-8")
    res = runner.invoke(app, ["scope", "--case", str(case), "--inventory", str(inv), "--snapshot", str(snap),
                              "--suspect-user", "postgres", "--json"])
    assert res.exit_code == 0, res.output
    st = pq.read_table(case / "exposure" / "statements.parquet").to_pylist()
    got = {s["src_record"]: (s["outcome"], s["subjects"]) for s in st}
    assert got == {
        3: ("ignored", 0), 4: ("ignored", 0),  # CREATE TABLE, INSERT of new rows
        5: ("replayed", 2),  # SELECT id, name ... ORDER BY id (a multi-line statement)
        9: ("ignored", 0), 12: ("ignored", 0), 16: ("ignored", 0),  # PREPARE / EXECUTE records
        10: ("replayed", 1),  # the prepared SELECT with its logged parameters ('a,b"c\nd', 2): id = 2
        14: ("ignored", 0), 17: ("ignored", 0),  # SET
        15: ("potential", 2),  # parameters <not logged>: every row it could reach
        18: ("replayed", 2),  # COPY customers TO STDOUT
        27: ("replayed", 1),  # pgbench, extended protocol: id = $1 with 2
        34: ("ignored", 0), 35: ("ignored", 0),  # ALTER SYSTEM
        36: ("potential", 0),  # pg_reload_conf(): never run by the sandbox, flagged (it reads no table)
    }
    assert "pg_reload_conf (server administration)" in next(s["reason"] for s in st if s["src_record"] == 36)

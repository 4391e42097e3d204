"""`investigate` on simulated breaches it was not told about: both variants, three seeds. The truth
(truth.json) is read only by the test; the investigation gets the evidence and the inventory."""

from __future__ import annotations

import csv
import json
import pathlib
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breachscope.investigate.pipeline import InvestigateRequest, investigate
from breachscope.model.case import CaseLayout
from breachscope.model.incident import Incident
from breachscope.model.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[1]
EVENTS = 30_000
CASES = [(5, "destination"), (7, "pivot"), (11, "destination"), (5, "pivot"), (7, "destination"), (11, "pivot")]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          check=False)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str], tuple[Path, dict, Incident]]:
    from breachscope.ingest.pipeline import ingest
    from breachscope.simulate import SimConfig, run

    out = {}
    for seed, variant in CASES:
        root = tmp_path_factory.mktemp(f"sim-{seed}-{variant}")
        run(SimConfig(out=root / "sim", events=EVENTS, seed=seed, variant=variant, jobs=1).validate())
        ingest([str(root / "sim" / "evidence")], root / "case", jobs=1)
        database = load_inventory(root / "sim" / "inventory.yaml").database
        result = investigate(InvestigateRequest(root / "case", database=database))
        truth = json.loads((root / "sim" / "truth.json").read_text())
        out[(seed, variant)] = (root, truth, result.incident)
    return out


def short(name: str | None) -> str:
    return str(name or "").split(".")[0].rstrip("$").lower()


@pytest.mark.parametrize("seed,variant", CASES)
def test_finds_devices_sessions_and_the_way_out(simulated, seed: int, variant: str) -> None:
    _, truth, inc = simulated[(seed, variant)]
    internal = [h for h in inc.hosts if not h.role.startswith("external")]
    top2 = {short(h.name) for h in internal[:2]}
    assert top2 == {short(truth["hosts"]["device_a"]["name"]), short(truth["hosts"]["device_b"]["name"])}
    entry = next(h for h in inc.hosts if short(h.name) == short(truth["hosts"]["entry"]["name"]))
    assert entry.role == "entry"
    t0 = min(datetime.fromisoformat(e["ts"]) for e in truth["timeline"] if e["stage"] == "initial_access")
    assert entry.first_alert is not None and entry.first_alert - t0 <= timedelta(hours=24)
    # exactly the attacker's database sessions: none of the backup dump, nightly export, BI reports
    assert set(inc.suspects.sessions) == set(truth["investigation_inputs"]["database_sessions"])
    c2 = truth["hosts"]["external"]["c2_and_exfiltration"]
    assert c2 in {e.ip for e in inc.external}
    moved = sum(m.bytes for m in inc.data_movements if m.dst_ip == c2)
    assert 0.8 * truth["exfiltration"]["bytes"] <= moved <= 1.2 * truth["exfiltration"]["bytes"]
    # every claim can be traced back to a record of an evidence file
    for h in internal[:2]:
        assert h.evidence and all(e.src_file and e.src_record is not None for e in h.evidence)


@pytest.mark.parametrize("seed,variant", CASES[:2])
def test_hard_negatives_stay_out_of_the_top_ten_alerts(simulated, seed: int, variant: str) -> None:
    import pyarrow.parquet as pq

    root, truth, _ = simulated[(seed, variant)]
    benign = {(Path(r["file"]).name, Path(r["file"]).parent.name, r["line"])
              for r in truth["hard_negatives"]["records"]}
    alerts = pq.read_table(CaseLayout(root / "case").alerts).sort_by([("score", "descending")]).to_pylist()
    for a in alerts[:10]:
        for e in a["evidence"]:
            assert (Path(e["src_file"]).name, Path(e["src_file"]).parent.name, e["src_record"]) not in benign, a


def test_scope_from_the_investigation_is_exact(simulated) -> None:
    root, truth, _ = simulated[(5, "destination")]
    sim, case = root / "sim", root / "case"
    done = _cli("scope", "--case", str(case), "--inventory", str(sim / "inventory.yaml"), "--snapshot",
                str(sim / "snapshot"), "--from-investigation", "--json")
    assert done.returncode == 0, done.stderr
    confirmed, potential = set(), set()
    with (CaseLayout(case).affected_csv).open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["subject_type"] == "organization":
                (confirmed if r["level"].startswith("CONFIRMED") else potential).add(r["subject_id"].lstrip("'"))
    assert confirmed == set(map(str, truth["affected"]["organizations"]))
    assert potential == set(map(str, truth["affected"]["potential"]["organizations"]))


def test_incident_document_round_trips_and_cli_prints_the_story(simulated) -> None:
    root, truth, inc = simulated[(7, "pivot")]
    path = CaseLayout(root / "case").incident
    again = Incident.read(path)
    assert again.suspects == inc.suspects and len(again.hosts) == len(inc.hosts)
    done = _cli("investigate", "--case", str(root / "case"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Entry: ") and len(lines) <= 30
    assert any(truth["hosts"]["external"]["c2_and_exfiltration"] in line for line in lines)
    doc = json.loads(_cli("investigate", "--case", str(root / "case"), "--json").stdout)
    assert doc["version"] == 1 and doc["suspects"]["sessions"]
    # a rerun is a new run; the copy at CASE/investigation/ is the latest one
    runs = [json.loads(x) for x in CaseLayout(root / "case").runs_journal.read_text().splitlines()]
    assert sum(r["artifact"] == "incident" for r in runs) == 3


def test_scope_from_investigation_without_one_is_a_usage_error(simulated, tmp_path: Path) -> None:
    from breachscope.ingest.pipeline import ingest

    root = simulated[(5, "destination")][0]
    log = tmp_path / "x.log"
    log.write_text("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n")
    ingest([str(log)], tmp_path / "case", jobs=1)
    done = _cli("scope", "--case", str(tmp_path / "case"), "--inventory", str(root / "sim" / "inventory.yaml"),
                "--snapshot", str(root / "sim" / "snapshot"), "--from-investigation")
    assert done.returncode == 2 and "no investigation" in done.stderr


def test_nothing_of_the_scenario_is_written_in_the_product() -> None:
    """Every decision comes from behaviour in the case: no host name, address or account of the simulated
    network appears in src/ outside simulate/."""
    needles = {"ord-ap02", "ord-mnt01", "ord-db01", "10.40.", "203.0.113.", "adm_suzuki", "app_order",
               "update-check", "mnt_vendor", "ordermaint", "vendor-pc"}
    hits = []
    for p in pathlib.Path(ROOT / "src" / "breachscope").rglob("*"):
        if "simulate" in p.parts or not p.is_file() or p.suffix not in (".py", ".yaml", ".md", ".j2"):
            continue
        text = p.read_text(encoding="utf-8", errors="ignore").lower()
        hits += [f"{p.relative_to(ROOT)}: {n}" for n in needles if n in text]
    assert not hits


def test_investigate_imports_downward_only() -> None:
    """investigate may use entities, detect, engines and model; never cli, scope, notify or simulate."""
    import ast

    allowed = {"investigate", "entities", "detect", "engines", "model"}
    bad = []
    for p in (ROOT / "src" / "breachscope" / "investigate").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("breachscope."):
                layer = node.module.split(".")[1]
                if layer not in allowed:
                    bad.append(f"{p.name}: {node.module}")
    assert not bad


def test_window_and_assets(simulated, tmp_path: Path) -> None:
    """--until before the intrusion finds no attacker; assets.yaml names the crown jewels and roles."""
    from breachscope.investigate.pipeline import find_incident
    from breachscope.model.assets import load_assets

    root, truth, _ = simulated[(5, "destination")]
    t0 = min(datetime.fromisoformat(e["ts"]) for e in truth["timeline"] if e["stage"] == "initial_access")
    before, _ = find_incident(InvestigateRequest(root / "case", until=t0 - timedelta(days=1)))
    assert before.suspects.sessions == () and not [h for h in before.hosts if h.role == "entry"]
    assert before.story[0].startswith("No host reached")
    assets = tmp_path / "assets.yaml"
    assets.write_text("crown_jewels: [vault-9]\nroles: {vault-9: payroll database}\n"
                      "internal_networks: [203.0.113.0/24]\n")
    inc, _ = find_incident(InvestigateRequest(root / "case", assets=load_assets(assets)))
    assert inc.crown_jewels == ("vault-9",)
    # the outside addresses are now declared internal: nothing is sent "out" any more
    assert not [m for m in inc.data_movements if m.kind == "exfiltration"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("crown_jewels: [a]\ninternal_network: [10.0.0.0/8]\n")
    done = _cli("investigate", "--case", str(root / "case"), "--assets", str(bad))
    assert done.returncode == 2 and "bad.yaml:2" in done.stderr and "internal_networks" in done.stderr


@settings(max_examples=300, deadline=None)
@given(st.lists(st.ip_addresses(), min_size=1, max_size=40),
       st.lists(st.sampled_from(["10.0.0.0/8", "fd12:3456::/32", "2001:db8::/32", "198.51.100.0/24",
                                 "fe80::/10", "100.64.0.0/10"]), max_size=3))
def test_internal_addresses_in_sql_equal_python(addresses: list, extra: list) -> None:
    """The detectors' SQL and Python say the same of which addresses are inside the network."""
    import duckdb

    from breachscope.investigate.context import DEFAULT_INTERNAL, Context, internal_sql

    nets = DEFAULT_INTERNAL + tuple(extra)
    texts = [str(a) for a in addresses]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[a] for a in texts])
    got = dict(con.execute(f"SELECT a, {internal_sql('a', nets)} FROM t").fetchall())
    ctx = Context(engine=None, columns={}, internal_networks=nets)  # type: ignore[arg-type]
    assert {a: ctx.is_internal(a) for a in texts} == got

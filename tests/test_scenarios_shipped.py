"""Every shipped scenario (simulate/scenarios/*.yaml) replayed end to end: its evidence ingests with no reject,
and `investigate` then `scope --from-investigation`, told nothing of the scenario, find the attacker's database
sessions, rank device A and B first, and give exactly the truth's exposed organizations."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from typing import Any

import pytest

from breachscope.ingest.pipeline import ingest
from breachscope.investigate.pipeline import InvestigateRequest, investigate
from breachscope.model.case import CaseLayout
from breachscope.model.inventory import load_inventory
from breachscope.simulate import SimConfig, run
from breachscope.simulate.scenarios import shipped


def short(name: str | None) -> str:
    return str(name or "").split(".")[0].rstrip("$").lower()


@pytest.fixture(scope="module", params=sorted(shipped()))
def replayed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp(request.param)
    sim, case = root / "sim", root / "case"
    run(SimConfig(out=sim, scenario=request.param, events=20_000, customers=2_000, seed=5, jobs=1).validate())
    summary = ingest([str(sim / "evidence")], case, jobs=1)
    result = investigate(InvestigateRequest(case, database=load_inventory(sim / "inventory.yaml").database))
    done = subprocess.run([sys.executable, "-m", "breachscope.cli.main", "scope", "--case", str(case), "--inventory",
                           str(sim / "inventory.yaml"), "--snapshot", str(sim / "snapshot"), "--from-investigation",
                           "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return {"name": request.param, "summary": summary, "incident": result.incident, "case": case,
            "truth": json.loads((sim / "truth.json").read_text(encoding="utf-8"))}


def test_the_evidence_ingests_with_no_reject(replayed: dict[str, Any]) -> None:
    s = replayed["summary"]
    assert s.records > 10_000 and s.rejected == 0, [f for f in s.files if f.rejected]


def test_the_investigation_finds_the_sessions_and_ranks_both_devices_first(replayed: dict[str, Any]) -> None:
    truth, inc = replayed["truth"], replayed["incident"]
    assert set(inc.suspects.sessions) == set(truth["investigation_inputs"]["database_sessions"])
    internal = [h for h in inc.hosts if not h.role.startswith("external")]
    assert {short(h.name) for h in internal[:2]} == {short(truth["hosts"]["device_a"]["name"]),
                                                     short(truth["hosts"]["device_b"]["name"])}, internal[:4]


def test_scope_from_the_investigation_is_exact(replayed: dict[str, Any]) -> None:
    truth = replayed["truth"]
    confirmed, potential = set(), set()
    with CaseLayout(replayed["case"]).affected_csv.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["subject_type"] == "organization":
                (confirmed if r["level"].startswith("CONFIRMED") else potential).add(r["subject_id"].lstrip("'"))
    assert confirmed == set(map(str, truth["affected"]["organizations"]))
    assert potential == set(map(str, truth["affected"]["potential"]["organizations"]))


def test_the_staged_files_move_the_way_the_attack_moved_them(replayed: dict[str, Any]) -> None:
    """The internal transfer of the staged files, in the direction the data went (push or pull)."""
    truth, inc = replayed["truth"], replayed["incident"]
    a, b = short(truth["hosts"]["device_a"]["name"]), short(truth["hosts"]["device_b"]["name"])
    staged = sum(f["size"] for f in truth["evidence"]["staged_files"])
    moves = [m for m in inc.data_movements if m.kind == "internal_transfer" and m.bytes >= 0.8 * staged]
    assert moves and all((short(m.src), short(m.dst)) == (a, b) for m in moves), moves

"""A small simulation, ingested, for the simulator's step and noise tests: the simulation folder, its
truth and the open case (module-scoped fixtures build one and share it). And a scenario replayed end to end
(simulate, ingest, investigate, `scope --from-investigation`) for the tests that check the stages find the
truth."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from breachscope.engines.duckdb_case import Case, open_case
from breachscope.ingest.pipeline import IngestSummary, ingest
from breachscope.investigate.pipeline import InvestigateRequest, investigate
from breachscope.model.case import CaseLayout
from breachscope.model.incident import Incident
from breachscope.model.inventory import load_inventory
from breachscope.simulate import SimConfig, run


@dataclass
class Sim:
    out: Path
    truth: dict[str, Any]
    case: Case

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return self.case.query(sql).to_pylist()

    def tags_of(self, found: list[dict[str, Any]]) -> set[str | None]:
        """The truth's tags (attack, episode or hard negative) of case rows, by their file and record."""
        listed = {(r["file"], r["line"]): r["tag"] for r in (*self.truth["evidence"]["records"],
                                                             *self.truth["hard_negatives"]["records"])}
        return {listed.get((Path(r["src_file"]).relative_to(self.out).as_posix(), r["src_record"])) for r in found}

    def in_truth(self, found: list[dict[str, Any]], tag: str) -> None:
        """Rows were found, and the truth lists every one under `tag`."""
        assert found
        assert self.tags_of(found) == {tag}

    def timeline(self, text: str) -> dict[str, Any]:
        """The one timeline entry whose description holds `text`."""
        entries = [e for e in self.truth["timeline"] if text in e["description"]]
        assert len(entries) == 1, text
        return entries[0]


def field(row: dict[str, Any], name: str) -> Any:
    """An event field, promoted to a column or kept in `extra`."""
    return row[name] if name in row else dict(row["extra"])[name]


@dataclass(frozen=True)
class Replay:
    """A scenario replayed end to end under ROOT: the simulation (evidence, inventory, snapshot, truth), the
    case, what ingest counted, the incident investigate found; scope's exposure is in the case."""
    sim: Path
    case: Path
    summary: IngestSummary
    incident: Incident
    truth: dict[str, Any]


def _simulate_and_ingest(root: Path, scenario: str, variant: str, events: int, seed: int,
                         customers: int) -> tuple[Path, IngestSummary, dict[str, Any]]:
    """Simulate into ROOT/sim and ingest its evidence into ROOT/case: (sim folder, ingest summary, truth)."""
    out = root / "sim"
    run(SimConfig(out=out, scenario=scenario, events=events, customers=customers, seed=seed, variant=variant,
                  jobs=1).validate())
    summary = ingest([str(out / "evidence")], root / "case", jobs=1)
    return out, summary, json.loads((out / "truth.json").read_text(encoding="utf-8"))


@contextmanager
def simulated(root: Path, scenario: str | dict[str, Any], variant: str = "",
              events: int = 5_000, seed: int = 9) -> Iterator[Sim]:
    """Simulate `scenario` (a shipped name, or a scenario document written to ROOT/scenario.yaml) into ROOT/sim,
    ingest it into ROOT/case with no reject, and open the case."""
    if isinstance(scenario, dict):
        path = root / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
        scenario = str(path)
    out, summary, truth = _simulate_and_ingest(root, scenario, variant, events, seed, customers=2_000)
    assert summary.rejected == 0, [f.first_rejects for f in summary.files if f.rejected]
    with open_case(root / "case") as case:
        yield Sim(out, truth, case)


def replay(root: Path, scenario: str, variant: str = "", events: int = 5_000, seed: int = 9,
           customers: int = 2_000) -> Replay:
    """Simulate `scenario` (a shipped name or a scenario file) into ROOT/sim, ingest it into ROOT/case,
    investigate it (told only the inventory's database), then run `scope --from-investigation --json` as a
    user would, in its own process (it must succeed). Rejects are left for the caller to check."""
    sim, summary, truth = _simulate_and_ingest(root, scenario, variant, events, seed, customers)
    case = root / "case"
    result = investigate(InvestigateRequest(case, database=load_inventory(sim / "inventory.yaml").database))
    done = subprocess.run([sys.executable, "-m", "breachscope.cli.main", "scope", "--case", str(case), "--inventory",
                           str(sim / "inventory.yaml"), "--snapshot", str(sim / "snapshot"), "--from-investigation",
                           "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return Replay(sim, case, summary, result.incident, truth)


def affected_organizations(case: Path, kind: str = "organization") -> tuple[set[str], set[str]]:
    """(confirmed, potential) ids of the case's affected_subjects.csv, of organizations (or `kind`)."""
    confirmed: set[str] = set()
    potential: set[str] = set()
    with CaseLayout(case).affected_csv.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["subject_type"] == kind:
                (confirmed if r["level"].startswith("CONFIRMED") else potential).add(r["subject_id"].lstrip("'"))
    return confirmed, potential


def assert_scope_exact(done: Replay) -> None:
    """The case's confirmed and potential organizations and persons are exactly the truth's."""
    affected = done.truth["affected"]
    for kind, confirmed_ids, potential_ids in (
            ("organization", affected["organizations"], affected["potential"]["organizations"]),
            ("person", affected["confirmed"]["persons"], affected["potential"]["persons"])):
        confirmed, potential = affected_organizations(done.case, kind)
        assert confirmed == set(map(str, confirmed_ids)), kind
        assert potential == set(map(str, potential_ids)), kind

"""A small simulation, ingested, for the simulator's step and noise tests: the simulation folder, its
truth and the open case (module-scoped fixtures build one and share it)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from breachscope.engines.duckdb_case import Case, open_case
from breachscope.ingest.pipeline import ingest
from breachscope.model.case import CaseLayout
from breachscope.simulate import SimConfig, run


@dataclass
class Sim:
    out: Path
    truth: dict[str, Any]
    case: Case

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return self.case.query(sql).to_pylist()


@contextmanager
def simulated(root: Path, scenario: str | dict[str, Any], variant: str = "",
              events: int = 5_000, seed: int = 9) -> Iterator[Sim]:
    """Simulate `scenario` (a shipped name, or a scenario document written to ROOT/scenario.yaml) into ROOT/sim,
    ingest it into ROOT/case with no reject, and open the case."""
    if isinstance(scenario, dict):
        path = root / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
        scenario = str(path)
    out = root / "sim"
    run(SimConfig(out=out, scenario=scenario, events=events, customers=2_000, seed=seed, variant=variant,
                  jobs=1).validate())
    summary = ingest([str(out / "evidence")], root / "case", jobs=1)
    assert summary.rejected == 0, [f.first_rejects for f in summary.files if f.rejected]
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    with open_case(root / "case") as case:
        yield Sim(out, truth, case)


def affected_organizations(case: Path) -> tuple[set[str], set[str]]:
    """(confirmed, potential) organization ids of the case's affected_subjects.csv."""
    confirmed: set[str] = set()
    potential: set[str] = set()
    with CaseLayout(case).affected_csv.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["subject_type"] == "organization":
                (confirmed if r["level"].startswith("CONFIRMED") else potential).add(r["subject_id"].lstrip("'"))
    return confirmed, potential

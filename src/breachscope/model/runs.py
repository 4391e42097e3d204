"""The case's history: every hunt, scope and notify is a run, kept under CASE/runs/<run_id>/ and
committed by one line of CASE/runs/journal.jsonl (written last; model/runstore.py writes it).

The views show, for each artifact, the latest committed run: findings accumulate over sources (the
latest Sigma hunt and, later, the latest analytics run are shown together), exposure and obligations
are the latest run's. `as_of` gives the case as it stood when a given run was committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from breachscope.model.case import CaseLayout
from breachscope.model.errors import UsageError
from breachscope.model.jsondoc import ArtifactError, doc, json_object

FINDINGS, EXPOSURE, OBLIGATIONS, INCIDENT = "findings", "exposure", "obligations", "incident"
#: artifact -> whether runs of different sources accumulate in the latest view (findings of Sigma and of
#: analytics side by side) or the latest run of any source replaces the others. The incident and the
#: containment plan join here.
ACCUMULATES: dict[str, bool] = {FINDINGS: True, EXPOSURE: False, OBLIGATIONS: False, INCIDENT: False}


@dataclass(frozen=True)
class RunRecord:
    """One committed run: what it produced, from which parameters, when."""

    VERSION: ClassVar[int] = 1

    run_id: str = doc("unique id: UTC start time, command, random suffix (e.g. 20250205T080000.000000Z-hunt-3fa2c1)")
    artifact: str = doc("what the run produced: findings, exposure, obligations or incident")
    source: str = doc("who produced it: the detector family for findings (sigma, analytics), else the command")
    command: str = doc("the breachscope command: hunt, scope, notify")
    started_at: str = doc("ISO 8601, UTC")
    committed_at: str = doc("ISO 8601, UTC: when the run became part of the case")
    parameters: dict[str, Any] = doc("the run's options as given (rules, suspects, snapshot, aware_at...)")
    counts: dict[str, int] = doc("headline numbers of the result (findings; affected subjects; obligations owed)")
    inputs: tuple[str, ...] = doc("run ids of the artifacts this run read (notify: the exposure run)")
    files: tuple[str, ...] = doc("the run's files, relative to runs/<run_id>/")
    breachscope: str = doc("version of breachscope that wrote the run")
    version: int = doc("version of this record's format", default=1)

    def to_json(self) -> dict[str, Any]:
        return json_object(self)

    @classmethod
    def from_json(cls, d: dict[str, Any], where: str = "run record") -> RunRecord:
        """Read by hand (every case open reads the journal: no validation library on that path)."""
        try:
            if int(d.get("version", 1)) > cls.VERSION:
                raise ArtifactError(f"{where}: run record version {d['version']} is newer than this breachscope")
            strings = {k: d[k] for k in ("run_id", "artifact", "source", "command", "started_at", "committed_at",
                                         "breachscope")}
            if not all(isinstance(v, str) for v in strings.values()):
                raise TypeError("text fields must be strings")
            params, counts = d.get("parameters") or {}, d.get("counts") or {}
            if not isinstance(params, dict) or not isinstance(counts, dict):
                raise TypeError("parameters and counts must be objects")
            return cls(**strings, parameters=params, counts={str(k): int(v) for k, v in counts.items()},
                       inputs=tuple(str(x) for x in d.get("inputs") or ()),
                       files=tuple(str(x) for x in d.get("files") or ()), version=int(d.get("version", 1)))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{where}: damaged run record: {exc}") from exc


@dataclass(frozen=True)
class History:
    """The committed runs of a case, in commit order, and the ones the views show."""

    runs: tuple[RunRecord, ...]
    shown: tuple[RunRecord, ...] = field(default=())  # the runs behind the views (latest, or as of a run)

    def by_id(self, run_id: str) -> RunRecord | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    def of(self, artifact: str, shown_only: bool = True) -> list[RunRecord]:
        return [r for r in (self.shown if shown_only else self.runs) if r.artifact == artifact]

    def latest(self, artifact: str) -> RunRecord | None:
        """The run the views show for an artifact that does not accumulate (exposure, obligations)."""
        shown = self.of(artifact)
        return shown[-1] if shown else None


def read_history(layout: CaseLayout, as_of: str | None = None) -> History:
    """Committed runs (a torn last line of the journal is not a commit) and the ones shown."""
    runs: list[RunRecord] = []
    path = layout.runs_journal
    if path.is_file():
        with path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n"):
                    break
                try:
                    runs.append(RunRecord.from_json(json.loads(raw), f"{path}:{n}"))
                except ValueError as exc:
                    raise ArtifactError(f"{path}:{n}: damaged journal line: {exc}") from exc
    upto = runs
    if as_of is not None:
        ids = [r.run_id for r in runs]
        if as_of not in ids:
            recent = ", ".join(ids[-5:]) or "none: run hunt, scope or notify first"
            raise UsageError(f"--run {as_of}: no such run in {layout.root} (latest runs: {recent})")
        upto = runs[: ids.index(as_of) + 1]
    return History(tuple(runs), tuple(select(upto)))


def select(runs: list[RunRecord]) -> list[RunRecord]:
    """The latest run per artifact (per artifact and source where sources accumulate), in commit order."""
    latest: dict[tuple[str, str], RunRecord] = {}
    for r in runs:
        latest[(r.artifact, r.source if ACCUMULATES.get(r.artifact, False) else "")] = r
    chosen = {id(r) for r in latest.values()}
    return [r for r in runs if id(r) in chosen]

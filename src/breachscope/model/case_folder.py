"""A case as data: its folder layout, what its manifest commits and which runs it shows. Opening one
reads files only; an engine (engines/) is given the folder to query it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from breachscope.model.case import CaseLayout, CaseState, load_state
from breachscope.model.case_lock import sweep_leftovers
from breachscope.model.runs import History, read_history


@dataclass(frozen=True)
class CaseFolder:
    """An opened case folder: `layout` (every path), `state` (the manifest folded), `history` (the runs
    behind findings/subjects/obligations: the latest, or the case as it stood at a run)."""

    layout: CaseLayout
    state: CaseState
    history: History

    @classmethod
    def open(cls, path: str | Path, run: str | None = None) -> CaseFolder:
        layout = CaseLayout(path)
        layout.require()
        sweep_leftovers(layout.root)  # what killed runs left, unless a live run holds the case
        return cls(layout, load_state(layout), read_history(layout, as_of=run))

    @property
    def root(self) -> Path:
        return self.layout.root

    def part_files(self) -> dict[str, list[str]]:
        """Table -> the paths of the Parquet parts the manifest commits (in commit order)."""
        return {table: [str(self.layout.root / p.path) for p in parts]
                for table, parts in sorted(self.state.parts_by_table().items())}

"""Expansion budgets: how much archives may write to the case's scratch folder.

Three levels are metered at once, each by the bytes written (expanded) against the bytes really
stored in the evidence that produced them: the member being expanded, the top-level archive it
belongs to (nested archives included, their bytes counted against the outer archive's stored bytes),
and the whole run (shared by the worker processes). A ratio is only enforced once the expanded
bytes pass `ratio_floor`, so small, highly compressible files (an almost empty EVTX) are never
refused; the absolute limits are enforced from the first byte. Defaults are documented in
docs/schema.md and set from the CLI (`--max-expansion-ratio`, `--max-archive-bytes`,
`--max-run-expansion`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


@dataclass(frozen=True)
class ExpansionLimits:
    max_ratio: float = 500.0  # expanded / stored bytes; a deflate stream of zeros reaches ~1030
    ratio_floor: int = 64 * MIB  # ratios apply past this many expanded bytes
    max_archive_bytes: int = 64 * GIB  # expanded from one top-level archive, nested levels included
    max_run_bytes: int = 256 * GIB  # expanded from all archives of one run

    def over_ratio(self, expanded: int, stored: int) -> bool:
        return expanded > self.ratio_floor and expanded > self.max_ratio * max(stored, 0)


class Counter2:
    """Two running totals (expanded, stored) that several processes may add to."""

    def __init__(self, shared: Any = None) -> None:
        self._shared = shared  # multiprocessing Array('q', 2) or None (this process only)
        self._local = [0, 0]
        self._lock = threading.Lock()

    def add(self, expanded: int, stored: int) -> tuple[int, int]:
        if self._shared is None:
            with self._lock:
                self._local[0] += expanded
                self._local[1] += stored
                return self._local[0], self._local[1]
        with self._shared.get_lock():
            self._shared[0] += expanded
            self._shared[1] += stored
            return self._shared[0], self._shared[1]

    def totals(self) -> tuple[int, int]:
        return self.add(0, 0)


class LimitReached(Exception):
    """An absolute limit: the rest of the archive (or of the run) is not expanded."""


class ArchiveBudget:
    """The meters of one top-level archive (shared by its nested levels) and of the run."""

    def __init__(self, limits: ExpansionLimits, run: Counter2) -> None:
        self.limits = limits
        self.run = run
        self.expanded = 0
        self.stored = 0
        self.stopped: str | None = None  # set once an absolute limit is reached

    def precheck(self) -> None:
        """Before a member: raise LimitReached if an absolute limit was already reached."""
        if self.stopped:
            raise LimitReached(self.stopped)
        run_expanded, _ = self.run.totals()
        if run_expanded >= self.limits.max_run_bytes:
            self.stopped = (f"the run's expansion limit was reached ({self.limits.max_run_bytes:,} bytes, "
                            "--max-run-expansion)")
            raise LimitReached(self.stopped)

    def declared(self, size: int, stored: int) -> str | None:
        """Why a member must not be expanded at all, from the sizes its entry declares."""
        if self.limits.over_ratio(size, stored):
            return (f"declares {size:,} bytes from {stored:,} stored "
                    f"(over {self.limits.max_ratio:g}x, --max-expansion-ratio)")
        if self.expanded + size > self.limits.max_archive_bytes:
            return (f"declares {size:,} bytes: over the archive's expansion limit "
                    f"({self.limits.max_archive_bytes:,} bytes, --max-archive-bytes)")
        return None

    def add_stored(self, n: int) -> None:
        """Bytes of the top-level archive consumed (only the outermost level calls this)."""
        self.stored += n
        self.run.add(0, n)

    def meter(self, stored: int | None = None) -> MemberMeter:
        return MemberMeter(self, stored)


class MemberMeter:
    """Counts one member's expansion; `add` returns why expansion must stop, or None."""

    def __init__(self, budget: ArchiveBudget, stored: int | None) -> None:
        self.budget = budget
        self.stored = stored  # the member's stored size when its entry tells it (zip, gzip: measured)
        self.expanded = 0

    def add(self, n: int, stored_now: int | None = None) -> str | None:
        b, lim = self.budget, self.budget.limits
        self.expanded += n
        b.expanded += n
        run_expanded, run_stored = b.run.add(n, 0)
        stored = stored_now if stored_now is not None else self.stored or 0
        if lim.over_ratio(self.expanded, stored):
            return f"expands over {lim.max_ratio:g}x its stored size ({stored:,} bytes), --max-expansion-ratio"
        if lim.over_ratio(b.expanded, b.stored):
            return (f"the archive expands over {lim.max_ratio:g}x its stored size ({b.stored:,} bytes read), "
                    "--max-expansion-ratio")
        if b.expanded > lim.max_archive_bytes:
            b.stopped = (f"the archive's expansion limit was reached ({lim.max_archive_bytes:,} bytes, "
                         "--max-archive-bytes)")
            return b.stopped
        if run_expanded > lim.max_run_bytes:
            b.stopped = f"the run's expansion limit was reached ({lim.max_run_bytes:,} bytes, --max-run-expansion)"
            return b.stopped
        if lim.over_ratio(run_expanded, run_stored):
            return (f"the run's archives expand over {lim.max_ratio:g}x their stored size "
                    f"({run_stored:,} bytes read), --max-expansion-ratio")
        return None

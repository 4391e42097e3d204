"""What a reader gets besides its input: options, and where to report bad records and warnings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar, cast
from zoneinfo import ZoneInfo

import pyarrow as pa

from breachscope.ingest.limits import ExpansionLimits

MAX_LISTED_REJECTS = 20  # per file in the manifest; every reject is in the rejects table
EXCERPT_CHARS = 200
REJECT_FLUSH = 10_000  # rejects held in memory before they are handed to `ReadContext.spill`
MAX_RECORD_BYTES = 32 << 20  # default --max-record-bytes


class ReadAbandoned(BaseException):
    """Raised through a reader to stop it (a BaseException, so that no reader's catch-all swallows it)."""


@dataclass(frozen=True)
class IngestOptions:
    """Options that change how records are read (documented in the README and docs/schema.md)."""

    year: int | None = None  # year for timestamps that lack one (RFC 3164, some Cisco formats)
    tz: str | None = None  # IANA zone for timestamps that lack one; default UTC, reported
    format: str | None = None  # force a reader by name instead of sniffing
    batch_rows: int = 32_768
    max_record_bytes: int = MAX_RECORD_BYTES  # a longer line or record is cut and rejected
    limits: ExpansionLimits = field(default_factory=ExpansionLimits)  # archive expansion budgets
    passwords: tuple[bytes, ...] = field(default=(), repr=False)  # --archive-password values, tried in order

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz or "UTC")


class HeldRows(Protocol):
    """Rows a reader keeps across the files of one job (`ReadContext.held_rows`), e.g. the Windows
    events of 300 small EVTX files, so that they make a few batches instead of 300. The worker writes
    what is left to `table` when the job's unit closes: a reader never loses rows by holding them."""

    @property
    def table(self) -> str: ...

    def __len__(self) -> int: ...

    def flush(self) -> pa.RecordBatch: ...


Held = TypeVar("Held", bound=HeldRows)


@dataclass(frozen=True)
class SourceInfo:
    """One input as readers see it: a real file on disk plus the name it is known by."""

    display: str  # path as given, or "archive.zip!member" for archive members
    path: Path  # file to open (archive members are extracted to the case's tmp folder)
    sha256: str
    size: int
    mtime: float


@dataclass
class ReadContext:
    source: SourceInfo
    options: IngestOptions
    progress: Callable[[int], None] = lambda _n: None
    records: int = 0
    rejected: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    first_rejects: list[dict[str, str]] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    reject_rows: list[tuple[str, str, str]] = field(default_factory=list)
    #: rows readers hold across the files of one job, by the reader's own key (see `held_rows`); the
    #: worker passes the same dict to every file of a job and flushes it when the unit closes
    held: dict[str, HeldRows] = field(default_factory=dict)
    #: called when REJECT_FLUSH rejects are held (writes them out, or abandons the file)
    spill: Callable[[], None] | None = None

    def held_rows(self, key: str, make: Callable[[], Held]) -> Held:
        """The job's holder of rows under `key` (made on first use); what it still holds when the unit
        closes is flushed to its table by the worker."""
        rows = self.held.get(key)
        if rows is None:
            rows = self.held[key] = make()
        return cast(Held, rows)  # a key is used by one reader, with one holder type

    def reject(self, location: str, reason: str, excerpt: bytes | str | None = None) -> None:
        """Count one bad record with its location; the run goes on."""
        if self.spill is not None and len(self.reject_rows) >= REJECT_FLUSH:
            self.spill()
        self.rejected += 1
        self.rejects_by_reason[reason] += 1
        if len(self.first_rejects) < MAX_LISTED_REJECTS:
            self.first_rejects.append({"location": location, "reason": reason})
        if isinstance(excerpt, bytes):
            excerpt = excerpt[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
        self.reject_rows.append((location, reason, (excerpt or "")[:EXCERPT_CHARS]))

    def warn(self, message: str) -> None:
        """A condition worth telling (assumed year or zone, replaced bytes); counted, not per line."""
        self.warnings[message] += 1

    def take_rejects(self) -> list[tuple[str, str, str]]:
        rows, self.reject_rows = self.reject_rows, []
        return rows

    def warning_lines(self) -> list[str]:
        return [m if n == 1 else f"{m} ({n} times)" for m, n in sorted(self.warnings.items())]

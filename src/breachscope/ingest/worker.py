"""One ingest job, run in a worker process: files (or one archive) to Parquet parts + manifest entries.

A job never commits anything itself; it returns units (entries + parts) that the main process
commits. A unit is what can be kept or dropped as a whole: all the plain files of a group (they
were de-duplicated before the job started), or one archive member (de-duplicated here and again at
commit time, since two archives may hold the same member).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.archives import MAX_DEPTH, ArchiveError, Done, Member, Unread, archive_kind, expand
from breachscope.ingest.context import REJECT_FLUSH, HeldRows, IngestOptions, ReadAbandoned, ReadContext, SourceInfo
from breachscope.ingest.limits import ArchiveBudget, Counter2
from breachscope.ingest.reader import HEAD_BYTES
from breachscope.ingest.registry import detect, reader_by_name
from breachscope.ingest.store import PartWriter
from breachscope.model.case import (
    DUPLICATE,
    EMPTY,
    EXPANDED,
    FAILED,
    INCOMPLETE,
    INGESTED,
    SKIPPED,
    UNRECOGNIZED,
    CaseLayout,
    FileEntry,
    Part,
)

FORCED_GIVE_UP = 100_000  # rejects without a single record: a forced reader stops there


@dataclass(frozen=True)
class Item:
    path: str  # file on disk
    display: str  # name shown and stored as src_file
    sha256: str
    size: int
    mtime: float
    explicit: bool  # named on the command line (an unknown format is then an error)
    archive: bool = False


@dataclass(frozen=True)
class Job:
    job_id: str
    items: tuple[Item, ...]


@dataclass
class Unit:
    files: list[FileEntry]
    parts: list[Part]


@dataclass
class JobResult:
    job_id: str
    units: list[Unit] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # members of an archive expanded again, done already


class SharedCounter(Protocol):
    """A counter shared by the worker processes (multiprocessing.Value('q'))."""

    value: int

    def get_lock(self) -> AbstractContextManager[Any]: ...


@dataclass
class WorkerState:
    case_root: Path
    options: IngestOptions
    known: dict[str, str]  # sha256 -> path of content the case holds
    recorded: frozenset[tuple[str, str]] = frozenset()  # (path, sha256) done: not read nor recorded again
    incomplete: frozenset[tuple[str, str]] = frozenset()  # (path, sha256) of archives to expand again
    progress: SharedCounter | None = None  # bytes read, shared with the main process
    expansion: Counter2 = field(default_factory=Counter2)  # bytes expanded / stored by the run's archives

    def add_progress(self, n: int) -> None:
        if self.progress is not None and n:
            with self.progress.get_lock():
                self.progress.value += n


_STATE: WorkerState | None = None


def init_worker(state: WorkerState) -> None:
    global _STATE
    _STATE = state


def run_job(job: Job) -> JobResult:
    assert _STATE is not None, "init_worker was not called"
    return JobRunner(_STATE, job).run()


class JobRunner:
    def __init__(self, state: WorkerState, job: Job) -> None:
        self.state = state
        self.job = job
        self.writer = PartWriter(state.case_root, job.job_id)
        self.seen: dict[str, str] = {}  # sha256 -> name of the member that holds it in this job
        self.result = JobResult(job.job_id)
        self.scratch = CaseLayout(state.case_root).tmp / job.job_id
        self.held: dict[str, HeldRows] = {}  # rows readers hold across the job's files (ReadContext.held)
        self.rows: Counter[tuple[str, str]] = Counter()  # (src_file, table) -> rows written
        self.pending: list[FileEntry] = []  # entries of the unit being built

    def _write(self, table: str, batch: pa.RecordBatch) -> None:
        """Write a batch and credit its rows to the files they came from (a batch may span files)."""
        self.writer.write(table, batch)
        if table == "rejects":
            return
        files = batch.column("src_file")
        if pc.count_distinct(files).as_py() == 1:
            self.rows[(files[0].as_py(), table)] += batch.num_rows
        else:
            for item in pc.value_counts(files).to_pylist():
                self.rows[(item["values"], table)] += item["counts"]

    def _close_unit(self) -> None:
        """Flush rows readers still hold, then complete the unit's entries with their row counts."""
        for rows in self.held.values():
            if len(rows):
                self._write(rows.table, rows.flush())
        if not self.pending:
            return
        for entry in self.pending:
            if entry.status == INGESTED:
                entry.tables = {t: n for (f, t), n in sorted(self.rows.items()) if f == entry.path}
                entry.records = sum(entry.tables.values())
        self.result.units.append(Unit(self.pending, self.writer.close_unit()))
        self.pending = []
        self.rows.clear()

    def run(self) -> JobResult:
        try:
            for item in self.job.items:
                head = _head(Path(item.path))
                kind = archive_kind(head)
                if kind is None:
                    self.pending.append(self._file(Path(item.path), item.display, item.sha256, item.size,
                                                   item.mtime, item.explicit, head, progress_scale=True))
                else:
                    budget = ArchiveBudget(self.state.options.limits, self.state.expansion)
                    self._archive(Path(item.path), item.display, item.sha256, item.size, kind, 1, budget)
                    self.state.add_progress(item.size)
            self._close_unit()
        except BaseException:
            self.writer.abort()
            raise
        return self.result

    def _archive(self, path: Path, display: str, sha256: str, size: int, kind: str, depth: int,
                 budget: ArchiveBudget) -> None:
        """Every member, then the archive's own entry: `expanded`, or `incomplete` when a member was
        skipped or failed (a later run expands it again and retries those)."""
        self._close_unit()
        self.scratch.mkdir(parents=True, exist_ok=True)
        first, known = len(self.result.units), len(self.result.known)
        error = None
        done: frozenset[str] = frozenset()
        if (display, sha256) in self.state.incomplete:  # the same bytes: members read then are read
            done = frozenset(p for p, _ in self.state.recorded if p.startswith(display + "!"))
        try:
            for member in expand(path, kind, display, self.scratch, budget, depth, self.state.options.passwords,
                                 done):
                if isinstance(member, Done):
                    self.result.known.append(member.name)
                    continue
                if isinstance(member, Unread):
                    self._unread(member)
                    continue
                try:
                    self._member(member, depth, budget)
                finally:
                    member.path.unlink(missing_ok=True)
        except ArchiveError as exc:
            error = str(exc)
        states = Counter(f.status for u in self.result.units[first:] for f in u.files)
        pending = sum(states[s] for s in (FAILED, SKIPPED, INCOMPLETE))
        if error and not states and len(self.result.known) == known:
            entry = FileEntry(path=display, sha256=sha256, size=size, format=kind, status=FAILED, error=error)
        else:
            already = len(self.result.known) - known
            summary = ", ".join([*(f"{n} {s}" for s, n in sorted(states.items())),
                                 *([f"{already} already in the case"] if already else [])]) or "no members"
            entry = FileEntry(path=display, sha256=sha256, size=size, format=kind,
                              status=INCOMPLETE if pending or error else EXPANDED, error=error,
                              note=f"archive: {summary}")
        self.result.units.append(Unit([entry], []))

    def _unread(self, m: Unread) -> None:
        failed = m.status == FAILED
        entry = FileEntry(path=m.name, sha256="", size=m.size, format=None, status=m.status,
                          duplicate_of=m.duplicate_of, error=m.reason if failed else None,
                          note=None if failed else m.reason)
        self.result.units.append(Unit([entry], []))

    def _member(self, m: Member, depth: int, budget: ArchiveBudget) -> None:
        if not m.sha256:
            entry = FileEntry(path=m.name, sha256="", size=0, format=None, status=FAILED, error=m.damage)
            self.result.units.append(Unit([entry], []))
            return
        if (m.name, m.sha256) in self.state.recorded:
            self.result.known.append(m.name)  # an archive expanded again (it was incomplete): done already
            return
        holder = self.state.known.get(m.sha256) or self.seen.get(m.sha256)
        if holder is not None:
            entry = FileEntry(path=m.name, sha256=m.sha256, size=m.size, format=None, status=DUPLICATE,
                              duplicate_of=holder)
            self.result.units.append(Unit([entry], []))
            return
        head = _head(m.path)
        kind = archive_kind(head)
        self.seen[m.sha256] = m.name
        if kind is not None:
            if depth < MAX_DEPTH:
                self._archive(m.path, m.name, m.sha256, m.size, kind, depth + 1, budget)
            else:
                self._unread(Unread(m.name, SKIPPED, f"an archive nested more than {MAX_DEPTH} levels deep: "
                                    "not expanded", m.size))
            return
        self._close_unit()  # members are units of their own (de-duplicated at commit)
        self.pending.append(self._file(m.path, m.name, m.sha256, m.size, m.mtime, False, head,
                                       progress_scale=False, damage=m.damage, note=m.note))
        self._close_unit()

    def _file(self, path: Path, display: str, sha256: str, size: int, mtime: float, explicit: bool,
              head: bytes, progress_scale: bool, damage: str | None = None, note: str | None = None) -> FileEntry:
        started = time.perf_counter()
        options = self.state.options
        entry = FileEntry(path=display, sha256=sha256, size=size, format=None, status=EMPTY, note=note)
        if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe") and size <= len(head):
            return entry
        forced = options.format is not None
        reader = reader_by_name(options.format) if options.format else detect(head, display)
        if reader is None:
            entry.status = UNRECOGNIZED
            entry.error = "unknown format: no reader recognises this content"
            if progress_scale:
                self.state.add_progress(size)
            return entry
        entry.format = reader.name
        src = SourceInfo(display=display, path=path, sha256=sha256, size=size, mtime=mtime)
        reported = 0

        def progress(n: int) -> None:
            nonlocal reported
            reported += n
            if progress_scale:
                self.state.add_progress(n)

        ctx = ReadContext(source=src, options=options, progress=progress, held=self.held)

        def spill() -> None:
            if forced and ctx.records == 0:  # held until a record is stored: the file may not be this format
                if len(ctx.reject_rows) >= FORCED_GIVE_UP:
                    raise ReadAbandoned
                return
            self.writer.write_rejects(display, sha256, ctx.take_rejects())

        ctx.spill = spill
        abandoned = False
        try:
            for table, batch in reader.read(ctx):
                self._write(table, batch)
                if len(ctx.reject_rows) >= REJECT_FLUSH:
                    spill()
        except ReadAbandoned:
            abandoned = True
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # a reader bug or an input no reader foresaw: keep what was read
            entry.error = f"{type(exc).__name__}: {exc}"[:500]
            ctx.reject(f"after record {ctx.records}", f"reading stopped: {type(exc).__name__}")
        if progress_scale and size > reported:
            self.state.add_progress(size - reported)
        entry.rejected = ctx.rejected
        entry.rejects_by_reason = dict(ctx.rejects_by_reason)
        entry.first_rejects = ctx.first_rejects
        entry.duration_s = round(time.perf_counter() - started, 4)
        if forced and ctx.records == 0 and (ctx.rejected or entry.error or abandoned):
            # nothing of it was stored: not recorded as done, so that a run without --format reads it
            ctx.take_rejects()
            reasons = "; ".join(f"{n} x {r}" for r, n in ctx.rejects_by_reason.most_common(3))
            entry.rejected, entry.rejects_by_reason = 0, {}  # none stored; first_rejects say where it failed
            entry.status = FAILED
            entry.error = (f"--format {reader.name} cannot read this file: no record stored"
                           f"{' (stopped early)' if abandoned else ''}; rejected: {reasons}")[:500]
            return entry
        if damage:
            ctx.reject(f"end of member ({size} bytes)", damage)
            entry.rejected = ctx.rejected
            entry.rejects_by_reason = dict(ctx.rejects_by_reason)
        self.writer.write_rejects(display, sha256, ctx.take_rejects())
        entry.status = INGESTED  # records and tables are counted when the unit closes
        entry.warnings = ctx.warning_lines()
        return entry


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)

"""Ingest: plan the inputs into jobs, run them on worker processes, commit each result.

Plan: walk the inputs (sorted, so runs are reproducible), hash every file, drop what the case
already holds or what appears twice, and group small files so the case is not thousands of tiny
Parquet files. Run: jobs go to a process pool (both cores; EVTX and JSON decoding are CPU-bound).
Commit: the main process alone writes the manifest, one line per job, after the job's parts are in
place, dropping archive members that another job of the same run already committed.
Workers die with the main process (parent-death signal): a killed run leaves no worker behind.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from breachscope.ingest.archives import archive_kind, sha256_file
from breachscope.ingest.context import IngestOptions
from breachscope.ingest.forget import ForgetResult, forget
from breachscope.ingest.limits import Counter2
from breachscope.ingest.store import CaseWriter, new_run_id
from breachscope.ingest.worker import Item, Job, JobResult, JobRunner, SharedCounter, WorkerState, init_worker, run_job
from breachscope.model.case import (
    DUPLICATE,
    EMPTY,
    EXPANDED,
    FAILED,
    INCOMPLETE,
    INGESTED,
    SKIPPED,
    UNRECOGNIZED,
    FileEntry,
)
from breachscope.model.errors import UsageError

GROUP_MAX_BYTES = 64 << 20  # small files share Parquet parts up to this much input
GROUP_MIN_BYTES = 4 << 20
GROUP_MAX_FILES = 256
ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass
class IngestSummary:
    case: str
    run_id: str
    files: list[FileEntry] = field(default_factory=list)
    skipped_known: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    forced: ForgetResult | None = None  # what --force took out of the case first
    unreadable_arguments: list[str] = field(default_factory=list)  # named evidence nothing could be read from

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def to_dict(self) -> dict[str, object]:
        tables: dict[str, int] = {}
        for f in self.files:
            for t, n in f.tables.items():
                tables[t] = tables.get(t, 0) + n
        return {
            "case": self.case,
            "run_id": self.run_id,
            "files_ingested": self.count(INGESTED),
            "files_already_in_case": len(self.skipped_known),
            "files_duplicate": self.count(DUPLICATE),
            "files_unrecognized": [f.path for f in self.files if f.status == UNRECOGNIZED],
            "files_failed": [{"path": f.path, "error": f.error} for f in self.files if f.status == FAILED],
            "files_skipped": [{"path": f.path, "reason": f.note} for f in self.files if f.status == SKIPPED],
            "archives": [{"path": f.path, "status": f.status, "note": f.note, "error": f.error}
                         for f in self.files if f.status in (EXPANDED, INCOMPLETE)],
            "unreadable_arguments": self.unreadable_arguments,
            "forced": self.forced.to_dict() if self.forced else None,
            "records": self.records,
            "rejected": self.rejected,
            "tables": dict(sorted(tables.items())),
            "files_with_rejects": [
                {"path": f.path, "rejected": f.rejected, "reasons": f.rejects_by_reason,
                 "first": f.first_rejects[:3]}
                for f in self.files if f.rejected
            ],
            "warnings": [{"path": f.path, "warnings": f.warnings} for f in self.files if f.warnings],
            "duration_s": round(self.duration_s, 3),
        }


def expand_inputs(paths: Iterable[str]) -> list[tuple[Path, str, bool]]:
    """(file, display name, named explicitly) for every file under the given paths, sorted."""
    out: list[tuple[Path, str, bool]] = []
    for given in paths:
        p = Path(given)
        if p.is_file():
            out.append((p.resolve(), str(p.resolve()), True))
        elif p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    f = Path(root) / name
                    if f.is_file():
                        out.append((f.resolve(), str(f.resolve()), False))
        elif p.exists():
            raise UsageError(f"not a regular file or folder: {given}")
        else:
            raise UsageError(f"no such file or folder: {given}")
    seen: set[Path] = set()
    unique = []
    for entry in out:
        if entry[0] not in seen:
            seen.add(entry[0])
            unique.append(entry)
    return unique


def hash_file(path: Path) -> tuple[str, int, float, str | None, bool]:
    """sha256, size, mtime, error, is-archive (archives are expanded by a job of their own)."""
    try:
        st = path.stat()
        with path.open("rb") as fh:
            archive = archive_kind(fh.read(512)) is not None
        return sha256_file(path), st.st_size, st.st_mtime, None, archive
    except OSError as exc:
        return "", 0, 0.0, f"unreadable: {exc.strerror or exc}", False


def select_items(inputs: list[tuple[Path, str, bool]], hashes: list[tuple[str, int, float, str | None, bool]],
                 writer: CaseWriter, summary: IngestSummary) -> list[Item]:
    """The inputs to read (their `hash_file` results beside them); files that fail, that the case holds under
    their name or that are duplicates are committed (or counted as known) here. Shared with the Spark ingest
    (engines/spark_ingest.py), so that both decide alike."""
    known = writer.state.known_sha256
    recorded = writer.state.recorded
    items: list[Item] = []
    failed: list[FileEntry] = []
    run_seen: dict[str, str] = {}
    for (path, display, explicit), (sha, size, mtime, err, archive) in zip(inputs, hashes, strict=True):
        if err:
            failed.append(FileEntry(path=display, sha256="", size=0, format=None, status=FAILED,
                                    error=err))
        elif (display, sha) in recorded:
            summary.skipped_known.append(display)
        elif sha in known or sha in run_seen:  # the same content under another name: both names kept
            failed.append(FileEntry(path=display, sha256=sha, size=size, format=None,
                                    status=DUPLICATE, duplicate_of=known.get(sha) or run_seen[sha]))
        else:
            run_seen[sha] = display
            items.append(Item(str(path), display, sha, size, mtime, explicit, archive))
    if failed:
        writer.commit(failed, [], summary.run_id)
        summary.files.extend(failed)
    return items


def plan_jobs(items: list[Item], run_id: str, workers: int) -> list[Job]:
    """Small files share a job (and its Parquet parts); big files and archives get their own.
    Groups are sized so that every worker gets several jobs (balance) but few parts are written."""
    total = sum(i.size for i in items if not i.archive)
    group_max = min(GROUP_MAX_BYTES, max(GROUP_MIN_BYTES, total // (workers * 4)))
    jobs: list[Job] = []
    group: list[Item] = []
    size = 0

    def close() -> None:
        nonlocal group, size
        if group:
            jobs.append(Job(f"{run_id}-{len(jobs):05d}", tuple(group)))
        group, size = [], 0

    for item in items:
        if item.size >= group_max or item.archive:
            jobs.append(Job(f"{run_id}-{len(jobs):05d}", (item,)))
            continue
        if size + item.size > group_max or len(group) >= GROUP_MAX_FILES:
            close()
        group.append(item)
        size += item.size
    close()
    return jobs


def ingest(paths: list[str], case: str | Path, options: IngestOptions | None = None,
           jobs: int | None = None, progress: ProgressFn | None = None, force: bool = False) -> IngestSummary:
    """Read the evidence under `paths` into the case. `force`: first forget what the case holds
    from these files (see ingest/forget.py), then read them as if new."""
    options = options or IngestOptions()
    started = time.perf_counter()
    inputs = expand_inputs(paths)
    writer = CaseWriter(case)
    run_id = new_run_id()
    summary = IngestSummary(case=str(case), run_id=run_id)
    workers = max(1, jobs or os.cpu_count() or 1)
    pool: _Pool | None = None
    try:
        if force:
            summary.forced = forget(writer, [d for _, d, _ in inputs], run_id, "ingest --force",
                                    with_duplicates=False)
        if workers > 1 and len(inputs) > 0:
            pool = _pool(workers, writer, options)
        hashes = list(pool.map(hash_file, [p for p, _, _ in inputs], chunksize=8) if pool
                      else map(hash_file, [p for p, _, _ in inputs]))
        known, recorded = writer.state.known_sha256, writer.state.recorded  # before this run's first commit
        items = select_items(inputs, hashes, writer, summary)
        planned = plan_jobs(items, run_id, workers)
        total = sum(i.size for i in items)
        if pool is None:
            state = WorkerState(case_root=writer.layout.root, options=options, known=dict(known),
                                recorded=frozenset(recorded), incomplete=writer.state.incomplete)
            for job in planned:
                result = JobRunner(state, job).run()
                commit_result(writer, result, summary, run_id)
                if progress:
                    progress(sum(i.size for i in job.items), total)
        else:
            _run_pool(pool, planned, writer, summary, run_id, progress, total)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        writer.close()
    summary.unreadable_arguments = unreadable_arguments(paths, summary)
    summary.duration_s = time.perf_counter() - started
    return summary


#: Statuses that mean nothing could be read from a file.
_NOTHING_READ = frozenset({UNRECOGNIZED, SKIPPED, FAILED})


def unreadable_arguments(paths: list[str], summary: IngestSummary) -> list[str]:
    """Files, folders and archives named on the command line from which nothing at all could be
    read in this run (every file under them unrecognised, skipped or failed; none already known)."""
    out = []
    for given in paths:
        root = str(Path(given).resolve())
        under = [f for f in summary.files if f.path == root or f.path.startswith((root + os.sep, root + "!"))]
        known = any(k == root or k.startswith((root + os.sep, root + "!")) for k in summary.skipped_known)
        members = [f for f in under if f.status not in (EXPANDED, INCOMPLETE)]
        if members and not known and all(f.status in _NOTHING_READ for f in members):
            out.append(root)
    return out


_PROGRESS = None  # the pool's shared byte counter, set in each worker by _pool_init
PR_SET_PDEATHSIG = 1


def _pool_init(case_root: Path, options: IngestOptions, known: dict[str, str],
               recorded: frozenset[tuple[str, str]], incomplete: frozenset[tuple[str, str]], counter: SharedCounter,
               expansion: object, parent: int) -> None:
    _die_with_parent(parent)
    init_worker(WorkerState(case_root=case_root, options=options, known=known, recorded=recorded,
                            incomplete=incomplete, progress=counter, expansion=Counter2(expansion)))


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive the run that started it (kill -9 of the main process once left
    workers blocked forever with parent 1). Linux: the kernel sends SIGKILL when the parent dies;
    elsewhere a thread watches the parent's id."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            _watch_parent(parent)
    else:
        _watch_parent(parent)
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Pool(ProcessPoolExecutor):
    """The worker pool, with the byte counter its workers add to (progress)."""

    counter: SharedCounter


def _pool(workers: int, writer: CaseWriter, options: IngestOptions) -> _Pool:
    # fork: workers start in milliseconds and inherit the imported readers; they are all started at
    # the first submit, before any progress-display thread exists in this process
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    expansion = ctx.Array("q", 2)  # bytes expanded / stored by the run's archives, all workers together
    pool = _Pool(max_workers=workers, mp_context=ctx, initializer=_pool_init,
                 initargs=(writer.layout.root, options, dict(writer.state.known_sha256),
                           frozenset(writer.state.recorded), writer.state.incomplete, counter,
                           expansion, os.getpid()))
    pool.counter = counter
    return pool


def _run_pool(pool: _Pool, planned: list[Job], writer: CaseWriter, summary: IngestSummary,
              run_id: str, progress: ProgressFn | None, total: int) -> None:
    counter = pool.counter
    # biggest jobs first keeps both workers busy until the end
    order = sorted(planned, key=lambda j: -sum(i.size for i in j.items))
    pending: set[Future[JobResult]] = {pool.submit(run_job, job) for job in order}
    while pending:
        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        for fut in done:
            commit_result(writer, fut.result(), summary, run_id)
        if progress:
            progress(min(counter.value, total), total)


def commit_result(writer: CaseWriter, result: JobResult, summary: IngestSummary, run_id: str) -> None:
    files: list[FileEntry] = []
    parts = []
    committed = writer.state.known_sha256
    for unit in result.units:
        dup = [f for f in unit.files if f.status in (INGESTED, EMPTY) and f.sha256 in committed
               and len(unit.files) == 1]
        if dup:  # an archive member that another job of this run committed first
            writer.discard(unit.parts)
            entry = dup[0]
            entry.status, entry.duplicate_of = DUPLICATE, committed[entry.sha256]
            entry.records, entry.tables = 0, {}
            files.append(entry)
            continue
        files.extend(unit.files)
        parts.extend(unit.parts)
    writer.commit(files, parts, run_id)
    summary.files.extend(files)
    summary.skipped_known.extend(result.known)

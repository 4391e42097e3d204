"""Ingest: plan the inputs into jobs, run them on worker processes, commit each result.

Plan: walk the inputs (sorted, so runs are reproducible), hash every file, drop what the case
already holds or what appears twice, and group small files so the case is not thousands of tiny
Parquet files. Run: jobs go to a process pool (both cores; EVTX and JSON decoding are CPU-bound).
Commit: the main process alone writes the manifest, one line per job, after the job's parts are in
place, dropping archive members that another job of the same run already committed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from breachscope.ingest.archives import archive_kind, sha256_file
from breachscope.ingest.context import IngestOptions
from breachscope.ingest.store import CaseWriter
from breachscope.ingest.worker import Item, Job, JobResult, JobRunner, WorkerState, init_worker, run_job
from breachscope.model.case import DUPLICATE, FAILED, INGESTED, UNRECOGNIZED, FileEntry
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


def _hash(path: Path) -> tuple[str, int, float, str | None, bool]:
    """sha256, size, mtime, error, is-archive (archives are expanded by a job of their own)."""
    try:
        st = path.stat()
        with path.open("rb") as fh:
            archive = archive_kind(fh.read(512)) is not None
        return sha256_file(path), st.st_size, st.st_mtime, None, archive
    except OSError as exc:
        return "", 0, 0.0, f"unreadable: {exc.strerror or exc}", False


def _plan(items: list[Item], run_id: str, workers: int) -> list[Job]:
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
           jobs: int | None = None, progress: ProgressFn | None = None) -> IngestSummary:
    options = options or IngestOptions()
    started = time.perf_counter()
    inputs = expand_inputs(paths)
    writer = CaseWriter(case)
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    summary = IngestSummary(case=str(case), run_id=run_id)
    workers = max(1, jobs or os.cpu_count() or 1)
    try:
        pool = _pool(workers, writer, options) if workers > 1 and len(inputs) > 0 else None
        hashes = list(pool.map(_hash, [p for p, _, _ in inputs], chunksize=8) if pool
                      else map(_hash, [p for p, _, _ in inputs]))
        known = writer.state.known_sha256
        recorded = writer.state.recorded
        items: list[Item] = []
        failed: list[FileEntry] = []
        run_seen: dict[str, str] = {}
        for (path, display, explicit), (sha, size, mtime, err, archive) in zip(inputs, hashes, strict=True):
            if err:
                failed.append(FileEntry(path=display, sha256="", size=0, format=None, status=FAILED,
                                        error=err))
            elif sha in known or (display, sha) in recorded:
                summary.skipped_known.append(display)
            elif sha in run_seen:
                failed.append(FileEntry(path=display, sha256=sha, size=size, format=None,
                                        status=DUPLICATE, duplicate_of=run_seen[sha]))
            else:
                run_seen[sha] = display
                items.append(Item(str(path), display, sha, size, mtime, explicit, archive))
        if failed:
            writer.commit(failed, [], run_id)
            summary.files.extend(failed)
        planned = _plan(items, run_id, workers)
        total = sum(i.size for i in items)
        state = WorkerState(case_root=writer.layout.root, options=options,
                            known=frozenset(writer.state.known_sha256))
        if pool is None:
            for job in planned:
                state.progress = None
                result = JobRunner(state, job).run()
                _commit(writer, result, summary, run_id)
                if progress:
                    progress(sum(i.size for i in job.items), total)
        else:
            _run_pool(pool, planned, writer, summary, run_id, progress, total)
            pool.shutdown()
    finally:
        writer.close()
    summary.duration_s = time.perf_counter() - started
    return summary


_PROGRESS = None  # the pool's shared byte counter, set in each worker by _pool_init


def _pool_init(case_root: Path, options: IngestOptions, known: frozenset[str], counter: object,
               parent: int) -> None:
    _die_with_parent(parent)
    init_worker(WorkerState(case_root=case_root, options=options, known=known, progress=counter))


def _die_with_parent(parent: int) -> None:
    """A worker whose main process was killed would wait on the task pipe forever (its sibling holds
    the write end) and could still write parts: on Linux it is killed with its parent."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


def _pool(workers: int, writer: CaseWriter, options: IngestOptions) -> ProcessPoolExecutor:
    # fork: workers start in milliseconds and inherit the imported readers; they are all started at
    # the first submit, before any progress-display thread exists in this process
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_pool_init,
                               initargs=(writer.layout.root, options,
                                         frozenset(writer.state.known_sha256), counter, os.getpid()))
    pool.counter = counter  # type: ignore[attr-defined]
    return pool


def _run_pool(pool: ProcessPoolExecutor, planned: list[Job], writer: CaseWriter, summary: IngestSummary,
              run_id: str, progress: ProgressFn | None, total: int) -> None:
    counter = pool.counter  # type: ignore[attr-defined]
    # biggest jobs first keeps both workers busy until the end
    order = sorted(planned, key=lambda j: -sum(i.size for i in j.items))
    pending: set[Future[JobResult]] = {pool.submit(run_job, job) for job in order}
    while pending:
        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        for fut in done:
            _commit(writer, fut.result(), summary, run_id)
        if progress:
            progress(min(counter.value, total), total)


def _commit(writer: CaseWriter, result: JobResult, summary: IngestSummary, run_id: str) -> None:
    files: list[FileEntry] = []
    parts = []
    committed = writer.state.known_sha256
    for unit in result.units:
        dup = [f for f in unit.files if f.status == INGESTED and f.sha256 in committed and len(unit.files) == 1]
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

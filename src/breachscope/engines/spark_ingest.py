"""`ingest --engine spark`: evidence files read on Spark executors into the same case the local ingest
makes (same Parquet tables, manifest entries, rejects and provenance), so a cluster can read 10^9 events.

The driver does what the local ingest's main process does, with the same functions
(ingest/pipeline.py): it lists and de-duplicates the inputs, plans the jobs and alone writes the
manifest. What scales with the evidence runs on the executors: the sha256 of every file (one task per
few files) and the reading itself (one task per job: one big file, or a group of small ones sharing
Parquet parts; the job is the local worker's, ingest/worker.py). Each task writes its parts into a
staging folder of its own in the case (ingest/staged.py); the driver moves them into place and commits
one manifest line per job, so a killed run leaves no part in the case.

Archives are expanded and read on the driver, by the local worker, after the executors' jobs are
committed: expansion budgets, nested archives and member de-duplication against the case stay the local
code's. A cluster needs the case folder and the evidence at the same path on every node (shared file
system), as `hunt --engine spark` does (engines/spark_case.py).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from breachscope.engines.spark_case import spark_session
from breachscope.ingest.chunks import CHUNK_BYTES, Chunk, Scan, chunks_of, scan_file
from breachscope.ingest.context import IngestOptions
from breachscope.ingest.forget import forget
from breachscope.ingest.pipeline import (
    IngestSummary,
    ProgressFn,
    commit_result,
    expand_inputs,
    hash_file,
    plan_jobs,
    select_items,
    unreadable_arguments,
)
from breachscope.ingest.staged import StagedJob, commit_chunks, commit_staged, run_staged
from breachscope.ingest.store import CaseWriter, new_run_id
from breachscope.ingest.worker import Job, JobRunner, WorkerState
from breachscope.model.errors import BreachscopeError

HASH_TASKS_PER_CORE = 4  # hashing tasks: enough for balance, few enough to start quickly
WAVE_TASKS_PER_CORE = 8  # reading tasks per wave (see _run_remote)


def ingest_on_spark(paths: list[str], case: str | Path, options: IngestOptions | None = None,
                    progress: ProgressFn | None = None, force: bool = False, master: str | None = None,
                    chunk_bytes: int = CHUNK_BYTES) -> IngestSummary:
    """Read the evidence under `paths` into the case on Spark (`master`: see spark_case.spark_session).
    A file of a line reader over `chunk_bytes` is read in chunks of about that size (ingest/chunks.py)."""
    options = options or IngestOptions()
    started = time.perf_counter()
    inputs = expand_inputs(paths)
    session, owned = spark_session(master)
    try:
        summary = _ingest(session.sparkContext, inputs, case, options, progress, force,
                          0 if options.format else chunk_bytes)  # a forced reader is judged on the whole file
    finally:
        if owned:
            session.stop()
    summary.unreadable_arguments = unreadable_arguments(paths, summary)
    summary.duration_s = time.perf_counter() - started
    return summary


def _ingest(sc: Any, inputs: list[tuple[Path, str, bool]], case: str | Path, options: IngestOptions,
            progress: ProgressFn | None, force: bool, chunk_bytes: int) -> IngestSummary:
    writer = CaseWriter(case)
    run_id = new_run_id()
    summary = IngestSummary(case=str(case), run_id=run_id)
    try:
        if force:
            summary.forced = forget(writer, [d for _, d, _ in inputs], run_id, "ingest --force",
                                    with_duplicates=False)
        files = [str(p) for p, _, _ in inputs]
        slices = max(1, min(len(files), sc.defaultParallelism * HASH_TASKS_PER_CORE))
        scans = _collect(sc.parallelize(files, slices).map(partial(_scan, chunk_bytes=chunk_bytes)),
                         "hashing the evidence") if files else []
        items = select_items(inputs, [s.hash for s in scans], writer, summary)
        starts = {display: s.starts for (_, display, _), s in zip(inputs, scans, strict=True) if s.starts}
        planned = plan_jobs([i for i in items if i.display not in starts], run_id, sc.defaultParallelism)
        tasks: list[Job | Chunk] = [j for j in planned if not any(i.archive for i in j.items)]
        for n, item in enumerate(i for i in items if i.display in starts):
            tasks.extend(chunks_of(item, starts[item.display], f"{run_id}-c{n:05d}"))
        progress_of = _Progress(progress, sum(i.size for i in items))
        if tasks:
            _run_remote(sc, tasks, writer, summary, options, progress_of)
        archives = [j for j in planned if any(i.archive for i in j.items)]
        if archives:  # on the driver, by the local worker: see the module's docstring
            state = WorkerState(case_root=writer.layout.root, options=options, known=dict(writer.state.known_sha256),
                                recorded=frozenset(writer.state.recorded), incomplete=writer.state.incomplete)
            for job in archives:
                commit_result(writer, JobRunner(state, job).run(), summary, run_id)
                progress_of.add(sum(i.size for i in job.items))
    finally:
        writer.close()
    return summary


def _run_remote(sc: Any, tasks: list[Job | Chunk], writer: CaseWriter, summary: IngestSummary,
                options: IngestOptions, progress: _Progress) -> None:
    """One Spark task per job or chunk, biggest first (tasks start in partition order: every core stays
    busy until the end), in waves of a few tasks per core: the driver commits each wave's jobs as the wave
    ends (a run that fails keeps what earlier waves read; the driver never holds every result), and a
    chunked file once all its chunks are read. The next wave is queued while one runs, so that no core
    waits between waves."""
    tasks = sorted(tasks, key=lambda t: -_size(t))
    run = partial(_run_task, options=options, case_root=writer.layout.root, run_id=summary.run_id)
    size = max(1, sc.defaultParallelism * WAVE_TASKS_PER_CORE)
    waves = [sc.parallelize(tasks[i:i + size], len(tasks[i:i + size])).map(run) for i in range(0, len(tasks), size)]
    expected = Counter(t.item.display for t in tasks if isinstance(t, Chunk))
    chunked: dict[str, list[StagedJob]] = {}
    group = f"breachscope-ingest-{summary.run_id}"
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="spark-ingest") as pool:
        futures = [pool.submit(_collect, wave, "reading the evidence", group) for wave in waves]
        try:
            for future in futures:
                for staged in future.result():
                    if staged.chunk is None:
                        commit_staged(writer, staged, summary)
                        progress.add(sum(f.size for u in staged.result.units for f in u.files))
                        continue
                    display = staged.chunk.item.display
                    chunked.setdefault(display, []).append(staged)
                    if len(chunked[display]) == expected[display]:
                        commit_chunks(writer, chunked.pop(display), summary)
                        progress.add(staged.chunk.item.size)
        except BaseException:  # a failed wave, a failed commit, Ctrl-C: the waves still queued or running stop
            for future in futures:
                future.cancel()
            sc.cancelJobGroup(group)
            raise


def _collect(rdd: Any, what: str, group: str | None = None) -> list[Any]:
    if group is not None:  # this thread's jobs, so that they can be cancelled together
        rdd.context.setJobGroup(group, what, interruptOnCancel=True)
    try:
        return list(rdd.collect())
    except Exception as exc:  # a task failed (after its retries): the run stops; what it read is not committed
        raise BreachscopeError(f"ingest on Spark: {what} failed: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The Python error a task raised (the last one of its traceback), else the first line of the error."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    python = [line for line in lines if re.match(r"[A-Za-z_.]*(Error|Exception|Interrupt)\b.*:", line)]
    return ((python or lines or [type(exc).__name__])[-1 if python else 0])[:500]


class _Progress:
    def __init__(self, report: ProgressFn | None, total: int) -> None:
        self.report, self.total, self.done = report, total, 0

    def add(self, n: int) -> None:
        self.done += n
        if self.report:
            self.report(min(self.done, self.total), self.total)


def _size(task: Job | Chunk) -> int:
    return task.size if isinstance(task, Chunk) else sum(i.size for i in task.items)


def _scan(path: str, chunk_bytes: int) -> Scan:
    """On an executor: a file's hash, and where its chunks start when it is to be read in chunks."""
    scan = scan_file(Path(path), chunk_bytes)
    return scan if scan is not None else Scan(hash_file(Path(path)))


def _run_task(task: Job | Chunk, options: IngestOptions, case_root: Path, run_id: str) -> StagedJob:
    """On an executor: read one job or chunk into the staging folder of this task attempt."""
    from pyspark import TaskContext

    ctx = TaskContext.get()  # None outside a task (tests drive _ingest without Spark)
    attempt = f"{ctx.stageId()}-{ctx.partitionId()}-{ctx.attemptNumber()}" if ctx else "driver"
    return run_staged(task, options, case_root, run_id, attempt)

"""Ingest jobs run away from the case's writer (Spark executors): each job writes its Parquet parts into
a staging folder of its own under the case's tmp/, and the writer moves them into place and commits them.

Why a folder per attempt: a cluster may run a job twice (a retried or speculative task); two attempts
must never write the same file, and only the attempt whose result reached the writer is committed. The
parts keep their case-relative paths (`events/<table>/<job>-NNNN.parquet`, `rejects/...`) inside the
staging folder, so committing is one rename per part onto the same path in the case. What a killed run
left in tmp/ is removed by the next writer (model/case_lock.py), like the local ingest's leftovers.

The job itself is the local ingest's (`worker.JobRunner`): same readers, sniffing, rejects, row counts and
manifest entries. Archives are not sent here (the writer expands them itself, see engines/spark_ingest.py);
a chunk of a big file is (ingest/chunks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from breachscope.ingest.chunks import Chunk, merge_entries, read_chunk
from breachscope.ingest.context import IngestOptions
from breachscope.ingest.pipeline import IngestSummary, commit_result
from breachscope.ingest.store import CaseWriter
from breachscope.ingest.worker import Job, JobResult, JobRunner, Unit, WorkerState
from breachscope.model.atomic import fsync_dir
from breachscope.model.case import CaseLayout

STAGING_PREFIX = "staged-"


@dataclass(frozen=True)
class StagedJob:
    """What one remote attempt returns: where its parts are, and the job's result (for a chunk: one
    unit, the chunk's entry and parts)."""

    staging: str  # the attempt's folder, relative to the case root
    result: JobResult
    chunk: Chunk | None = None


def staging_root(case_root: Path, run_id: str, job_id: str, attempt: str) -> Path:
    return CaseLayout(case_root).tmp / f"{STAGING_PREFIX}{run_id}" / f"{job_id}.{attempt}"


def run_staged(task: Job | Chunk, options: IngestOptions, case_root: Path, run_id: str, attempt: str) -> StagedJob:
    """Read a job's files (never an archive), or one chunk of a file, into a staging folder of this attempt."""
    root = staging_root(case_root, run_id, task.job_id, attempt)
    root.mkdir(parents=True, exist_ok=True)
    # known/recorded only matter for archive members, which are not read here
    state = WorkerState(case_root=root, options=options, known={})
    rel = root.relative_to(case_root).as_posix()
    if isinstance(task, Chunk):
        _entry, runner = read_chunk(task, state)
        return StagedJob(rel, runner.result, task)
    assert not any(i.archive for i in task.items), "archives are expanded by the writer"
    return StagedJob(rel, JobRunner(state, task).run())


def commit_staged(writer: CaseWriter, staged: StagedJob, summary: IngestSummary) -> None:
    """Move the attempt's parts onto their paths in the case, then commit them as the local ingest does
    (one manifest line per job, written last)."""
    _move_parts(writer.layout.root, [staged])
    commit_result(writer, staged.result, summary, summary.run_id)


def commit_chunks(writer: CaseWriter, chunks: list[StagedJob], summary: IngestSummary) -> None:
    """One file read in chunks: all their parts and the merged entry in one manifest line."""
    chunks = sorted(chunks, key=lambda s: s.chunk.index if s.chunk else 0)
    _move_parts(writer.layout.root, chunks)
    units = [u for s in chunks for u in s.result.units]
    entry = merge_entries([f for u in units for f in u.files])
    result = JobResult(chunks[0].result.job_id, [Unit([entry], [p for u in units for p in u.parts])])
    commit_result(writer, result, summary, summary.run_id)


def _move_parts(root: Path, staged: list[StagedJob]) -> None:
    folders: set[Path] = set()
    for s in staged:
        for unit in s.result.units:
            for part in unit.parts:
                final = root / part.path
                final.parent.mkdir(parents=True, exist_ok=True)
                (root / s.staging / part.path).replace(final)  # synced by the part writer before its rename
                folders.add(final.parent)
    for folder in folders:
        fsync_dir(folder)

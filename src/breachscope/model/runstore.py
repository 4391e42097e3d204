"""Writing runs. A run's files go to runs/.tmp/<run_id>/ (private to its writer), are fsynced and renamed
to runs/<run_id>/, and the run is committed by its line in runs/journal.jsonl, appended last. Then the
copies at the top of the case (findings.parquet, exposure/, notify/) are refreshed from the runs the
views show, and runs/published.json records which files were published.

Killed at any moment, nothing is lost or doubled: a run without its journal line is not part of the
case and the next commit removes its folder (a folder whose writer is alive keeps its lock and is left
alone); a torn last journal line is cut. The copies are refreshed at every commit, so a commit after a
crash also repairs copies left stale. Commits (and run starts) are serialized by runs/.lock.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.model.atomic import atomic_path, atomic_write, fsync_dir
from breachscope.model.case import CaseLayout, RunPaths, committed_length
from breachscope.model.errors import CaseError
from breachscope.model.jsondoc import to_jsonable
from breachscope.model.runs import RunRecord, read_history


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("breachscope")
    except PackageNotFoundError:
        return "unknown"


def write_parquet(path: Path, table: pa.Table) -> None:
    """Artifact tables: zstd, deterministic (the same rows give the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


@contextmanager
def _locked(layout: CaseLayout) -> Iterator[None]:
    layout.runs.mkdir(parents=True, exist_ok=True)
    with layout.runs_lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class RunWriter:
    """One run being written: `paths` are its artifact files; `commit` makes it part of the case."""

    def __init__(self, case_root: str | Path, command: str, artifact: str, source: str,
                 parameters: Mapping[str, Any], inputs: Sequence[str] = ()) -> None:
        self.layout = CaseLayout(case_root)
        self.started = datetime.now(UTC)
        self.command, self.artifact, self.source = command, artifact, source
        self.parameters = to_jsonable(dict(parameters))
        self.inputs = tuple(inputs)
        self._lock: IO[str] | None = None
        with _locked(self.layout):
            while True:
                self.run_id = f"{self.started:%Y%m%dT%H%M%S.%fZ}-{command}-{secrets.token_hex(3)}"  # sorts as started
                if not (self.layout.runs / self.run_id).exists():
                    break
            self.layout.runs_tmp.mkdir(exist_ok=True)
            self._lock = (self.layout.runs_tmp / f"{self.run_id}.lock").open("w")
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while this process lives
            self.dir = self.layout.runs_tmp / self.run_id
            self.dir.mkdir()
        self.paths = RunPaths(self.dir)
        self.record: RunRecord | None = None

    def commit(self, counts: Mapping[str, int]) -> RunRecord:
        files = sorted(p for p in self.dir.rglob("*") if p.is_file())
        for f in files:
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
        for d in {f.parent for f in files} | {self.dir}:
            fsync_dir(d)
        record = RunRecord(
            run_id=self.run_id, artifact=self.artifact, source=self.source, command=self.command,
            started_at=self.started.isoformat(), committed_at="", parameters=self.parameters,
            counts={k: int(v) for k, v in counts.items()}, inputs=self.inputs,
            files=tuple(f.relative_to(self.dir).as_posix() for f in files), breachscope=_version())
        try:
            with _locked(self.layout):
                recover(self.layout)
                os.replace(self.dir, self.layout.runs / self.run_id)
                fsync_dir(self.layout.runs)
                record = dataclasses.replace(record, committed_at=datetime.now(UTC).isoformat())
                _append(self.layout.runs_journal, record)  # the commit
                self.record = record
                publish(self.layout)
        finally:
            self._release()  # whatever happened: a folder without its journal line is removed by the next commit
        return record

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            Path(self._lock.name).unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.record is None:
            self.abort()


def _append(journal: Path, record: RunRecord) -> None:
    line = (json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    keep = committed_length(journal)
    with journal.open("ab") as fh:
        if fh.tell() != keep:
            fh.truncate(keep)  # a torn line from a killed commit
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def recover(layout: CaseLayout) -> None:
    """Remove what killed runs left (call with runs/.lock held): unfinished run folders whose writer is
    gone, and run folders renamed into place whose journal line was never written."""
    committed = {r.run_id for r in read_history(layout).runs}
    for entry in layout.runs.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in committed:
            shutil.rmtree(entry, ignore_errors=True)
    if not layout.runs_tmp.is_dir():
        return
    for entry in layout.runs_tmp.iterdir():
        if entry.suffix == ".lock":
            with entry.open("a") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                shutil.rmtree(layout.runs_tmp / entry.stem, ignore_errors=True)
                entry.unlink(missing_ok=True)
        elif entry.is_dir() and not (layout.runs_tmp / f"{entry.name}.lock").exists():
            shutil.rmtree(entry, ignore_errors=True)


def publish(layout: CaseLayout) -> None:
    """Refresh the copies at the top of the case from the runs the views show (call with runs/.lock held);
    files published before that the shown runs no longer have (drafts nothing owes any more) are removed."""
    shown = read_history(layout).shown
    sources: dict[str, list[Path]] = {}
    for r in shown:
        for rel in r.files:
            sources.setdefault(_safe_relative(rel), []).append(layout.run(r.run_id).root / rel)
    for rel, paths in sorted(sources.items()):
        target = layout.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            if len(paths) > 1 and rel.endswith(".parquet"):  # accumulated sources (findings of each detector)
                tables = [pq.read_table(p) for p in paths]
                pq.write_table(pa.concat_tables(tables, promote_options="default"), tmp, compression="zstd")
            else:
                shutil.copyfile(paths[-1], tmp)
    before = _published_files(layout)
    for rel in sorted(before - set(sources)):
        (layout.root / rel).unlink(missing_ok=True)
    atomic_write(layout.published, json.dumps({"runs": [r.run_id for r in shown], "files": sorted(sources)},
                                              indent=2) + "\n")


def _published_files(layout: CaseLayout) -> set[str]:
    try:
        files = json.loads(layout.published.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    out = set()
    for rel in files:
        try:
            out.add(_safe_relative(str(rel)))
        except CaseError:
            continue
    return out


def _safe_relative(rel: str) -> str:
    p = Path(rel)
    if p.is_absolute() or not p.parts or any(part in ("..", ".", "") or part.startswith(".") for part in p.parts):
        raise CaseError(f"run file outside the case: {rel!r}")
    return p.as_posix()

"""Writing the case: Parquet parts written under temporary names and renamed into place, and the
manifest line that commits them, written last (see model/case.py for the protocol)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.model.atomic import atomic_write, move_into_place
from breachscope.model.atomic import fsync_dir as fsync_dir  # re-exported: ingest/forget.py imports it from here
from breachscope.model.case import (
    FORMAT_VERSION,
    CaseLayout,
    CaseState,
    Commit,
    FileEntry,
    Part,
    load_state,
)
from breachscope.model.case_lock import HELD as _HELD
from breachscope.model.case_lock import remove_leftovers as _remove_leftovers
from breachscope.model.case_lock import repair_manifest as _repair
from breachscope.model.case_lock import try_lock as _try_lock
from breachscope.model.errors import CaseError

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("src_file", pa.string()),
        pa.field("src_sha256", pa.string()),
        pa.field("location", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("excerpt", pa.string()),
    ]
)
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1, "write_statistics": True}


def new_run_id() -> str:
    """A run's id: its start time (sortable) and a random suffix."""
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def init_case(layout: CaseLayout) -> None:
    """Create the case folder (idempotent); refuse a non-empty folder that is not a case."""
    if layout.root.exists() and not layout.exists() and any(layout.root.iterdir()):
        raise CaseError(f"{layout.root} exists and is not a breachscope case; choose another --case")
    try:
        layout.root.mkdir(parents=True, exist_ok=True)
        if not layout.exists():
            atomic_write(layout.marker, json.dumps({"breachscope_case": FORMAT_VERSION,
                                                    "created": datetime.now(UTC).isoformat()}) + "\n")
        for d in (layout.events, layout.rejects, layout.tmp):
            d.mkdir(exist_ok=True)
    except OSError as exc:
        raise _not_writable(layout, exc) from exc


def _not_writable(layout: CaseLayout, exc: OSError) -> CaseError:
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return CaseError(f"case {layout.root} is read-only ({exc.strerror}: {exc.filename}); this command "
                         "writes into the case: copy it to a writable place (queries work on a read-only case)")
    return CaseError(f"cannot write the case {layout.root}: {exc.strerror or exc} ({exc.filename})")


class CaseWriter:
    """Exclusive writer of one case: locks it, removes what a killed run left, appends commits."""

    def __init__(self, root: str | Path) -> None:
        self.layout = CaseLayout(root)
        init_case(self.layout)
        if self.layout.root.resolve() in _HELD:
            raise CaseError(f"case {root} is being written by this process already")
        try:
            lock = _try_lock(self.layout)
        except OSError as exc:
            raise _not_writable(self.layout, exc) from exc
        if lock is None:
            raise CaseError(f"case {root} is being written by another breachscope run")
        self._lock = lock
        _HELD.add(self.layout.root.resolve())
        try:
            _repair(self.layout)
            self.state: CaseState = load_state(self.layout)
            _remove_leftovers(self.layout, self.state)
        except OSError as exc:
            self.close()
            raise _not_writable(self.layout, exc) from exc
        except BaseException:
            self.close()
            raise

    def commit(self, files: list[FileEntry], parts: list[Part], run_id: str, kind: str = "ingest",
               removed_parts: list[str] | None = None) -> None:
        commit = Commit(files=files, parts=parts, committed_at=datetime.now(UTC).isoformat(), run_id=run_id,
                        kind=kind, removed_parts=list(removed_parts or []))
        with self.layout.manifest.open("ab") as fh:
            fh.write(commit.to_json().encode("utf-8") + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.state.apply(commit)

    def discard(self, parts: list[Part]) -> None:
        for p in parts:
            (self.layout.root / p.path).unlink(missing_ok=True)

    def close(self) -> None:
        if self._lock.closed:
            return
        shutil.rmtree(self.layout.tmp, ignore_errors=True)
        _HELD.discard(self.layout.root.resolve())
        fcntl.lockf(self._lock, fcntl.LOCK_UN)
        self._lock.close()


class PartWriter:
    """Streams batches into Parquet parts of one job; parts appear under their final name only
    once complete and synced (`close_unit`)."""

    def __init__(self, root: Path, job_id: str) -> None:
        self.layout = CaseLayout(root)
        self.job_id = job_id
        self._open: dict[str, tuple[pq.ParquetWriter, Path, Path, pa.Schema]] = {}
        self._rows: dict[str, int] = {}
        self._seq = 0
        self._done: list[Part] = []

    def _new_path(self, table: str) -> tuple[Path, Path]:
        self._seq += 1
        base = self.layout.rejects if table == "rejects" else self.layout.events / table
        base.mkdir(parents=True, exist_ok=True)
        final = base / f"{self.job_id}-{self._seq:04d}.parquet"
        return final, final.with_suffix(".parquet.tmp")

    def write(self, table: str, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        cur = self._open.get(table)
        if cur is not None and cur[3] != batch.schema:  # a new Zeek header: a new part
            self._finish(table)
            cur = None
        if cur is None:
            final, tmp = self._new_path(table)
            writer = pq.ParquetWriter(tmp, batch.schema, **PARQUET_OPTIONS)
            self._open[table] = cur = (writer, final, tmp, batch.schema)
            self._rows[table] = 0
        cur[0].write_batch(batch, row_group_size=max(batch.num_rows, 65_536))
        self._rows[table] += batch.num_rows

    def write_rejects(self, source_display: str, sha256: str, rows: list[tuple[str, str, str]]) -> None:
        if not rows:
            return
        n = len(rows)
        batch = pa.RecordBatch.from_arrays(
            [pa.repeat(source_display, n), pa.repeat(sha256, n),
             pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.string()),
             pa.array([r[2] for r in rows], pa.string())],
            schema=REJECTS_SCHEMA,
        )
        self.write("rejects", batch)

    def _finish(self, table: str) -> None:
        writer, final, tmp, _schema = self._open.pop(table)
        writer.close()
        move_into_place(tmp, final, durable=True)
        self._done.append(Part(table=table, path=final.relative_to(self.layout.root).as_posix(),
                               rows=self._rows.pop(table)))

    def close_unit(self) -> list[Part]:
        """Finish every open part; return the parts written since the last call."""
        for table in list(self._open):
            self._finish(table)
        done, self._done = self._done, []
        return done

    def abort(self) -> None:
        for table in list(self._open):
            writer, _final, tmp, _schema = self._open.pop(table)
            try:
                writer.close()
            finally:
                tmp.unlink(missing_ok=True)

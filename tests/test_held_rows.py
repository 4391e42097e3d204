"""Rows a reader holds across the files of a job (ReadContext.held_rows, the HeldRows contract) are written
to the holder's table when the job's unit closes, credited to the files they came from, and never twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from breachscope.ingest import worker
from breachscope.ingest.batch import make_batch
from breachscope.ingest.context import IngestOptions, ReadContext
from breachscope.ingest.reader import Reader
from breachscope.ingest.worker import Item, Job, JobRunner, WorkerState
from breachscope.model.case import INGESTED
from breachscope.model.schema import SYSLOG_SCHEMA


class _Lines:
    """A HeldRows: syslog rows of several files (each row keeps its own file, as WindowsBuilder does)."""

    table = "syslog"

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.rows: list[tuple[str, str, int, str]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, ctx: ReadContext, record: int, message: str) -> None:
        self.ctx = ctx
        ctx.records += 1
        self.rows.append((ctx.source.display, ctx.source.sha256, record, message))

    def flush(self) -> pa.RecordBatch:
        files, shas, records, messages = (list(c) for c in zip(*self.rows, strict=True))
        batch = make_batch(SYSLOG_SCHEMA, {"message": messages}, len(messages), self.ctx, records, files, shas)
        self.rows = []
        return batch


def _read(ctx: ReadContext) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Holds every line (one holder per job and key); flushes by itself from 3 rows on."""
    held = ctx.held_rows("test syslog", lambda: _Lines(ctx))
    for i, line in enumerate(ctx.source.path.read_text().splitlines(), 1):
        held.add(ctx, i, line)
    if len(held) >= 3:  # a reader may flush by itself too; the rest waits for the unit's end
        yield held.table, held.flush()


def test_held_rows_are_written_to_their_table_when_the_unit_closes(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    holder = Reader("held_test", "syslog", "lines held across files", lambda _h, _n: True, _read)
    monkeypatch.setattr(worker, "reader_by_name", lambda name: holder if name == "held_test" else None)
    case = tmp_path / "case"
    (case / "tmp").mkdir(parents=True)
    items = []
    for name, text in (("a.log", "one\ntwo\n"), ("b.log", "three\n"), ("c.log", "four\nfive\n")):
        p = tmp_path / name
        p.write_text(text)
        items.append(Item(str(p), name, name * 8, p.stat().st_size, 0.0, True))
    state = WorkerState(case_root=case, options=IngestOptions(format="held_test"), known={})
    result = JobRunner(state, Job("job1", tuple(items))).run()

    assert len(result.units) == 1  # plain files of a job are one unit
    unit = result.units[0]
    assert [(e.path, e.status, e.records, e.tables) for e in unit.files] == [
        ("a.log", INGESTED, 2, {"syslog": 2}), ("b.log", INGESTED, 1, {"syslog": 1}),
        ("c.log", INGESTED, 2, {"syslog": 2})]  # c's rows were still held when its file ended
    assert {p.table for p in unit.parts} == {"syslog"}
    rows = pa.concat_tables([pq.read_table(case / p.path) for p in unit.parts]).to_pylist()
    assert sorted(r["message"] for r in rows) == ["five", "four", "one", "three", "two"]
    assert sum(p.rows for p in unit.parts) == 5  # each row once: what a reader flushed is not held again

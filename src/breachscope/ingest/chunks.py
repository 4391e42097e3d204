"""A big line-oriented file read as several chunks at once (Spark tasks), giving the rows, rejects and
manifest entry that reading it whole gives.

Which files: those a reader of `CHUNKED_READERS` takes, in UTF-8. Such a reader turns every line into at
most one record (src_record = its line number, ingest/lines.py) or one reject ("line N ..."), from that
line alone: a run of lines read on its own gives the rows the whole file gives there, numbered from 1. A
reader that keeps state across lines (a Zeek header, a syslog year carried from an earlier date, a
multi-line SQL statement) is not listed and its files stay one task each.

How: the task that hashes the file (it reads it all anyway) also notes where lines start near every
`chunk_bytes` and each one's number (`scan_file`). A chunk task copies its byte range to a local file
(behind a UTF-8 BOM, so that the reader takes it as UTF-8 without guessing from its first bytes), reads it
with the local worker under the file's own name and hash, the reader chosen from the file's own first
bytes, and shifts line numbers into the file's (`src_record`, reject locations). The writer merges the
chunks' entries into one and commits all their parts in one manifest line (ingest/staged.py).

One difference remains, on reader bugs only: an exception stops the reading of its chunk, not of the
rest of the file, and its "after record N" counts the chunk's records.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.archives import archive_kind
from breachscope.ingest.context import MAX_LISTED_REJECTS
from breachscope.ingest.lines import text_encoding
from breachscope.ingest.reader import HEAD_BYTES
from breachscope.ingest.registry import detect
from breachscope.ingest.store import PartWriter
from breachscope.ingest.worker import Item, Job, JobRunner, WorkerState
from breachscope.model.case import INGESTED, FileEntry

#: Readers whose files may be read in chunks (see the module's docstring for what that requires).
CHUNKED_READERS = frozenset({"windows_json"})
CHUNK_BYTES = 128 << 20  # a chunk task reads about this much
_BLOCK = 8 << 20

HashResult = tuple[str, int, float, str | None, bool]  # pipeline.hash_file: sha256, size, mtime, error, archive


@dataclass(frozen=True)
class Scan:
    """A file's hash (as pipeline.hash_file gives it) and, for a file to read in chunks, where each chunk
    starts: (byte offset, number of its first line)."""

    hash: HashResult
    starts: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Chunk:
    job_id: str
    item: Item
    index: int
    start: int
    end: int
    first_line: int

    @property
    def size(self) -> int:
        return self.end - self.start


def chunkable(head: bytes, name: str) -> bool:
    """Text in UTF-8 that a reader of CHUNKED_READERS recognises."""
    if archive_kind(head) is not None or text_encoding(head)[0] != "utf-8":
        return False
    reader = detect(head, name)
    return reader is not None and reader.name in CHUNKED_READERS


def scan_file(path: Path, chunk_bytes: int) -> Scan | None:
    """The hash and chunk starts of a file over `chunk_bytes` that can be read in chunks, in one read;
    None for any other file (and on any error: the caller hashes it as usual, which reports it)."""
    try:
        st = path.stat()
        if chunk_bytes <= 0 or st.st_size <= chunk_bytes:
            return None
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
            if not chunkable(head, str(path)):
                return None
            fh.seek(0)
            sha = hashlib.sha256()
            starts = [(0, 1)]
            pos, lines, wanted = 0, 0, chunk_bytes  # wanted: where the next chunk should start, at least
            while data := fh.read(_BLOCK):
                sha.update(data)
                while wanted < pos + len(data):
                    i = data.find(b"\n", wanted - pos)
                    if i < 0:  # the line goes on in the next block
                        wanted = pos + len(data)
                        break
                    if pos + i + 1 < st.st_size:
                        starts.append((pos + i + 1, lines + data.count(b"\n", 0, i + 1) + 1))
                    wanted = pos + i + 1 + chunk_bytes
                lines += data.count(b"\n")
                pos += len(data)
    except OSError:
        return None
    return Scan((sha.hexdigest(), st.st_size, st.st_mtime, None, False), tuple(starts))


def chunks_of(item: Item, starts: tuple[tuple[int, int], ...], job_id: str) -> list[Chunk]:
    ends = [s for s, _ in starts[1:]] + [item.size]
    return [Chunk(f"{job_id}-{k:04d}", item, k, start, end, line)
            for k, ((start, line), end) in enumerate(zip(starts, ends, strict=True))]


_LINE = re.compile(r"line (\d+)")


def shift_location(location: str, shift: int) -> str:
    """'line 12 (...)' of a chunk -> the same line's number in the file."""
    m = _LINE.match(location)
    return f"line {int(m[1]) + shift}{location[m.end():]}" if m and shift else location


class _ShiftedParts(PartWriter):
    """The part writer of a chunk: line numbers (src_record, reject locations) moved to the file's."""

    def __init__(self, root: Path, job_id: str, shift: int) -> None:
        super().__init__(root, job_id)
        self.shift = shift

    def write(self, table: str, batch: pa.RecordBatch) -> None:
        i = batch.schema.get_field_index("src_record")
        if self.shift and table != "rejects" and i >= 0:
            batch = batch.set_column(i, batch.schema.field(i), pc.add(batch.column(i), self.shift))
        super().write(table, batch)

    def write_rejects(self, source_display: str, sha256: str, rows: list[tuple[str, str, str]]) -> None:
        super().write_rejects(source_display, sha256,
                              [(shift_location(loc, self.shift), why, text) for loc, why, text in rows])


def read_chunk(chunk: Chunk, state: WorkerState) -> tuple[FileEntry, JobRunner]:
    """Read one chunk with the local worker into `state.case_root` (a staging folder); the entry of
    the chunk (counts of its lines only) and the runner whose result holds its parts."""
    item = chunk.item
    runner = JobRunner(state, Job(chunk.job_id, ()))
    runner.writer = _ShiftedParts(state.case_root, chunk.job_id, chunk.first_line - 1)
    with Path(item.path).open("rb") as src, tempfile.TemporaryDirectory(prefix="breachscope-chunk-") as tmp:
        head = src.read(HEAD_BYTES)  # the file's own first bytes choose the reader, as for the whole file
        local = Path(tmp) / "lines"
        with local.open("wb") as out:
            if chunk.start:
                out.write(codecs.BOM_UTF8)
            src.seek(chunk.start)
            _copy(src, out, chunk.size)
        try:
            # the worker's own steps for one file (JobRunner.run does them for whole files)
            entry = runner._file(local, item.display, item.sha256, item.size, item.mtime, item.explicit, head,
                                 progress_scale=False)
            runner.pending.append(entry)
            runner._close_unit()
        except BaseException:
            runner.writer.abort()
            raise
    shift = chunk.first_line - 1
    entry.first_rejects = [{**r, "location": shift_location(r["location"], shift)} for r in entry.first_rejects]
    return entry, runner


def _copy(src: BinaryIO, out: BinaryIO, n: int) -> None:
    while n > 0 and (data := src.read(min(_BLOCK, n))):
        out.write(data)
        n -= len(data)


_TIMES = re.compile(r"(.*) \((\d+) times\)\Z", re.S)


def merge_entries(entries: list[FileEntry]) -> FileEntry:
    """One file's entry from its chunks' entries, in chunk order: what reading it whole records."""
    first = entries[0]
    merged = FileEntry(path=first.path, sha256=first.sha256, size=first.size, format=first.format,
                       status=first.status, note=first.note)
    reasons: Counter[str] = Counter()
    tables: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    for e in entries:
        if e.status != INGESTED:
            merged.status = e.status
        merged.rejected += e.rejected
        merged.duration_s += e.duration_s
        merged.error = merged.error or e.error
        reasons.update(e.rejects_by_reason)
        tables.update(e.tables)
        merged.first_rejects.extend(e.first_rejects)
        for line in e.warnings:  # ReadContext.warning_lines: "message" or "message (n times)"
            m = _TIMES.match(line)
            warnings[m[1] if m else line] += int(m[2]) if m else 1
    merged.first_rejects = merged.first_rejects[:MAX_LISTED_REJECTS]
    merged.rejects_by_reason = dict(reasons)
    merged.tables = dict(sorted(tables.items()))
    merged.records = sum(tables.values())
    merged.warnings = [m if n == 1 else f"{m} ({n} times)" for m, n in sorted(warnings.items())]
    merged.duration_s = round(merged.duration_s, 4)
    return merged

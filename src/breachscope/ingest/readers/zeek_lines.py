"""Zeek files cut into lines in Arrow a few MiB at a time, and lines collected into batches of
batch_rows; line numbers are those of lines.iter_lines."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import iter_lines, text_encoding
from breachscope.ingest.readers.zeek_layout import Tables

CHUNK_BYTES = 4 << 20


def _split_lines(buf: bytes) -> pa.Array:
    lines = pc.split_pattern(pa.array([buf], pa.binary()), pattern="\n").flatten()
    if b"\r" in buf:  # CRLF files: the CR belongs to the line end
        lines = pc.replace_substring_regex(lines, pattern="\r$", replacement="")
    return lines


def line_chunks(ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    """(number of the first line, lines as a binary array without their line ends), a few MiB at a
    time; numbered as lines.iter_lines numbers them. UTF-16 files go through iter_lines."""
    with ctx.source.path.open("rb") as fh:
        enc, skip = text_encoding(fh.read(4096))
        if enc != "utf-8":
            yield from _transcoded_chunks(ctx)
            return
        fh.seek(skip)
        lineno = 1
        pending: list[bytes] = []  # a line longer than a chunk: joined once its end is read
        while data := fh.read(CHUNK_BYTES):
            ctx.progress(len(data))
            cut = data.rfind(b"\n")
            if cut < 0:
                pending.append(data)
                continue
            lines = _split_lines(b"".join([*pending, data[:cut]]) if pending else data[:cut])
            pending = [data[cut + 1:]] if cut + 1 < len(data) else []
            yield lineno, lines
            lineno += len(lines)
        if pending:
            yield lineno, _split_lines(b"".join(pending))


def _transcoded_chunks(ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    first, lines = 1, []
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if not lines:
            first = lineno
        lines.append(raw)
        if len(lines) >= 65_536:
            yield first, pa.array(lines, pa.binary())
            lines = []
    if lines:
        yield first, pa.array(lines, pa.binary())


Emitted = Iterator[tuple[str, pa.RecordBatch]]


class LineBatcher:
    """Collects data lines (a binary array) and their line numbers into batches of batch_rows."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.tables = Tables(ctx)
        self.pending: list[tuple[pa.Array, np.ndarray]] = []
        self.pending_n = 0

    def add(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        self.pending.append((lines, recs))
        self.pending_n += len(lines)
        if self.pending_n >= self.ctx.options.batch_rows:
            yield from self.flush(everything=False)

    def flush(self, everything: bool) -> Emitted:
        """Batches of batch_rows lines from what is pending (all of it at the end or a header)."""
        if not self.pending:
            return
        lines = pa.concat_arrays([a for a, _ in self.pending])
        recs = np.concatenate([r for _, r in self.pending])
        self.pending, self.pending_n = [], 0
        size = max(1, self.ctx.options.batch_rows)
        start, n = 0, len(lines)
        while start < n and (everything or n - start >= size):
            end = min(start + size, n)
            yield from self.emit(lines.slice(start, end - start), recs[start:end])
            start = end
        if start < n:
            self.pending, self.pending_n = [(lines.slice(start), recs[start:])], n - start

    def emit(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        raise NotImplementedError


def numbers(first: int, n: int) -> np.ndarray:
    return np.arange(first, first + n, dtype=np.int64)


def valid_utf8(lines: pa.Array) -> bool:
    try:
        lines.cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True

"""Zeek lines (from lines.line_arrays) collected into batches of batch_rows, with their line numbers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from breachscope.ingest.context import ReadContext
from breachscope.ingest.zeek.layout import Tables

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

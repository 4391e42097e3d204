"""Matched rows as Python dicts, lean: a wide event table is mostly NULL, and a hunt keeps every
matched row until its findings are built (measured: 10M replicated events, 165k findings, 3.8 GB peak
RSS with full rows)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import pyarrow as pa

BATCH_ROWS = 8192


def lean_rows(result: pa.Table, drop: Collection[str] = ()) -> Iterator[dict[str, Any]]:
    """Each row's columns that have a value, minus `drop`, converted a batch at a time."""
    for batch in result.to_batches(max_chunksize=BATCH_ROWS):
        for row in batch.to_pylist():
            yield {k: v for k, v in row.items() if v is not None and k not in drop}

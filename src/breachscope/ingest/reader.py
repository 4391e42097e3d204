"""The contract every evidence reader implements (one module per format, one registry line)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from breachscope.ingest.context import ReadContext
from breachscope.model.audit_dialects import AuditDialect

Batches = Iterator[tuple[str, pa.RecordBatch]]


@dataclass(frozen=True)
class Reader:
    """A format: how to recognise it from its first bytes, and how to read it into table batches.

    `sniff(head, name)` sees the first 64 KiB and the file name, and must decide on content (the
    name only breaks ties). `read(ctx)` yields (table name, record batch) pairs; bad records go to
    `ctx.reject(...)` and reading goes on. Rows a reader keeps across the files of a job go in
    `ctx.held_rows(key, make)` (a `HeldRows`: its table, its length, `flush()`); the worker writes what
    is left there when the job's unit closes, so nothing held is lost and no reader flushes by hand.
    """

    name: str
    family: str
    description: str
    sniff: Callable[[bytes, str], bool]
    read: Callable[[ReadContext], Batches]
    #: the `db_audit.dialect` values this reader writes (database audit readers only): each dialect says
    #: which of its records carry an executed statement, which is what scope replays
    audit_dialects: tuple[AuditDialect, ...] = ()


HEAD_BYTES = 64 * 1024

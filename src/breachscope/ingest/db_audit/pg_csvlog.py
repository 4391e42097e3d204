"""The PostgreSQL csvlog: one CSV record per entry (a quoted field may hold line breaks)."""

from __future__ import annotations

import csv
import re

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.common import TABLE
from breachscope.ingest.db_audit.pg_entry import SEVERITIES, Entry
from breachscope.ingest.db_audit.pg_rows import RowBuilder
from breachscope.ingest.db_audit.pg_time import TimeParser
from breachscope.ingest.lines import decode, iter_lines
from breachscope.ingest.reader import Batches

#: A csvlog record begins with its log_time (`2025-02-05 10:00:00.123 JST,`): no statement line looks like that.
_CSV_START = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z]{1,6}| [+-]\d\d(?::?\d\d)?)?,")
CSV_FIELDS = 22  # csvlog up to `location` (PostgreSQL 9.0+); application_name and later are optional


def _client_from(text: str) -> tuple[str | None, int | None]:
    """csvlog connection_from: 'host:port' or '[local]'."""
    if not text:
        return None, None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return text, None


def _csv_entry(lineno: int, f: list[str], times: TimeParser) -> Entry:
    e = Entry(lineno, f[11], f[13])
    if f[0]:
        e.ts_text = f[0]
        e.ts, e.ts_resolution = times.parse(f[0])
    e.user, e.database, e.pid, e.session = f[1] or None, f[2] or None, f[3] or None, f[5] or None
    e.client, e.port = _client_from(f[4])
    e.app = (f[22] or None) if len(f) > 22 else None
    e.statement = f[19] or None
    extra = {"sqlstate": f[12]} if f[12] and f[12] != "00000" else {}
    for idx, name in ((14, "detail"), (15, "hint"), (18, "context"), (7, "command_tag")):
        if f[idx]:
            extra[name] = f[idx]
    if extra:
        e.extra = extra
    return e


def read_csvlog(ctx: ReadContext) -> Batches:
    builder = RowBuilder(ctx)
    times = TimeParser(ctx)
    start = 0
    parts: list[bytes] = []
    quotes = 0
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if parts and _CSV_START.match(raw):  # a quote left open, and a new record begins: drop the broken one
            ctx.reject(f"line {start}", "csvlog record with an unterminated quote", parts[0])
            parts, quotes = [], 0
        if not parts:
            if not raw.strip():
                continue
            start = lineno
        parts.append(raw)
        quotes += raw.count(b'"')
        if quotes % 2:
            continue
        _csv_record(start, parts, builder, times, ctx)
        parts, quotes = [], 0
        if builder.out.full():
            yield TABLE, builder.out.flush()
    if parts:  # a quote still open at the end: the last record is cut short
        _csv_record(start, [*parts[:-1], parts[-1] + b'"'], builder, times, ctx, truncated=True)
    if builder.out.rows:
        yield TABLE, builder.out.flush()


def _csv_record(start: int, parts: list[bytes], builder: RowBuilder, times: TimeParser, ctx: ReadContext,
                truncated: bool = False) -> None:
    raw = b"\n".join(parts)
    text = decode(raw, ctx)
    try:
        f = next(csv.reader((text,), strict=True))
    except (csv.Error, StopIteration):
        ctx.reject(f"line {start}", "malformed csvlog record", raw)
        return
    if truncated and len(f) > 13 and f[11] in SEVERITIES:  # cut inside or after the message: keep what is there
        ctx.warn("last record is cut short (stored with extra.truncated = true)")
        f += [""] * (CSV_FIELDS + 1 - len(f))
    elif len(f) < CSV_FIELDS or f[11] not in SEVERITIES:
        reason = "truncated record at end of file" if truncated else "csvlog record with too few fields"
        ctx.reject(f"line {start}", reason, raw)
        return
    builder.add(_csv_entry(start, f, times), truncated)

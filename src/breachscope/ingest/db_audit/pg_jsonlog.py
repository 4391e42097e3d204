"""The PostgreSQL jsonlog (PostgreSQL 15+): one JSON object per entry."""

from __future__ import annotations

from typing import Any

import orjson

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.common import TABLE
from breachscope.ingest.db_audit.pg_entry import Entry
from breachscope.ingest.db_audit.pg_rows import RowBuilder
from breachscope.ingest.db_audit.pg_time import TimeParser
from breachscope.ingest.lines import decode, iter_lines
from breachscope.ingest.reader import Batches


def _json_entry(lineno: int, d: dict[str, Any], times: TimeParser) -> Entry:
    def s(key: str) -> str | None:
        v = d.get(key)
        return None if v is None else str(v)

    e = Entry(lineno, s("error_severity") or "", s("message") or "")
    ts_text = s("timestamp")
    if ts_text:
        e.ts_text = ts_text
        e.ts, e.ts_resolution = times.parse(ts_text)
    e.user, e.database, e.pid, e.session = s("user"), s("dbname"), s("pid"), s("session_id")
    e.client = s("remote_host")
    port = d.get("remote_port")
    e.port = port if isinstance(port, int) else None
    e.app = s("application_name")
    e.statement = s("statement")
    extra = {}
    for key, name in (("state_code", "sqlstate"), ("detail", "detail"), ("hint", "hint"), ("context", "context"),
                      ("ps", "command_tag")):
        v = s(key)
        if v and not (key == "state_code" and v == "00000"):
            extra[name] = v
    if extra:
        e.extra = extra
    return e


def read_jsonlog(ctx: ReadContext) -> Batches:
    builder = RowBuilder(ctx)
    times = TimeParser(ctx)
    loads = orjson.loads
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if not raw.strip():
            continue
        try:
            d = loads(raw)
        except orjson.JSONDecodeError:
            try:
                d = loads(decode(raw, ctx))
            except orjson.JSONDecodeError:
                ctx.reject(f"line {lineno}", "invalid JSON", raw)
                continue
        if not isinstance(d, dict) or not isinstance(d.get("message"), str):
            ctx.reject(f"line {lineno}", "JSON line is not a PostgreSQL log entry", raw)
            continue
        builder.add(_json_entry(lineno, d, times))
        if builder.out.full():
            yield TABLE, builder.out.flush()
    if builder.out.rows:
        yield TABLE, builder.out.flush()

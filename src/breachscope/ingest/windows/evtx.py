"""Windows XML event log files (.evtx), parsed with the Rust-backed `evtx` package.

The parser is driven record by record so that a bad record or a bad chunk costs only itself: the
error is counted with its record or chunk number and parsing goes on (the corrupt shared samples
yield thousands more records this way than when stopping at the first error).
"""

from __future__ import annotations

import re
from typing import Any, cast

import orjson
from evtx import PyEvtxParser

from breachscope.ingest.context import ReadContext
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.windows.events import TABLE, builder_for, flatten_user_data

MAGIC = b"ElfFile\x00"
_EMPTY: dict[str, Any] = {}
MAX_CONSECUTIVE_ERRORS = 100_000  # a parser that stops advancing must not spin forever
_WHERE = re.compile(r"(record|chunk) number (\d+)")
_NOISE = re.compile(r"`[^`]*`|\[[^\]]*\]|0x[0-9a-fA-F]+|\d+")


def sniff(head: bytes, name: str) -> bool:
    return head.startswith(MAGIC)


def _attr(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs.get(key)
    return None


def _int(value: Any) -> int | None:
    if value.__class__ is int:
        return value
    if isinstance(value, dict):
        value = value.get("#text")
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            return None
    return value if isinstance(value, int) else None


def system_fields(s: dict[str, Any]) -> tuple[Any, ...]:
    """System element of the evtx JSON rendering, in windows.SYSTEM_NAMES order (hot path: inlined)."""
    get = s.get
    provider = get("Provider")
    prov = provider.get("#attributes") if provider.__class__ is dict else None
    prov = prov if prov.__class__ is dict else _EMPTY
    execution = get("Execution")
    exe = execution.get("#attributes") if execution.__class__ is dict else None
    exe = exe if exe.__class__ is dict else _EMPTY
    security = get("Security")
    sec = security.get("#attributes") if security.__class__ is dict else None
    eid, rid, level, task = get("EventID"), get("EventRecordID"), get("Level"), get("Task")
    opcode, version = get("Opcode"), get("Version")
    pid, tid = exe.get("ProcessID"), exe.get("ThreadID")
    return (
        eid if eid.__class__ is int else _int(eid),
        get("Channel"),
        prov.get("Name"),
        prov.get("Guid"),
        get("Computer"),
        rid if rid.__class__ is int else _int(rid),
        level if level.__class__ is int else _int(level),
        task if task.__class__ is int else _int(task),
        opcode if opcode.__class__ is int else _int(opcode),
        get("Keywords"),
        version if version.__class__ is int else _int(version),
        pid if pid.__class__ is int else _int(pid),
        tid if tid.__class__ is int else _int(tid),
        sec.get("UserID") if sec.__class__ is dict else None,
    )


def event_data(event: dict[str, Any]) -> dict[str, Any]:
    """EventData fields, plus the fields of UserData's inner element (as Sigma names them)."""
    data = event.get("EventData")
    out: dict[str, Any] = data if isinstance(data, dict) else ({} if data is None else {"Data": data})
    user_data = event.get("UserData")
    if user_data is not None:
        out = {**out, **flatten_user_data(user_data)}
    return out


def _error_location(exc: Exception) -> tuple[str, str]:
    msg = str(exc)
    m = _WHERE.search(msg)
    where = f"{m.group(1)} {m.group(2)}" if m else "between records"
    reason = _NOISE.sub("N", msg.split(": ", 1)[-1] if m else msg)
    return where, f"evtx parse error: {reason[:160]}"


INT64_MAX = (1 << 63) - 1


def read(ctx: ReadContext) -> Batches:
    try:
        parser = PyEvtxParser(str(ctx.source.path), number_of_threads=1)
    except (RuntimeError, OSError) as exc:
        ctx.reject("file header", f"evtx file header unreadable: {str(exc)[:160]}")
        return
    builder = builder_for(ctx, "evtx")
    batch_rows = ctx.options.batch_rows
    loads = orjson.loads
    records = parser.records_json()
    errors_in_row = 0
    while True:
        try:
            rec: dict[str, Any] = cast(dict[str, Any], next(records))  # the stub says Optional; never None
        except StopIteration:
            break
        except Exception as exc:  # the parser reports each bad record or chunk and moves on
            where, reason = _error_location(exc)
            ctx.reject(where, reason)
            errors_in_row += 1
            if errors_in_row >= MAX_CONSECUTIVE_ERRORS:
                ctx.reject(where, "evtx parser stopped advancing; rest of file not read")
                break
            continue
        errors_in_row = 0
        record_id = rec["event_record_id"]
        if not 0 <= record_id <= INT64_MAX:  # a u64 in the file; src_record is int64 (found by fuzzing)
            ctx.reject(f"record {record_id}", "evtx record id out of range (damaged record header)")
            continue
        try:
            event = loads(rec["data"])["Event"]
            system = event["System"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            ctx.reject(f"record {record_id}", "evtx record without a readable System element")
            continue
        created = _attr(system.get("TimeCreated"), "SystemTime")
        builder.add(record_id, created or rec["timestamp"], system_fields(system), event_data(event))
        if builder.n >= batch_rows:
            yield TABLE, builder.flush()


READER = Reader(
    name="evtx",
    family="windows",
    description="Windows event log files (.evtx)",
    sniff=sniff,
    read=read,
)

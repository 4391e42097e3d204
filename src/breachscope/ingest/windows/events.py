"""Windows events from any source (EVTX, Winlogbeat, NXLog, Splunk) into the `windows` table.

Readers hand over the System fields and a flat EventData/UserData dict per event; this module owns
the field names (Sigma taxonomy), the promoted columns, the `extra` map and the core columns derived
from them, so that the same event gives the same row whatever file it came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.batch import make_batch
from breachscope.ingest.context import ReadContext
from breachscope.ingest.timeparse import parse_ts_us
from breachscope.model.schema import (
    WINDOWS_PROMOTED,
    WINDOWS_PROMOTED_COLUMNS,
    WINDOWS_SCHEMA,
    WINDOWS_SYSTEM_FIELDS,
)

TABLE = "windows"
#: Order of the System tuple readers pass to WindowsBuilder.add (source_format is per builder).
SYSTEM_NAMES = tuple(f.name for f in WINDOWS_SYSTEM_FIELDS if f.name != "source_format")
_NO_VALUE = ("-", "")  # placeholders Windows writes when there is no address or user


def text(value: Any) -> str | None:
    """One EventData value as the text Windows would render (XML is text; JSON may type it)."""
    cls = value.__class__
    if cls is str or value is None:
        return value
    if cls is bool:
        return "true" if value else "false"
    if cls is int or cls is float:
        return str(value)
    if cls is dict:
        if "#text" in value:
            return text(value["#text"])
        return orjson.dumps(value).decode()
    if cls is list:
        return "\n".join(t for t in (text(v) for v in value) if t is not None)
    return str(value)


def flatten_user_data(user_data: Any) -> dict[str, Any]:
    """UserData wraps its fields in one element (e.g. LogFileCleared); Sigma names the inner fields."""
    if not isinstance(user_data, dict):
        return {}
    out: dict[str, Any] = {}
    for key, inner in user_data.items():
        if key == "#attributes":
            continue
        if isinstance(inner, dict):
            for k, v in inner.items():
                if k != "#attributes":
                    out[k] = v
        else:
            out[key] = inner
    return out


class WindowsBuilder:
    """Collects events column-wise; `flush()` gives a batch of the windows table.

    This is the hot loop of Windows ingest (one call per event), so it does the least it can per
    event: one append for the System tuple (transposed once per batch), one pass over EventData.
    """

    table = TABLE  # where the worker writes what is held when a job's unit closes (HeldRows)

    def __init__(self, ctx: ReadContext, source_format: str) -> None:
        self.ctx = ctx
        self.source_format = source_format
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.files: list[str] = []
        self.shas: list[str] = []
        self.records: list[int] = []
        self.ts: list[Any] = []
        self.messages: list[str | None] = []
        self.system_rows: list[tuple[Any, ...]] = []
        self.promoted: dict[str, tuple[list[int], list[str | None]]] = {
            name: ([], []) for name in WINDOWS_PROMOTED}
        self.extra_offsets: list[int] = [0]
        self.extra_keys: list[str] = []
        self.extra_values: list[str | None] = []
        self.spaced = False  # a key had spaces: a row may name a promoted field twice

    def __len__(self) -> int:
        return self.n

    def add(self, record: int, ts: Any, system: tuple[Any, ...], data: dict[str, Any],
            message: str | None = None, skip: frozenset[str] = frozenset()) -> None:
        """One event: `ts` in epoch microseconds (or ISO text), `system` in SYSTEM_NAMES order,
        `data` the EventData fields (keys in `skip` are not EventData, e.g. NXLog's own keys)."""
        i = self.n
        ctx = self.ctx
        ctx.records += 1
        self.files.append(ctx.source.display)
        self.shas.append(ctx.source.sha256)
        self.records.append(record)
        self.ts.append(ts)
        self.messages.append(message)
        self.system_rows.append(system)
        promoted = self.promoted
        keys = self.extra_keys
        values = self.extra_values
        for k, v in data.items():
            if k in skip:
                continue
            if " " in k:  # Defender and others write "Threat Name"; Sigma names fields without spaces
                k = k.replace(" ", "")
                self.spaced = True
            if v.__class__ is not str and v is not None:
                v = text(v)
            col = promoted.get(k)
            if col is not None:
                col[0].append(i)
                col[1].append(v)
            elif k != "#attributes":
                keys.append(k)
                values.append(v)
        self.extra_offsets.append(len(keys))
        self.n = i + 1

    def flush(self) -> pa.RecordBatch:
        n = self.n
        columns: dict[str, Any] = {"ts": ts_array(self.ts), "message": self.messages,
                                   "family": pa.repeat("windows", n) if n else pa.array([], pa.string())}
        system = dict(zip(SYSTEM_NAMES, map(list, zip(*self.system_rows, strict=True)), strict=True)) if n else {}
        system["source_format"] = [self.source_format] * n
        columns.update(system)
        dense: dict[str, pa.Array] = {}  # by field name; stored under the field's column (User: EventData_User)
        for name, (idx, vals) in self.promoted.items():
            if idx:
                dense[name] = _scatter(idx, vals, n, not self.spaced)
        columns.update((WINDOWS_PROMOTED_COLUMNS[name], arr) for name, arr in dense.items())
        columns["extra"] = pa.MapArray.from_arrays(
            pa.array(self.extra_offsets, type=pa.int32()),
            pa.array(self.extra_keys, type=pa.string()),
            pa.array(self.extra_values, type=pa.string()),
        )
        columns.update(_core(dense, system.get("Computer", []), n))
        batch = make_batch(WINDOWS_SCHEMA, columns, n, self.ctx, self.records, self.files, self.shas)
        self._reset()
        return batch


def builder_for(ctx: ReadContext, source_format: str) -> WindowsBuilder:
    """The job's builder for this source format, now collecting rows of ctx's file. Rows of many
    small files share batches; the worker flushes what is left when the job's unit closes."""
    builder = ctx.held_rows(f"windows {source_format}", lambda: WindowsBuilder(ctx, source_format))
    builder.ctx = ctx
    return builder


#: ISO 8601 UTC texts that Arrow's cast reads as datetime.fromisoformat does (the EVTX SystemTime form).
_ISO_UTC = r"^[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z$"


def ts_array(values: list[Any]) -> Any:
    """The ts column as batch.timestamps() makes it (each value as parse_ts_us reads it), without
    its fallback of a whole batch to Python when one text is odd: one EVTX record of 1601 (beyond
    Arrow's nanoseconds) or with a " UTC" suffix sent 32k rows held from many files through
    parse_iso_us. Texts of the usual form are cast by Arrow to microseconds, the others read one by one."""
    if not values or (values[0].__class__ is not str and not any(v.__class__ is str for v in values)):
        return values  # epoch microseconds (and nulls): batch.timestamps() has a fast path for these
    texts = pa.array([v if v.__class__ is str else None for v in values], pa.string())
    usual = pc.fill_null(pc.match_substring_regex(texts, pattern=_ISO_UTC), False)
    try:
        cast = pc.cast(pc.if_else(usual, texts, pa.scalar(None, pa.string())), pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. a 30th of February: one by one, as before
        return pa.array([parse_ts_us(v) for v in values], pa.int64())
    us = pc.cast(cast, pa.int64())
    others = np.flatnonzero(~usual.to_numpy(zero_copy_only=False))
    if not len(others):
        return us
    parsed = pa.array([parse_ts_us(values[i]) for i in others.tolist()], pa.int64())
    positions = np.full(len(values), -1, dtype=np.int64)
    positions[others] = np.arange(len(others), dtype=np.int64)
    return pc.if_else(usual, us, parsed.take(pa.array(positions, mask=positions < 0)))


def _scatter(idx: list[int], vals: list[str | None], n: int, distinct: bool = True) -> pa.Array:
    """A column of n rows holding vals at rows idx and null elsewhere (vectorized). A row named twice
    (two keys that are the same field once their spaces are removed) keeps its last value."""
    if len(idx) == n and (distinct or len(set(idx)) == n):
        return pa.array(vals, type=pa.string())
    positions = np.full(n, -1, dtype=np.int64)
    positions[np.asarray(idx, dtype=np.int64)] = np.arange(len(idx), dtype=np.int64)
    return pa.array(vals, type=pa.string()).take(pa.array(positions, mask=positions < 0))


def _clean(arr: pa.Array | None) -> pa.Array | None:
    """Null out placeholders ('-', '') so coalesce picks a real value."""
    if arr is None:
        return None
    return pc.if_else(pc.is_in(arr, value_set=pa.array(_NO_VALUE)), pa.scalar(None, pa.string()), arr)


def _first(dense: dict[str, pa.Array], names: tuple[str, ...], n: int) -> pa.Array:
    arrays = [a for a in (_clean(dense.get(x)) for x in names) if a is not None]
    if not arrays:
        return pa.nulls(n, pa.string())
    return arrays[0] if len(arrays) == 1 else pc.coalesce(*arrays)


def _ip(arr: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(arr, pattern=r"^::ffff:", replacement="")


def _port(arr: pa.Array) -> pa.Array:
    # ports arrive as text ("49152", "-", "0"); anything that is not a port becomes null
    ok = pc.match_substring_regex(arr, pattern=r"^\d{1,5}$")
    as_int = pc.cast(pc.if_else(ok, arr, pa.scalar(None, pa.string())), pa.int64())
    valid = pc.and_(pc.greater(as_int, 0), pc.less_equal(as_int, 65535))
    return pc.cast(pc.if_else(valid, as_int, pa.scalar(None, pa.int64())), pa.int32())


def _core(dense: dict[str, pa.Array], computer: list[Any], n: int) -> dict[str, Any]:
    """Core columns from the event's own fields (documented in docs/schema.md)."""
    return {
        "host": computer,
        "user": _first(dense, ("TargetUserName", "User", "SubjectUserName"), n),
        "src_ip": _ip(_first(dense, ("IpAddress", "SourceIp", "SourceAddress"), n)),
        "src_port": _port(_first(dense, ("IpPort", "SourcePort"), n)),
        "dst_ip": _ip(_first(dense, ("DestinationIp", "DestAddress"), n)),
        "dst_port": _port(_first(dense, ("DestinationPort", "DestPort"), n)),
    }

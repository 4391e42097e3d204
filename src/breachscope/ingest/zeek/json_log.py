"""Zeek JSON lines (LogAscii::use_json, json-streaming-logs with `_path`).

JSON carries no Zeek types: a short list of fields whose JSON value would read as another type gives
theirs, the others are typed from the values seen (kept from batch to batch). A batch is parsed by
Arrow's JSON reader; a batch it refuses (a line that is not a JSON object, a field that changes type)
is read line by line with orjson, which finds and rejects the bad lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import decode, head_text, line_arrays
from breachscope.ingest.reader import Batches
from breachscope.ingest.zeek.layout import KNOWN_LOGS, assemble, bad_counter, log_type_from_name, spec_for
from breachscope.ingest.zeek.lines import Emitted, LineBatcher, numbers, valid_utf8
from breachscope.ingest.zeek.values import Bad, floats_to_ts, slow_json
from breachscope.model.schema import TS, zeek_type

#: JSON carries no types: fields whose JSON value would otherwise be read as another type than the
#: one Zeek declares for them in TSV (ports would be int64 and times float64).
_JSON_TYPES: dict[str, str] = {
    "ts": "time", "_write_ts": "time", "id.orig_p": "port", "id.resp_p": "port", "host_p": "port",
    "port_num": "port", "data_channel.resp_p": "port", "certificate.not_valid_before": "time",
    "certificate.not_valid_after": "time", "compile_ts": "time", "thisUpdate": "time", "nextUpdate": "time",
    "revoketime": "time", "ref_time": "time", "org_time": "time", "rec_time": "time", "xmt_time": "time",
    "till": "time", "times.modified": "time", "times.accessed": "time", "times.created": "time",
    "times.changed": "time", "up_since": "time", "TTLs": "vector[interval]",
}
_JSON_TYPES_BY_PATH: dict[tuple[str, str], str] = {
    ("kerberos", "from"): "time", ("notice", "p"): "port", ("smtp", "path"): "vector[addr]",
}
_JSON_STRONG_KEYS = ("uid", "uids", "id.orig_h", "_path", "fuid")
_JSON_STRONG_PREFIXES = ("id.", "certificate.")  # x509 lines carry neither uid nor a connection
_JSON_FOREIGN_KEYS = ("EventID", "EventCode", "winlog", "event_type", "@timestamp")


JsonColumn: TypeAlias = "pa.Array | list[Any]"  # typed by Arrow, or Python values that Arrow could not type


def _json_column(col: JsonColumn | None, ztype: str, n: int, bad: Bad) -> pa.Array:
    """A JSON column as its Zeek type: vectorized when Arrow typed it sensibly, else value by value."""
    typ = zeek_type(ztype)
    if col is None:
        return pa.nulls(n, typ)
    if isinstance(col, list):
        return slow_json(col, typ, bad)
    t = col.type
    try:
        if pa.types.is_null(t):
            return pa.nulls(n, typ)
        if typ == TS:
            if pa.types.is_timestamp(t):
                return pc.cast(col, TS)
            if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
                raise pa.ArrowInvalid("not epoch numbers")
            return floats_to_ts(pc.cast(col, pa.float64()))
        if pa.types.is_integer(typ) and not pa.types.is_integer(t):
            raise pa.ArrowInvalid("not integers")  # Arrow would truncate floats silently
        if pa.types.is_boolean(typ) != pa.types.is_boolean(t):
            raise pa.ArrowInvalid("bool mismatch")
        if pa.types.is_list(typ) and pa.types.is_list(t) and pa.types.is_null(t.value_type):
            return pa.array(col.to_pylist(), typ)
        return pc.cast(col, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, ValueError):
        return slow_json(col.to_pylist(), typ, bad)


def _infer_arrow(t: pa.DataType) -> tuple[str, bool]:
    """(Zeek type, decided) from the type Arrow inferred for a JSON column."""
    if pa.types.is_null(t):
        return "string", False
    if pa.types.is_list(t):
        inner, decided = _infer_arrow(t.value_type)
        return f"vector[{inner if not inner.startswith('vector[') else 'string'}]", decided
    if pa.types.is_boolean(t):
        return "bool", True
    if pa.types.is_integer(t):
        return "count", True
    if pa.types.is_floating(t):
        return "double", True
    if pa.types.is_timestamp(t):
        return "time", True
    return "string", True


def _infer_type(values: list[Any]) -> tuple[str, bool]:
    """(Zeek type, decided) from the JSON values of one field; undecided when all null or empty."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "string", False
    if kinds == {list}:
        elems = [e for v in values if v for e in v]
        if not elems:
            return "vector[string]", False
        inner, _ = _infer_type(elems)
        return f"vector[{inner if not inner.startswith('vector[') else 'string'}]", True
    if kinds == {bool}:
        return "bool", True
    if kinds == {int}:
        return "count", True
    if kinds <= {int, float}:
        return "double", True
    return "string", True


def _json_type(path: str, name: str) -> str | None:
    known = _JSON_TYPES_BY_PATH.get((path, name)) or _JSON_TYPES.get(name)
    if known is None and name.endswith((".orig_p", ".resp_p")):
        return "port"
    return known


def _flatten(d: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nested records (`"id": {"orig_h": ...}`) to Zeek's dotted names (`id.orig_h`)."""
    out = {} if out is None else out
    for k, v in d.items():
        if type(v) is dict:
            _flatten(v, f"{prefix}{k}.", out)
        else:
            out[prefix + k] = v
    return out


@dataclass
class _JsonTable:
    """One log type of a JSON file: the field types decided so far (kept from batch to batch)."""

    path: str
    table: str
    types: dict[str, str | None] = field(default_factory=dict)  # None: not decided yet

    def batch(self, columns: dict[str, JsonColumn], recs: np.ndarray, ctx: ReadContext) -> pa.RecordBatch:
        for k in columns:
            if k not in self.types:
                self.types[k] = _json_type(self.path, k)
        effective: list[tuple[str, str]] = []
        for k, t in self.types.items():
            if t is None:
                col = columns.get(k)
                t, decided = ("string", False) if col is None else (
                    _infer_type(col) if isinstance(col, list) else _infer_arrow(col.type))
                if decided:
                    self.types[k] = t
            effective.append((k, t))
        spec = spec_for(self.path, self.table, tuple(effective))
        n = len(recs)
        arrays = [_json_column(columns.get(k), t, n, bad_counter(ctx, spec, k, t)) for k, t in effective]
        return assemble(spec, arrays, n, recs, ctx)


Group = tuple[tuple[str, str], dict[str, JsonColumn], np.ndarray]  # (log type, table), columns, rows
Resolve = Callable[[str | None], tuple[str, str]]


def _arrow_groups(lines: pa.Array, resolve: Resolve) -> list[Group] | None:
    """Parse a batch with Arrow's JSON reader; None when a line is not a JSON object or a field
    changes type (the per-line path then finds and rejects what is bad)."""
    if not valid_utf8(lines):  # invalid UTF-8: replaced line by line, and reported
        return None
    offsets = pa.array([0, len(lines)], pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, pa.concat_arrays([lines])), pa.scalar(b"\n"))
    buf = joined[0].as_buffer()
    if buf is None:
        return None
    try:
        table = pajson.read_json(pa.BufferReader(buf),
                                 read_options=pajson.ReadOptions(use_threads=False, block_size=buf.size + 1))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(lines):
        return None
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()  # nested records to dotted names
    if len(set(table.column_names)) != table.num_columns:
        return None
    if "_path" not in table.column_names:
        return [(resolve(None), {c: table[c].combine_chunks() for c in table.column_names}, np.arange(len(lines)))]
    paths = table["_path"].combine_chunks()
    if not pa.types.is_string(paths.type):
        return None
    table = table.drop_columns(["_path"])
    # group by table, not by _path text: hostile input may hold a different _path on every line
    enc = paths.dictionary_encode()
    keys = [resolve(v) for v in enc.dictionary.to_pylist()] + [resolve(None)]
    key_ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    of_value = np.array([key_ids[k] for k in keys], dtype=np.int64)
    codes = pc.fill_null(enc.indices, len(keys) - 1).to_numpy(zero_copy_only=False)
    row_keys = of_value[codes]
    groups: list[Group] = []
    for key, kid in key_ids.items():
        idx = np.flatnonzero(row_keys == kid)
        if len(idx):
            sub = table.take(pa.array(idx))
            groups.append((key, {c: sub[c].combine_chunks() for c in sub.column_names}, idx))
    return groups


def _python_groups(lines: pa.Array, recs: np.ndarray, ctx: ReadContext, resolve: Resolve) -> list[Group]:
    """Line by line with orjson: bad lines are rejected, the others grouped by table."""
    rows: dict[tuple[str, str], tuple[list[dict[str, Any]], list[int]]] = {}
    for i, raw in enumerate(lines.to_pylist()):
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:
                d = orjson.loads(decode(raw, ctx))
            except orjson.JSONDecodeError as exc:
                ctx.reject(f"line {recs[i]}", f"invalid JSON: {str(exc).split(':')[0]}", raw)
                continue
        if type(d) is not dict:
            ctx.reject(f"line {recs[i]}", "JSON line is not an object", raw)
            continue
        if any(type(v) is dict for v in d.values()):
            d = _flatten(d)
        p = d.pop("_path", None)
        got = rows.setdefault(resolve(p if isinstance(p, str) else None), ([], []))
        got[0].append(d)
        got[1].append(i)
    groups: list[Group] = []
    for key, (ds, idx) in rows.items():
        names = dict.fromkeys(k for sig in dict.fromkeys(map(tuple, ds)) for k in sig)
        columns: dict[str, JsonColumn] = {}
        for k in names:
            values = [d.get(k) for d in ds]
            try:
                columns[k] = pa.array(values)  # typed when the values agree
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
                columns[k] = values
        groups.append((key, columns, np.array(idx, dtype=np.int64)))
    return groups


class _JsonReader(LineBatcher):
    def __init__(self, ctx: ReadContext) -> None:
        super().__init__(ctx)
        self.by_table: dict[str, _JsonTable] = {}

    def run(self) -> Batches:
        blank = 0
        for first, lines in line_arrays(self.ctx):
            recs = numbers(first, len(lines))
            empty = pc.match_substring_regex(lines, pattern="^[ \t]*$")
            if pc.any(empty).as_py():
                keep = pc.invert(empty)
                blank += len(lines) - pc.sum(keep.cast(pa.int64())).as_py()
                lines, recs = lines.filter(keep), recs[keep.to_numpy(zero_copy_only=False)]
            if len(lines):
                yield from self.add(lines, recs)
        yield from self.flush(everything=True)
        if blank:
            self.ctx.warnings["zeek: empty lines skipped"] += blank

    def emit(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        groups = _arrow_groups(lines, self.tables.get)
        if groups is None:
            groups = _python_groups(lines, recs, self.ctx, self.tables.get)
        for (path, table), columns, idx in groups:
            t = self.by_table.get(table)
            if t is None:
                t = self.by_table[table] = _JsonTable(path, table)
            yield table, t.batch(columns, recs[idx], self.ctx)


def read_json(ctx: ReadContext) -> Batches:
    yield from _JsonReader(ctx).run()


def sniff_json(head: bytes, name: str) -> bool:
    text = head_text(head).lstrip()
    if not text.startswith("{"):
        return False
    first = text.split("\n", 1)[0].strip()
    try:
        obj = orjson.loads(first)
    except orjson.JSONDecodeError:  # a first line longer than the head: judge by its opening keys
        return bool(re.match(r'\{\s*"(?:_path|ts)"\s*:', first)) and ('"uid"' in first or '"id.orig_h"' in first)
    if not isinstance(obj, dict) or any(k in obj for k in _JSON_FOREIGN_KEYS):
        return False
    if ("ts" in obj or "_write_ts" in obj) and (
            any(k in obj for k in _JSON_STRONG_KEYS) or isinstance(obj.get("id"), dict)
            or any(k.startswith(_JSON_STRONG_PREFIXES) for k in obj)):
        return True
    return log_type_from_name(name) in KNOWN_LOGS  # software.log, loaded_scripts.log: the name decides

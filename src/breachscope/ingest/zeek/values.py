"""Zeek value conversion shared by the TSV and JSON readers: epoch times, integer ranges, Zeek's
\\xHH escapes, and one JSON (or Python) value to a column type, counting the ones that fail."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.timeparse import epoch_to_us, parse_iso_us
from breachscope.model.schema import TS

_US = 1_000_000
_TS_MAX_US = 253_402_300_799 * _US  # 9999-12-31: beyond it a time is not a time
_TS_MIN_US = -62_135_596_800 * _US  # 0001-01-01
_HEX = re.compile(r"\\x([0-9a-fA-F]{2})")

#: Counts values of one field that did not parse as its type (one counted warning per field).
Bad = Callable[[int], None]


def floats_to_ts(floats: pa.Array) -> pa.Array:
    """Epoch seconds (float64) to timestamps; raises ArrowInvalid when a value is out of range."""
    us = pc.round(pc.multiply(floats, float(_US)))
    lo, hi = pc.min_max(us).values()
    if lo.is_valid and (lo.as_py() < _TS_MIN_US or hi.as_py() > _TS_MAX_US):
        raise pa.ArrowInvalid("time out of range")
    return pc.cast(us, pa.int64()).cast(TS)


def ts_ok(us: int | None) -> int | None:
    return us if us is not None and _TS_MIN_US <= us <= _TS_MAX_US else None


def int_ok(v: int, typ: pa.DataType) -> int | None:
    bits = typ.bit_width
    return v if -(1 << (bits - 1)) <= v < (1 << (bits - 1)) else None


def unescape(s: str) -> str:
    """Zeek writes separators, non-printable bytes and values equal to its markers as \\xHH."""
    if "\\x" not in s:
        return s
    out = bytearray()
    pos = 0
    for m in _HEX.finditer(s):
        out += s[pos:m.start()].encode("utf-8")
        out.append(int(m.group(1), 16))
        pos = m.end()
    out += s[pos:].encode("utf-8")
    return out.decode("utf-8", "replace")


def py_scalar_json(v: Any, typ: pa.DataType) -> Any:
    """One JSON value as `typ`, or None when it is not one (the caller counts those)."""
    if v is None:
        return None
    if pa.types.is_string(typ):
        return v if isinstance(v, str) else orjson.dumps(v).decode()
    if isinstance(v, bool):
        return v if pa.types.is_boolean(typ) else None
    try:
        if typ == TS:
            if isinstance(v, int | float):
                return ts_ok(round(v * _US))
            if isinstance(v, str):
                us = parse_iso_us(v)
                return ts_ok(us if us is not None else epoch_to_us(v))
            return None
        if pa.types.is_integer(typ):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, str):
                v = int(v.strip().partition("/")[0])
            return int_ok(v, typ) if isinstance(v, int) else None
        if pa.types.is_floating(typ):
            return float(v) if isinstance(v, int | float | str) else None
        if pa.types.is_boolean(typ):
            return {"T": True, "true": True, "F": False, "false": False}.get(v) if isinstance(v, str) else None
    except (ValueError, OverflowError):
        return None
    return None


def slow_json(values: list[Any], typ: pa.DataType, bad: Bad) -> pa.Array:
    failed = 0
    out: list[Any] = []
    if pa.types.is_list(typ):
        elem = typ.value_type
        for v in values:
            if v is None:
                out.append(None)
            elif not isinstance(v, list):
                failed += 1
                out.append(None)
            else:
                items = [py_scalar_json(e, elem) for e in v]
                failed += sum(1 for e, x in zip(v, items, strict=True) if x is None and e is not None)
                out.append(items)
    else:
        for v in values:
            x = py_scalar_json(v, typ)
            failed += x is None and v is not None
            out.append(x)
    bad(failed)
    if typ == TS:
        return pa.array(out, pa.int64()).cast(TS)
    return pa.array(out, typ)

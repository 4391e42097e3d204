"""Text columns of flow records to typed values, vectorized with pyarrow.compute, with a per-value
path for the odd values a column may hold (hex ports, H:MM:SS durations, a date among epochs).

These functions know nothing of headers or files: the column conversion (columns.py) picks
which one applies to which column. Values that do not convert come back as null plus their text,
so the caller can keep that text in `extra` rather than lose it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

#: What a failed Arrow cast or compute call raises: the caller then takes a slower, per-value path.
CONVERT_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError)
STR_NULL = pa.scalar(None, pa.string())
US = 1_000_000  # µs per second


def one_chunk(col: pa.ChunkedArray) -> pa.Array:
    if col.num_chunks == 1:
        return col.chunk(0)
    return col.combine_chunks() if col.num_chunks else pa.array([], col.type)


def text_column(values: Sequence[str]) -> pa.Array:
    """A string array from Python strings that hold no newline (they come from split lines): one
    join and one Arrow split instead of converting each string."""
    if not values:
        return pa.array([], pa.string())
    return pc.split_pattern(pa.array(["\n".join(values)], pa.large_string()), "\n").flatten().cast(pa.string())


def coalesce(arrays: Sequence[pa.Array]) -> pa.Array | None:
    if not arrays:
        return None
    return arrays[0] if len(arrays) == 1 else pc.coalesce(*arrays)


def looks_numeric(text: str) -> bool:
    t = text.strip().lstrip("-")
    return bool(t) and t.replace(".", "", 1).isdigit()


def first_valid(arr: pa.Array) -> str | None:
    if arr.null_count == len(arr):
        return None
    if arr.null_count == 0:
        return arr[0].as_py()
    return arr.filter(pc.is_valid(arr))[0].as_py()


def trim(arr: pa.Array) -> pa.Array:
    """Whitespace around values removed (and empty -> null), paying only when there is some."""
    if not len(arr) or not pc.any(pc.or_(pc.starts_with(arr, " "), pc.ends_with(arr, " "))).as_py():
        return arr
    t = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(t, ""), STR_NULL, t)


def map_distinct(arr: pa.Array, fn: Callable[[str], str | None]) -> pa.Array:
    """Apply `fn` to each distinct value only (protocols, states, flags: few distinct values)."""
    if arr.null_count == len(arr):
        return arr
    enc = pc.dictionary_encode(arr)
    mapped = pa.array([fn(v) for v in enc.dictionary.to_pylist()], pa.string())
    return mapped.take(enc.indices)


def strip_or_none(value: str) -> str | None:
    return value.strip() or None


def ints(arr: pa.Array, typ: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """Integers, vectorized for plain decimals; the other values (0x hex as Argus writes ICMP
    ports, text) go one by one, and those that are no integer of `typ` -> null + their text."""
    try:
        return pc.cast(arr, typ), None
    except CONVERT_ERRORS:
        pass
    plain = pc.fill_null(pc.utf8_is_digit(arr), False)
    try:
        out = pc.cast(pc.if_else(plain, arr, STR_NULL), typ)
    except CONVERT_ERRORS:  # decimals too large for the type: all one by one
        plain = pc.and_(plain, pa.scalar(False))
        out = pa.nulls(len(arr), typ)
    rest = pc.and_(pc.is_valid(arr), pc.invert(plain))
    values: list[int | None] = []
    bad: list[str | None] = []
    bits = typ.bit_width
    for v in arr.filter(rest).to_pylist():
        t = v.strip()
        try:
            got: int | None = int(t, 16) if t[:2] in ("0x", "0X") else int(t)
        except ValueError:
            got = None
        if got is not None and not -(2 ** (bits - 1)) <= got < 2 ** (bits - 1):
            got = None
        values.append(got)
        bad.append(v if got is None else None)
    out = pc.replace_with_mask(out, rest, pa.array(values, typ))
    if all(b is None for b in bad):
        return out, None
    return out, pc.replace_with_mask(pa.nulls(len(arr), pa.string()), rest, pa.array(bad, pa.string()))


def matches(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(arr, pattern), False)


ZONE_SUFFIX = re.compile(r"(?:[zZ]|[+-]\d\d:?\d\d)$")
NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
AWARE_TIME = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d{1,9})?)? ?([zZ]|[+-]\d\d:?\d\d)$"
NAIVE_TIME = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d{1,9})?)?$"


_SCALE = {"s": US, "ms": 1000, "us": 1}


def epoch_us(arr: pa.Array, unit: str) -> pa.Array | None:
    """Epoch µs of numeric text in `unit` (auto: by magnitude); None when some text is not a number
    or out of range."""
    try:
        return _epoch_us_or_raise(arr, unit)
    except CONVERT_ERRORS:
        return None


def _epoch_us_or_raise(arr: pa.Array, unit: str) -> pa.Array | None:
    try:
        v = pc.cast(arr, pa.int64())
    except CONVERT_ERRORS:
        v = None
    if v is not None:
        if unit == "auto":
            mag = pc.abs(v)
            # every branch is computed; only the chosen one must not overflow (it cannot, by magnitude)
            return pc.if_else(pc.greater_equal(mag, 10**17), pc.divide(v, 1000),
                              pc.if_else(pc.greater_equal(mag, 10**14), v,
                                         pc.if_else(pc.greater_equal(mag, 10**11), pc.multiply(v, 1000),
                                                    pc.multiply(v, US))))
        if unit == "ns":
            return pc.divide(v, 1000)
        return pc.multiply_checked(v, _SCALE.get(unit, US))
    try:
        f = pc.cast(arr, pa.float64())
    except CONVERT_ERRORS:
        return None
    if pc.any(pc.invert(pc.is_finite(f))).as_py():
        return None
    if unit == "auto":
        mag = pc.abs(f)
        factor = pc.if_else(pc.greater_equal(mag, 1e17), 1e-3, pc.if_else(pc.greater_equal(mag, 1e14), 1.0,
                                                                         pc.if_else(pc.greater_equal(mag, 1e11),
                                                                                    1e3, 1e6)))
        scaled = pc.multiply(f, factor)
    else:
        scaled = pc.multiply(f, 1e-3 if unit == "ns" else float(_SCALE.get(unit, US)))
    return pc.cast(pc.round(scaled), pa.int64())


def number_us(s: str, unit: str) -> int | None:
    try:
        value = int(s)
    except ValueError:
        try:
            f = float(s)
        except ValueError:
            return None
        if f != f or f in (float("inf"), float("-inf")):
            return None
        factor = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}.get(unit)
        if factor is None:
            mag = abs(f)
            factor = 1e-3 if mag >= 1e17 else 1.0 if mag >= 1e14 else 1e3 if mag >= 1e11 else 1e6
        return round(f * factor)
    if unit == "auto":
        mag = abs(value)
        unit = "ns" if mag >= 10**17 else "us" if mag >= 10**14 else "ms" if mag >= 10**11 else "s"
    return value // 1000 if unit == "ns" else value * _SCALE.get(unit, US)


def iso_datetime(s: str) -> datetime | None:
    t = s.replace("/", "-")
    if t.startswith("0000-"):
        return None  # nfdump's "no time"
    try:
        return datetime.fromisoformat(t)
    except ValueError:
        return None


MAX_DURATION_S = 100 * 365.25 * 86400.0  # longer is no flow (inf, nan, 1e999): unreadable, not an overflow


def seconds(arr: pa.Array, unit: str) -> tuple[pa.Array, pa.Array | None]:
    """Durations as float seconds, and the text of the unreadable ones (also inf, nan and absurd values:
    their end time would overflow; found by fuzzing)."""
    out, bad = _seconds(arr, unit)
    absurd = pc.fill_null(pc.invert(pc.less_equal(pc.abs(out), MAX_DURATION_S)), False)
    if not pc.any(absurd).as_py():
        return out, bad
    out = pc.if_else(absurd, pa.scalar(None, pa.float64()), out)
    return out, pc.if_else(absurd, pc.cast(arr, pa.string()), bad if bad is not None else STR_NULL)


def _seconds(arr: pa.Array, unit: str) -> tuple[pa.Array, pa.Array | None]:
    """Durations as float seconds: numbers in `unit`, vectorized; H:MM:SS[.fff] and text one by one."""
    divisor = {"ms": 1e3, "us": 1e6}.get(unit, 1.0)
    try:
        f = pc.cast(arr, pa.float64())
        return (pc.divide(f, divisor) if divisor != 1.0 else f), None
    except CONVERT_ERRORS:
        pass
    fits = matches(arr, NUMBER)
    f = pc.cast(pc.if_else(fits, arr, STR_NULL), pa.float64())
    out = pc.divide(f, divisor) if divisor != 1.0 else f
    rest = pc.and_(pc.is_valid(arr), pc.invert(fits))
    values: list[float | None] = []
    bad: list[str | None] = []
    for v in arr.filter(rest).to_pylist():
        got = None
        try:
            parts = [float(p) for p in v.strip().split(":")]
            if len(parts) > 1:
                got = sum(p * 60 ** (len(parts) - 1 - j) for j, p in enumerate(parts))
        except ValueError:
            got = None
        values.append(got)
        bad.append(v if got is None else None)
    out = pc.replace_with_mask(out, rest, pa.array(values, pa.float64()))
    if all(b is None for b in bad):
        return out, None
    return out, pc.replace_with_mask(pa.nulls(len(arr), pa.string()), rest, pa.array(bad, pa.string()))


#: IANA protocol keywords (lowercase) for the numbers seen in practice; other numbers stay numbers.
PROTOCOLS = {
    0: "hopopt", 1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 8: "egp", 9: "igp", 17: "udp", 27: "rdp",
    33: "dccp", 41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah",
    58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 88: "eigrp", 89: "ospf", 94: "ipip", 103: "pim",
    112: "vrrp", 115: "l2tp", 132: "sctp", 136: "udplite", 137: "mpls-in-ip",
}
_PROTO_NAMES = {"icmp6": "ipv6-icmp", "icmpv6": "ipv6-icmp", "ospfigp": "ospf"}


def proto_name(value: str) -> str | None:
    """`6` -> `tcp`, `TCP` -> `tcp`, `ICMP6` -> `ipv6-icmp`."""
    v = value.strip().lower()
    if not v:
        return None
    if v.isdigit():
        return PROTOCOLS.get(int(v), v)
    return _PROTO_NAMES.get(v, v)


def tcp_flags_text(value: str) -> str | None:
    """Numeric TCP flags (27, 0x1b) as nfdump writes them (`...AP.SF`); letters are kept as written."""
    v = value.strip()
    if not v:
        return None
    try:
        bits = int(v, 16) if v.lower().startswith("0x") else int(v)
    except ValueError:
        return v
    if not 0 <= bits <= 0xFF:
        return v
    return "".join(ch if bits & (0x80 >> i) else "." for i, ch in enumerate("CEUAPRSF"))


def direction_code(value: str) -> str | None:
    v = value.strip()
    return {"0": "ingress", "1": "egress"}.get(v, v or None)


"""Vectorized text: columns of values become lines without a Python loop per record.

Lines are built with Arrow's element-wise string join (C++), from columns that are mostly `take`s
of small pre-rendered vocabularies; a finished column of lines is written to the file straight
from its Arrow data buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO, TypeAlias, overload

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

#: a part of a line: a column of text, or a literal that join() broadcasts
Part: TypeAlias = str | pa.Array | pa.ChunkedArray
#: a field's values: one text per row, or one literal for every row
Col: TypeAlias = pa.Array | str
B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def strs(values: np.ndarray | Sequence[int]) -> pa.Array:
    """Integers as decimal text."""
    return pc.cast(pa.array(np.asarray(values)), pa.string())


def lpad(arr: pa.Array, width: int, fill: str = "0") -> pa.Array:
    return pc.utf8_lpad(arr, width=width, padding=fill)


@overload
def join(*parts: str) -> str: ...


@overload
def join(*parts: Part) -> pa.Array: ...


def join(*parts: Part) -> Part:
    """Element-wise concatenation of string columns and literals (adjacent literals merged). With
    literals only, the result is the literal (it broadcasts when used as a part of another join)."""
    merged: list[Part] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + p
        elif not (isinstance(p, str) and p == ""):
            merged.append(p)
    arrays = [p for p in merged if not isinstance(p, str)]
    if not arrays:
        return "".join(p for p in merged if isinstance(p, str))
    if len(merged) == 1:
        return arrays[0]
    return pc.binary_join_element_wise(*merged, "")


def pick(vocab: pa.Array, idx: np.ndarray) -> pa.Array:
    return vocab.take(pa.array(np.asarray(idx, dtype=np.int64)))


def const(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def where(mask: np.ndarray, a: pa.Array | str, b: pa.Array | str) -> pa.Array:
    """Element-wise choice; constants are broadcast (no Python list of n values)."""
    m = pa.array(np.asarray(mask, dtype=bool))
    if isinstance(a, str) and isinstance(b, str):
        return pc.if_else(m, pa.scalar(a), pa.scalar(b))
    return pc.if_else(m, pa.scalar(a) if isinstance(a, str) else a, pa.scalar(b) if isinstance(b, str) else b)


def decimal6(us: np.ndarray) -> pa.Array:
    """Integer microseconds as seconds with 6 decimals (1.234567), one cast and one splice."""
    return pc.utf8_replace_slice(lpad(strs(us), 7), start=-6, stop=-6, replacement=".")


def json_escape(s: str) -> str:
    """The body of a JSON string literal (no quotes)."""
    return orjson.dumps(s).decode()[1:-1]


def json_vocab(values: Sequence[str]) -> pa.Array:
    return pa.array([json_escape(v) for v in values], pa.string())


def json_escape_arr(arr: pa.Array) -> pa.Array:
    """JSON-escape a column (values never hold control characters here: only \\ and " matter)."""
    arr = pc.replace_substring(arr, "\\", "\\\\")
    return pc.replace_substring(arr, '"', '\\"')


def random_b62(rng: np.random.Generator, n: int, length: int, prefix: bytes = b"") -> pa.Array:
    """Random base-62 tokens (Zeek uids `C...`, file ids `F...`)."""
    body = B62[rng.integers(0, 62, size=(n, length), dtype=np.uint8)]
    if prefix:
        body = np.concatenate([np.tile(np.frombuffer(prefix, dtype=np.uint8), (n, 1)), body], axis=1)
    return _fixed_to_str(body)


def random_hex(rng: np.random.Generator, n: int, length: int) -> pa.Array:
    return _fixed_to_str(_HEX[rng.integers(0, 16, size=(n, length), dtype=np.uint8)])


def random_guid(rng: np.random.Generator, n: int, upper: bool = False) -> pa.Array:
    """{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}."""
    h = _HEX[rng.integers(0, 16, size=(n, 32), dtype=np.uint8)]
    if upper:
        h = np.where(h >= ord("a"), h - 32, h).astype(np.uint8)
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    body = np.concatenate([np.full((n, 1), ord("{"), np.uint8), h[:, :8], dash, h[:, 8:12], dash, h[:, 12:16], dash,
                           h[:, 16:20], dash, h[:, 20:], np.full((n, 1), ord("}"), np.uint8)], axis=1)
    return _fixed_to_str(body)


def _fixed_to_str(rows: np.ndarray) -> pa.Array:
    """An (n, width) uint8 array of ASCII as a string column, without a Python loop."""
    n, width = rows.shape
    data = pa.py_buffer(np.ascontiguousarray(rows).tobytes())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    return pa.StringArray.from_buffers(n, offsets, data)


def ipv4(values: np.ndarray) -> pa.Array:
    """uint32 addresses as dotted quads."""
    v = np.asarray(values, dtype=np.int64)
    return join(strs(v >> 24), ".", strs((v >> 16) & 255), ".", strs((v >> 8) & 255), ".", strs(v & 255))


def ip_int(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def write_lines(fh: BinaryIO, lines: pa.Array) -> int:
    """Write a column of lines (each ending in a newline) as one block; returns the bytes written."""
    if len(lines) == 0:
        return 0
    if isinstance(lines, pa.ChunkedArray):
        return sum(write_lines(fh, c) for c in lines.chunks)
    if lines.null_count:
        raise ValueError("a line column holds nulls")
    if lines.type == pa.large_string():
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
    else:
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    lo, hi = int(offsets[0]), int(offsets[-1])
    fh.write(memoryview(lines.buffers()[2])[lo:hi])
    return hi - lo


def count_newlines(lines: pa.Array) -> np.ndarray:
    """Lines per record (records may span several lines, e.g. PostgreSQL continuation lines)."""
    return np.asarray(pc.count_substring(lines, "\n"), dtype=np.int64)


def fill(templates: Sequence[str], idx: np.ndarray, values: dict[str, pa.Array]) -> pa.Array:
    """Per row, template idx[i] with its {name} placeholders replaced by values[name][i]."""
    import string

    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    pieces: list[pa.Array] = []
    rows: list[np.ndarray] = []
    for t, template in enumerate(templates):
        sel = np.flatnonzero(idx == t)
        if not len(sel):
            continue
        take = pa.array(sel)
        parts: list[Part] = []
        for literal, name, _, _ in string.Formatter().parse(template):
            if literal:
                parts.append(literal)
            if name is not None:
                parts.append(values[name].take(take))
        arrays = [p for p in parts if not isinstance(p, str)]
        pieces.append(join(*parts) if arrays else const("".join(p for p in parts if isinstance(p, str)), len(sel)))
        rows.append(sel)
    if not pieces:
        return pa.array([], pa.string())
    order = np.empty(n, dtype=np.int64)
    order[np.concatenate(rows)] = np.arange(n)
    return pa.chunked_array(pieces).take(pa.array(order)).combine_chunks()

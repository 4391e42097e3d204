"""Zeek TSV (the ASCII writer's default): header blocks (`#separator`, `#fields`, `#types`...) and
the typing of each column from `#types`.

A batch of lines is split and typed in one pass of Arrow's CSV parser (no quoting, no escapes); a
batch it refuses (odd separator, a value not of its type, invalid UTF-8, a line with the wrong number
of fields) is split with Arrow's `split_pattern` and typed column by column, the odd values one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import decode, head_text, line_arrays
from breachscope.ingest.reader import Batches
from breachscope.ingest.timeparse import epoch_to_us, parse_iso_us
from breachscope.ingest.zeek.layout import MAX_FIELDS, Spec, assemble, bad_counter, spec_for
from breachscope.ingest.zeek.lines import Emitted, LineBatcher, numbers, valid_utf8
from breachscope.ingest.zeek.values import Bad, floats_to_ts, int_ok, slow_json, ts_ok, unescape
from breachscope.model.schema import TS, zeek_type

_TSV_SNIFF = re.compile(r"^[ \t]*#separator [^\r\n]|^#fields\t", re.M)
_NULL_STR = pa.scalar(None, pa.string())


def _normal_type(ztype: str) -> str:
    ztype = ztype.strip()
    return "set[" + ztype[6:] if ztype.startswith("table[") else ztype  # Bro 2.x wrote table[string]


# --- header block and values ----------------------------------------------------------------------

@dataclass
class _Block:
    """The header state of one TSV header block (a file may hold several when logs were joined)."""

    sep: str = "\t"
    set_sep: str = ","
    empty: str = "(empty)"
    unset: str = "-"
    path: str | None = None
    fields: list[str] | None = None
    types: list[str] | None = None
    spec: Spec | None = None


def _py_scalar_tsv(s: str | None, typ: pa.DataType, blk: _Block) -> tuple[Any, bool]:
    """(value, ok) of one TSV value; ok is False when it does not parse as its type."""
    if s is None or s == blk.unset:
        return None, True
    try:
        if typ == TS:
            us = epoch_to_us(s)
            if us is None:
                us = parse_iso_us(s)
            us = ts_ok(us)
            return us, us is not None
        if pa.types.is_integer(typ):
            v = int_ok(int(s.strip().partition("/")[0]), typ)  # ports may read "80/tcp"
            return v, v is not None
        if pa.types.is_floating(typ):
            return float(s), True
        if pa.types.is_boolean(typ):
            v = {"T": True, "F": False, "1": True, "0": False}.get(s.strip())
            return v, v is not None
    except ValueError:
        return None, False
    if s == blk.empty:
        return "", True
    return unescape(s), True


def _slow_tsv(values: list[str | None], typ: pa.DataType, blk: _Block, bad: Bad) -> pa.Array:
    failed = 0
    if pa.types.is_list(typ):
        elem = typ.value_type
        out: list[Any] = []
        for s in values:
            if s is None or s == blk.unset:
                out.append(None)
            elif s == blk.empty:
                out.append([])
            else:
                items = []
                for e in s.split(blk.set_sep):
                    v, ok = _py_scalar_tsv(e, elem, blk)
                    failed += not ok
                    items.append(v)
                out.append(items)
    else:
        out = []
        for s in values:
            v, ok = _py_scalar_tsv(s, typ, blk)
            failed += not ok
            out.append(v)
    bad(failed)
    if typ == TS:
        return pa.array(out, pa.int64()).cast(TS)
    return pa.array(out, typ)


def _tsv_column(arr: pa.Array, ztype: str, blk: _Block, bad: Bad) -> pa.Array:
    """One column of Zeek TSV text to its Arrow type, vectorized; odd values take the slow path."""
    typ = zeek_type(ztype)
    unset = pc.equal(arr, blk.unset)
    try:
        if pa.types.is_string(typ):
            return _fix_strings(pc.if_else(unset, _NULL_STR, arr), blk)
        if pa.types.is_list(typ):
            if _has_escape(arr) or not pa.types.is_string(typ.value_type):
                raise pa.ArrowInvalid("slow path")
            return _tsv_string_lists(arr, unset, typ, blk)
        vals = pc.if_else(unset, _NULL_STR, arr)
        if typ == TS:
            return floats_to_ts(pc.cast(vals, pa.float64()))
        if pa.types.is_boolean(typ):
            true, false = pc.equal(vals, "T"), pc.equal(vals, "F")
            if pc.all(pc.or_(true, false)).as_py() is False:
                raise pa.ArrowInvalid("not T/F")
            return true
        return pc.cast(vals, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _slow_tsv(arr.to_pylist(), typ, blk, bad)


def _has_escape(arr: pa.Array) -> bool:
    return bool(pc.any(pc.match_substring(arr, "\\x")).as_py())


def _fix_strings(arr: pa.Array, blk: _Block, empties: bool = True, escapes: bool = True) -> pa.Array:
    """Zeek's empty marker to "", and \\xHH escapes decoded (unset values are already null)."""
    if empties:
        empty = pc.equal(arr, blk.empty)
        if pc.any(empty).as_py():
            arr = pc.if_else(empty, pa.scalar("", pa.string()), arr)
    if escapes and _has_escape(arr):
        arr = pa.array([unescape(v) if v is not None else None for v in arr.to_pylist()], pa.string())
    return arr


def _tsv_string_lists(arr: pa.Array, unset: pa.Array, typ: pa.DataType, blk: _Block) -> pa.Array:
    parts = pc.split_pattern(pc.if_else(unset, _NULL_STR, arr), pattern=blk.set_sep)
    if pc.any(pc.equal(parts.flatten(), blk.unset)).as_py():
        raise pa.ArrowInvalid("unset list elements")
    empty = pc.equal(arr, blk.empty)
    if pc.any(empty).as_py():
        parts = pc.if_else(empty, pa.scalar([], typ), parts)
    return parts


# --- reader ---------------------------------------------------------------------------------------

class _TsvReader(LineBatcher):
    def __init__(self, ctx: ReadContext) -> None:
        super().__init__(ctx)
        self.blk = _Block()

    def run(self) -> Batches:
        blank = 0
        for first, lines in line_arrays(self.ctx):
            special = pc.match_substring_regex(lines, pattern="^[ \t]*(?:#|$)")  # headers, empty lines
            if not pc.any(special).as_py():  # the common case: data lines only
                yield from self.add(lines, numbers(first, len(lines)))
                continue
            prev = 0
            for i in np.flatnonzero(special.to_numpy(zero_copy_only=False)).tolist():
                if i > prev:
                    yield from self.add(lines.slice(prev, i - prev), numbers(first + prev, i - prev))
                raw = lines[i].as_py().lstrip(b" \t")
                if raw:
                    yield from self.flush(everything=True)
                    self._header(raw)
                else:
                    blank += 1
                prev = i + 1
            if prev < len(lines):
                yield from self.add(lines.slice(prev), numbers(first + prev, len(lines) - prev))
        yield from self.flush(everything=True)
        if blank:
            self.ctx.warnings["zeek: empty lines skipped"] += blank

    def _header(self, raw: bytes) -> None:
        text = decode(raw, self.ctx)
        blk = self.blk
        if text.startswith("#separator"):
            value = text[len("#separator"):]
            sep = unescape(value[1:] if value[:1] in (" ", "\t") else value)
            if not sep:
                self.ctx.warn("zeek: empty #separator; tab assumed")
                sep = "\t"
            self.blk = _Block(sep=sep)  # a new header block (logs joined with cat)
            return
        key, _, value = text.partition(blk.sep)
        if key == "#fields":
            blk.fields, blk.spec = value.split(blk.sep), None
        elif key == "#types":
            blk.types, blk.spec = value.split(blk.sep), None
        elif key == "#path":
            blk.path, blk.spec = value, None
        elif key == "#set_separator":
            blk.set_sep = unescape(value) or ","
        elif key == "#empty_field":
            blk.empty = unescape(value)
        elif key == "#unset_field":
            blk.unset = unescape(value)
        # #open, #close and any other comment line: header, not a record

    def _layout(self) -> Spec | None:
        blk = self.blk
        if blk.spec is not None or blk.fields is None:
            return blk.spec
        if len(blk.fields) > MAX_FIELDS:
            self.ctx.warn("zeek: #fields header with too many fields ignored")
            return None
        types = blk.types
        if types is None or len(types) != len(blk.fields):
            self.ctx.warn("zeek: #types missing or not matching #fields; values read as strings")
            types = ["string"] * len(blk.fields)
        path, table = self.tables.get(blk.path)
        blk.spec = spec_for(path, table, tuple(zip(blk.fields, map(_normal_type, types), strict=True)))
        return blk.spec

    def emit(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        spec = self._layout()
        if spec is None:
            for raw, rec in zip(lines.to_pylist(), recs.tolist(), strict=True):
                self.ctx.reject(f"line {rec}", "data line without a valid #fields header", raw)
            return
        batch = self._convert(spec, lines, recs)
        if batch is not None:
            yield spec.table, batch

    def _convert(self, spec: Spec, lines: pa.Array, recs: np.ndarray) -> pa.RecordBatch | None:
        got = _csv_columns(spec, self.blk, lines, self.ctx)
        if got is None:  # odd separators, a value not of its type, bad UTF-8: the general path
            got = _split_columns(spec, self.blk, lines, self.ctx)
        arrays, ok = got
        if ok is not None:
            for i in np.flatnonzero(~ok).tolist():
                self.ctx.reject(f"line {recs[i]}", "wrong number of fields", lines[i].as_py())
            recs = recs[ok]
        if not len(recs):
            return None
        return assemble(spec, arrays, len(recs), recs, self.ctx)


# --- a batch of lines to typed columns ------------------------------------------------------------

Columns = tuple[list[pa.Array], np.ndarray | None]  # typed columns, and which lines they hold (None: all)


def _csv_type(ztype: str) -> pa.DataType:
    typ = zeek_type(ztype)
    return pa.float64() if typ == TS else pa.string() if pa.types.is_list(typ) else typ


def _csv_columns(spec: Spec, blk: _Block, lines: pa.Array, ctx: ReadContext) -> Columns | None:
    """Split and type a batch in one pass of Arrow's CSV parser (no quoting, no escapes); None when
    the batch needs the general path."""
    if len(blk.sep) != 1 or blk.sep in "\r\n" or not valid_utf8(lines):
        return None
    offsets = pa.array([0, len(lines)], pa.int32())
    data = pc.binary_join(pa.ListArray.from_arrays(offsets, pa.concat_arrays([lines])), pa.scalar(b"\n"))[0]
    buf = data.as_buffer()
    raw = buf.to_pybytes() if buf is not None else b"\r"
    if b"\r" in raw:  # a stray CR would end a CSV row
        return None
    empties, escapes = blk.empty.encode() in raw, b"\\x" in raw  # skip the column checks when absent
    invalid: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.number is None:
            return "error"
        invalid.append(row.number - 1)
        return "skip"

    names = [f"f{i}" for i in range(len(spec.fields))]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(buf),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                           block_size=max(1 << 20, len(raw) + 1)),
            parse_options=pacsv.ParseOptions(delimiter=blk.sep, quote_char=False, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: _csv_type(t) for n, (_, _, t) in zip(names, spec.fields, strict=True)},
                null_values=[blk.unset], strings_can_be_null=True, true_values=["T"], false_values=["F"],
                check_utf8=True),
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows + len(invalid) != len(lines):
        return None
    ok = None
    if invalid:
        ok = np.ones(len(lines), dtype=bool)
        ok[invalid] = False
    arrays = []
    for col, (name, _, ztype) in zip(table.columns, spec.fields, strict=True):
        arr, bad = col.combine_chunks(), bad_counter(ctx, spec, name, ztype)
        if arr.type == pa.float64() and zeek_type(ztype) == TS:
            try:
                arr = floats_to_ts(arr)
            except pa.ArrowInvalid:
                arr = slow_json(arr.to_pylist(), TS, bad)
        elif pa.types.is_list(zeek_type(ztype)):
            arr = _tsv_column(arr, ztype, blk, bad)
        elif pa.types.is_string(arr.type):
            arr = _fix_strings(arr, blk, empties, escapes)
        arrays.append(arr)
    return arrays, ok


def _split_columns(spec: Spec, blk: _Block, lines: pa.Array, ctx: ReadContext) -> Columns:
    try:
        text = lines.cast(pa.string())
    except pa.ArrowInvalid:  # invalid UTF-8 somewhere in the batch: replace it, line by line
        text = pa.array([decode(raw, ctx) for raw in lines.to_pylist()], pa.string())
    parts = pc.split_pattern(text, pattern=blk.sep)
    nf = len(spec.fields)
    okarr = pc.equal(pc.list_value_length(parts), nf)
    ok = None
    if not pc.all(okarr).as_py():
        ok = okarr.to_numpy(zero_copy_only=False)
        parts = parts.filter(okarr)
    flat = parts.flatten()
    starts = np.arange(len(parts), dtype=np.int64) * nf
    arrays = [
        _tsv_column(flat.take(pa.array(starts + j)), ztype, blk, bad_counter(ctx, spec, name, ztype))
        for j, (name, _, ztype) in enumerate(spec.fields)
    ]
    return arrays, ok


def read_tsv(ctx: ReadContext) -> Batches:
    yield from _TsvReader(ctx).run()


def sniff_tsv(head: bytes, name: str) -> bool:
    return bool(_TSV_SNIFF.search(head_text(head)[:16384].lstrip("\ufeff")))

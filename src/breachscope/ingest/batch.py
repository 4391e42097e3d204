"""Column lists to typed Arrow record batches.

Readers collect plain Python lists per column (the cheapest thing to do per record) and turn them
into a batch of their table's schema here, once per batch. Provenance columns are filled from the
read context, so no reader can forget them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.context import ReadContext
from breachscope.ingest.timeparse import parse_ts_us
from breachscope.model.schema import TS

#: Record numbers of a batch's rows: a list, or a numpy array when a reader computes them in bulk.
Records: TypeAlias = "Sequence[int] | np.ndarray[Any, Any]"


def to_array(values: Sequence[Any], typ: pa.DataType, ctx: ReadContext | None = None) -> pa.Array:
    """Build one column; values that do not fit the type become null rather than failing the batch."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values if values.type == typ else values.cast(typ)
    if pa.types.is_timestamp(typ):
        return timestamps(values, typ)
    try:
        return pa.array(values, type=typ)
    except UnicodeEncodeError:  # lone surrogates (JSON "\ud800") have no UTF-8 form (found by fuzzing)
        if ctx is not None:
            ctx.warn(SURROGATES)
        return to_array([scrub_surrogates(v) for v in values], typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([_coerce(v, typ) for v in values], type=typ)


SURROGATES = "lone UTF-16 surrogates in the text replaced by U+FFFD"
_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub_surrogates(value: Any) -> Any:
    """The value with lone surrogates (text decoded from JSON "\\ud800") replaced by U+FFFD, nested too."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list | tuple):
        return type(value)(scrub_surrogates(v) for v in value)
    if isinstance(value, dict):
        return {scrub_surrogates(k): scrub_surrogates(v) for k, v in value.items()}
    return value


def _coerce(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    try:
        if pa.types.is_integer(typ):
            v = int(value, 0) if isinstance(value, str) else int(value)
            bits = typ.bit_width
            return v if -(2 ** (bits - 1)) <= v < 2 ** (bits - 1) else None
        if pa.types.is_floating(typ):
            return float(value)
        if pa.types.is_string(typ):
            return value if isinstance(value, str) else str(value)
        if pa.types.is_boolean(typ):
            return value if isinstance(value, bool) else str(value).lower() in ("t", "true", "1", "yes")
    except (ValueError, TypeError):
        return None
    if pa.types.is_list(typ) or pa.types.is_map(typ):
        try:
            return pa.array([value], type=typ)[0].as_py()
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    return None


def timestamps(values: Sequence[Any], typ: pa.DataType = TS) -> pa.Array:
    """Timestamps given as epoch microseconds (int), datetimes or ISO 8601 strings with a zone."""
    first = next((v for v in values if v is not None), None)
    if first is None or isinstance(first, int):
        try:
            return pa.array(values, type=pa.int64()).cast(typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    if isinstance(first, str):
        try:  # vectorized ISO 8601 parse; any odd value sends the batch to the per-value path
            arr = pc.cast(pa.array(values, type=pa.string()), pa.timestamp("ns", tz="UTC"))
            return arr.cast(typ, safe=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):  # a number among texts
            pass
    return pa.array([parse_ts_us(v) for v in values], type=pa.int64()).cast(typ)


def make_batch(schema: pa.Schema, columns: Mapping[str, Sequence[Any]], n: int, ctx: ReadContext,
               records: Records, files: Sequence[str] | None = None,
               shas: Sequence[str] | None = None) -> pa.RecordBatch:
    """A batch of `schema` from column lists; missing columns are null, provenance is filled in:
    from the read context (one file), or per row from `files`/`shas` (a batch spanning files)."""
    arrays = []
    for fld in schema:
        name = fld.name
        if name == "src_file":
            arrays.append(pa.array(files, pa.string()) if files is not None
                          else pa.repeat(ctx.source.display, n) if n else pa.array([], pa.string()))
        elif name == "src_sha256":
            arrays.append(pa.array(shas, pa.string()) if shas is not None
                          else pa.repeat(ctx.source.sha256, n) if n else pa.array([], pa.string()))
        elif name == "src_record":
            arrays.append(pa.array(records, type=pa.int64()))
        elif name in columns:
            arrays.append(to_array(columns[name], fld.type, ctx))
        else:
            arrays.append(pa.nulls(n, type=fld.type))
    if files is None:
        ctx.records += n
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class ColumnBuffer:
    """Per-table column lists for readers that build rows as dicts (the simple, slower path)."""

    def __init__(self, table: str, schema: pa.Schema, ctx: ReadContext) -> None:
        self.table = table
        self.schema = schema
        self.ctx = ctx
        self.names = [f.name for f in schema]
        self.columns: dict[str, list[Any]] = {n: [] for n in self.names}
        self.records: list[int] = []

    def __len__(self) -> int:
        return len(self.records)

    def append(self, record: int, row: dict[str, Any]) -> None:
        for name, col in self.columns.items():
            col.append(row.get(name))
        self.records.append(record)

    def flush(self) -> pa.RecordBatch:
        batch = make_batch(self.schema, self.columns, len(self.records), self.ctx, self.records)
        self.columns = {n: [] for n in self.names}
        self.records = []
        return batch

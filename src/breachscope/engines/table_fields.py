"""Which event field each column of a case table holds, for engines whose views drop Arrow metadata.

The readers record, in each Parquet part's Arrow schema, the event field a column holds when its name
is not the field's (Sysmon's `User` in `EventData_User`, Zeek's `host` in `host_header`; see
model/schema.py). DuckDB's views and Spark's frames keep names and types only, so an engine's
`schemas()` puts the map back from the parts (footers only, no data read) before rules are compiled.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.model.errors import CaseError
from breachscope.model.schema import (
    FIELD_META,
    FIXED_SCHEMAS,
    LAYOUT_META,
    LAYOUT_VERSION,
    case_collisions,
    table_family,
)

#: Families whose layout changed in layout 2 (columns renamed so that none shadows another ignoring case).
_RELAYOUT = frozenset({"windows", "zeek"})


def part_schemas(table: str, files: Iterable[str]) -> list[pa.Schema]:
    """The Arrow schemas of a table's parts. A part whose columns collide ignoring case, or a Windows or
    Zeek part of layout 1, would let DuckDB and Spark read one field under another's name: refused."""
    out = []
    for f in files:
        schema = pq.read_schema(f)
        clashes = case_collisions(schema.names)
        legacy = table_family(table) in _RELAYOUT and (schema.metadata or {}).get(LAYOUT_META) != LAYOUT_VERSION
        if clashes or legacy:
            why = (f"columns equal ignoring case ({', '.join(f'{a}/{b}' for a, b in clashes[:3])})" if clashes
                   else "an earlier column layout")
            raise CaseError(f"table {table}: part {f} has {why}: it was written by an earlier breachscope and "
                            "rules would read fields under the wrong names; ingest the evidence into a new case")
        out.append(schema)
    return out


def with_fields(table: str, schema: pa.Schema, sources: Iterable[pa.Schema]) -> pa.Schema:
    """`schema` (an engine's view of `table`) with each column's event field taken from `sources` (the
    table's declared schema, its parts', a registered Arrow table's); names are matched ignoring case,
    as the engines match them."""
    fields: dict[str, bytes] = {}
    for src in (FIXED_SCHEMAS.get(table), *sources):
        for f in src or ():
            meta = f.metadata or {}
            if FIELD_META in meta:
                fields.setdefault(f.name.casefold(), meta[FIELD_META])
    if not fields:
        return schema
    out = []
    for f in schema:
        field = fields.get(f.name.casefold())
        out.append(f.with_metadata({**(f.metadata or {}), FIELD_META: field}) if field is not None else f)
    return pa.schema(out, metadata=schema.metadata)

"""Where a Sigma field lives in a table: its own column, a key of the table's `extra` map, or nowhere.

A rule names event fields, never columns: the table's field -> column map (model.schema.field_columns,
read from the schema) says which column holds a field. Core columns that are not event fields of the
table's family (Windows `user`, derived from TargetUserName...) answer no rule field, so Sysmon's
`User` reads its own column (EventData_User), and `user` in a Windows rule reads `extra['user']`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa

from breachscope.detect.sigma.sqlgen import ABSENT, Ref
from breachscope.model.schema import field_columns

# columns that are plumbing, not event content: never searched by keyword rules
NOT_CONTENT = frozenset({"family", "src_file", "src_sha256", "src_record", "source_format", "table_name",
                         "ts_text", "ts_resolution", "syslog_format", "flow_format", "dialect"})
MAP_COLUMN = "extra"


def kind_of(typ: pa.DataType) -> str:
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "str"
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_timestamp(typ):
        return "ts"
    if pa.types.is_map(typ):
        return "map"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return "list"
    return "str"


@dataclass(frozen=True)
class TableInfo:
    """The columns of one table, by kind; enough to compile rules against it."""

    name: str
    columns: Mapping[str, str]  # column -> kind
    fields: Mapping[str, str]  # event field -> column (the map column excluded: it holds fields)

    @classmethod
    def from_schema(cls, name: str, schema: pa.Schema) -> TableInfo:
        columns = {f.name: kind_of(f.type) for f in schema}
        fields = {k: c for k, c in field_columns(schema, name).items() if columns[c] != "map"}
        return cls(name, columns, fields)

    @cached_property
    def renamed_columns(self) -> dict[str, str]:
        """Column -> the event field it holds, for the columns stored under another name (EventData_User)."""
        return {c: f for f, c in self.fields.items() if c != f}

    @property
    def has_map(self) -> bool:
        return self.columns.get(MAP_COLUMN) == "map"

    def signature(self) -> str:
        return ",".join(f"{k}:{v}" for k, v in sorted(self.columns.items()))

    def resolver(self, renames: Mapping[str, str]) -> FieldResolver:
        return FieldResolver(self, renames)

    def keyword_refs(self) -> list[Ref]:
        refs = [Ref(kind, col) for col, kind in self.columns.items()
                if col not in NOT_CONTENT and kind in ("str", "list")]
        if self.has_map:
            refs.append(Ref("map", MAP_COLUMN))
        return refs


class FieldResolver:
    """Rule field -> Ref, after the segment's renames (Security 4688 `NewProcessName` for `Image`), through
    the table's field -> column map."""

    def __init__(self, table: TableInfo, renames: Mapping[str, str]) -> None:
        self.table = table
        self.renames = renames
        self._known: dict[str, Ref] = {}  # a hunt resolves the same few hundred fields ~10^5 times

    def __call__(self, field: str) -> Ref:
        ref = self._known.get(field)
        if ref is None:
            ref = self._known[field] = self._resolve(field)
        return ref

    def _resolve(self, field: str) -> Ref:
        name = self.renames.get(field, field)
        col = self.table.fields.get(name)
        if col is not None:
            return Ref(self.table.columns[col], col)
        if self.table.has_map:  # a field the table has no column for: the event's other fields
            return Ref("str", MAP_COLUMN, key=name)
        return ABSENT

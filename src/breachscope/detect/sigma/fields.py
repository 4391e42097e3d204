"""Where a Sigma field lives in a table: its own column, a key of the table's `extra` map, or nowhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from breachscope.detect.sigma.sqlgen import ABSENT, Ref

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
    columns: Mapping[str, str]

    @classmethod
    def from_schema(cls, name: str, schema: pa.Schema) -> TableInfo:
        return cls(name, {f.name: kind_of(f.type) for f in schema})

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
    """Rule field -> Ref, after the segment's renames (Security 4688 `NewProcessName` for `Image`)."""

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
        kind = self.table.columns.get(name)
        if kind is not None and kind != "map":
            return Ref(kind, name)
        if self.table.has_map and name not in self.table.columns:
            return Ref("str", MAP_COLUMN, key=name)
        return ABSENT

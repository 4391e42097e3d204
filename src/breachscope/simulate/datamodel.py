"""A database described by a data inventory (docs/inventory.md): its tables, their columns in the file's
order, keys and links, and the SQL type of each column, for the simulator to fill (datagen.py) and the
attacker to read (dataplan.py).

The inventory names the personal columns; the model adds what a real schema has around them: the subject
tables' keys, a primary key on every other table (a listed `<table>_id`/`id`, else the first listed `_id`
column that links nowhere, else one added), and a foreign key on every column named like another table's
key. Types follow the categories and the names (`*_at` timestamps, `*_date` dates, amounts integers), or
the scenario's `data.types`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from breachscope.model.errors import UsageError
from breachscope.model.inventory import Dataset, Inventory, parse_inventory
from breachscope.simulate.sqlnames import ident as ident

SQL_TYPES = {"bigint": "bigint", "integer": "integer", "text": "text", "date": "date",
             "timestamp": "timestamp with time zone"}
_TIMESTAMP = re.compile(r"(_at|_time|^created|^updated|^modified)$")
_DATE = re.compile(r"(_date|_on|^date|_day)$")
_NUMBER = re.compile(r"(amount|fee|price|cost|total|count|qty|quantity|^age$|_age$|minutes|duration|score)")
FIRST_ID = 1_000_001
@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # PostgreSQL's spelling
    categories: tuple[str, ...] = ()
    references: str = ""  # the table whose key this column holds
    not_null: bool = False


@dataclass(frozen=True)
class TableModel:
    name: str
    columns: tuple[Column, ...]
    key: str  # primary key: the row's identity
    subject: str  # organization | person
    subject_key: str
    rows_per_subject: float  # rows per subject of the main kind

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def personal(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.categories)


@dataclass(frozen=True)
class DataModel:
    name: str
    database: str
    inventory: Inventory
    document: dict  # the inventory as written to inventory.yaml
    main: str  # the table of the main kind of subject (organization if there is one, else person)
    tables: tuple[TableModel, ...]
    country: str  # the subjects' country (ISO 3166-1 alpha-2), for the values' formats
    exclusion_values: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)  # (table, col) -> values

    def table(self, name: str) -> TableModel:
        return next(t for t in self.tables if t.name == name)

    @property
    def main_table(self) -> TableModel:
        return self.table(self.main)

    @property
    def main_kind(self) -> str:
        return self.main_table.subject

    def owner_column(self, table: TableModel) -> str | None:
        """The column of `table` holding the main subject's key (for ranges over the main subjects)."""
        if table.name == self.main:
            return table.key
        return next((c.name for c in table.columns if c.references == self.main), None)


def build(doc: dict, rows: Mapping[str, float], types: Mapping[str, str], where: str) -> DataModel:
    """The model of the database an inventory document describes (validated as `scope` validates it)."""
    inv = parse_inventory(doc, where)
    listed = {str(d["table"]).lower(): [(str(c).lower(), cats) for c, cats in (d.get("columns") or {}).items()]
              for d in doc.get("datasets") or []}
    for t in listed:
        if "." in t:
            raise UsageError(f"{where}: datasets: {t}: the simulator writes the tables of one schema (public); "
                             "name them without a schema")
    kinds = {s.kind: s for s in inv.subjects}
    main_kind = "organization" if "organization" in kinds else "person"
    if main_kind not in kinds:
        raise UsageError(f"{where}: subjects: the simulator needs an organization or a person subject")
    for s in inv.subjects:
        if s.table not in listed:
            raise UsageError(f"{where}: subjects: {s.kind}: table {s.table} is not among the datasets")
    subject_table = {s.kind: s.table for s in inv.subjects}
    keys: dict[str, str] = {}
    stems = {_stem(t) for t in listed}
    for d in inv.datasets:
        keys[d.table] = kinds[d.subject].key if d.table == subject_table[d.subject] else \
            _row_key(d.table, listed[d.table], d, stems - {_stem(d.table)})
    tables = []
    for d in inv.datasets:
        cols = [(name, tuple(cats or ())) for name, cats in listed[d.table]]
        names = [c for c, _ in cols]
        if keys[d.table] not in names:
            cols.insert(0, (keys[d.table], ()))
        links = {d.subject_key: subject_table[d.subject]} if d.table != subject_table[d.subject] else {}
        person = kinds.get("person")
        if person and person.organization and d.table == person.table and "organization" in kinds:
            links[person.organization] = subject_table["organization"]
        for name in names:
            if name == keys[d.table]:  # the table's own key links nowhere, even if another table's has its name
                continue
            other = next((t for t, k in keys.items() if k == name and t != d.table), None)
            if other and name not in links:
                links[name] = other
        for col in links:
            if col not in [c for c, _ in cols]:
                cols.insert(1, (col, ()))
        columns = tuple(Column(name, _type(d.table, name, cats, name == keys[d.table] or name in links, types),
                               cats, links.get(name, ""), name == keys[d.table] or name in links)
                        for name, cats in cols)
        main_rows = d.table == subject_table[main_kind]
        tables.append(TableModel(d.table, columns, keys[d.table], d.subject, d.subject_key,
                                 1.0 if main_rows else float(rows.get(d.table, 2.0))))
    unknown = sorted(set(rows) - set(listed))
    if unknown:
        raise UsageError(f"{where}: data.rows: no dataset named {', '.join(unknown)}")
    if subject_table[main_kind] in rows:
        raise UsageError(f"{where}: data.rows: {subject_table[main_kind]} is the main subjects' table: its rows "
                         "are --customers")
    try:
        link_order(tuple(tables))
    except ValueError as e:
        raise UsageError(f"{where}: {e}") from None
    country = (inv.default_jurisdiction or "JP").split("-")[0].upper()
    model = DataModel(inv.name, inv.database or "data", inv, doc, subject_table[main_kind], tuple(tables), country)
    return _with_exclusion_values(model, where)


def link_order(tables: tuple[TableModel, ...]) -> list[TableModel]:
    """The tables, each after every table its columns link to (their keys are drawn first)."""
    done: list[TableModel] = []
    left = list(tables)
    while left:
        ready = [t for t in left if all(c.references in {d.name for d in done} | {t.name, ""} for c in t.columns)]
        if not ready:
            names = ", ".join(sorted(t.name for t in left))
            raise ValueError(f"the tables {names} link to each other in a circle (a column named like another "
                             "table's key links to it); rename one of the columns")
        done.append(ready[0])
        left.remove(ready[0])
    return done


def _row_key(table: str, listed: list[tuple[str, Any]], d: Dataset, stems: set[str]) -> str:
    """`<table>_id` or `id` when listed, else the first listed `_id` column that names no other table and is
    not the subject's key, else `<table>_id` added."""
    names = [c for c, _ in listed]
    stem = _stem(table)
    for name in (f"{stem}_id", f"{table}_id", "id"):
        if name in names:
            return name
    for name in names:
        if name.endswith("_id") and name != d.subject_key and name[:-3] not in stems:
            return name
    return f"{stem}_id"


def _stem(table: str) -> str:
    return table[:-1] if table.endswith("s") else table


def _type(table: str, name: str, cats: tuple[str, ...], is_key: bool, types: Mapping[str, str]) -> str:
    given = types.get(f"{table}.{name}")
    if given:
        return SQL_TYPES[given]
    if is_key:
        return "bigint"
    if "date_of_birth" in cats or _DATE.search(name):
        return "date"
    if _TIMESTAMP.search(name):
        return SQL_TYPES["timestamp"]
    if not cats and _NUMBER.search(name):
        return "integer"
    return "text"


def _with_exclusion_values(model: DataModel, where: str) -> DataModel:
    """The values each exclusion's predicate compares a column with (`col = 'v'`, `col IN (...)`): the
    generator writes them into a share of the rows, so that the policy has rows to take out of scope."""
    import sqlglot
    from sqlglot import exp

    values: dict[tuple[str, str], tuple[Any, ...]] = {}
    for e in model.inventory.exclusions:
        if e.table not in [t.name for t in model.tables]:
            raise UsageError(f"{where}: exclusions: {e.name}: table {e.table} is not among the datasets")
        try:
            tree = sqlglot.parse_one(e.where, read="postgres")
        except sqlglot.errors.ParseError as err:
            raise UsageError(f"{where}: exclusions: {e.name}: where: not SQL ({str(err).splitlines()[0]})") from None
        found = False
        for node in tree.find_all(exp.EQ, exp.In):
            col = node.this
            lits = [node.expression] if isinstance(node, exp.EQ) else list(node.expressions)
            if isinstance(col, exp.Column) and lits and all(isinstance(x, exp.Literal) for x in lits):
                table = model.table(e.table)
                if col.name not in [c.name for c in table.columns]:
                    raise UsageError(f"{where}: exclusions: {e.name}: {e.table} has no column {col.name}")
                values[(e.table, col.name)] = tuple(x.this if x.is_string else int(x.this) for x in lits)
                found = True
        if not found:
            raise UsageError(f"{where}: exclusions: {e.name}: the simulator writes rows for a predicate "
                             "`column = 'value'` or `column IN ('a', 'b')`, not for "
                             f"{e.where!r}")
    return replace(model, exclusion_values=values)

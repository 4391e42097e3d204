"""The data inventory (docs/inventory.md): which tables hold personal data, whose, and which categories.

Loaded from YAML (version 1), validated here into frozen dataclasses that every later stage shares.
The inventory is the analyst's (or the simulator's) configuration, not evidence; names are still
checked against a strict identifier pattern because they end up in SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from breachscope.model.errors import UsageError

#: Categories of personal data (extendable: any lower_snake_case name is accepted).
KNOWN_CATEGORIES = (
    "organization_name", "contract_name", "contract_number", "customer_id", "contact_person_name", "phone",
    "email", "postal_address", "service_usage", "my_number", "corporate_number", "payment_card",
    "date_of_birth", "bank_account",
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SUBJECT_KINDS = ("organization", "person")


@dataclass(frozen=True)
class SubjectKind:
    """Where a kind of data subject (organization, person) has its identity."""

    kind: str
    table: str
    key: str
    name: str | None = None
    organization: str | None = None  # person -> organization key column
    match_keys: tuple[str, ...] = ()  # exact de-duplication keys, in order (organizations)
    jurisdiction: str | None = None  # column holding the subject's ISO country (extension)


@dataclass(frozen=True)
class Dataset:
    """A table holding personal data: its rows belong to subjects of one kind."""

    table: str
    subject: str
    subject_key: str
    columns: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def categories(self) -> dict[str, tuple[str, ...]]:
        return dict(self.columns)

    def categories_of(self, column: str) -> tuple[str, ...]:
        return self.categories.get(column.lower(), ())

    @property
    def all_categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for _, cats in self.columns for c in cats}))


@dataclass(frozen=True)
class Exclusion:
    """A declarative scope policy: matching rows of a table are out of scope."""

    name: str
    table: str
    where: str
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class Controller:
    """Who holds the data (extension): its country and sectors decide some reporting duties."""

    country: str | None = None
    sectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inventory:
    version: int
    name: str
    database: str | None
    default_jurisdiction: str | None
    subjects: tuple[SubjectKind, ...]
    datasets: tuple[Dataset, ...]
    exclusions: tuple[Exclusion, ...] = ()
    controller: Controller = field(default_factory=Controller)

    def subject(self, kind: str) -> SubjectKind | None:
        return next((s for s in self.subjects if s.kind == kind), None)

    def dataset(self, table: str) -> Dataset | None:
        return next((d for d in self.datasets if d.table == table), None)

    def exclusions_for(self, table: str) -> tuple[Exclusion, ...]:
        return tuple(e for e in self.exclusions if e.table == table)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(d.table for d in self.datasets)


def load_inventory(path: str | Path) -> Inventory:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"inventory {p}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"inventory {p}: not valid YAML: {exc}") from exc
    return parse_inventory(doc, str(p))


def parse_inventory(doc: Any, where: str = "inventory") -> Inventory:
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: expected a mapping at the top")
    if doc.get("version") != 1:
        raise UsageError(f"{where}: unsupported version {doc.get('version')!r} (expected 1)")
    subjects = tuple(_subject(k, v, where) for k, v in sorted(_mapping(doc.get("subjects"), where, "subjects").items()))
    kinds = {s.kind for s in subjects}
    datasets = tuple(_dataset(d, kinds, where) for d in _list(doc.get("datasets"), where, "datasets"))
    tables = [d.table for d in datasets]
    if len(set(tables)) != len(tables):
        raise UsageError(f"{where}: a table is listed twice in datasets")
    exclusions = tuple(_exclusion(e, where) for e in _list(doc.get("exclusions") or [], where, "exclusions"))
    names = [e.name for e in exclusions]
    if len(set(names)) != len(names):
        raise UsageError(f"{where}: two exclusions share a name")
    return Inventory(
        version=1,
        name=str(doc.get("name") or ""),
        database=_opt_str(doc.get("database")),
        default_jurisdiction=_opt_str(doc.get("default_jurisdiction")),
        subjects=subjects,
        datasets=datasets,
        exclusions=exclusions,
        controller=_controller(doc.get("controller"), where),
    )


def table_name(text: Any, where: str) -> str:
    """`table` or `schema.table`, lower case (PostgreSQL folds unquoted names)."""
    if not isinstance(text, str) or not all(_IDENT.match(p) for p in text.split(".")) or text.count(".") > 1:
        raise UsageError(f"{where}: not a table name: {text!r}")
    return text.lower()


def _ident(text: Any, where: str) -> str:
    if not isinstance(text, str) or not _IDENT.match(text):
        raise UsageError(f"{where}: not a column name: {text!r}")
    return text.lower()


def _subject(kind: str, v: Any, where: str) -> SubjectKind:
    if kind not in SUBJECT_KINDS:
        raise UsageError(f"{where}: unknown subject kind {kind!r} (expected {', '.join(SUBJECT_KINDS)})")
    v = _mapping(v, where, f"subjects.{kind}")
    return SubjectKind(
        kind=kind,
        table=table_name(v.get("table"), f"{where}: subjects.{kind}.table"),
        key=_ident(v.get("key"), f"{where}: subjects.{kind}.key"),
        name=_ident(v["name"], where) if v.get("name") else None,
        organization=_ident(v["organization"], where) if v.get("organization") else None,
        match_keys=tuple(_match_key(k, where) for k in v.get("match_keys") or []),
        jurisdiction=_ident(v["jurisdiction"], where) if v.get("jurisdiction") else None,
    )


def _match_key(text: Any, where: str) -> str:
    """A column of the subject's table, or `table.column` of a dataset of that subject (extension)."""
    if isinstance(text, str) and "." in text:
        t, _, c = text.rpartition(".")
        return f"{table_name(t, where)}.{_ident(c, where)}"
    return _ident(text, where)


def _dataset(d: Any, kinds: set[str], where: str) -> Dataset:
    d = _mapping(d, where, "datasets[]")
    table = table_name(d.get("table"), f"{where}: datasets[].table")
    subject = d.get("subject")
    if subject not in kinds:
        raise UsageError(f"{where}: dataset {table}: subject {subject!r} is not declared under subjects")
    cols = []
    for col, cats in sorted(_mapping(d.get("columns") or {}, where, f"datasets[{table}].columns").items()):
        if cats is None:
            cats = []
        if not isinstance(cats, list) or not all(isinstance(c, str) and _CATEGORY.match(c) for c in cats):
            raise UsageError(f"{where}: dataset {table}: column {col}: categories must be a list of lower_snake_case")
        cols.append((_ident(col, where), tuple(sorted(set(cats)))))
    return Dataset(table=table, subject=str(subject), subject_key=_ident(d.get("subject_key"), where),
                   columns=tuple(cols))


def _exclusion(e: Any, where: str) -> Exclusion:
    e = _mapping(e, where, "exclusions[]")
    name = e.get("name")
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]{1,80}$", name):
        raise UsageError(f"{where}: exclusion name must be a short identifier: {name!r}")
    if not isinstance(e.get("where"), str) or not e["where"].strip():
        raise UsageError(f"{where}: exclusion {name}: `where` must be an SQL predicate")
    return Exclusion(name=name, table=table_name(e.get("table"), where), where=e["where"],
                     description=str(e.get("description") or ""), source=str(e.get("source") or ""))


def _controller(c: Any, where: str) -> Controller:
    if c is None:
        return Controller()
    c = _mapping(c, where, "controller")
    sectors = c.get("sectors") or []
    if not isinstance(sectors, list):
        raise UsageError(f"{where}: controller.sectors must be a list")
    return Controller(country=_opt_str(c.get("country")), sectors=tuple(sorted(str(s) for s in sectors)))


def _mapping(v: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise UsageError(f"{where}: {what} must be a mapping")
    return v


def _list(v: Any, where: str, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise UsageError(f"{where}: {what} must be a list")
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)

"""The data inventory (docs/inventory.md): which tables hold personal data, whose, and which categories.

Loaded from YAML (version 1), validated by the pydantic models of inventory_file.py (unknown keys
refused, errors with their line; docs/schemas/inventory.schema.json is generated from them) into
frozen dataclasses that every later stage shares. The inventory is the analyst's (or the simulator's)
configuration, not evidence; names are still checked against a strict identifier pattern because
they end up in SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    from breachscope.model.config import load_yaml
    from breachscope.model.inventory_file import to_inventory

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"inventory {p}: no such file" if not p.exists() else f"inventory {p}: not a file")
    doc, node = load_yaml(p, "inventory")
    return to_inventory(doc, node, str(p))


def parse_inventory(doc: Any, where: str = "inventory") -> Inventory:
    """An inventory from an already parsed document (no lines in the errors)."""
    from breachscope.model.inventory_file import to_inventory

    return to_inventory(doc, None, where)


def table_name(text: Any, where: str) -> str:
    """`table` or `schema.table`, lower case (PostgreSQL folds unquoted names)."""
    if not isinstance(text, str) or not all(_IDENT.match(p) for p in text.split(".")) or text.count(".") > 1:
        raise UsageError(f"{where}: not a table name: {text!r}")
    return text.lower()

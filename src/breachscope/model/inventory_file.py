"""The inventory file's schema (docs/inventory.md) as pydantic models, and their conversion to the
frozen dataclasses of inventory.py. Unknown keys are refused with their line: `exclusion:` for
`exclusions:` used to be accepted and the exclusion silently disappeared."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, StringConstraints, model_validator

from breachscope.model.config import Matching, Strict, Text, validate
from breachscope.model.errors import UsageError
from breachscope.model.inventory import (
    SUBJECT_KINDS,
    Controller,
    Dataset,
    Exclusion,
    Inventory,
    SubjectKind,
)

_NAME = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
Column = Annotated[str, Matching(_NAME, "a column name", "a column name (case-insensitive)"), AfterValidator(str.lower)]
Table = Annotated[str, Matching(rf"{_NAME}(\.{_NAME})?", "a table name", "a table, or schema.table (case-insensitive)"),
                  AfterValidator(str.lower)]
MatchKey = Annotated[str, Matching(rf"({_NAME}\.)?({_NAME}\.)?{_NAME}", "a column or table.column",
                                   "a column of the subject's table, or table.column of one of its datasets"),
                     AfterValidator(str.lower)]
Category = Annotated[str, Matching(r"[a-z][a-z0-9_]{0,62}", "a category (lower_snake_case)",
                                   "a personal-data category")]
Country = Annotated[str, Matching(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", "a country code (JP, EU, US-CA)",
                                  "ISO 3166-1 alpha-2 (JP, EU) or ISO 3166-2 (US-CA)")]
ShortName = Annotated[str, Matching(r"[A-Za-z0-9_.-]{1,80}", "a short identifier (letters, digits, _ . -)")]
Kind = Literal["organization", "person"]


class SubjectFile(Strict):
    table: Table
    key: Column = Field(description="primary key: the subject id")
    name: Column | None = Field(None, description="display name column")
    organization: Column | None = Field(None, description="person: the column linking it to its organization")
    match_keys: list[MatchKey] = Field([], description="organizations: exact de-duplication keys, in order")
    jurisdiction: Column | None = Field(None, description="a column holding the subject's country")


class SubjectsFile(Strict):
    organization: SubjectFile | None = None
    person: SubjectFile | None = None


class DatasetFile(Strict):
    table: Table
    subject: Kind = Field(description="the kind of subject a row of this table belongs to")
    subject_key: Column = Field(description="the column holding that subject's id")
    columns: dict[Column, list[Category] | None] = Field({}, description="column -> categories ([] = not personal)")


class ExclusionFile(Strict):
    name: ShortName
    table: Table
    where: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1),
                     Field(description="SQL predicate on the table's columns (PostgreSQL syntax)")]
    description: Text = ""
    source: Text = ""


class ControllerFile(Strict):
    country: Country | None = None
    sectors: list[Text] = Field([], description="e.g. telecommunications: decides sector-specific duties")


class InventoryFile(Strict):
    """breachscope data inventory, version 1 (docs/inventory.md)."""

    version: Literal[1]
    name: Text = ""
    database: Text | None = Field(None, description="the database name as it appears in audit logs")
    default_jurisdiction: Country | None = None
    subjects: SubjectsFile
    datasets: list[DatasetFile]
    exclusions: list[ExclusionFile] | None = None
    controller: ControllerFile | None = None

    @model_validator(mode="after")
    def _consistent(self) -> InventoryFile:
        declared = {k for k in SUBJECT_KINDS if getattr(self.subjects, k) is not None}
        for i, d in enumerate(self.datasets):
            if d.subject not in declared:
                raise ValueError(f"datasets[{i}] ({d.table}): subject {d.subject!r} is not declared under subjects")
        tables = [d.table for d in self.datasets]
        if len(set(tables)) != len(tables):
            twice = sorted({t for t in tables if tables.count(t) > 1})
            raise ValueError(f"a table is listed twice in datasets: {', '.join(twice)}")
        names = [e.name for e in self.exclusions or []]
        if len(set(names)) != len(names):
            raise ValueError("two exclusions share a name")
        return self


def to_inventory(doc: Any, node: yaml.Node | None, where: str) -> Inventory:
    """Validate a parsed inventory document and convert it to the shared dataclasses."""
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: expected a mapping at the top (version: 1, subjects:, datasets:...)")
    if doc.get("version") != 1:  # before anything else: another version has other keys
        raise UsageError(f"{where}: unsupported version {doc.get('version')!r} (expected 1)")
    f = validate(InventoryFile, doc, node, where, "inventory")
    subjects = tuple(
        SubjectKind(kind=kind, table=s.table, key=s.key, name=s.name, organization=s.organization,
                    match_keys=tuple(s.match_keys), jurisdiction=s.jurisdiction)
        for kind in sorted(SUBJECT_KINDS) if (s := getattr(f.subjects, kind)) is not None
    )
    datasets = tuple(
        Dataset(table=d.table, subject=d.subject, subject_key=d.subject_key,
                columns=tuple((col, tuple(sorted(set(cats or [])))) for col, cats in sorted(d.columns.items())))
        for d in f.datasets
    )
    exclusions = tuple(Exclusion(name=e.name, table=e.table, where=e.where, description=e.description,
                                 source=e.source) for e in f.exclusions or [])
    controller = Controller(country=f.controller.country, sectors=tuple(sorted(f.controller.sectors))) \
        if f.controller else Controller()
    return Inventory(version=1, name=f.name, database=f.database, default_jurisdiction=f.default_jurisdiction,
                     subjects=subjects, datasets=datasets, exclusions=exclusions, controller=controller)

"""The exposure artifact that scope hands over: its summary (summary.json, `ExposureSummary`) and its
tables (subjects, statements and review Parquet files with fixed schemas), one frozen dataclass per row
for Python readers. Written under runs/<run_id>/exposure/, copied to CASE/exposure/ for the latest run.

Rows stay in Arrow tables (a scope can expose a million subjects: one Python object each only when a
reader asks); the schemas are checked whenever the artifact is built or read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, ClassVar

import pyarrow as pa

from breachscope.model.atomic import atomic_path, atomic_write
from breachscope.model.case import ArtifactPaths
from breachscope.model.exposure import (
    EVIDENCE_TYPE,
    REVIEW_SCHEMA,
    STATEMENTS_SCHEMA,
    SUBJECTS_SCHEMA,
    ExposureSummary,
)
from breachscope.model.jsondoc import ArtifactError, doc, dumps, json_object, parse, typed_table
from breachscope.model.runstore import write_parquet


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a subject is in scope: a statement, an export file, or (organizations) one of its persons."""

    kind: str = doc("statement | file | person")
    level: str | None = doc("the level this evidence gives")
    statement_id: str | None = doc("key into the statements table")
    src_file: str | None = doc("the audit log file, or the export file")
    src_record: int | None = doc("line of the audit record, or of the export")
    detail: str | None = doc("why potential, what value matched, which person, or 'excluded by <policy>'")


@dataclass(frozen=True, slots=True)
class ExposedSubject:
    """One organization or person exposed (or excluded), with its levels and evidence."""

    subject_type: str = doc("organization | person")
    subject_id: str = doc("the subject's key in the snapshot")
    name: str | None = doc("the subject's name in the snapshot")
    organization_id: str | None = doc("persons: their organization; organizations: themselves")
    organization_group: str | None = doc("organizations: the de-duplicated group (smallest id in it)")
    jurisdiction: str | None = doc("where the subject is (ISO country, e.g. JP, or JP-13)")
    level: str = doc("CONFIRMED_EXFILTRATED | CONFIRMED_ACCESSED | POTENTIAL | NOT_EXPOSED (all rows excluded)")
    categories: tuple[str, ...] = doc("data categories exposed")
    category_levels: dict[str, str] = doc("category -> level")
    excluded_by: tuple[str, ...] = doc("exclusion policies that removed rows of this subject")
    excluded_level: str | None = doc("level of the excluded rows (null when none)")
    evidence_count: int = doc("pieces of evidence in all (only the first ones are listed)")
    evidence: tuple[Evidence, ...] = doc("the first pieces of evidence, strongest first")
    snapshot: str | None = doc("identity of the snapshot")

    def to_json(self) -> dict[str, Any]:
        return json_object(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "ExposedSubject") -> ExposedSubject:
        return parse(cls, d, where)

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> ExposedSubject:
        return cls(**{**r, "categories": tuple(r["categories"] or ()),
                      "category_levels": dict(r["category_levels"] or ()),
                      "excluded_by": tuple(r["excluded_by"] or ()),
                      "evidence": tuple(Evidence(**e) for e in r["evidence"] or ())})


@dataclass(frozen=True, slots=True)
class ScopedStatement:
    """One audited statement selected by scope, and what became of it."""

    statement_id: str = doc("stable id of the statement")
    outcome: str = doc("replayed | potential | ignored")
    reason: str | None = doc("why potential or ignored")
    shape: str | None = doc("hash of the statement text after parameter extraction")
    src_file: str | None = doc("the audit log")
    src_record: int | None = doc("line of the audit record")
    duplicates: tuple[int, ...] | None = doc("other audit lines of the same statement")
    ts: datetime | None = doc("when it ran (UTC)")
    user: str | None = doc("database user")
    src_ip: str | None = doc("client address")
    session_id: str | None = doc("database session")
    database: str | None = doc("database")
    dialect: str | None = doc("SQL dialect of the audit log")
    command: str | None = doc("SELECT, COPY...")
    tables: tuple[str, ...] | None = doc("tables it read")
    categories: tuple[str, ...] | None = doc("data categories it reached")
    rows_logged: int | None = doc("rows the audit log says it returned")
    rows_replayed: int | None = doc("rows the replay returned")
    subjects: int | None = doc("subjects it reached")
    statement: str | None = doc("the statement text as logged")

    def to_json(self) -> dict[str, Any]:
        return json_object(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "ScopedStatement") -> ScopedStatement:
        return parse(cls, d, where)

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> ScopedStatement:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in r.items()}
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """An uncertain match kept out of the counts for a person to decide."""

    kind: str = doc("name_conflict | similar_names | ambiguous_value | weak_file_match ...")
    subject_ids: tuple[str, ...] = doc("the subjects concerned")
    detail: str | None = doc("what to look at")
    src_file: str | None = doc("where (export file), if anywhere")
    src_record: int | None = doc("line in it")

    def to_json(self) -> dict[str, Any]:
        return json_object(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "ReviewItem") -> ReviewItem:
        return parse(cls, d, where)

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> ReviewItem:
        return cls(**{**r, "subject_ids": tuple(r["subject_ids"] or ())})


@dataclass(frozen=True)
class Exposure:
    """Who was exposed, which categories, how sure: the summary and the three tables."""

    VERSION: ClassVar[int] = 1

    summary: ExposureSummary
    subjects: pa.Table
    statements: pa.Table
    review: pa.Table

    def __post_init__(self) -> None:
        for name, schema in (("subjects", SUBJECTS_SCHEMA), ("statements", STATEMENTS_SCHEMA),
                             ("review", REVIEW_SCHEMA)):
            object.__setattr__(self, name, _typed(getattr(self, name), schema, name))

    @classmethod
    def from_rows(cls, summary: ExposureSummary, subjects: Sequence[ExposedSubject],
                  statements: Sequence[Mapping[str, Any]], review: Sequence[Mapping[str, Any]]) -> Exposure:
        return cls(summary, subjects_table(subjects),
                   pa.Table.from_pylist(list(statements), schema=STATEMENTS_SCHEMA),
                   pa.Table.from_pylist(list(review), schema=REVIEW_SCHEMA))

    def write(self, paths: ArtifactPaths) -> None:
        """The artifact's files; writes are atomic (in a run folder they are also private until commit)."""
        paths.exposure.mkdir(parents=True, exist_ok=True)
        for path, table in ((paths.subjects, self.subjects), (paths.scope_statements, self.statements),
                            (paths.scope_review, self.review)):
            with atomic_path(path) as tmp:
                write_parquet(tmp, table)
        atomic_write(paths.exposure_summary, dumps(self.summary.to_json()))

    @classmethod
    def read(cls, paths: ArtifactPaths) -> Exposure:
        import pyarrow.parquet as pq

        summary = ExposureSummary.read(paths.exposure_summary)
        tables = []
        for path in (paths.subjects, paths.scope_statements, paths.scope_review):
            try:
                tables.append(pq.read_table(path))
            except (OSError, pa.ArrowInvalid) as exc:
                raise ArtifactError(f"{path}: unreadable exposure table: {exc}") from exc
        return cls(summary, *tables)

    def subject_rows(self) -> Iterator[ExposedSubject]:
        for batch in self.subjects.to_batches(max_chunksize=10_000):
            yield from (ExposedSubject.from_row(r) for r in batch.to_pylist())

    def statement_rows(self) -> Iterator[ScopedStatement]:
        yield from (ScopedStatement.from_row(r) for r in self.statements.to_pylist())

    def review_rows(self) -> Iterator[ReviewItem]:
        yield from (ReviewItem.from_row(r) for r in self.review.to_pylist())


_EVIDENCE_VALUES = attrgetter(*(f.name for f in EVIDENCE_TYPE))  # an Evidence as a struct value (a tuple)


def subjects_table(subjects: Sequence[ExposedSubject]) -> pa.Table:
    """Subject records as a table of SUBJECTS_SCHEMA, built column by column (a scope can expose a million)."""
    columns = []
    for f in SUBJECTS_SCHEMA:
        if f.name == "evidence":
            values: list[Any] = [[_EVIDENCE_VALUES(e) for e in s.evidence] for s in subjects]
        else:
            values = [getattr(s, f.name) for s in subjects]
        columns.append(pa.array(values, f.type))
    return pa.Table.from_arrays(columns, schema=SUBJECTS_SCHEMA)


def _typed(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    return typed_table(table, schema, f"exposure.{name}", Exposure.VERSION, f"exposure {name}")

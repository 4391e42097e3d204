"""Exposure: who was exposed, which categories, how sure. The schemas of DIR/exposure/*.parquet.

Levels, from the strongest: CONFIRMED_EXFILTRATED (rows a replayed statement returned, and evidence
that they left: their values in an export file found in the evidence), CONFIRMED_ACCESSED (rows a
replayed statement returned, or values found in an export file), POTENTIAL (rows a statement that
cannot be replayed exactly could have reached), NOT_EXPOSED.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, get_args

import pyarrow as pa

from breachscope.model.jsondoc import ArtifactError, doc, parse, to_jsonable

#: How sure it is that a subject's data was exposed, from the weakest (the values the artifacts hold).
ExposureLevel = Literal["NOT_EXPOSED", "POTENTIAL", "CONFIRMED_ACCESSED", "CONFIRMED_EXFILTRATED"]
CONFIRMED_EXFILTRATED: Final = "CONFIRMED_EXFILTRATED"
CONFIRMED_ACCESSED: Final = "CONFIRMED_ACCESSED"
POTENTIAL: Final = "POTENTIAL"
NOT_EXPOSED: Final = "NOT_EXPOSED"
EXPOSURE_LEVELS: tuple[ExposureLevel, ...] = get_args(ExposureLevel)
EXPOSURE_LEVEL_RANK: dict[str, int] = {name: i for i, name in enumerate(EXPOSURE_LEVELS)}
SUMMARY_KEYS = {CONFIRMED_EXFILTRATED: "confirmed_exfiltrated", CONFIRMED_ACCESSED: "confirmed_accessed",
                POTENTIAL: "potential"}

#: What became of a selected statement (exposure/statements.parquet).
StatementOutcome = Literal["replayed", "potential", "ignored"]
REPLAYED: Final = "replayed"
STMT_POTENTIAL: Final = "potential"
IGNORED: Final = "ignored"
#: Why a subject is in scope (the `kind` of its evidence).
EvidenceKind = Literal["statement", "file", "person"]


def stronger(a: ExposureLevel, b: ExposureLevel) -> ExposureLevel:
    return a if EXPOSURE_LEVEL_RANK[a] >= EXPOSURE_LEVEL_RANK[b] else b


EVIDENCE_TYPE = pa.struct(
    [
        pa.field("kind", pa.string()),  # statement | file | person
        pa.field("level", pa.string()),
        pa.field("statement_id", pa.string()),  # key into statements.parquet
        pa.field("src_file", pa.string()),  # audit log file, or the export file
        pa.field("src_record", pa.int64()),  # line of the audit record, or of the export
        pa.field("detail", pa.string()),  # reason (potential), matched value kind, person id...
    ]
)

SUBJECTS_SCHEMA = pa.schema(
    [
        pa.field("subject_type", pa.string()),  # organization | person
        pa.field("subject_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("organization_id", pa.string()),  # persons: their organization; organizations: themselves
        pa.field("organization_group", pa.string()),  # organizations: de-duplicated group (smallest id in it)
        pa.field("jurisdiction", pa.string()),
        pa.field("level", pa.string()),  # over the rows not excluded; NOT_EXPOSED if every exposed row is
        pa.field("categories", pa.list_(pa.string())),
        pa.field("category_levels", pa.map_(pa.string(), pa.string())),
        pa.field("excluded_by", pa.list_(pa.string())),  # policies that removed rows of this subject
        pa.field("excluded_level", pa.string()),  # level of the excluded rows (null when none)
        pa.field("evidence_count", pa.int64()),
        pa.field("evidence", pa.list_(EVIDENCE_TYPE)),  # the first ones in a stable order
        pa.field("snapshot", pa.string()),
    ]
)

STATEMENTS_SCHEMA = pa.schema(
    [
        pa.field("statement_id", pa.string()),
        pa.field("outcome", pa.string()),  # replayed | potential | ignored
        pa.field("reason", pa.string()),
        pa.field("shape", pa.string()),  # sha of the statement text after parameter extraction
        pa.field("src_file", pa.string()),
        pa.field("src_record", pa.int64()),
        pa.field("duplicates", pa.list_(pa.int64())),  # other audit lines of the same statement (pgAudit relations)
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("user", pa.string()),
        pa.field("src_ip", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("database", pa.string()),
        pa.field("dialect", pa.string()),
        pa.field("command", pa.string()),
        pa.field("tables", pa.list_(pa.string())),
        pa.field("categories", pa.list_(pa.string())),
        pa.field("rows_logged", pa.int64()),
        pa.field("rows_replayed", pa.int64()),
        pa.field("subjects", pa.int64()),
        pa.field("statement", pa.string()),
    ]
)

REVIEW_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string()),  # name_conflict | ambiguous_value | name_only
        pa.field("subject_ids", pa.list_(pa.string())),
        pa.field("detail", pa.string()),
        pa.field("src_file", pa.string()),
        pa.field("src_record", pa.int64()),
    ]
)


@dataclass(frozen=True)
class LevelCounts:
    """Affected subjects per level (not exposed ones are not counted)."""

    confirmed_exfiltrated: int = doc("returned by a replayed statement and found in an export file", default=0)
    confirmed_accessed: int = doc("returned by a replayed statement, or found in an export file", default=0)
    potential: int = doc("reachable by a statement that could not be replayed exactly", default=0)
    total: int | None = doc("the sum of the three (computed when absent)", default=None)

    def __post_init__(self) -> None:
        total = self.confirmed_exfiltrated + self.confirmed_accessed + self.potential
        if self.total is None:
            object.__setattr__(self, "total", total)
        elif self.total != total:
            raise ValueError(f"total {self.total} is not the sum of the levels ({total})")

    def to_dict(self) -> dict[str, int]:
        return {"confirmed_exfiltrated": self.confirmed_exfiltrated, "confirmed_accessed": self.confirmed_accessed,
                "potential": self.potential, "total": int(self.total or 0)}


@dataclass(frozen=True)
class Controller:
    """The organization responsible for the data (from the inventory)."""

    country: str | None = doc("ISO country code", default=None)
    sectors: tuple[str, ...] = doc("e.g. telecommunications: some duties depend on it; empty = not said",
                                   default=())


@dataclass(frozen=True)
class ExposureSummary:
    """What `scope --json` prints and exposure/summary.json keeps: the exposure as notify and reports read it."""

    VERSION: ClassVar[int] = 1

    organizations: LevelCounts = doc("affected organizations (de-duplicated groups) per level")
    persons: LevelCounts = doc("affected persons per level")
    categories: tuple[str, ...] = doc("data categories exposed, sorted")
    category_levels: dict[str, str] = doc("category -> strongest level over affected subjects")
    excluded: dict[str, Any] = doc("subjects out of scope by exclusion policy: organizations, persons, "
                                   "policies {name: {organizations, persons}}")
    statements: dict[str, int] = doc("audited statements selected: replayed, potential, ignored")
    files: dict[str, int] = doc("export files scanned and values found in them", default_factory=dict)
    review: int = doc("uncertain matches kept out of the counts (exposure/review.parquet)", default=0)
    jurisdictions: dict[str, dict[str, int]] = doc("jurisdiction -> affected organizations, persons",
                                                   default_factory=dict)
    snapshot: str = doc("identity of the snapshot replayed against (kind, location, content hash)", default="")
    inventory: str = doc("name of the data inventory", default="")
    suspects: dict[str, Any] = doc("the selection of statements: lists hosts, users, sessions, since, until",
                                   default_factory=dict)
    controller: Controller = doc("the controller, from the inventory", default_factory=Controller)
    organization_records: int = doc("affected organization records before de-duplication", default=0)
    version: int = doc("version of this document's format", default=1)

    def __post_init__(self) -> None:
        # scope builds these from plain values; keep one shape whatever the caller gave
        if not isinstance(self.category_levels, dict):
            object.__setattr__(self, "category_levels", dict(self.category_levels))
        if isinstance(self.controller, Mapping):
            c = self.controller
            object.__setattr__(self, "controller", Controller(c.get("country"), tuple(c.get("sectors") or ())))

    @property
    def affected(self) -> int:
        return int(self.organizations.total or 0) + int(self.persons.total or 0)

    @property
    def suspected(self) -> bool:
        """The statements scoped were selected as a suspect's (host, account or session)."""
        return any(self.suspects.get(k) for k in ("hosts", "users", "sessions"))

    def to_json(self) -> dict[str, object]:
        """The --json summary, exactly as issue 5 specifies, then the extra keys notify needs."""
        return {
            "organizations": self.organizations.to_dict(),
            "persons": self.persons.to_dict(),
            "categories": list(self.categories),
            "excluded": self.excluded,
            "statements": self.statements,
            "category_levels": dict(self.category_levels),
            "files": self.files,
            "review": self.review,
            "organization_records": self.organization_records,
            "jurisdictions": self.jurisdictions,
            "snapshot": self.snapshot,
            "inventory": self.inventory,
            "suspects": self.suspects,
            "controller": to_jsonable(self.controller),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str | Path = "exposure summary") -> ExposureSummary:
        return parse(cls, d, where)

    @classmethod
    def read(cls, path: Path) -> ExposureSummary:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{path}: unreadable exposure summary: {exc}") from exc
        return cls.from_json(document, path)

"""Exposure: who was exposed, which categories, how sure. The schemas of DIR/exposure/*.parquet.

Levels, from the strongest: CONFIRMED_EXFILTRATED (rows a replayed statement returned, and evidence
that they left: their values in an export file found in the evidence), CONFIRMED_ACCESSED (rows a
replayed statement returned, or values found in an export file), POTENTIAL (rows a statement that
cannot be replayed exactly could have reached), NOT_EXPOSED.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

CONFIRMED_EXFILTRATED = "CONFIRMED_EXFILTRATED"
CONFIRMED_ACCESSED = "CONFIRMED_ACCESSED"
POTENTIAL = "POTENTIAL"
NOT_EXPOSED = "NOT_EXPOSED"
LEVELS = (NOT_EXPOSED, POTENTIAL, CONFIRMED_ACCESSED, CONFIRMED_EXFILTRATED)
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
SUMMARY_KEYS = {CONFIRMED_EXFILTRATED: "confirmed_exfiltrated", CONFIRMED_ACCESSED: "confirmed_accessed",
                POTENTIAL: "potential"}

#: Statement outcomes (exposure/statements.parquet).
REPLAYED, STMT_POTENTIAL, IGNORED = "replayed", "potential", "ignored"


def stronger(a: str, b: str) -> str:
    return a if LEVEL_RANK[a] >= LEVEL_RANK[b] else b


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
    confirmed_exfiltrated: int = 0
    confirmed_accessed: int = 0
    potential: int = 0

    @property
    def total(self) -> int:
        return self.confirmed_exfiltrated + self.confirmed_accessed + self.potential

    def to_dict(self) -> dict[str, int]:
        return {"confirmed_exfiltrated": self.confirmed_exfiltrated, "confirmed_accessed": self.confirmed_accessed,
                "potential": self.potential, "total": self.total}


@dataclass(frozen=True)
class ExposureSummary:
    """What `scope --json` prints and exposure/summary.json keeps (notify reads it)."""

    organizations: LevelCounts
    persons: LevelCounts
    categories: tuple[str, ...]
    category_levels: tuple[tuple[str, str], ...]  # category -> strongest level over affected subjects
    excluded: dict[str, object]
    statements: dict[str, int]
    files: dict[str, int] = field(default_factory=dict)
    review: int = 0
    jurisdictions: dict[str, dict[str, int]] = field(default_factory=dict)  # -> affected organizations, persons
    snapshot: str = ""
    inventory: str = ""
    suspects: dict[str, list[str]] = field(default_factory=dict)
    controller: dict[str, object] = field(default_factory=dict)
    organization_records: int = 0  # affected organization subject ids before de-duplication

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
            "controller": self.controller,
        }

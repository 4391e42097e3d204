"""Findings: a rule (or analytic) matched an event. The findings artifact: rows of FINDINGS_SCHEMA in
Parquet (runs/<run_id>/findings.parquet, and CASE/findings.parquet for the latest runs), one `Finding`
per row for Python readers, the JSON Schema of a row in docs/artifacts/finding.schema.json."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import pyarrow as pa

from breachscope.model.jsondoc import ArtifactError, doc, json_object, parse, typed_table
from breachscope.model.schema import TS

#: A Sigma rule's level (how severe its findings are), from the weakest.
RuleLevel = Literal["informational", "low", "medium", "high", "critical"]
RULE_LEVELS: tuple[RuleLevel, ...] = get_args(RuleLevel)
RULE_LEVEL_RANK: dict[str, int] = {name: i for i, name in enumerate(RULE_LEVELS)}
#: What produced a finding (SOURCE_OF_KIND: the detector family whose runs write it).
FindingKind = Literal["sigma", "sigma_correlation", "analytic"]

#: one evidence row of an analytic finding (provenance of the events behind it)
EVIDENCE_ROW = pa.struct([pa.field("table_name", pa.string()), pa.field("src_file", pa.string()),
                          pa.field("src_sha256", pa.string()), pa.field("src_record", pa.int64()),
                          pa.field("ts", TS)])
#: evidence rows an analytic finding keeps (event_count says how many there are in all)
EVIDENCE_KEPT = 20

FINDINGS_SCHEMA = pa.schema(
    [
        pa.field("finding_id", pa.string()),
        pa.field("kind", pa.string()),  # sigma | sigma_correlation | analytic
        pa.field("rule_id", pa.string()),
        pa.field("rule_title", pa.string()),
        pa.field("rule_path", pa.string()),
        pa.field("level", pa.string()),
        pa.field("status", pa.string()),
        pa.field("author", pa.string()),  # DRL 1.1: every finding keeps its rule's author
        pa.field("tags", pa.list_(pa.string())),
        pa.field("attack", pa.list_(pa.string())),  # ATT&CK technique ids from the tags
        pa.field("description", pa.string()),
        pa.field("falsepositives", pa.list_(pa.string())),
        pa.field("ts", TS),
        pa.field("host", pa.string()),
        pa.field("user", pa.string()),
        pa.field("src_ip", pa.string()),
        pa.field("dst_ip", pa.string()),
        pa.field("table_name", pa.string()),
        pa.field("segment", pa.string()),  # which part of the logsource matched (e.g. "Security 4688")
        pa.field("src_file", pa.string()),
        pa.field("src_sha256", pa.string()),
        pa.field("src_record", pa.int64()),
        pa.field("event", pa.string()),  # the matched event's non-null fields, as JSON
        pa.field("group_key", pa.string()),  # correlations: the group-by values, as JSON
        pa.field("event_count", pa.int64()),  # correlations: events in the window
        pa.field("first_ts", TS),  # correlations: window start
        pa.field("related", pa.list_(pa.string())),  # correlations: finding ids of the events correlated
        pa.field("score", pa.float64()),  # analytics: 0-100, ranks the findings of one analytic
        pa.field("last_ts", TS),  # analytics: the end of the time span found
        pa.field("evidence", pa.list_(EVIDENCE_ROW)),  # analytics: the first evidence rows, oldest first
    ]
)
#: columns added in version 2 (analytics): a version-1 findings file reads with them empty
ADDED_IN_2 = ("score", "last_ts", "evidence")


#: finding kind (every FindingKind) -> the detector family whose runs produce it (a rerun of a family
#: replaces its findings only)
SOURCE_OF_KIND: dict[str, str] = {"sigma": "sigma", "sigma_correlation": "sigma", "analytic": "analytics"}


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """An event behind an analytic finding: its table, file and record."""

    table_name: str | None = doc("the case table")
    src_file: str | None = doc("provenance: the evidence file")
    src_sha256: str | None = doc("provenance: sha256 of the evidence file")
    src_record: int | None = doc("provenance: record id or line in its file")
    ts: datetime | None = doc("when the event happened (UTC)")


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: what matched, where (provenance), and the rule's metadata."""

    VERSION: ClassVar[int] = 2  # 2: score, last_ts, evidence (analytics)

    finding_id: str = doc("stable id: the same rule on the same record gives the same id in every run and engine")
    kind: str = doc("sigma | sigma_correlation | analytic")
    rule_id: str | None = doc("the rule's id (its name where it has none)")
    rule_title: str | None = doc("the rule's title")
    rule_path: str | None = doc("the rule file")
    level: str | None = doc("informational | low | medium | high | critical")
    status: str | None = doc("the rule's status")
    author: str | None = doc("the rule's author (DRL 1.1: every finding keeps it)")
    tags: tuple[str, ...] | None = doc("the rule's tags")
    attack: tuple[str, ...] | None = doc("ATT&CK technique ids from the tags")
    description: str | None = doc("the rule's description")
    falsepositives: tuple[str, ...] | None = doc("the rule's false positives")
    ts: datetime | None = doc("when the matched event happened (UTC); correlations: the window's end")
    host: str | None = doc("core column of the event")
    user: str | None = doc("core column of the event")
    src_ip: str | None = doc("core column of the event")
    dst_ip: str | None = doc("core column of the event")
    table_name: str | None = doc("the case table of the event")
    segment: str | None = doc("which part of the logsource matched (e.g. 'Security 4688')")
    src_file: str | None = doc("provenance: the evidence file")
    src_sha256: str | None = doc("provenance: sha256 of the evidence file")
    src_record: int | None = doc("provenance: record id or line of the event in its file")
    event: str | None = doc("the matched event's non-null fields, as JSON text")
    group_key: str | None = doc("correlations: the group-by values, as JSON text")
    event_count: int | None = doc("correlations: events in the window")
    first_ts: datetime | None = doc("correlations: the window's start")
    related: tuple[str, ...] | None = doc("correlations: finding ids of the events correlated")
    score: float | None = doc("analytics: 0-100, ranks the findings of one analytic")
    last_ts: datetime | None = doc("analytics: the end of the time span found")
    evidence: tuple[EvidenceRow, ...] | None = doc(
        f"analytics: the first evidence rows (up to {EVIDENCE_KEPT}), oldest first")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Finding:
        """A row of a findings table (types already checked by its schema)."""
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}
        if fields.get("evidence") is not None:
            fields["evidence"] = tuple(EvidenceRow(**e) for e in fields["evidence"])
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        return json_object(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "finding") -> Finding:
        return parse(cls, d, where)


def findings_table(table: pa.Table, where: str | Path = "findings") -> pa.Table:
    """`table` checked against FINDINGS_SCHEMA and stamped as a findings artifact (what every findings file holds)."""
    for name in ADDED_IN_2:  # a version-1 file (from before analytics): the new columns are empty
        if name not in table.schema.names:
            added = FINDINGS_SCHEMA.field(name)
            table = table.append_column(added, pa.nulls(table.num_rows, added.type))
    return typed_table(table, FINDINGS_SCHEMA, "findings", Finding.VERSION, where)


def read_findings(path: Path) -> pa.Table:
    """A findings file, checked: its version, and its columns against FINDINGS_SCHEMA."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ArtifactError(f"{path}: unreadable findings file: {exc}") from exc
    return findings_table(table, path)


def commit_findings(case_root: str | Path, table: pa.Table, source: str, command: str,
                    parameters: Mapping[str, Any]) -> str:
    """Commit findings of one detector family (`source`: sigma, analytics) as a new run of the case; the
    `findings` view then shows them beside the latest runs of the other families. Returns the run id."""
    from breachscope.model.runs import FINDINGS
    from breachscope.model.runstore import RunWriter, write_parquet

    typed = findings_table(table)
    wrong = sorted({k for k in typed.column("kind").to_pylist() if SOURCE_OF_KIND.get(k or "") != source})
    if wrong:
        raise ArtifactError(f"findings of kind {', '.join(map(str, wrong))} do not come from {source}")
    with RunWriter(case_root, command, FINDINGS, source, parameters) as run:
        write_parquet(run.paths.findings, typed)
        return run.commit({"findings": typed.num_rows}).run_id


def iter_findings(table: pa.Table) -> Iterator[Finding]:
    for batch in findings_table(table).to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            yield Finding.from_row(row)


def finding_id(*parts: object) -> str:
    """Stable id: the same rule on the same record gives the same id in every run and engine."""
    h = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:20]


def level_at_least(level: str | None, minimum: str | None) -> bool:
    if not minimum:
        return True
    return RULE_LEVEL_RANK.get((level or "").lower(), 0) >= RULE_LEVEL_RANK.get(minimum.lower(), 0)

"""The result document: every stage's artifact of one case gathered in one versioned, frozen document
(CASE/report/result.json), the one input of every renderer (HTML, CSV, Timesketch, the notice drafts),
the way capa's ResultDocument feeds all of its renderers. Built by model.result_case.assemble.

It holds no time of its own making: the same case gives the same document, byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from breachscope.model.containment import ContainmentPlan
from breachscope.model.exposure import ExposureSummary
from breachscope.model.exposure_artifact import ExposedSubject, ReviewItem, ScopedStatement
from breachscope.model.findings import Finding
from breachscope.model.incident import EvidenceRef, Incident
from breachscope.model.jsondoc import ArtifactError, doc, parse
from breachscope.model.obligations import Notification
from breachscope.model.text import json_bytes_escaped


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """An evidence file the case read, as the manifest records it."""

    path: str = doc("the file as ingested (archive members as archive!member)")
    sha256: str = doc("sha256 of its content")
    format: str | None = doc("the reader that read it")
    status: str = doc("ingested, empty, expanded, duplicate, unrecognized, failed...")
    records: int = doc("records stored")
    rejected: int = doc("records rejected (counted and located in the manifest)")


@dataclass(frozen=True, slots=True)
class CaseInfo:
    """Which case, which runs: where each part of the document comes from."""

    name: str = doc("the case folder's name")
    runs: dict[str, str] = doc("artifact -> id of the run the document took it from (findings: each source)")
    evidence_files: tuple[EvidenceFile, ...] = doc("every evidence file of the case")
    breachscope: str = doc("version of breachscope that assembled the document")


@dataclass(frozen=True, slots=True)
class RuleSummary:
    """The findings of one rule or analytic."""

    rule_id: str = doc("rule id, or analytic:<name>")
    title: str = doc("rule title")
    kind: str = doc("sigma | sigma_correlation | analytic")
    level: str = doc("informational | low | medium | high | critical")
    attack: tuple[str, ...] = doc("ATT&CK technique ids")
    count: int = doc("findings of the rule")
    first_ts: datetime | None = doc("its first finding")
    last_ts: datetime | None = doc("its last finding")
    hosts: tuple[str, ...] = doc("hosts it fired on (the first 10, sorted)")


@dataclass(frozen=True, slots=True)
class FindingsPart:
    """The hunt's findings: counted per level and rule; the strongest ones listed."""

    total: int = doc("findings in the case")
    by_level: dict[str, int] = doc("level -> findings")
    rules: tuple[RuleSummary, ...] = doc("per rule, strongest level first")
    listed: tuple[Finding, ...] = doc("the strongest findings (level, then score, then time)")
    note: str = doc("what was left out of `listed`, and why")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of the incident's timeline: a key event, an investigation alert, or a finding."""

    ts: datetime | None = doc("when (UTC)")
    source: str = doc("incident (a key event), alert (an investigation detector) or finding (a rule or analytic)")
    kind: str = doc("the detector or rule that said it")
    stage: str = doc("attack stage (model.incident.STAGES); findings: from their ATT&CK tactic, else other")
    host: str | None = doc("where")
    user: str | None = doc("the account, when one is involved")
    summary: str = doc("what, in words")
    score: float = doc("0-100 (findings: from the level, or the analytic's score)")
    evidence: tuple[EvidenceRef, ...] = doc("evidence rows (file, record)")
    target: str | None = doc("the host acted on, when another one (alerts: lateral movement, transfers)",
                             default=None)


@dataclass(frozen=True, slots=True)
class ExposurePart:
    """The exposure: the summary, every subject, the statements and the review list."""

    summary: ExposureSummary = doc("counts by level and category, exclusions, jurisdictions")
    subjects: tuple[ExposedSubject, ...] = doc("the subjects, strongest level first (excluded ones last)")
    subjects_total: int = doc("subjects in the exposure (more than `subjects` when the document was capped)")
    statements: tuple[ScopedStatement, ...] = doc("the statements scoped")
    review: tuple[ReviewItem, ...] = doc("uncertain matches left to a person")


@dataclass(frozen=True, slots=True)
class ResultDocument:
    """One case's result, every stage's artifact in one document: the input of every renderer."""

    VERSION: ClassVar[int] = 1

    case: CaseInfo = doc("the case and the runs the document was assembled from")
    findings: FindingsPart | None = doc("the hunt's findings (null: no hunt ran)")
    incident: Incident | None = doc("the investigation (null: none ran)")
    timeline: tuple[TimelineEntry, ...] = doc("the incident's timeline: key events, alerts and findings, by time")
    timeline_total: int = doc("timeline entries before any cap (more than `timeline` when capped)")
    exposure: ExposurePart | None = doc("the exposure (null: no scope ran)")
    obligations: Notification | None = doc("what is owed by when (null: notify has not run)")
    containment: ContainmentPlan | None = doc("the containment plan from the incident (null: no incident)")
    missing: tuple[str, ...] = doc("stages absent from the document, each with why and what to run")
    version: int = doc("version of this document's format", default=1)

    def to_json(self) -> str:
        """Compact JSON with sorted keys: the same document, the same bytes. orjson writes the dataclasses
        directly (the generic path, model.jsondoc, takes 20x longer at 36,000 subjects); the characters
        jsondoc escapes as \\u are escaped here too."""
        import orjson

        return json_bytes_escaped(orjson.dumps(self, option=orjson.OPT_SORT_KEYS)).decode("utf-8") + "\n"

    @classmethod
    def from_json(cls, text: str, where: str | Path = "result.json") -> ResultDocument:
        try:
            document: Any = json.loads(text)
        except ValueError as exc:
            raise ArtifactError(f"{where}: not JSON: {exc}") from None
        return parse(cls, document, where)

    @classmethod
    def read(cls, path: Path) -> ResultDocument:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ArtifactError(f"{path}: unreadable result document: {exc}") from exc
        return cls.from_json(text, path)

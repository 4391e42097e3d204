"""Assemble a case's result document (model.result.ResultDocument) from the artifacts its stages wrote:
findings, the incident and its alerts, the exposure, the obligations; the containment plan is given by
the caller (contain/ computes it from the incident). Every artifact is read through its type, once.

A stage that has not run is not an empty section: it is listed in `missing` with what to run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.model.case import CaseLayout, load_state
from breachscope.model.containment import ContainmentPlan
from breachscope.model.exposure import EXPOSURE_LEVEL_RANK, ExposureSummary
from breachscope.model.exposure_artifact import Exposure
from breachscope.model.findings import RULE_LEVEL_RANK, iter_findings, read_findings
from breachscope.model.incident import EvidenceRef, Incident, read_alerts
from breachscope.model.obligations import Notification
from breachscope.model.result import (
    CaseInfo,
    EvidenceFile,
    ExposurePart,
    FindingsPart,
    ResultDocument,
    RuleSummary,
    TimelineEntry,
)
from breachscope.model.runs import EXPOSURE, FINDINGS, INCIDENT, OBLIGATIONS, read_history


@dataclass(frozen=True)
class Limits:
    """How much of the large tables the document carries (the full tables stay in the case)."""

    findings_listed: int = 2_000
    subjects: int = 100_000
    timeline: int = 100_000
    #: findings weaker than this stay out of the timeline (they are counted in the findings section)
    timeline_min_level: str = "low"


#: a finding's level as a 0-100 score, for ordering the timeline beside the alerts
LEVEL_SCORE = {"informational": 10.0, "low": 40.0, "medium": 60.0, "high": 80.0, "critical": 95.0}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ATT&CK tactic tags (both spellings SigmaHQ has used) -> the incident's stages
TACTIC_STAGE = {
    "initial_access": "initial_access", "execution": "execution", "discovery": "discovery",
    "credential_access": "credential_access", "lateral_movement": "lateral_movement", "collection": "collection",
    "command_and_control": "c2", "exfiltration": "exfiltration", "impact": "impact",
}


#: the containment plan of an incident and its alerts (contain/ computes it; the model cannot import it)
PlanOf = Callable[[Incident, pa.Table | None], ContainmentPlan]


def assemble(case_dir: Path, plan_of: PlanOf | None, obligations: Notification | None = None,
             limits: Limits = Limits()) -> ResultDocument:
    """The result document of a case as its latest runs left it. `plan_of` makes the containment plan from the
    incident read here (None: no plan). `obligations`: a decision being made (notify renders its drafts from
    the document before committing); default: the case's latest."""
    from breachscope import __version__

    layout = CaseLayout(case_dir)
    history = read_history(layout)
    runs = {f"{FINDINGS}:{r.source}": r.run_id for r in history.of(FINDINGS)}
    for artifact in (INCIDENT, EXPOSURE, OBLIGATIONS):
        latest = history.latest(artifact)
        if latest is not None:
            runs[artifact] = latest.run_id
    missing: list[str] = []
    findings_table = read_findings(layout.findings) if layout.findings.is_file() else None
    if findings_table is None:
        missing.append("findings: no hunt has run on the case (run `breachscope hunt` or `investigate`)")
    incident = Incident.read(layout.incident) if layout.incident.is_file() else None
    if incident is None:
        missing.append("incident: no investigation has run (run `breachscope investigate`)")
    wanted = incident is not None and (limits.timeline > 0 or plan_of is not None) and layout.alerts.is_file()
    alerts = read_alerts(layout.alerts) if wanted else None
    containment = plan_of(incident, alerts) if incident is not None and plan_of is not None else None
    if containment is None:
        missing.append("containment: no plan without an incident (run `breachscope investigate`)")
    exposure = Exposure.read(layout) if layout.subjects.is_file() else None
    summary_only = ExposureSummary.read(layout.exposure_summary) if exposure is None and \
        layout.exposure_summary.is_file() else None
    if summary_only is not None:
        missing.append(f"subjects: {layout.subjects} is missing: the document has the exposure's counts only")
    elif exposure is None:
        missing.append("exposure: no scope has run (run `breachscope scope`)")
    if obligations is None and layout.obligations.is_file():
        obligations = Notification.read(layout.obligations)
    if obligations is None:
        missing.append("obligations: notify has not run (run `breachscope notify --aware-at ...`)")
    elif (exposure or summary_only) is not None and obligations.exposure_run != runs.get(EXPOSURE):
        missing.append(f"obligations: decided from exposure run {obligations.exposure_run}, not the latest "
                       f"({runs.get(EXPOSURE)}): run `breachscope notify` again")
    timeline, total = _timeline(incident, alerts, findings_table, limits)
    exposure_part = (_exposure(exposure, limits.subjects) if exposure is not None else
                     ExposurePart(summary_only, (), 0, (), ()) if summary_only is not None else None)
    if exposure_part is not None and exposure_part.subjects_total > len(exposure_part.subjects):
        missing.append(f"subjects: {exposure_part.subjects_total - len(exposure_part.subjects):,} of "
                       f"{exposure_part.subjects_total:,} left out of the document (the weakest levels); all of "
                       f"them are in {layout.subjects}")
    return ResultDocument(
        case=CaseInfo(name=layout.root.name, runs=runs, evidence_files=_evidence_files(layout),
                      breachscope=__version__),
        findings=_findings(findings_table, limits.findings_listed) if findings_table is not None else None,
        incident=incident, timeline=timeline, timeline_total=total, exposure=exposure_part,
        obligations=obligations, containment=containment, missing=tuple(missing))


def _evidence_files(layout: CaseLayout) -> tuple[EvidenceFile, ...]:
    files = sorted(load_state(layout).files, key=lambda f: f.path)
    return tuple(EvidenceFile(f.path, f.sha256, f.format, f.status, f.records, f.rejected) for f in files)


def _level_rank(table: pa.Table) -> pa.Array:
    levels = pc.utf8_lower(pc.fill_null(table.column("level"), ""))
    return pc.fill_null(pc.index_in(levels, pa.array(list(RULE_LEVEL_RANK))), -1)


@dataclass
class _RuleTally:
    """One rule's findings while they are counted."""

    title: str
    kind: str
    level: str
    attack: tuple[str, ...]
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    hosts: set[str] = field(default_factory=set)

    def add(self, ts: datetime | None, host: str | None) -> None:
        self.count += 1
        if ts is not None:
            self.first = ts if self.first is None or ts < self.first else self.first
            self.last = ts if self.last is None or ts > self.last else self.last
        if host:
            self.hosts.add(host)


def _findings(table: pa.Table, listed: int) -> FindingsPart:
    ranked = table.append_column("_rank", _level_rank(table))
    ordered = ranked.sort_by([("_rank", "descending"), ("score", "descending"), ("ts", "ascending"),
                              ("finding_id", "ascending")])
    by_level: dict[str, int] = {}
    rules: dict[str, _RuleTally] = {}
    for row in ordered.select(["rule_id", "rule_title", "kind", "level", "attack", "ts", "host"]).to_pylist():
        level = str(row["level"] or "informational").lower()
        by_level[level] = by_level.get(level, 0) + 1
        key = str(row["rule_id"] or row["rule_title"] or "")
        tally = rules.get(key)
        if tally is None:  # the rows come strongest first: a rule's level is its strongest finding's
            tally = rules[key] = _RuleTally(str(row["rule_title"] or key), str(row["kind"] or ""), level,
                                            tuple(row["attack"] or ()))
        tally.add(row["ts"], row["host"])
    order = sorted(rules.items(), key=lambda kv: (-RULE_LEVEL_RANK.get(kv[1].level, 0), -kv[1].count, kv[0]))
    summaries = tuple(RuleSummary(rule_id=k, title=t.title, kind=t.kind, level=t.level, attack=t.attack,
                                  count=t.count, first_ts=t.first, last_ts=t.last, hosts=tuple(sorted(t.hosts))[:10])
                      for k, t in order)
    kept = ordered.drop_columns(["_rank"]).slice(0, listed)
    left = table.num_rows - kept.num_rows
    note = (f"{left:,} weaker findings are not listed here (all are in the case's findings.parquet)" if left
            else "every finding is listed")
    return FindingsPart(total=table.num_rows, by_level=dict(sorted(by_level.items())), rules=summaries,
                        listed=tuple(iter_findings(kept)), note=note)


def _exposure(exposure: Exposure, cap: int) -> ExposurePart:
    subjects = exposure.subjects
    rank = pc.fill_null(pc.index_in(subjects.column("level"), pa.array(list(EXPOSURE_LEVEL_RANK))), -1)
    ordered = subjects.append_column("_rank", rank).sort_by(
        [("_rank", "descending"), ("subject_type", "ascending"), ("subject_id", "ascending")])
    kept = Exposure(exposure.summary, ordered.drop_columns(["_rank"]).slice(0, cap), exposure.statements,
                    exposure.review)
    return ExposurePart(summary=exposure.summary, subjects=tuple(kept.subject_rows()),
                        subjects_total=subjects.num_rows, statements=tuple(exposure.statement_rows()),
                        review=tuple(exposure.review_rows()))


def _stage_of(attack_tags: Iterable[str]) -> str:
    for tag in attack_tags:
        name = tag.lower().removeprefix("attack.").replace("-", "_")
        if name in TACTIC_STAGE:
            return TACTIC_STAGE[name]
    return "other"


def _timeline(incident: Incident | None, alerts: pa.Table | None, findings: pa.Table | None,
              limits: Limits) -> tuple[tuple[TimelineEntry, ...], int]:
    """Key events, alerts and findings (at least `timeline_min_level`) by time; the strongest kept when over
    the cap."""
    entries: list[TimelineEntry] = []
    if limits.timeline == 0:
        return (), 0
    alert_entries: list[TimelineEntry] = []
    if alerts is not None:
        for a in alerts.to_pylist():
            refs = tuple(EvidenceRef(e["table"], e["src_file"], e["src_record"]) for e in a["evidence"] or ())
            alert_entries.append(TimelineEntry(a["ts"], "alert", a["kind"], a["stage"], a["host"], a["user"],
                                               a["reason"], float(a["score"]), refs, a["dst_host"]))
    if incident is not None:
        # a key event is told from one alert: it takes that alert's place (with its detector, account and target)
        by_key = {(a.ts, (a.host or "").lower(), a.evidence): a for a in alert_entries}
        for e in incident.timeline:
            alert = by_key.pop((e.ts, (e.host or "").lower(), e.evidence), None)
            entries.append(TimelineEntry(e.ts, "incident", alert.kind if alert else "incident", e.stage, e.host,
                                         alert.user if alert else None, e.summary, e.score, e.evidence,
                                         alert.target if alert else None))
        alert_entries = list(by_key.values())
    entries += alert_entries
    if findings is not None:
        floor = RULE_LEVEL_RANK[limits.timeline_min_level]
        strong = findings.filter(pc.greater_equal(_level_rank(findings), floor))
        for f in iter_findings(strong):
            refs = (tuple(EvidenceRef(str(e.table_name or ""), str(e.src_file or ""), e.src_record)
                          for e in f.evidence[:5]) if f.evidence
                    else (EvidenceRef(str(f.table_name or ""), str(f.src_file or ""), f.src_record),))
            where = " on " + f.host if f.host else ""
            score = f.score if f.score is not None else LEVEL_SCORE.get(str(f.level or "").lower(), 10.0)
            entries.append(TimelineEntry(f.ts, "finding", str(f.rule_id or ""), _stage_of(f.tags or ()), f.host,
                                         f.user, f"{f.rule_title or f.rule_id}{where} ({f.level})", float(score),
                                         refs))
    total = len(entries)
    if total > limits.timeline:
        entries = sorted(entries, key=lambda e: -e.score)[: limits.timeline]
    entries.sort(key=lambda e: (e.ts is None, e.ts or _EPOCH, e.source, e.kind, e.host or "", e.summary))
    return tuple(entries), total

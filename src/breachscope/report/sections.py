"""What the server-rendered sections show, taken from the document once: the summary, obligations, findings and
the claims with evidence (hosts, accounts, external endpoints, data movements, database sessions, containment
steps). The template (autoescaped) only prints these values; evidence text is passed through fmt.text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from breachscope.model.exposure import EXPOSURE_LEVELS, SUMMARY_KEYS
from breachscope.model.findings import RULE_LEVELS
from breachscope.model.incident import EvidenceRef, Incident
from breachscope.model.obligations import Notification
from breachscope.model.result import ResultDocument
from breachscope.report.evidence import FileIndex, Ref, refs

#: affected levels, strongest first (NOT_EXPOSED subjects are excluded ones, never counted as affected)
AFFECTED_LEVELS = tuple(reversed([lv for lv in EXPOSURE_LEVELS if lv in SUMMARY_KEYS]))
OWED_ORDER = {"yes": 0, "unknown": 1, "no": 2}


@dataclass
class Claim:
    """A server-rendered statement with evidence; its anchor is `<kind>-<number>` (never evidence text)."""

    kind: str  # host | account | external | movement | session | step
    number: int
    label: str
    evidence: tuple[EvidenceRef, ...]
    refs: list[Ref] = field(default_factory=list)


def incident_claims(incident: Incident | None) -> dict[str, list[Claim]]:
    """The incident's claims by kind, numbered from 1 in the incident's order."""
    out: dict[str, list[Claim]] = {k: [] for k in ("host", "account", "external", "movement", "session")}
    if incident is None:
        return out
    out["host"] = [Claim("host", i, h.name, h.evidence) for i, h in enumerate(incident.hosts, 1)]
    out["account"] = [Claim("account", i, a.name, a.evidence) for i, a in enumerate(incident.accounts, 1)]
    out["external"] = [Claim("external", i, x.ip, x.evidence) for i, x in enumerate(incident.external, 1)]
    out["movement"] = [Claim("movement", i, f"{m.src} -> {m.dst}", m.evidence)
                       for i, m in enumerate(incident.data_movements, 1)]
    out["session"] = [Claim("session", i, s.session_id, s.evidence) for i, s in enumerate(incident.db_sessions, 1)]
    return out


def step_claims(doc: ResultDocument) -> list[Claim]:
    plan = doc.containment
    if plan is None:
        return []
    return [Claim("step", i, f"{s.action} {s.target}", tuple(s.evidence)) for i, s in enumerate(plan.steps, 1)]


def cite(claims: list[Claim], index: FileIndex) -> None:
    for c in claims:
        c.refs = refs(index, c.evidence)


def when(incident: Incident | None) -> dict[str, datetime | None]:
    """First and last alert (over the hosts), the suspects' window, the evidence considered."""
    if incident is None:
        return {}
    firsts = [h.first_alert for h in incident.hosts if h.first_alert is not None]
    lasts = [h.last_alert for h in incident.hosts if h.last_alert is not None]
    return {"first_alert": min(firsts, default=None), "last_alert": max(lasts, default=None),
            "since": incident.suspects.since, "until": incident.suspects.until,
            "evidence_since": incident.since, "evidence_until": incident.until}


def entries(incident: Incident | None) -> list[tuple[int, Any]]:
    """The entry hosts with their number in the incident's host list (their anchor)."""
    return [] if incident is None else [(i, h) for i, h in enumerate(incident.hosts, 1) if h.role == "entry"]


def affected(doc: ResultDocument) -> list[dict[str, Any]] | None:
    """Affected organizations and persons per level (from exposure.summary); None when scope did not run."""
    if doc.exposure is None:
        return None
    s = doc.exposure.summary
    rows = []
    for key, counts in (("organizations", s.organizations), ("persons", s.persons)):
        by = counts.to_dict()
        rows.append({"key": key, "levels": [(lv, by[SUMMARY_KEYS[lv]]) for lv in AFFECTED_LEVELS],
                     "total": by["total"]})
    return rows


def owed(doc: ResultDocument) -> dict[str, Any] | None:
    """Obligations: every one (owed first, then by deadline) and the counts; None when notify did not run."""
    n: Notification | None = doc.obligations
    if n is None:
        return None
    ordered = sorted(n.obligations, key=lambda o: (OWED_ORDER.get(o.owed, 3), o.deadline is None, o.deadline or "",
                                                   o.jurisdiction, o.rule, o.obligation))
    counts = {k: sum(o.owed == k for o in n.obligations) for k in ("yes", "no", "unknown")}
    return {"all": ordered, "due": [o for o in ordered if o.owed != "no"], "counts": counts,
            "total": len(n.obligations), "aware_at": n.aware_at, "owed": n.owed, "reason": n.reason}


def findings_levels(doc: ResultDocument) -> list[tuple[str, int]]:
    """Findings per level, strongest first; levels outside the rule levels after them, sorted."""
    if doc.findings is None:
        return []
    by = doc.findings.by_level
    known = [(lv, by[lv]) for lv in reversed(RULE_LEVELS) if lv in by]
    return known + sorted((k, v) for k, v in by.items() if k not in RULE_LEVELS)


def missing_of(doc: ResultDocument, stage: str) -> list[str]:
    """The document's `missing` notes about one stage (a stage that did not run is said, never shown as zero)."""
    return [m for m in doc.missing if m.split(":", 1)[0].strip() == stage]

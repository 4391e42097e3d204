"""The result document's tables as rows of text: the CSV renderer writes them, one table per `--table`.

Each table is a function of the document only (model.result.ResultDocument). Cells are evidence: the
CSV writer puts every text cell through model.text.csv_text (controls escaped, no spreadsheet formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime

from breachscope.model.incident import EvidenceRef
from breachscope.model.result import ResultDocument
from breachscope.model.text import csv_text

Row = list[object]


def _ts(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _refs(refs: tuple[EvidenceRef, ...]) -> str:
    return "; ".join(f"{r.src_file}:{r.src_record if r.src_record is not None else ''}" for r in refs)


def _subjects(doc: ResultDocument) -> Iterator[Row]:
    yield ["subject_type", "subject_id", "name", "organization_id", "jurisdiction", "level", "categories",
           "excluded_by", "evidence_count", "evidence"]
    for s in doc.exposure.subjects if doc.exposure else ():
        evidence = "; ".join(f"{e.kind} {e.src_file or ''}:{e.src_record if e.src_record is not None else ''}"
                             for e in s.evidence)
        yield [s.subject_type, s.subject_id, s.name, s.organization_id, s.jurisdiction, s.level,
               " ".join(s.categories), " ".join(s.excluded_by), s.evidence_count, evidence]


def _timeline(doc: ResultDocument) -> Iterator[Row]:
    yield ["ts", "stage", "source", "kind", "host", "user", "score", "summary", "evidence"]
    for e in doc.timeline:
        yield [_ts(e.ts), e.stage, e.source, e.kind, e.host, e.user, f"{e.score:.1f}", e.summary, _refs(e.evidence)]


def _obligations(doc: ResultDocument) -> Iterator[Row]:
    yield ["jurisdiction", "obligation", "owed", "deadline", "deadline_text", "to", "what", "persons",
           "organizations", "why"]
    for o in doc.obligations.obligations if doc.obligations else ():
        yield [o.jurisdiction, o.obligation, o.owed, o.deadline, o.deadline_text, o.to, o.what, o.persons,
               o.organizations, "; ".join(o.why)]


def _containment(doc: ResultDocument) -> Iterator[Row]:
    yield ["order", "phase", "action", "target", "addresses", "service", "reason", "evidence", "rollback"]
    for s in doc.containment.steps if doc.containment else ():
        yield [s.order, s.phase, s.action, s.target, " ".join(s.addresses), s.service, s.reason, _refs(s.evidence),
               s.rollback]


def _hosts(doc: ResultDocument) -> Iterator[Row]:
    yield ["rank", "name", "role", "roles", "function", "addresses", "score", "first_alert", "last_alert", "alerts",
           "reasons", "evidence"]
    for h in doc.incident.hosts if doc.incident else ():
        yield [h.rank, h.name, h.role, " ".join(h.roles), h.function, " ".join(h.addresses), f"{h.score:.1f}",
               _ts(h.first_alert), _ts(h.last_alert), h.alerts, "; ".join(h.reasons), _refs(h.evidence)]


def _findings(doc: ResultDocument) -> Iterator[Row]:
    yield ["rule_id", "title", "kind", "level", "attack", "count", "first_ts", "last_ts", "hosts"]
    for r in doc.findings.rules if doc.findings else ():
        yield [r.rule_id, r.title, r.kind, r.level, " ".join(r.attack), r.count, _ts(r.first_ts), _ts(r.last_ts),
               " ".join(r.hosts)]


#: --table NAME -> its rows (header first). A new table: its function above and one line here.
TABLES: dict[str, Callable[[ResultDocument], Iterator[Row]]] = {
    "subjects": _subjects,
    "timeline": _timeline,
    "obligations": _obligations,
    "containment": _containment,
    "hosts": _hosts,
    "findings": _findings,
}


def render_csv(doc: ResultDocument, table: str) -> str:
    """One table of the document as CSV (RFC 4180, UTF-8, header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in TABLES[table](doc):
        writer.writerow(["" if v is None else csv_text(v) if isinstance(v, str) else v for v in row])
    return out.getvalue()

"""Drafts of the APPI report (the nine items of Rules Art. 8(1)) and of the notices to individuals, in
Japanese and English, from the exposure: counts split confirmed / potential, unknowns marked unknown.

Templates are jinja2 files under notify/templates/. They read the result document (model.result) only:
the decision it holds is the one obligations.json records, and the incident in it says when the attack
began and how it came in. They see counts, category labels, dates and the incident's host names and
addresses (one line each, markdown quoted), never subjects' names (they stay in the exposure files).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2
import yaml

from breachscope.model.errors import BreachscopeError
from breachscope.model.incident import Incident
from breachscope.model.result import ResultDocument
from breachscope.model.text import one_line

DRAFTS = ("appi_report_ja", "appi_report_en", "notice_ja", "notice_en")


def _env() -> jinja2.Environment:
    folder = resources.files("breachscope.notify") / "templates"
    templates = {e.name: e.read_text(encoding="utf-8") for e in folder.iterdir() if e.name.endswith(".j2")}
    return jinja2.Environment(loader=jinja2.DictLoader(templates), autoescape=False, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def labels() -> dict[str, dict[str, str]]:
    folder = resources.files("breachscope.notify") / "templates"
    return yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8"))


def context(doc: ResultDocument) -> dict[str, Any]:
    """What the templates see: the document's decision (the one obligations.json records), its exposure's
    counts and what its incident established."""
    if doc.obligations is None or doc.exposure is None:
        raise BreachscopeError("drafts need the exposure and the decision in the result document")
    decision, summary = doc.obligations, doc.exposure.summary
    lab: dict[str, Any] = labels()
    suspects = summary.suspects
    window = [*(suspects.get("since") or []), *(suspects.get("until") or [])]
    return {
        "aware_at": decision.aware_at,
        "organizations": summary.organizations.to_dict(),
        "persons": summary.persons.to_dict(),
        "excluded": summary.excluded,
        "statements": summary.statements,
        "categories": [{"id": c, "ja": lab["categories"].get(c, {}).get("ja", c),
                        "en": lab["categories"].get(c, {}).get("en", c.replace("_", " ")),
                        "level": summary.category_levels.get(c, "")} for c in summary.categories],
        "level_ja": lab["levels_ja"],
        "unlawful_purpose": decision.facts.unlawful_purpose,  # the deadlines' decision, not a second one
        "window": window,
        "snapshot": summary.snapshot,
        "inventory": summary.inventory,
        "files": summary.files,
        "obligations": [o.to_dict() for o in decision.obligations],
        "incident": incident_facts(doc.incident),
    }


def _md(value: object) -> str:
    """An evidence value inside a markdown draft: one line, as code (its backticks removed)."""
    return "`" + one_line(value).replace("`", "'") + "`"


def incident_facts(incident: Incident | None) -> dict[str, Any] | None:
    """When the attack began, where it came in and from where, where the data went: the incident's own
    claims (None when no investigation ran: the drafts then say [UNKNOWN])."""
    if incident is None:
        return None
    internal = [h for h in incident.hosts if not h.role.startswith("external")]
    entry = next((h for h in internal if h.role == "entry"), None)
    firsts = [h.first_alert for h in internal if h.first_alert is not None]
    entries = [e for e in incident.external if e.role == "initial_access"]
    outs = [m for m in incident.data_movements if m.kind == "exfiltration"]
    services = sorted({svc for e in entries for svc in e.services})
    # what was seen on the entry host itself, beside its moves to other hosts
    signs = [r for r in (entry.reasons if entry else ()) if not r.startswith("lateral_movement")]
    return {
        "first_sign": min(firsts).strftime("%Y-%m-%d %H:%M UTC") if firsts else None,
        "since": incident.suspects.since.strftime("%Y-%m-%d %H:%M UTC") if incident.suspects.since else None,
        "until": incident.suspects.until.strftime("%Y-%m-%d %H:%M UTC") if incident.suspects.until else None,
        "entry": _md(entry.name) if entry else None,
        "from": ", ".join(_md(e.ip) for e in entries[:5]),
        "services": ", ".join(_md(svc) for svc in services[:5]),
        "entry_how": one_line(entries[0].reasons[0]) if entries and entries[0].reasons else None,
        "entry_sign": one_line(signs[0]) if signs else None,
        "hosts": ", ".join(_md(h.name) for h in internal[:5]),
        "exfiltration": ", ".join(f"{_md(m.dst)} ({m.bytes:,} bytes)" for m in outs[:5]),
    }


def render(name: str, ctx: dict[str, Any]) -> str:
    return _env().get_template(f"{name}.md.j2").render(**ctx)

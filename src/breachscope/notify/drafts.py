"""Drafts of the APPI report (the nine items of Rules Art. 8(1)) and of the notices to individuals, in
Japanese and English, from the exposure: counts split confirmed / potential, unknowns marked unknown.

Templates are jinja2 files under notify/templates/; they see counts, category labels and dates only,
never evidence text (names of subjects stay in the exposure files).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2
import yaml

from breachscope.model.exposure import ExposureSummary
from breachscope.model.obligations import Notification

DRAFTS = ("appi_report_ja", "appi_report_en", "notice_ja", "notice_en")


def _env() -> jinja2.Environment:
    folder = resources.files("breachscope.notify") / "templates"
    templates = {e.name: e.read_text(encoding="utf-8") for e in folder.iterdir() if e.name.endswith(".j2")}
    return jinja2.Environment(loader=jinja2.DictLoader(templates), autoescape=False, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def labels() -> dict[str, dict[str, str]]:
    folder = resources.files("breachscope.notify") / "templates"
    return yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8"))


def context(decision: Notification, summary: ExposureSummary) -> dict[str, Any]:
    """What the templates see: the decision (the same one obligations.json records) and the exposure's counts."""
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
    }


def render(name: str, ctx: dict[str, Any]) -> str:
    return _env().get_template(f"{name}.md.j2").render(**ctx)

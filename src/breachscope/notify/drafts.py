"""Drafts of the APPI report (the nine items of Rules Art. 8(1)) and of the notices to individuals, in
Japanese and English, from the exposure: counts split confirmed / potential, unknowns marked unknown.

Templates are jinja2 files under notify/templates/; they see counts, category labels and dates only,
never evidence text (names of subjects stay in the exposure files).
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any

import jinja2
import yaml

DRAFTS = ("appi_report_ja", "appi_report_en", "notice_ja", "notice_en")


def _env() -> jinja2.Environment:
    folder = resources.files("breachscope.notify") / "templates"
    templates = {e.name: e.read_text(encoding="utf-8") for e in folder.iterdir() if e.name.endswith(".j2")}
    return jinja2.Environment(loader=jinja2.DictLoader(templates), autoescape=False, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def labels() -> dict[str, dict[str, str]]:
    folder = resources.files("breachscope.notify") / "templates"
    return yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8"))


def context(summary: dict[str, Any], aware_at: datetime, obligations: list[dict[str, Any]]) -> dict[str, Any]:
    lab = labels()
    cats = list(summary.get("categories") or [])
    levels = summary.get("category_levels") or {}
    suspects = summary.get("suspects") or {}
    window = [*(suspects.get("since") or []), *(suspects.get("until") or [])]
    return {
        "aware_at": aware_at.isoformat(),
        "organizations": summary["organizations"],
        "persons": summary["persons"],
        "excluded": summary.get("excluded", {}),
        "statements": summary.get("statements", {}),
        "categories": [{"id": c, "ja": lab["categories"].get(c, {}).get("ja", c),
                        "en": lab["categories"].get(c, {}).get("en", c.replace("_", " ")),
                        "level": levels.get(c, "")} for c in cats],
        "level_ja": lab["levels_ja"],
        "unlawful_purpose": bool(suspects.get("hosts") or suspects.get("users")),
        "window": window,
        "snapshot": summary.get("snapshot", ""),
        "inventory": summary.get("inventory", ""),
        "files": summary.get("files", {}),
        "obligations": obligations,
    }


def render(name: str, ctx: dict[str, Any]) -> str:
    return _env().get_template(f"{name}.md.j2").render(**ctx)

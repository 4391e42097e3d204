"""The exposure section's server-rendered tables: subjects per data category and level, jurisdictions, the
exclusions with their policies, the statements' outcomes. From exposure.summary and the document's subjects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from breachscope.model.result import ExposurePart
from breachscope.report.sections import AFFECTED_LEVELS


@dataclass(frozen=True)
class CategoryRow:
    category: str
    strongest: str | None
    counts: tuple[int, ...]  # subjects of the document per AFFECTED_LEVELS


def categories(part: ExposurePart) -> list[CategoryRow]:
    """Per category: its strongest level (summary) and how many subjects of the document reached each level."""
    counts: dict[str, list[int]] = {c: [0] * len(AFFECTED_LEVELS) for c in part.summary.categories}
    where = {lv: i for i, lv in enumerate(AFFECTED_LEVELS)}
    for s in part.subjects:
        if s.level not in where:
            continue  # excluded subjects (NOT_EXPOSED) are not affected
        for cat, level in s.category_levels.items():
            if level in where:
                counts.setdefault(cat, [0] * len(AFFECTED_LEVELS))[where[level]] += 1
    return [CategoryRow(c, part.summary.category_levels.get(c), tuple(counts[c])) for c in sorted(counts)]


def exclusions(part: ExposurePart) -> dict[str, Any]:
    """Excluded organizations and persons, and per policy (sorted by name)."""
    ex = part.summary.excluded or {}
    policies = ex.get("policies") or {}
    rows = [(str(name), _int(v, "organizations"), _int(v, "persons")) for name, v in sorted(policies.items())]
    return {"organizations": _int(ex, "organizations"), "persons": _int(ex, "persons"), "policies": rows}


def _int(d: Any, key: str) -> int:
    value = d.get(key) if isinstance(d, dict) else None
    return int(value) if isinstance(value, (int, float)) else 0


def jurisdictions(part: ExposurePart) -> list[tuple[str, int, int]]:
    return [(j, _int(v, "organizations"), _int(v, "persons")) for j, v in sorted(part.summary.jurisdictions.items())]

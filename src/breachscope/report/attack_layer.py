"""The result document's detections as an ATT&CK Navigator layer (layer format 4.5, enterprise domain):
each technique the findings name, scored by how many findings name it, with the rules in its comment.
Open it in a Navigator (an offline copy works: the layer is data only)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from breachscope.model.result import ResultDocument
from breachscope.model.text import json_text, one_line

TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
LEVEL_COLOR = {"critical": "#b10026", "high": "#e31a1c", "medium": "#fd8d3c", "low": "#fecc5c",
               "informational": "#ffffb2"}
STRENGTH = {level: -i for i, level in enumerate(LEVEL_COLOR)}


@dataclass
class _Technique:
    count: int = 0
    rules: list[str] = field(default_factory=list)
    level: str = "informational"


def render_attack_layer(doc: ResultDocument) -> str:
    techniques: dict[str, _Technique] = {}
    for rule in doc.findings.rules if doc.findings else ():
        for raw in rule.attack:
            tid = raw.strip().upper()
            if not TECHNIQUE.match(tid):  # a rule's tag is not trusted to be a technique id
                continue
            t = techniques.setdefault(tid, _Technique())
            t.count += rule.count
            t.rules.append(f"{one_line(rule.title)} ({rule.count:,})")
            if STRENGTH.get(rule.level, 0) > STRENGTH[t.level]:
                t.level = rule.level
    layer = {
        "name": f"breachscope: {one_line(doc.case.name)}",
        "versions": {"layer": "4.5", "navigator": "5.1.0"},
        "domain": "enterprise-attack",
        "description": "Techniques named by the case's findings (score: findings; colour: strongest level).",
        "sorting": 3,
        "hideDisabled": False,
        "techniques": [{"techniqueID": tid, "score": t.count, "color": LEVEL_COLOR[t.level],
                        "comment": "; ".join(t.rules), "enabled": True, "showSubtechniques": True}
                       for tid, t in sorted(techniques.items())],
        "gradient": {"colors": ["#ffffff", "#e31a1c"], "minValue": 0,
                     "maxValue": max((t.count for t in techniques.values()), default=1)},
        "legendItems": [{"label": level, "color": color} for level, color in LEVEL_COLOR.items()],
    }
    return json_text(layer, indent=2) + "\n"

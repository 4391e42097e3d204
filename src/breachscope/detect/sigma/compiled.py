"""A rule after compilation: what the engines need, JSON-serializable so it can be cached on disk."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from breachscope.detect.sigma import ir

RULE, CORRELATION, FILTER = "rule", "correlation", "filter"


@dataclass
class RuleProblem:
    """A rule that cannot run: where it is and why."""

    path: str
    line: int | None
    reason: str
    title: str | None = None
    rule_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Correlation:
    type: str
    rules: list[str]  # ids or names of the rules it correlates
    group_by: list[str]
    timespan_s: float
    op: str | None = None  # gte, gt, lte, lt, eq, neq (None for temporal types without condition)
    threshold: float | None = None
    value_field: str | None = None  # the field value_* conditions aggregate
    percentile: int | None = None  # value_percentile: which percentile of the values
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # alias -> {rule ref: field}
    generate: bool = False


@dataclass
class CompiledRule:
    kind: str
    id: str | None
    name: str | None
    title: str
    path: str
    line: int
    level: str | None = None
    status: str | None = None
    author: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    falsepositives: list[str] = field(default_factory=list)
    product: str | None = None
    category: str | None = None
    service: str | None = None
    condition: Any = None  # ir.to_json of the detection (rules and filters)
    filter_targets: list[str] = field(default_factory=list)
    correlation: Correlation | None = None
    unset_placeholders: list[str] = field(default_factory=list)  # %name% values not configured: empty lists

    @property
    def tree(self) -> ir.Node:
        return ir.from_json(self.condition)

    @property
    def key(self) -> str:
        return self.id or self.name or f"{self.path}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        # shallow: the condition is already JSON (asdict would deep-copy it: a quarter of compile time)
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        if self.correlation is not None:
            out["correlation"] = asdict(self.correlation)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompiledRule:
        d = dict(d)
        if d.get("correlation"):
            d["correlation"] = Correlation(**d["correlation"])
        return cls(**d)

    def attack_techniques(self) -> list[str]:
        """ATT&CK technique ids from tags (attack.t1059.001 -> T1059.001)."""
        out = []
        for t in self.tags:
            if t.startswith("attack.t") and t[8:9].isdigit():
                out.append(t[7:].upper())
        return out

"""The contract every analytic implements: a name, the tables it reads, and a function from the case
(`CaseContext`) to hits. An analytic aggregates in SQL on the case (DuckDB, or Spark through sqlglot);
Python only sees the few groups that are already unusual. Each hit says where its evidence is (a table and
a condition); the runner fetches the first rows of it, so every finding points to files and records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from breachscope.detect.casecontext import CaseContext
from breachscope.model.findings import RuleLevel


class Skipped(Exception):
    """The analytic has nothing to read in this case (the message says what is missing)."""


@dataclass(frozen=True)
class EvidenceQuery:
    """Where a hit's evidence is: rows of `table` for which `where` (DuckDB SQL on its columns) holds."""

    table: str
    where: str


@dataclass(frozen=True)
class Hit:
    """What an analytic found: one finding of kind `analytic`."""

    title: str  # names the thing found, e.g. "Beaconing <host> -> <address>:<port>"
    why: str  # one sentence, with the figures that made it stand out
    score: float  # 0-100: how sure and how serious; ranks hits of one analytic
    first_ts: datetime
    last_ts: datetime | None = None
    key: tuple[Any, ...] = ()  # what makes the hit unique within its analytic (stable finding ids)
    host: str | None = None
    user: str | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    level: RuleLevel | None = None  # default: from the score (level_of_score)
    ts: datetime | None = None  # the moment to report (an onset); default first_ts
    event_count: int | None = None
    entities: Mapping[str, Any] = field(default_factory=dict)  # figures and entities, kept as the event JSON
    evidence: tuple[EvidenceQuery, ...] = ()
    attack: tuple[str, ...] = ()  # technique ids beyond the analytic's own


@dataclass(frozen=True)
class Analytic:
    """One analytic (one module, one line in the registry, one test)."""

    name: str  # the id used by `hunt --analytics` and in findings' rule_id (analytic:<name>)
    title: str
    about: str  # what it looks for and how: `breachscope analytics list`
    tables: tuple[str, ...]  # the tables it reads: it runs when at least one of them is in the case
    run: Callable[[CaseContext], list[Hit]]
    attack: tuple[str, ...] = ()  # ATT&CK technique ids (T1071.001)
    references: tuple[str, ...] = ()


def level_of_score(score: float) -> RuleLevel:
    if score >= 80:
        return "high"
    if score >= 60:
        return "medium"
    if score >= 40:
        return "low"
    return "informational"


def clamp(score: float) -> float:
    return round(max(0.0, min(100.0, score)), 1)

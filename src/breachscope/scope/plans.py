"""What planning a statement gives: its plans (queries with slots), its outcome, the exposures a run of
them yields, and the templates that let statements of the same text share one planning."""

from __future__ import annotations

from dataclasses import dataclass, field

from breachscope.model.exposure import IGNORED, ExposureLevel, StatementOutcome


@dataclass(frozen=True)
class TableExposure:
    """One occurrence of a dataset table in one statement (or export file): whose rows it returned, how sure."""

    index: int
    statement_id: str
    table: str
    subject: str
    level: ExposureLevel
    categories: tuple[str, ...]
    reason: str | None
    src_file: str
    src_record: int


@dataclass
class ReplayPlan:
    """One query that replays (part of) a statement against the snapshot, with the slots its values fill."""

    stmt: int  # index into the statement list
    final_sql: str
    slots: list[str | None]
    instances: list[tuple[str, tuple[str, ...], tuple[str, ...]]]  # (table, categories, exclusion names)
    exact: bool
    reasons: list[str]
    count_check: bool
    grouped: bool
    fallback: bool = False  # a whole-table reach (no query could be built)


@dataclass
class ReplayOutcome:
    """What became of one statement in the replay (its row of exposure/statements.parquet)."""

    outcome: StatementOutcome = IGNORED
    reasons: list[str] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    rows_replayed: int | None = None
    subjects: int = 0
    shape: str | None = None


class Template:
    """A planned statement whose slot values can be replaced by another statement's."""

    def __init__(self, plans: list[ReplayPlan], out: ReplayOutcome, sources: list[tuple[str, int]], baked: list[int],
                 literals: list[tuple[int, int, str, str]]) -> None:
        self.plans = plans
        self.out = out
        self.baked = baked
        ordinal = {lit[0]: i for i, lit in enumerate(literals)}
        self.sources = [(kind, ordinal.get(pos, -1) if kind == "literal" else pos) for kind, pos in sources]
        used = {pos for kind, pos in self.sources if kind == "literal"}
        self.fixed_literals = [i for i in range(len(literals)) if i not in used]
        self.usable = len(plans) <= 1 and all(pos >= 0 for _, pos in self.sources) and all(b >= 0 for b in baked)

    def instantiate(self, index: int, literals: list[tuple[int, int, str, str]],
                    params: tuple[str | None, ...] | None) -> tuple[list[ReplayPlan], ReplayOutcome]:
        values = [literals[pos][3] if kind == "literal" else (params or ())[pos] for kind, pos in self.sources]
        plans = [ReplayPlan(index, p.final_sql, values if not p.fallback else [], p.instances, p.exact, list(p.reasons),
                      p.count_check, p.grouped, p.fallback) for p in self.plans]
        o = self.out
        return plans, ReplayOutcome(o.outcome, list(o.reasons), set(o.tables), set(o.categories), None, 0, o.shape)


def fixed_values(tpl: Template, literals: list[tuple[int, int, str, str]],
                  params: tuple[str | None, ...] | None) -> tuple:
    """What the template wrote into its query: it is reused only for statements with the same values there."""
    return (tuple(literals[i][3] for i in tpl.fixed_literals),
            tuple((params or ())[b] if b < len(params or ()) else None for b in tpl.baked))


def known_param(v: str | None) -> bool:
    return v is not None and v != "" and v != "<long param suppressed>"



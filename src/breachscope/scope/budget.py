"""Budgets of the replay: wherever the attacker's input decides the cost, a limit and a reason.

A statement over a budget is never an error of the run: it is POTENTIAL with the reason (the rows
it could have reached are then the whole tables it names, which costs one scan per table).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp


@dataclass(frozen=True)
class Budget:
    statement_seconds: float = 60.0  # one replay query (a batch of statements of one shape counts as one)
    memory_mb: int = 2048  # DuckDB: working memory over the snapshot held in memory
    max_rows: int = 20_000_000  # rows one replay query may return (they are held in memory)
    max_text: int = 1 << 20  # characters of a statement that is parsed (longer: the tables it names)
    max_nodes: int = 250_000  # nodes of its parsed tree

    def describe(self) -> dict[str, float | int]:
        return {"statement_seconds": self.statement_seconds, "memory_mb": self.memory_mb,
                "max_rows": self.max_rows, "max_text": self.max_text, "max_nodes": self.max_nodes}


class OverBudget(Exception):
    """A replay query went over a budget; the message is the reason shown for the statement."""


class ReplayFailed(Exception):
    """The backend failed one query (and is usable again); the message is the reason."""


def too_big(tree: exp.Expr, limit: int) -> str | None:
    """The plan-size budget: counted without building the whole list of nodes."""
    for n, _ in enumerate(tree.walk(), 1):
        if n > limit:
            return f"over the plan budget (more than {limit:,} syntax nodes)"
    return None

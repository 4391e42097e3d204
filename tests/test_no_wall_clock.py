"""Tests wait for the event they mean, never for a length of time: a fixed sleep assumes a speed that a
loaded machine (2 cores shared by many runs) does not have. A sleep is only allowed as the short pause
of a polling loop (`while not event(): ... sleep(small)`), and no hypothesis test has a deadline."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
MAX_POLL_PAUSE_S = 0.1


def _calls(tree: ast.AST) -> list[tuple[ast.Call, list[ast.AST]]]:
    """Every call with the chain of its enclosing nodes."""
    out: list[tuple[ast.Call, list[ast.AST]]] = []

    def walk(node: ast.AST, stack: list[ast.AST]) -> None:
        if isinstance(node, ast.Call):
            out.append((node, stack))
        for child in ast.iter_child_nodes(node):
            walk(child, [*stack, node])

    walk(tree, [])
    return out


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def test_sleeps_only_pause_polling_loops() -> None:
    bad = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call, stack in _calls(tree):
            if _name(call.func) not in ("time.sleep", "sleep", "asyncio.sleep"):
                continue
            where = f"{path.name}:{call.lineno}"
            in_loop = any(isinstance(n, ast.While) for n in stack)
            pause = call.args[0] if call.args else None
            short = isinstance(pause, ast.Constant) and isinstance(pause.value, int | float) \
                and pause.value <= MAX_POLL_PAUSE_S
            if not (in_loop and short):
                bad.append(where)
    assert not bad, f"fixed sleeps (wait for the event instead): {bad}"


def test_no_hypothesis_deadline() -> None:
    bad = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call, _ in _calls(tree):
            if _name(call.func).endswith("settings") or _name(call.func).endswith("register_profile"):
                for kw in call.keywords:
                    if kw.arg == "deadline" and not (isinstance(kw.value, ast.Constant) and kw.value.value is None):
                        bad.append(f"{path.name}:{call.lineno}")
    assert not bad, f"hypothesis deadlines depend on the machine's speed: {bad}"

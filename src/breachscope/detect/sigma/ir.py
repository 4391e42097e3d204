"""The predicate tree every Sigma rule is converted to: engine-neutral, typed, hashable, JSON-able.

One tree feeds the SQL compiler (DuckDB, Spark) and the pure-Python reference evaluator, so the
meaning of a rule is decided once, here and in convert.py, not once per engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

# string pattern parts: (kind, text); kind LIT is literal text, ANY is Sigma `*`, ONE is Sigma `?`
LIT, ANY, ONE = 0, 1, 2
Pattern = tuple[tuple[int, str], ...]


class Node:
    """A node of the condition tree."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]  # every node is a dataclass (below)


@dataclass(frozen=True, slots=True)
class And(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    arg: Node


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class Str(Node):
    """Glob match (Sigma wildcards), case-insensitive unless `cased`. field None: keyword search."""

    field: str | None
    pattern: Pattern
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Regex(Node):
    """Unanchored regular expression search; flags among 'i', 'm', 's'."""

    field: str | None
    regex: str
    flags: str = ""


@dataclass(frozen=True, slots=True)
class Num(Node):
    """Equality with a number (a text field matches the number's decimal text)."""

    field: str | None
    value: int | float


@dataclass(frozen=True, slots=True)
class Cmp(Node):
    """Numeric comparison: op is one of lt, lte, gt, gte."""

    field: str
    op: str
    value: int | float


@dataclass(frozen=True, slots=True)
class Cidr(Node):
    field: str
    network: str  # normalized, e.g. "10.0.0.0/8", "fe80::/10"


@dataclass(frozen=True, slots=True)
class Null(Node):
    field: str


@dataclass(frozen=True, slots=True)
class Exists(Node):
    field: str
    exists: bool


@dataclass(frozen=True, slots=True)
class Bool(Node):
    field: str
    value: bool


@dataclass(frozen=True, slots=True)
class FieldRef(Node):
    """The field equals (starts with, ends with) the value of another field of the same event."""

    field: str
    other: str
    mode: str = "eq"  # eq | startswith | endswith
    cased: bool = False


@dataclass(frozen=True, slots=True)
class TimePart(Node):
    """A part of a timestamp field (minute, hour, day, week, month, year) equals a number."""

    field: str
    part: str
    value: int


LEAVES = (Str, Regex, Num, Cmp, Cidr, Null, Exists, Bool, FieldRef, TimePart)
_KINDS: dict[str, type[Node]] = {c.__name__: c for c in (And, Or, Not, Const, *LEAVES)}


def and_(args: list[Node]) -> Node:
    flat: list[Node] = []
    for a in args:
        if isinstance(a, And):
            flat.extend(a.args)
        elif a == Const(True):
            continue
        elif a == Const(False):
            return Const(False)
        else:
            flat.append(a)
    if not flat:
        return Const(True)
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(args: list[Node]) -> Node:
    flat: list[Node] = []
    for a in args:
        if isinstance(a, Or):
            flat.extend(a.args)
        elif a == Const(False):
            continue
        elif a == Const(True):
            return Const(True)
        else:
            flat.append(a)
    if not flat:
        return Const(False)
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def not_(arg: Node) -> Node:
    if isinstance(arg, Const):
        return Const(not arg.value)
    if isinstance(arg, Not):
        return arg.arg
    return Not(arg)


def field_of(node: Node) -> str | None:
    """The field a leaf reads (None: a keyword search, or not a leaf)."""
    field = getattr(node, "field", None)
    return field if isinstance(field, str) else None


def fields_of(node: Node) -> set[str | None]:
    """Every field a tree reads (None stands for keyword search)."""
    if isinstance(node, And | Or):
        out: set[str | None] = set()
        for a in node.args:
            out |= fields_of(a)
        return out
    if isinstance(node, Not):
        return fields_of(node.arg)
    if isinstance(node, Const):
        return set()
    refs: set[str | None] = {field_of(node)}
    if isinstance(node, FieldRef):
        refs.add(node.other)
    return refs


def to_json(node: Node) -> Any:
    """A JSON form of the tree (the compiled-rule cache stores it)."""
    kind = type(node).__name__
    if isinstance(node, And | Or):
        return [kind, [to_json(a) for a in node.args]]
    if isinstance(node, Not):
        return [kind, to_json(node.arg)]
    values = [getattr(node, f) for f in node.__dataclass_fields__]
    if isinstance(node, Str):
        values[1] = [list(p) for p in node.pattern]
    return [kind, *values]


def from_json(data: Any) -> Node:
    kind, *rest = data
    cls = _KINDS[kind]
    if cls is And or cls is Or:
        args = tuple(from_json(a) for a in rest[0])
        return And(args) if cls is And else Or(args)
    if cls is Not:
        return Not(from_json(rest[0]))
    if cls is Str:
        return Str(rest[0], tuple((int(k), str(t)) for k, t in rest[1]), bool(rest[2]))
    leaf: Callable[..., Node] = cls  # a leaf's fields, in order, as to_json wrote them
    return leaf(*rest)

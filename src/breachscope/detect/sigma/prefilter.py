"""Candidate rows before the full condition: a necessary literal per rule, matched once per distinct
field value with one Aho-Corasick automaton per field.

A rule can only match a row where at least one of its *necessary* leaves holds (for AND: the child
that holds on the fewest rows; for OR: every child's). For string leaves that is a literal the field
must equal, start with, end with or contain. The engine lists each field's distinct values with their
row counts; every literal of every rule is looked for in them in one pass; the rows whose values hold
some necessary literal are the candidates, and only they reach the full SQL condition. The prefilter
may only over-approximate: anything it cannot bound (regex, negation, comparisons) sends the rule to
a full pass instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick
import re2

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.sqlgen import Ref, Resolve

EQ, PREFIX, SUFFIX, CONTAINS, REGEX = "eq", "startswith", "endswith", "contains", "regex"


@dataclass(frozen=True)
class Literal:
    """A necessary condition on one field: its text (lowered unless cased) relates to `text` by `mode`
    (for REGEX, `text` is the expression with its inline flags, searched in the original text)."""

    ref: Ref
    mode: str
    text: str
    cased: bool


def literal_of(node: ir.Node, resolve: Resolve) -> Literal | None:
    """The literal a leaf implies, or None when it implies nothing a literal can bound."""
    if isinstance(node, ir.Num) and node.field is not None:
        ref = resolve(node.field)
        value = node.value
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        return Literal(ref, EQ, text, True) if ref.kind in ("str", "int") else None
    if isinstance(node, ir.Regex) and node.field is not None:
        ref = resolve(node.field)
        flags = f"(?{node.flags})" if node.flags else ""
        return Literal(ref, REGEX, flags + node.regex, True) if ref.kind in ("str", "int") else None
    if not isinstance(node, ir.Str) or node.field is None:
        return None
    ref = resolve(node.field)
    if ref.kind not in ("str", "int"):
        return None
    kinds = [k for k, _ in node.pattern]
    lits = [t for k, t in node.pattern if k == ir.LIT]
    if not lits:
        return None
    cased = node.cased
    norm = (lambda t: t) if cased else str.lower
    if kinds == [ir.LIT]:
        return Literal(ref, EQ, norm(lits[0]), cased)
    if kinds == [ir.LIT, ir.ANY]:
        return Literal(ref, PREFIX, norm(lits[0]), cased)
    if kinds == [ir.ANY, ir.LIT]:
        return Literal(ref, SUFFIX, norm(lits[0]), cased)
    return Literal(ref, CONTAINS, norm(max(lits, key=len)), cased)  # any glob: its longest literal


def literals(node: ir.Node, resolve: Resolve) -> Iterable[Literal]:
    """Every literal a tree could use as necessary condition."""
    if isinstance(node, ir.And | ir.Or):
        for a in node.args:
            yield from literals(a, resolve)
    elif not isinstance(node, ir.Not | ir.Const):
        lit = literal_of(node, resolve)
        if lit is not None:
            yield lit


def necessary(node: ir.Node, resolve: Resolve, rows: dict[Literal, int]) -> frozenset[Literal] | None:
    """Literals at least one of which holds on every row the tree matches (None: no such set).
    `rows` is how many rows each literal holds on; AND picks its cheapest child."""
    if isinstance(node, ir.And):
        best: frozenset[Literal] | None = None
        best_cost = -1
        for a in node.args:
            n = necessary(a, resolve, rows)
            if n is None:
                continue
            cost = sum(rows.get(lit, 0) for lit in n)
            if best is None or cost < best_cost:
                best, best_cost = n, cost
        return best
    if isinstance(node, ir.Or):
        out: set[Literal] = set()
        for a in node.args:
            n = necessary(a, resolve, rows)
            if n is None:
                return None
            out |= n
        return frozenset(out)
    if isinstance(node, ir.Const):
        return frozenset() if not node.value else None
    if isinstance(node, ir.Not):
        return None
    lit = literal_of(node, resolve)
    return frozenset({lit}) if lit is not None else None


@dataclass
class ValueMatches:
    """For one field: its distinct values, their row counts, and which literals each value holds."""

    values: list[object]
    counts: list[int]
    holds: dict[Literal, list[int]] = field(default_factory=dict)  # literal -> indices into values

    def rows(self, lit: Literal) -> int:
        return sum(self.counts[i] for i in self.holds.get(lit, ()))


def match_values(values: list[object], counts: list[int], lits: Iterable[Literal]) -> ValueMatches:
    """Which values hold which literals. Equality, prefix and suffix literals are dictionary lookups
    (one per distinct literal length); only `contains` literals need the automaton, one pass per value."""
    out = ValueMatches(values, counts)
    holds: dict[Literal, set[int]] = defaultdict(set)
    for cased in (True, False):
        group = [lit for lit in set(lits) if lit.cased == cased]
        if not group:
            continue
        eq: dict[str, list[Literal]] = defaultdict(list)
        pre: dict[int, dict[str, list[Literal]]] = defaultdict(lambda: defaultdict(list))
        suf: dict[int, dict[str, list[Literal]]] = defaultdict(lambda: defaultdict(list))
        con: dict[str, list[Literal]] = defaultdict(list)
        regexes = [lit for lit in group if lit.mode == REGEX]
        for lit in group:
            if lit.mode == REGEX:
                continue
            if lit.mode == EQ:
                eq[lit.text].append(lit)
            elif not lit.text:  # '' is a prefix, suffix and part of every value
                holds[lit].update(i for i, v in enumerate(values) if v is not None)
            elif lit.mode == PREFIX:
                pre[len(lit.text)][lit.text].append(lit)
            elif lit.mode == SUFFIX:
                suf[len(lit.text)][lit.text].append(lit)
            else:
                con[lit.text].append(lit)
        auto = None
        if con:
            auto = ahocorasick.Automaton()
            for text, grp in con.items():
                auto.add_word(text, grp)
            auto.make_automaton()
        for i, v in enumerate(values):
            if v is None:
                continue
            s = str(v) if cased else str(v).lower()
            for lit in eq.get(s, ()):
                holds[lit].add(i)
            for n, table in pre.items():
                for lit in table.get(s[:n], ()):
                    holds[lit].add(i)
            for n, table in suf.items():
                if n <= len(s):
                    for lit in table.get(s[-n:], ()):
                        holds[lit].add(i)
            if auto is not None:
                for grp in {id(g): g for _end, g in auto.iter(s)}.values():
                    for lit in grp:
                        holds[lit].add(i)
        for lit in regexes:  # RE2: linear time, whatever the expression
            compiled = re2.compile(lit.text)
            for i, v in enumerate(values):
                if v is not None and compiled.search(str(v)) is not None:
                    holds[lit].add(i)
    for lit, idx in holds.items():
        out.holds[lit] = sorted(idx)
    return out

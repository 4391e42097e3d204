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
from functools import lru_cache

import ahocorasick

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.regexbatch import regex_hits
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
    return _literal_of(node, resolve)


@lru_cache(maxsize=1 << 16)  # a hunt asks for the same leaves' literals ~10^5 times
def _literal_of(node: ir.Node, resolve: Resolve) -> Literal | None:
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


# Sentinels framing a value for one automaton pass: "\x02" + text is a prefix, text + "\x03" a suffix,
# both an equality. A value holding a sentinel itself is decided the plain way (attacker text is exact).
_HEAD, _TAIL = "\x02", "\x03"


def match_values(values: list[object], counts: list[int], lits: Iterable[Literal]) -> ValueMatches:
    """Which values hold which literals: one Aho-Corasick pass per value over the value framed by
    sentinels finds its equality, prefix, suffix and contains literals together; regexes run on RE2."""
    out = ValueMatches(values, counts)
    holds: dict[Literal, set[int]] = defaultdict(set)
    for cased in (True, False):
        group = [lit for lit in set(lits) if lit.cased == cased]
        if not group:
            continue
        words: dict[str, list[Literal]] = defaultdict(list)
        for lit in group:
            if lit.mode == REGEX:
                continue
            if not lit.text and lit.mode != EQ:  # '' is a prefix, suffix and part of every value
                holds[lit].update(i for i, v in enumerate(values) if v is not None)
            else:
                words[_framed(lit)].append(lit)
        auto = None
        if words:
            auto = ahocorasick.Automaton()
            for word, grp in words.items():
                auto.add_word(word, grp)
            auto.make_automaton()
        for i, v in enumerate(values):
            if v is None or auto is None:
                continue
            s = str(v) if cased else str(v).lower()
            if _HEAD in s or _TAIL in s:
                for lit in (lit for grp in words.values() for lit in grp):
                    if _holds(lit, s):
                        holds[lit].add(i)
                continue
            for _end, grp in auto.iter(_HEAD + s + _TAIL):
                for lit in grp:
                    holds[lit].add(i)
        regexes = [lit for lit in group if lit.mode == REGEX]
        if regexes:  # RE2: linear time, whatever the expression
            present = [i for i, v in enumerate(values) if v is not None]
            hits = regex_hits([lit.text for lit in regexes], [str(values[i]) for i in present])
            for lit, idx in zip(regexes, hits, strict=True):
                holds[lit].update(present[j] for j in idx)
    for lit, rows in holds.items():
        out.holds[lit] = sorted(rows)
    return out


def _framed(lit: Literal) -> str:
    if lit.mode == EQ:
        return _HEAD + lit.text + _TAIL
    if lit.mode == PREFIX:
        return _HEAD + lit.text
    if lit.mode == SUFFIX:
        return lit.text + _TAIL
    return lit.text


def _holds(lit: Literal, s: str) -> bool:
    if lit.mode == EQ:
        return s == lit.text
    if lit.mode == PREFIX:
        return s.startswith(lit.text)
    if lit.mode == SUFFIX:
        return s.endswith(lit.text)
    return lit.text in s

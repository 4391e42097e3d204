"""Leaf truth on distinct values: each leaf is decided once per distinct value of its field, not once
per row (log fields repeat heavily), with the reference's semantics.

Literal patterns (equals, starts with, ends with, contains) are found for all leaves of a field in one
Aho-Corasick pass per value; other globs are checked on the values their longest literal admits;
regular expressions run on RE2 (regexbatch.py: linear-time, whatever engine runs the hunt);
everything else goes through the reference evaluator value by value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.prefilter import CONTAINS, EQ, PREFIX, SUFFIX, Literal, match_values
from breachscope.detect.sigma.reference import Reference
from breachscope.detect.sigma.regexbatch import regex_hits
from breachscope.detect.sigma.sqlgen import Ref, Resolve

LeafKey = tuple[Ref, ir.Node]
_SINGLE = (ir.Str, ir.Regex, ir.Num, ir.Cmp, ir.Cidr, ir.Bool, ir.TimePart, ir.Null, ir.Exists)


def leaf_nodes(node: ir.Node) -> Iterable[ir.Node]:
    if isinstance(node, ir.And | ir.Or):
        for a in node.args:
            yield from leaf_nodes(a)
    elif isinstance(node, ir.Not):
        yield from leaf_nodes(node.arg)
    elif not isinstance(node, ir.Const):
        yield node


def single_ref(node: ir.Node, resolve: Resolve) -> Ref | None:
    """The field a leaf depends on alone, or None when the leaf needs the whole row (keyword search,
    field references, list fields, presence of a map key)."""
    field = ir.field_of(node) if isinstance(node, _SINGLE) else None
    if field is None:
        return None
    ref = resolve(field)
    if ref.kind in ("list", "map"):
        return None
    if isinstance(node, ir.Exists) and ref.key is not None:
        return None
    return ref


def _simple_literal(node: ir.Str) -> tuple[str, str] | None:
    kinds = [k for k, _ in node.pattern]
    lits = [t for k, t in node.pattern if k == ir.LIT]
    if kinds == [ir.LIT]:
        return EQ, lits[0]
    if kinds == [ir.LIT, ir.ANY]:
        return PREFIX, lits[0]
    if kinds == [ir.ANY, ir.LIT]:
        return SUFFIX, lits[0]
    if kinds == [ir.ANY, ir.LIT, ir.ANY]:
        return CONTAINS, lits[0]
    return None


def truth(leaves_by_ref: dict[Ref, set[ir.Node]], values_by_ref: dict[Ref, list[object]],
          reference: Reference) -> dict[LeafKey, frozenset[object]]:
    """(field, leaf) -> the set of the field's values on which the leaf holds (None is never listed:
    a missing value is decided by on_value at evaluation time)."""
    out: dict[LeafKey, frozenset[object]] = {}
    for ref, nodes in leaves_by_ref.items():
        values = [v for v in values_by_ref.get(ref, []) if v is not None]
        if ref.kind == "absent":
            for n in nodes:
                out[(ref, n)] = frozenset()
            continue
        literal_nodes: dict[Literal, list[ir.Node]] = defaultdict(list)
        globs: list[ir.Str] = []
        regexes: list[ir.Regex] = []
        for n in nodes:
            if isinstance(n, ir.Str) and ref.kind in ("str", "int"):
                simple = _simple_literal(n)
                if simple is not None and simple[1]:
                    mode, text = simple
                    literal_nodes[Literal(ref, mode, text if n.cased else text.lower(), n.cased)].append(n)
                else:
                    globs.append(n)
            elif isinstance(n, ir.Regex):
                regexes.append(n)
            else:
                out[(ref, n)] = frozenset(v for v in values if reference.on_value(n, v, ref.kind))
        if literal_nodes:
            vm = match_values(values, [1] * len(values), literal_nodes)
            for lit, group in literal_nodes.items():
                held = frozenset(values[i] for i in vm.holds.get(lit, ()))
                for n in group:
                    out[(ref, n)] = held
        for g in globs:
            out[(ref, g)] = frozenset(v for v in values if reference.on_value(g, v, ref.kind))
        if regexes:
            out.update(_regex_truth(ref, regexes, values))
    return out


def _regex_truth(ref: Ref, regexes: list[ir.Regex], values: list[object]) -> dict[LeafKey, frozenset[object]]:
    """Regexes on RE2, never on a backtracking engine: no rule can hang the run."""
    texts = [str(v) if not isinstance(v, bool) else str(v).lower() for v in values]
    hits = regex_hits([(f"(?{r.flags})" if r.flags else "") + r.regex for r in regexes], texts)
    return {(ref, r): frozenset(values[j] for j in idx) for r, idx in zip(regexes, hits, strict=True)}

"""The fast way to run many rules on one segment: prefilter, group, decide once per distinct combination.

1. Candidate rows: rows of the segment whose field values hold a necessary literal of some rule
   (prefilter.py); the engine materializes them with one column per field the rules read and one
   boolean per row-level leaf (keyword search, field references), compiled to the engine's SQL.
2. The engine groups the candidates by those columns: rows with the same values match the same rules.
3. Each leaf is decided once per distinct value of its field (leaves.py), each rule once per distinct
   combination, and only for rules whose necessary literal the combination holds.
4. The engine joins the matching combinations back to their rows.
Rules with no necessary literal (only negations, regexes, keywords) go to the plain SQL pass instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.dialects import Dialect
from breachscope.detect.sigma.fields import TableInfo
from breachscope.detect.sigma.leaves import LeafKey, leaf_nodes, single_ref, truth
from breachscope.detect.sigma.plan import Target
from breachscope.detect.sigma.prefilter import (
    CONTAINS,
    PREFIX,
    SUFFIX,
    Literal,
    ValueMatches,
    match_values,
    necessary,
)
from breachscope.detect.sigma.reference import Reference
from breachscope.detect.sigma.sqlgen import LOWER_TEXT, TEXT, Ref, SqlCompiler, source_sql, uses_keywords

MATCHED = "bs_matched"
RULES_COLUMN = "__bs_rules"


@dataclass
class Segmented:
    """A segment's targets split by how they run."""

    fast: list[tuple[Target, frozenset[Literal]]]  # in play, with their necessary literals
    full: list[Target]  # no necessary literal: plain SQL pass
    idle: int  # necessary literals hold nowhere in the table: cannot match


def split(targets: list[Target], info: TableInfo, catalog: dict[Ref, ValueMatches]) -> Segmented:
    rows = {lit: vm.rows(lit) for vm in catalog.values() for lit in vm.holds}
    fast, full, idle = [], [], 0
    for t in targets:
        nec = necessary(t.tree, info.resolver(t.segment.fields), rows)
        if nec is None:
            full.append(t)
        elif any(catalog[lit.ref].holds.get(lit) for lit in nec if lit.ref in catalog):
            fast.append((t, nec))
        else:
            idle += 1
    return Segmented(fast, full, idle)


class Evaluator:
    """Decides rule trees on one combination of field values, from per-value leaf truth."""

    def __init__(self, resolve: object, col_of_ref: dict[Ref, int], rowleaf_col: dict[ir.Node, int],
                 table: dict[LeafKey, frozenset[object]], reference: Reference) -> None:
        self.resolve = resolve
        self.col_of_ref = col_of_ref
        self.rowleaf_col = rowleaf_col
        self.table = table
        self.reference = reference
        self._refs: dict[ir.Node, Ref | None] = {}

    def ref(self, leaf: ir.Node) -> Ref | None:
        if leaf not in self._refs:
            self._refs[leaf] = single_ref(leaf, self.resolve)  # type: ignore[arg-type]
        return self._refs[leaf]

    def holds(self, node: ir.Node, combo: tuple[object, ...]) -> bool:
        if isinstance(node, ir.And):
            return all(self.holds(a, combo) for a in node.args)
        if isinstance(node, ir.Or):
            return any(self.holds(a, combo) for a in node.args)
        if isinstance(node, ir.Not):
            return not self.holds(node.arg, combo)
        if isinstance(node, ir.Const):
            return node.value
        ref = self.ref(node)
        if ref is None:
            return bool(combo[self.rowleaf_col[node]])
        value = None if ref.kind == "absent" else combo[self.col_of_ref[ref]]
        if value is None:
            return self.reference.on_value(node, None, ref.kind)
        return value in self.table[(ref, node)]


def run(engine: object, dialect: Dialect, info: TableInfo, where: ir.Node, seg: Segmented,
        catalog: dict[Ref, ValueMatches]) -> tuple[list[tuple[Target, dict[str, object]]], int]:
    """Matches (target, row) of the segment's fast targets, and the number of candidate rows.
    Two streaming scans, nothing materialized: one aggregates the candidates into combinations, one
    joins the matching combinations back to their rows (memory ~ distinct combinations)."""
    targets = [t for t, _ in seg.fast]
    resolve = info.resolver(targets[0].segment.fields)
    comp = SqlCompiler(dialect, resolve, info.keyword_refs())
    refs: list[Ref] = []
    rowleaves: list[ir.Node] = []
    for t in targets:
        for leaf in leaf_nodes(t.tree):
            ref = single_ref(leaf, resolve)
            if ref is None:
                if leaf not in rowleaves:
                    rowleaves.append(leaf)
            elif ref.kind != "absent" and ref not in refs:
                refs.append(ref)
    cols = [f"{comp.expr(r)} AS bs_c{i}" for i, r in enumerate(refs)]
    cols += [f"{comp.compile(leaf)} AS bs_b{j}" for j, leaf in enumerate(rowleaves)]
    keys = [f"bs_c{i}" for i in range(len(refs))] + [f"bs_b{j}" for j in range(len(rowleaves))]
    names, candidates = _candidates_sql(engine, dialect, info, comp, where, seg, catalog, cols)
    try:
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        combos = engine.query(  # type: ignore[attr-defined]
            f"SELECT {', '.join([*keys, 'count(*) AS bs_n'])} FROM ({candidates}) AS c{group}")
        n = sum(combos.column("bs_n").to_pylist())
        if not n:
            return [], 0
        rows = list(zip(*(combos.column(k).to_pylist() for k in keys), strict=True)) if keys else [()]
        matched = _decide(targets, seg, refs, rowleaves, rows, resolve)
        out = list(_rows_back(engine, dialect, candidates, combos, keys, matched, targets))
    finally:
        for name in names:
            engine.drop(name)  # type: ignore[attr-defined]
    return out, n


def _candidates_sql(engine: object, dialect: Dialect, info: TableInfo, comp: SqlCompiler, where: ir.Node,
                    seg: Segmented, catalog: dict[Ref, ValueMatches], cols: list[str]) -> tuple[list[str], str]:
    """SQL for the segment's rows whose values hold a necessary literal (value lists registered as tables)."""
    wanted: dict[Ref, set[int]] = defaultdict(set)
    for _t, nec in seg.fast:
        for lit in nec:
            if lit.ref in catalog:
                wanted[lit.ref].update(catalog[lit.ref].holds.get(lit, ()))
    ors, names = [], []
    for i, (ref, idx) in enumerate(sorted(wanted.items(), key=lambda kv: repr(kv[0]))):
        name = f"bs_cv{i}"
        engine.register(name, pa.table({"v": [catalog[ref].values[j] for j in sorted(idx)]}))  # type: ignore[attr-defined]
        names.append(name)
        ors.append(f"{comp.expr(ref)} IN (SELECT v FROM {name})")
    extra = (", " + ", ".join(cols)) if cols else ""
    keywords = any(uses_keywords(t.tree) for t, _ in seg.fast)
    sql = (f"SELECT *{extra} FROM {source_sql(dialect, info.name, info.keyword_refs(), keywords)} "
           f"WHERE {comp.compile(where)} AND ({' OR '.join(ors) or 'FALSE'})")
    return names, sql


def _decide(targets: list[Target], seg: Segmented, refs: list[Ref], rowleaves: list[ir.Node],
            rows: list[tuple[object, ...]], resolve: object) -> dict[int, list[int]]:
    """combo index -> indices of the targets it matches."""
    col_of_ref = {r: i for i, r in enumerate(refs)}
    rowleaf_col = {leaf: len(refs) + j for j, leaf in enumerate(rowleaves)}
    leaves_by_ref: dict[Ref, set[ir.Node]] = defaultdict(set)
    for t in targets:
        for leaf in leaf_nodes(t.tree):
            ref = single_ref(leaf, resolve)  # type: ignore[arg-type]
            if ref is not None:
                leaves_by_ref[ref].add(leaf)
    values_by_ref = {r: list({row[i] for row in rows}) for r, i in col_of_ref.items()}
    reference = Reference(resolve, [])  # type: ignore[arg-type]
    table = truth(leaves_by_ref, values_by_ref, reference)
    ev = Evaluator(resolve, col_of_ref, rowleaf_col, table, reference)
    # which literals each distinct value holds: one automaton pass per field, not literals x combos
    by_literal: dict[Literal, list[int]] = defaultdict(list)
    for ti, (_t, nec) in enumerate(seg.fast):
        for lit in nec:
            by_literal[lit].append(ti)
    lits_by_ref: dict[Ref, list[Literal]] = defaultdict(list)
    for lit in by_literal:
        lits_by_ref[lit.ref].append(lit)
    holding: dict[Ref, dict[object, list[Literal]]] = {}
    for ref, lits in lits_by_ref.items():
        values = values_by_ref.get(ref, [])
        vm = match_values(values, [1] * len(values), lits)
        per_value: dict[object, list[Literal]] = defaultdict(list)
        for lit, idx in vm.holds.items():
            for i in idx:
                per_value[values[i]].append(lit)
        holding[ref] = per_value
    ref_cols = [(col_of_ref[r], holding[r]) for r in holding if r in col_of_ref]
    matched: dict[int, list[int]] = {}
    for ci, combo in enumerate(rows):
        todo: set[int] = set()
        for col, per_value in ref_cols:
            for lit in per_value.get(combo[col], ()):
                todo.update(by_literal[lit])
        hits = [ti for ti in sorted(todo) if ev.holds(targets[ti].tree, combo)]
        if hits:
            matched[ci] = hits
    return matched


def literal_holds(lit: Literal, value: object) -> bool:
    if value is None:
        return False
    s = str(value) if lit.cased else str(value).lower()
    mode = lit.mode
    if mode == CONTAINS:
        return lit.text in s
    if mode == PREFIX:
        return s.startswith(lit.text)
    if mode == SUFFIX:
        return s.endswith(lit.text)
    return s == lit.text


def _rows_back(engine: object, dialect: Dialect, candidates: str, combos: pa.Table, keys: list[str],
               matched: dict[int, list[int]], targets: list[Target]) -> Iterable[tuple[Target, dict[str, object]]]:
    if not matched:
        return
    idx = sorted(matched)
    table = combos.take(pa.array(idx, pa.int64())).drop_columns(["bs_n"]).append_column(
        RULES_COLUMN, pa.array([matched[i] for i in idx], pa.list_(pa.int32())))
    engine.register(MATCHED, table)  # type: ignore[attr-defined]
    try:
        on = " AND ".join(dialect.t("nulleq", a=f"c.{k}", b=f"m.{k}") for k in keys) or "TRUE"
        result = engine.query(  # type: ignore[attr-defined]
            f"SELECT c.*, m.{RULES_COLUMN} FROM ({candidates}) AS c JOIN {MATCHED} m ON {on}")
    finally:
        engine.drop(MATCHED)  # type: ignore[attr-defined]
    for row in result.to_pylist():
        hits = row.pop(RULES_COLUMN)
        for k in (*keys, TEXT, LOWER_TEXT):
            row.pop(k, None)
        for ti in hits:
            yield targets[ti], row

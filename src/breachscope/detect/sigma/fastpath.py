"""The fast way to run many rules on one table: prefilter, group, decide once per distinct combination.

1. Candidate rows: rows of any segment whose field values hold a necessary literal of some rule
   (prefilter.py). For them the engine computes one column per field the rules read, one boolean per
   row-level leaf (keyword search, field references: compiled to the engine's SQL) and a mask of the
   segments the row belongs to.
2. The engine groups the candidates by those columns: rows with equal values match the same rules.
3. Each leaf is decided once per distinct value of its field (leaves.py), each rule over the table of
   distinct combinations of its segment at once (decide.py, vectorized).
4. The engine joins the matching combinations back to their rows.
All of it streams (memory ~ distinct combinations): one aggregate scan and one join scan per table.
Rules with no necessary literal (only negations, regexes, keywords) go to the plain SQL pass instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.decide import MASK_BITS, SegmentRules, decide
from breachscope.detect.sigma.dialects import SqlDialect
from breachscope.detect.sigma.fields import TableInfo
from breachscope.detect.sigma.leaves import leaf_nodes, single_ref
from breachscope.detect.sigma.plan import Target
from breachscope.detect.sigma.prefilter import (
    Literal,
    ValueMatches,
    necessary,
)
from breachscope.detect.sigma.rows import lean_rows
from breachscope.detect.sigma.sqlgen import LOWER_TEXT, TEXT, Ref, Resolve, SqlCompiler, source_sql, uses_keywords
from breachscope.engines.protocol import SqlEngine

MATCHED = "bs_matched"
RULES_COLUMN = "__bs_rules"


@dataclass
class SegmentWork:
    """One segment of a table: its row condition and its targets that the fast path runs."""

    name: str
    where: ir.Node
    resolve: Resolve
    fast: list[tuple[Target, frozenset[Literal]]]  # in play, with their necessary literals
    full: list[Target]  # no necessary literal: plain SQL pass
    idle: int  # necessary literals hold nowhere in the table: cannot match


def split(name: str, where: ir.Node, targets: list[Target], info: TableInfo, catalog: dict[Ref, ValueMatches],
          rows: dict[Literal, int]) -> SegmentWork:
    resolve = info.resolver(targets[0].segment.fields)
    fast, full, idle = [], [], 0
    for t in targets:
        nec = necessary(t.tree, resolve, rows)
        if nec is None:
            full.append(t)
        elif any(catalog[lit.ref].holds.get(lit) for lit in nec if lit.ref in catalog):
            fast.append((t, nec))
        else:
            idle += 1
    return SegmentWork(name, where, resolve, fast, full, idle)


def run(engine: SqlEngine, dialect: SqlDialect, info: TableInfo, work: list[SegmentWork],
        catalog: dict[Ref, ValueMatches]) -> tuple[Iterable[tuple[Target, str, dict[str, object]]], int]:
    """(target, segment name, row) for every match of the segments' fast targets, yielded as consumed,
    and the number of candidate rows."""
    work = [w for w in work if w.fast]
    if not work:
        return [], 0
    refs: list[Ref] = []
    rowleaf_sql: list[str] = []
    rowleaf_col: list[dict[ir.Node, int]] = []
    for w in work:
        comp = SqlCompiler(dialect, w.resolve, info.keyword_refs())
        mine: dict[ir.Node, int] = {}
        for t, _nec in w.fast:
            for leaf in leaf_nodes(t.tree):
                ref = single_ref(leaf, w.resolve)
                if ref is None:
                    sql = comp.compile(leaf)
                    if sql not in rowleaf_sql:
                        rowleaf_sql.append(sql)
                    mine[leaf] = rowleaf_sql.index(sql)
                elif ref.kind != "absent" and ref not in refs:
                    refs.append(ref)
        rowleaf_col.append(mine)
    plain = SqlCompiler(dialect, info.resolver({}), info.keyword_refs())
    masks = [f"m{j}" for j in range(0, len(work), MASK_BITS)]
    cols = [f"{plain.expr(r)} AS bs_c{i}" for i, r in enumerate(refs)]
    cols += [f"{sql} AS bs_b{j}" for j, sql in enumerate(rowleaf_sql)]
    for j, m in enumerate(masks):
        part = work[j * MASK_BITS:(j + 1) * MASK_BITS]
        bits = " + ".join(f"(CASE WHEN {plain.compile(w.where)} THEN {1 << i} ELSE 0 END)" for i, w in enumerate(part))
        cols.append(f"({bits}) AS {m}")
    keys = [f"bs_c{i}" for i in range(len(refs))] + [f"bs_b{j}" for j in range(len(rowleaf_sql))] + masks
    names, candidates = _candidates_sql(engine, dialect, info, plain, work, catalog, cols)
    try:
        combos = engine.query(
            f"SELECT {', '.join(keys)}, count(*) AS bs_n FROM ({candidates}) AS c GROUP BY {', '.join(keys)}")
        n = pc.sum(combos.column("bs_n")).as_py() or 0
        if not n:
            return [], 0
        targets = [(t, w.name) for w in work for t, _ in w.fast]
        segments = [SegmentRules(w.resolve, [t.tree for t, _ in w.fast]) for w in work]
        matched = decide(segments, refs, combos, [f"bs_c{i}" for i in range(len(refs))],
                         [{leaf: f"bs_b{c}" for leaf, c in mine.items()} for mine in rowleaf_col], masks)
        result = _rows_back(engine, dialect, candidates, combos, keys, matched)
    finally:
        for name in names:
            engine.drop(name)
    return _matches(result, keys, targets), n


def _candidates_sql(engine: SqlEngine, dialect: SqlDialect, info: TableInfo, plain: SqlCompiler,
                    work: list[SegmentWork], catalog: dict[Ref, ValueMatches],
                    cols: list[str]) -> tuple[list[str], str]:
    """SQL for rows of any segment whose values hold a necessary literal (value lists registered)."""
    wanted: dict[Ref, set[int]] = defaultdict(set)
    for w in work:
        for _t, nec in w.fast:
            for lit in nec:
                if lit.ref in catalog:
                    wanted[lit.ref].update(catalog[lit.ref].holds.get(lit, ()))
    ors, names = [], []
    for i, (ref, idx) in enumerate(sorted(wanted.items(), key=lambda kv: repr(kv[0]))):
        values = [catalog[ref].values[j] for j in sorted(idx)]
        inline = _literals(dialect, values)
        if inline is not None:
            ors.append(f"{plain.expr(ref)} IN ({inline})")
            continue
        name = f"bs_cv{i}"
        engine.register(name, pa.table({"v": values}))
        names.append(name)
        ors.append(f"{plain.expr(ref)} IN (SELECT v FROM {name})")
    segs = " OR ".join(plain.compile(w.where) for w in work)
    keywords = any(uses_keywords(t.tree) for w in work for t, _ in w.fast)
    sql = (f"SELECT *, {', '.join(cols)} FROM {source_sql(dialect, info.name, info.keyword_refs(), keywords)} "
           f"WHERE ({segs}) AND ({' OR '.join(ors) or 'FALSE'})")
    return names, sql


def _literals(dialect: SqlDialect, values: list[object]) -> str | None:
    """The values as a SQL list of literals, where the dialect prefers that and all are text or all
    integers (values come from the evidence: text only through the dialect's escaping)."""
    if not values or len(values) > dialect.inline_values:
        return None
    texts = [v for v in values if isinstance(v, str)]
    if all(v.__class__ is str for v in values):  # exactly str: a subclass could render itself otherwise
        return ", ".join(dialect.literal(v) for v in texts)
    if all(v.__class__ is int for v in values):
        return ", ".join(str(v) for v in values)
    return None


def _rows_back(engine: SqlEngine, dialect: SqlDialect, candidates: str, combos: pa.Table, keys: list[str],
               matched: dict[int, list[int]]) -> pa.Table | None:
    """The candidate rows of the matching combinations, each with the list of targets it matches."""
    if not matched:
        return None
    idx = sorted(matched)
    table = combos.take(pa.array(idx, pa.int64())).drop_columns(["bs_n"]).append_column(
        RULES_COLUMN, pa.array([matched[i] for i in idx], pa.list_(pa.int32())))
    engine.register(MATCHED, table)
    try:
        on = " AND ".join(dialect.t("nulleq", a=f"c.{k}", b=f"m.{k}") for k in keys) or "TRUE"
        result = engine.query(
            f"SELECT c.*, m.{RULES_COLUMN} FROM ({candidates}) AS c JOIN {MATCHED} m ON {on}")
    finally:
        engine.drop(MATCHED)
    return result


def _matches(result: pa.Table | None, keys: list[str], targets: list[tuple[Target, str]]
             ) -> Iterator[tuple[Target, str, dict[str, object]]]:
    """(target, segment, row) per match, a row at a time: the rows stay columnar until consumed."""
    if result is None:
        return
    for row in lean_rows(result, {*keys, TEXT, LOWER_TEXT}):
        hits = row.pop(RULES_COLUMN)
        for ti in hits:
            target, seg_name = targets[ti]
            yield target, seg_name, row

"""Rewrite a parsed read into the query of the subject keys it returned (and the categories it showed).

The statement keeps its FROM, joins, WHERE, GROUP BY, HAVING, ORDER BY + LIMIT; each row source that is
a dataset table adds its subject key (and one flag per exclusion policy of that table) to the
projection, passed up through derived tables, CTEs and set operations; a grouped SELECT collects
the keys of its groups with array_agg and the outer query unnests them. Which categories a row showed
comes from tracing the original projection down to base-table columns (columns used only in
predicates, or only under COUNT/SUM/AVG, show nothing).

Variable parts become slots: bind parameters ($1, ?) and literals compared with columns. Statements
of the same shape (the same query once slots are taken out) run as one batch; each slot is cast to the
type of the column it is compared with, taken from the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from breachscope.model.inventory import Exclusion, Inventory
from breachscope.scope.treeedit import swap

_COMPARE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
_TEXT_MATCH = (exp.Like, exp.ILike, exp.SimilarTo, exp.RegexpLike)
_SLOT_PARENTS = (*_COMPARE, *_TEXT_MATCH, exp.In, exp.Between)
#: Aggregates whose result shows no individual value.
_OPAQUE_AGG = (exp.Count, exp.Sum, exp.Avg, exp.Stddev, exp.StddevPop, exp.StddevSamp, exp.Variance,
               exp.VariancePop, exp.ApproxDistinct)
_PREDICATES = (*_SLOT_PARENTS, exp.Is, exp.Exists)
#: IN lists longer than this keep their values in the query (statements with such lists rarely share a shape).
LONG_IN = 64
TEXT = exp.DataType.build("text")
BOOL = exp.DataType.build("boolean")


class Unsupported(Exception):
    """The statement's shape cannot be replayed exactly (the message is the reason)."""


@dataclass
class Instance:
    """One occurrence of a dataset table among the row sources of the query."""

    index: int
    table: str
    alias: str
    exclusions: tuple[Exclusion, ...]
    categories: set[str] = field(default_factory=set)


@dataclass
class Slot:
    name: str  # placeholder name in the tree: __bs_s<i>
    value: str | None
    fallback: exp.DataType  # when no column gives the type
    source: tuple[str, int] = ("", -1)  # ("param", index) or ("literal", offset in the parsed text)


@dataclass
class Rewritten:
    final: exp.Select  # SELECT [__bs_g,] __bs_k<i>, __bs_x<i>_<j> ... with slots as __bs_p.p<n>
    instances: list[Instance]
    slot_values: list[str | None]
    grouped: bool  # output has __bs_g (the original row number), because keys come in arrays
    exact: bool
    reasons: list[str]
    count_check: bool  # a LIMIT without ORDER BY was removed: exact if the logged row count matches


@dataclass
class _Out:
    kind: str  # k | x
    inst: int
    excl: int
    expr: exp.Expr
    is_list: bool = False


@dataclass
class _Source:
    kind: str  # instance | child | table
    inst: int = -1
    child: exp.Expr | None = None
    table: str | None = None


class Rewriter:
    """One statement's rewrite (state is per statement: never shared between runs)."""

    def __init__(self, inventory: Inventory, tables: dict[str, dict[str, str]], schema: MappingSchema,
                 exclusion_trees: dict[str, exp.Expr], type_dialect: str) -> None:
        self.inventory = inventory
        self.tables = tables
        self.schema = schema
        self.exclusion_trees = exclusion_trees
        self.type_dialect = type_dialect
        self.instances: list[Instance] = []
        self.sources: dict[int, dict[str, _Source]] = {}  # id(select) -> alias -> source
        self.exposed: dict[int, list[tuple[_Out, str]]] = {}  # id(query) -> outs added to its projection
        self.counter = 0
        self.reasons: list[str] = []
        self.exact = True
        self.count_check = False

    # --- entry ---------------------------------------------------------------------------------
    def rewrite(self, query: exp.Expr, dialect: str, slots: list[Slot], rows_logged: int | None) -> Rewritten:
        try:
            q = qualify(query, schema=self.schema, dialect=dialect, db="public", identify=False,
                        validate_qualify_columns=True, expand_stars=True)
        except (OptimizeError, SqlglotError) as exc:
            raise Unsupported(f"cannot resolve the query's columns: {_short(exc)}") from exc
        except Exception as exc:  # sqlglot's optimizer can fail in many ways on odd input
            raise Unsupported(f"cannot resolve the query's columns: {type(exc).__name__}") from exc
        _strip_public(q)
        self._limits(q, rows_logged)
        outs = self._expose(q, {})
        self._categories(q)
        final = self._final(q, outs)
        self._type_slots(final, slots)
        return Rewritten(final=final, instances=self.instances, slot_values=[s.value for s in slots],
                         grouped=any(o.is_list for o, _ in outs), exact=self.exact, reasons=self.reasons,
                         count_check=self.count_check)

    # --- LIMIT / ORDER BY ----------------------------------------------------------------------
    def _limits(self, root: exp.Expr, rows_logged: int | None) -> None:
        """LIMIT without ORDER BY returns arbitrary rows: dropped, and the statement is potential unless
        the logged row count shows the limit cut nothing. ORDER BY without LIMIT is dropped (speed)."""
        for node in list(root.find_all(exp.Select, exp.SetOperation)):
            limit = node.args.get("limit") or node.args.get("offset")
            order = node.args.get("order")
            if limit is not None and order is None:
                is_root = node is root
                simple = is_root and node.args.get("offset") is None and rows_logged is not None
                node.set("limit", None)
                node.set("offset", None)
                self.exact = False
                self.count_check = self.count_check or simple
                self.reasons.append("LIMIT without ORDER BY")
            elif limit is None and order is not None:
                node.set("order", None)
            elif limit is not None and isinstance(node, exp.SetOperation) and node.args.get("distinct", True):
                raise Unsupported("LIMIT over UNION/INTERSECT/EXCEPT")

    # --- keys up the tree ----------------------------------------------------------------------
    def _fresh(self) -> str:
        self.counter += 1
        return f"__bs_c{self.counter}"

    def _expose(self, q: exp.Expr, ctes: dict[str, exp.Expr]) -> list[tuple[_Out, str]]:
        """Add the key/flag outputs of q to its projection; returns them with their column names."""
        if id(q) in self.exposed:
            return self.exposed[id(q)]
        if isinstance(q, exp.Subquery):
            q = q.unnest()
        if isinstance(q, exp.SetOperation):
            result = self._expose_setop(q, ctes)
        elif isinstance(q, exp.Select):
            result = []
            for out in self._select_outs(q, ctes):
                name = self._fresh()
                q.select(exp.alias_(out.expr, name), copy=False)
                result.append((out, name))
        else:
            raise Unsupported(f"unsupported query part: {type(q).__name__}")
        self.exposed[id(q)] = result
        return result

    def _expose_setop(self, q: exp.SetOperation, ctes: dict[str, exp.Expr]) -> list[tuple[_Out, str]]:
        if not isinstance(q, exp.Union) and _has_dataset(q, self):
            self.exact = False
            self.reasons.append("INTERSECT/EXCEPT: rows of either side may be shown")
        branches = _branches(q)
        per = [self._select_outs(b, {**ctes, **_ctes_of(q)}) for b in branches]
        if any(o.is_list for outs in per for o in outs):
            raise Unsupported("aggregation inside a set operation")
        result: list[tuple[_Out, str]] = []
        names = [[self._fresh() for _ in outs] for outs in per]
        for bi, b in enumerate(branches):
            for oj, outs in enumerate(per):
                for out, name in zip(outs, names[oj], strict=True):
                    typ = TEXT if out.kind == "k" else BOOL
                    expr = out.expr if oj == bi else exp.cast(exp.null(), typ)
                    b.select(exp.alias_(expr, name), copy=False)
        for outs, ns in zip(per, names, strict=True):
            result += list(zip(outs, ns, strict=True))
        return result

    def _select_outs(self, sel: exp.Expr, ctes: dict[str, exp.Expr]) -> list[_Out]:
        if isinstance(sel, exp.Subquery):
            sel = sel.unnest()
        if not isinstance(sel, exp.Select):
            if isinstance(sel, exp.SetOperation):
                raise Unsupported("nested set operation")
            raise Unsupported(f"unsupported query part: {type(sel).__name__}")
        env = {**ctes, **_ctes_of(sel)}
        self._projection_subqueries(sel)
        sources: dict[str, _Source] = {}
        self.sources[id(sel)] = sources
        outs: list[_Out] = []
        frm = sel.args.get("from_")
        items = [frm.this] if frm is not None else []
        for j in sel.args.get("joins") or []:
            if (j.args.get("kind") or "").upper() in ("SEMI", "ANTI"):
                continue  # a semi/anti join filters: its rows are not returned
            items.append(j.this)
        for src in items:
            outs += self._source_outs(src, env, sources)
        if _is_grouped(sel):
            if any(o.is_list for o in outs):
                raise Unsupported("nested aggregation")
            if sel.args.get("distinct") is not None and sel.args["distinct"].args.get("on") is None:
                _distinct_to_group(sel)
            outs = [_Out(o.kind, o.inst, o.excl, exp.Anonymous(this="array_agg", expressions=[o.expr]), True)
                    for o in outs]
        return outs

    def _source_outs(self, src: exp.Expr, env: dict[str, exp.Expr],
                     sources: dict[str, _Source]) -> list[_Out]:
        alias = src.alias_or_name
        if isinstance(src, exp.Table) and isinstance(src.this, exp.Identifier):
            name = src.name.lower()
            if not src.db and name in env:
                child = env[name]
                sources[alias] = _Source("child", child=child)
                return [_Out(o.kind, o.inst, o.excl, exp.column(n, table=alias), o.is_list)
                        for o, n in self._expose(child, env)]
            table = _table_key(src)
            ds = self.inventory.dataset(table)
            if ds is None:
                sources[alias] = _Source("table", table=table)
                return []
            inst = Instance(len(self.instances), table, alias, self.inventory.exclusions_for(table))
            self.instances.append(inst)
            sources[alias] = _Source("instance", inst=inst.index, table=table)
            outs = [_Out("k", inst.index, -1, exp.cast(exp.column(ds.subject_key, table=alias), TEXT))]
            for j, ex in enumerate(inst.exclusions):
                pred = _on_alias(self.exclusion_trees[ex.name], alias)
                flag = exp.Case(ifs=[exp.If(this=pred, true=exp.true())], default=exp.false())
                outs.append(_Out("x", inst.index, j, flag))
            return outs
        if isinstance(src, exp.Subquery):
            child = src.this
            sources[alias] = _Source("child", child=child)
            return [_Out(o.kind, o.inst, o.excl, exp.column(n, table=alias), o.is_list)
                    for o, n in self._expose(child, env)]
        if _has_dataset(src, self):
            raise Unsupported(f"unsupported row source: {type(src).__name__}")
        sources[alias] = _Source("table")
        return []

    def _projection_subqueries(self, sel: exp.Select) -> None:
        for e in sel.expressions:
            for sub in e.find_all(exp.Subquery, exp.Exists):
                if _has_dataset(sub, self):
                    raise Unsupported("subquery in the select list")

    # --- categories ----------------------------------------------------------------------------
    def _categories(self, root: exp.Expr) -> None:
        for sel in _branches(root):
            for e in list(sel.expressions):
                if e.alias_or_name.startswith("__bs_"):
                    continue
                for col in _shown_columns(e):
                    self._trace(sel, col.table, col.name, 0)

    def _trace(self, sel: exp.Select, alias: str, name: str, depth: int) -> None:
        if depth > 32:
            return
        src = self.sources.get(id(sel), {}).get(alias)
        if src is None:
            return
        if src.kind == "instance":
            inst = self.instances[src.inst]
            ds = self.inventory.dataset(inst.table)
            if ds is not None:
                inst.categories.update(ds.categories_of(name))
            return
        if src.kind != "child" or src.child is None:
            return
        for branch in _branches(src.child):
            for e in branch.expressions:
                if e.alias_or_name == name:
                    for col in _shown_columns(e):
                        self._trace(branch, col.table, col.name, depth + 1)

    # --- the final query -----------------------------------------------------------------------
    def _final(self, q: exp.Expr, outs: list[tuple[_Out, str]]) -> exp.Select:
        listy = any(o.is_list for o, _ in outs)
        cols: list[exp.Expr] = []
        if listy:
            if isinstance(q, exp.SetOperation):
                raise Unsupported("aggregation inside a set operation")
            cast(exp.Select, q).select(exp.alias_(exp.Window(this=exp.RowNumber()), "__bs_g"), copy=False)
            cols.append(exp.column("__bs_g", table="__bs_q"))
        for out, name in outs:
            ref: exp.Expr = exp.column(name, table="__bs_q")
            if out.is_list:
                ref = exp.Anonymous(this="unnest", expressions=[ref])
            alias = f"__bs_k{out.inst}" if out.kind == "k" else f"__bs_x{out.inst}_{out.excl}"
            cols.append(exp.alias_(ref, alias))
        if not cols:
            cols = [exp.alias_(exp.cast(exp.null(), TEXT), "__bs_none")]
        # copy=False: the slots are typed afterwards through the per-SELECT source maps, keyed by node identity
        return exp.select(*cols, copy=False).from_(exp.alias_(exp.Subquery(this=q), "__bs_q", table=True, copy=False),
                                                   copy=False)

    # --- slot types ----------------------------------------------------------------------------
    def _type_slots(self, final: exp.Select, slots: list[Slot]) -> None:
        by_name = {s.name: (i, s) for i, s in enumerate(slots)}
        for ph in list(final.find_all(exp.Placeholder)):
            entry = by_name.get(str(ph.this))
            if entry is None:
                continue
            i, slot = entry
            typ = self._slot_type(ph) or slot.fallback
            swap(ph, exp.Cast(this=exp.column(f"p{i + 1}", table="__bs_p"), to=typ.copy()))

    def _slot_type(self, ph: exp.Expr) -> exp.DataType | None:
        node, parent = ph, ph.parent
        while isinstance(parent, exp.Neg | exp.Paren):
            node, parent = parent, parent.parent
        if isinstance(parent, _TEXT_MATCH):
            return TEXT
        other: exp.Expr | None = None
        if isinstance(parent, _COMPARE):
            other = parent.expression if parent.this is node else parent.this
        elif isinstance(parent, exp.In | exp.Between):
            other = parent.this
        if isinstance(other, exp.Cast) and isinstance(other.to, exp.DataType):
            return other.to  # compared with a typed value (a bound now(), a cast): the value's type
        if not isinstance(other, exp.Column):
            return None
        typ = self._column_type(other)
        return None if typ is None else _data_type(typ, self.type_dialect)

    def _column_type(self, col: exp.Column) -> str | None:
        sel = col.find_ancestor(exp.Select)
        while sel is not None:
            src = self.sources.get(id(sel), {}).get(col.table)
            if src is not None:
                if src.table and src.kind in ("instance", "table"):
                    return self.tables.get(src.table, {}).get(col.name.lower())
                return None
            sel = sel.find_ancestor(exp.Select)
        return None


# --- helpers ---------------------------------------------------------------------------------------
def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def _strip_public(q: exp.Expr) -> None:
    for t in q.find_all(exp.Table):
        if (t.db or "").lower() == "public":
            t.set("db", None)
        t.set("catalog", None)


def _table_key(t: exp.Table) -> str:
    return f"{t.db.lower()}.{t.name.lower()}" if t.db else t.name.lower()


def _ctes_of(q: exp.Expr) -> dict[str, exp.Expr]:
    w = q.args.get("with_") or q.args.get("with")
    if w is None:
        return {}
    if w.args.get("recursive"):
        raise Unsupported("recursive CTE")
    return {c.alias.lower(): c.this for c in w.expressions}


def _branches(q: exp.Expr) -> list[exp.Select]:
    if isinstance(q, exp.Subquery):
        return _branches(q.unnest())
    if isinstance(q, exp.SetOperation):
        return _branches(q.this) + _branches(q.expression)
    if isinstance(q, exp.Select):
        return [q]
    raise Unsupported(f"unsupported query part: {type(q).__name__}")


def _is_grouped(sel: exp.Select) -> bool:
    if sel.args.get("group") is not None or sel.args.get("having") is not None:
        return True
    d = sel.args.get("distinct")
    if d is not None and d.args.get("on") is None:
        return True
    return any(not _in_window(agg, sel) and agg.find_ancestor(exp.Select) is sel
               for e in sel.expressions for agg in e.find_all(exp.AggFunc))


def _in_window(node: exp.Expr, stop: exp.Expr) -> bool:
    p = node.parent
    while p is not None and p is not stop:
        if isinstance(p, exp.Window):
            return True
        p = p.parent
    return False


def _distinct_to_group(sel: exp.Select) -> None:
    """SELECT DISTINCT a, b -> GROUP BY the projections: the same rows, and the keys of each group."""
    n = len(sel.expressions)
    sel.set("distinct", None)
    if sel.args.get("group") is None:
        sel.set("group", exp.Group(expressions=[exp.Literal.number(i + 1) for i in range(n)]))


def _shown_columns(e: exp.Expr) -> list[exp.Column]:
    """Columns whose values an output expression shows: not under COUNT/SUM/AVG, not in a subquery,
    not in a window's PARTITION BY / ORDER BY."""
    out = []
    for col in e.find_all(exp.Column):
        if col.table and not _hidden(col, e):
            out.append(col)
    return out


def _hidden(col: exp.Column, top: exp.Expr) -> bool:
    child: exp.Expr = col
    p = col.parent
    while p is not None and child is not top:
        if isinstance(p, (*_OPAQUE_AGG, exp.Subquery)):
            return True
        if isinstance(p, exp.Window) and child is not p.this:
            return True
        child, p = p, p.parent
    return False


def _has_dataset(node: exp.Expr, rw: Rewriter) -> bool:
    return any(rw.inventory.dataset(_table_key(t)) is not None for t in node.find_all(exp.Table))


def _on_alias(pred: exp.Expr, alias: str) -> exp.Expr:
    p = pred.copy()
    for col in p.find_all(exp.Column):
        col.set("table", exp.to_identifier(alias))
    return exp.Paren(this=p)


# --- slots ---------------------------------------------------------------------------------------
def take_slots(tree: exp.Expr, params: tuple[str | None, ...] | None, param_types: tuple[str, ...],
               dialect: str) -> tuple[list[Slot], list[str], list[int]]:
    """Replace bind parameters and predicate literals with named placeholders.

    Unknown parameters (not logged, suppressed, or empty: pgAudit writes NULL and '' alike) cannot be
    filled: the predicate that holds one is replaced by TRUE (FALSE under NOT), which widens the
    query to every row the statement could have reached; the reasons say so.
    Returns the slots, the reasons, and the parameters written into the query (LIMIT/OFFSET values)."""
    slots: list[Slot] = []
    reasons: list[str] = []
    baked: list[int] = []
    order = 0
    for node in list(tree.find_all(exp.Parameter, exp.Placeholder)):
        idx = _param_index(node, order)
        order += 1
        value, known, why = _param_value(params, idx)
        if not known:
            reasons.append(why)
            _widen(node)
            continue
        if _in_limit(node):  # LIMIT/OFFSET cannot refer to the batch's parameters: part of the shape
            baked.append(idx if idx is not None else -1)
            if value is not None and value.isdigit():
                node.replace(exp.Literal.number(value))
            else:
                reasons.append("LIMIT/OFFSET parameter is not a number")
                _widen(node)
            continue
        typ = TEXT
        if idx is not None and idx < len(param_types):
            typ = _data_type(param_types[idx], dialect) or TEXT
        name = f"__bs_s{len(slots)}"
        slots.append(Slot(name, value, typ, ("param", idx if idx is not None else -1)))
        swap(node, exp.Placeholder(this=name))
    for lit in list(tree.find_all(exp.Literal)):
        node, parent = lit, lit.parent
        if isinstance(parent, exp.Parameter):
            continue
        while isinstance(parent, exp.Neg):
            node, parent = parent, parent.parent
        if not isinstance(parent, _SLOT_PARENTS) or (isinstance(parent, _TEXT_MATCH) and node is not
                                                      parent.expression):
            continue
        if isinstance(parent, exp.Like | exp.ILike) and parent.args.get("escape") is node:
            continue
        if isinstance(parent, exp.In) and len(parent.expressions) > LONG_IN:
            continue  # a long IN list stays written in the query: one slot per value costs more than it saves
        name = f"__bs_s{len(slots)}"
        start = lit.meta.get("start", -1) if lit.meta else -1
        slots.append(Slot(name, lit.this, TEXT if lit.is_string else _number_type(lit.this), ("literal", start)))
        swap(lit, exp.Placeholder(this=name))
    return slots, sorted(set(reasons)), baked


def _in_limit(node: exp.Expr) -> bool:
    p = node.parent
    while p is not None and not isinstance(p, exp.Query):
        if isinstance(p, exp.Limit | exp.Offset | exp.Fetch):
            return True
        p = p.parent
    return False


def _param_index(node: exp.Expr, order: int) -> int | None:
    if isinstance(node, exp.Parameter):
        inner = node.this
        text = inner.this if isinstance(inner, exp.Literal | exp.Var | exp.Identifier) else str(inner)
        # $1 is the first; $0 names none (it took the last parameter, or failed: found by fuzzing)
        return int(text) - 1 if str(text).isdigit() and int(text) >= 1 else None
    if isinstance(node, exp.Placeholder) and node.this is None:
        return order
    return None


def _param_value(params: tuple[str | None, ...] | None, idx: int | None) -> tuple[str | None, bool, str]:
    if params is None:
        return None, False, "parameters not logged"
    if idx is None or not 0 <= idx < len(params):
        return None, False, "parameter missing from the log"
    v = params[idx]
    if v == "<long param suppressed>":
        return None, False, "parameter suppressed by pgaudit.log_parameter_max_size"
    if v is None or v == "":
        return None, False, "empty parameter (pgAudit logs NULL and '' alike)"
    return v, True, ""


def _widen(node: exp.Expr) -> None:
    """Replace the predicate holding an unknown value by the truth value that keeps most rows."""
    p: Any = node.parent
    negated = False
    holder: exp.Expr | None = None
    while p is not None and not isinstance(p, exp.Select | exp.Subquery):
        if holder is None and isinstance(p, _PREDICATES):
            holder = p
        if isinstance(p, exp.Not):
            negated = not negated
        if isinstance(p, exp.Limit | exp.Offset | exp.Fetch):
            p.pop()
            return
        p = p.parent
    if holder is not None:
        holder.replace(exp.false() if negated else exp.true())
    else:
        node.replace(exp.null())


_BIGINT = exp.DataType.build("bigint")
_DOUBLE = exp.DataType.build("double")
_TYPES: dict[tuple[str, str], exp.DataType | None] = {}


def _number_type(text: str) -> exp.DataType:
    try:
        int(text)
        return _BIGINT
    except ValueError:
        return _DOUBLE


def _data_type(text: str, dialect: str) -> exp.DataType | None:
    """A type named by the snapshot or a PREPARE, built once (sqlglot parses the text each time);
    callers copy it before putting it into a tree."""
    key = (text, dialect)
    if key not in _TYPES:
        if len(_TYPES) > 4096:  # type names come from PREPARE texts too: keep the cache bounded
            _TYPES.clear()
        try:
            _TYPES[key] = exp.DataType.build(text, dialect=dialect)
        except Exception:
            _TYPES[key] = None
    return _TYPES[key]


def build_schema(tables: dict[str, dict[str, str]], dialect: str) -> MappingSchema:
    """Column names of every snapshot table for sqlglot's qualify (types are not needed there)."""
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for name, cols in tables.items():
        schema, _, bare = name.rpartition(".")
        nested.setdefault(schema or "public", {})[bare] = {c: "TEXT" for c in cols}
    mapping: dict[str, object] = dict(nested)
    return MappingSchema(mapping, dialect=dialect, normalize=True)

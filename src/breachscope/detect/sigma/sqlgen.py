"""The predicate tree to a SQL boolean expression, for any dialect in dialects.py.

Sigma is two-valued: a missing field makes a comparison false, so `not filter` is true. SQL is
three-valued (NOT NULL is NULL), so every leaf is wrapped in coalesce(..., false).
Matching is case-insensitive unless the rule says `cased`: both sides are lowered (the pattern at
compile time, the column in SQL).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.dialects import SqlDialect

STRING_KINDS = ("str",)


@dataclass(frozen=True)
class Ref:
    """Where a rule field lives in a table: a column of some kind, a key of a map column, or nowhere."""

    kind: str  # str | int | float | bool | ts | list | absent
    column: str | None = None
    key: str | None = None  # set when `column` is a MAP(VARCHAR, VARCHAR) and the field is one key


ABSENT = Ref("absent")
TEXT, LOWER_TEXT = "__bs_text", "__bs_ltext"  # the event's text for keyword search (see event_text)
SEPARATOR = "\x1f"


def keyword_pattern(pattern: ir.Pattern) -> ir.Pattern:
    """A keyword matches anywhere in the text: implicit * on both sides."""
    if not pattern or pattern[0][0] != ir.ANY:
        pattern = ((ir.ANY, ""), *pattern)
    if pattern[-1][0] != ir.ANY:
        pattern = (*pattern, (ir.ANY, ""))
    return pattern


def uses_keywords(node: ir.Node) -> bool:
    if isinstance(node, ir.And | ir.Or):
        return any(uses_keywords(a) for a in node.args)
    if isinstance(node, ir.Not):
        return uses_keywords(node.arg)
    return isinstance(node, ir.Str | ir.Regex | ir.Num) and node.field is None


def source_sql(dialect: SqlDialect, source: str, keyword_refs: list[Ref], keywords: bool,
               rows: str | None = None) -> str:
    """The table to read; with the event's text (computed once per row) when keyword rules need it.
    `rows`: a condition every row the caller can match holds (its segments'): the text is built only
    for those (the keyword pass's filter cannot be pushed below the text, see the DuckDB engine)."""
    if not keywords:
        return dialect.ident(source)
    text = event_text(dialect, keyword_refs)
    where = f" AS bs_rows WHERE {rows}" if rows else ""  # the alias: Spark reads `t WHERE (x)` as t aliased
    return (f"(SELECT *, {text} AS {dialect.ident(TEXT)}, lower({text}) AS {dialect.ident(LOWER_TEXT)} "
            f"FROM {dialect.ident(source)}{where}) AS bs_src")


def event_text(dialect: SqlDialect, refs: list[Ref]) -> str:
    """SQL for the event's text fields joined by U+001F (list elements and map values included)."""
    parts = []
    for ref in refs:
        col = dialect.ident(ref.column or "")
        if ref.kind == "map":
            parts.append(dialect.t("join_list", l=dialect.t("map_values", m=col)))
        elif ref.kind == "list":
            parts.append(dialect.t("join_list", l=col))
        else:
            parts.append(col)
    return dialect.t("join_text", items=", ".join(parts)) if parts else "''"
Resolve = Callable[[str], Ref]


class CompileError(Exception):
    pass


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlCompiler:
    """Compiles trees for one segment: a dialect, a field resolver and the keyword-search fields."""

    def __init__(self, dialect: SqlDialect, resolve: Resolve, keyword_refs: list[Ref]) -> None:
        self.d = dialect
        self.resolve = resolve
        self.keyword_refs = keyword_refs
        self._var = 0

    # --- tree ------------------------------------------------------------------------------------
    def compile(self, node: ir.Node) -> str:
        if isinstance(node, ir.And):
            return "(" + " AND ".join(self.compile(a) for a in node.args) + ")"
        if isinstance(node, ir.Or):
            return "(" + " OR ".join(self.compile(a) for a in node.args) + ")"
        if isinstance(node, ir.Not):
            return f"(NOT {self.compile(node.arg)})"
        if isinstance(node, ir.Const):
            return "TRUE" if node.value else "FALSE"
        if isinstance(node, ir.Null):
            ref = self.resolve(node.field)
            return "TRUE" if ref.kind == "absent" else f"({self.expr(ref)} IS NULL)"
        if isinstance(node, ir.Exists):
            return self._exists(node)
        sql = self._leaf(node)
        return "FALSE" if sql == "FALSE" else f"coalesce({sql}, FALSE)"

    def _leaf(self, node: ir.Node) -> str:
        if isinstance(node, ir.Str | ir.Regex | ir.Num) and node.field is None:
            return self._keyword(node)
        field = ir.field_of(node)
        if field is None:
            raise TypeError(f"not a leaf: {node!r}")
        ref = self.resolve(field)
        if ref.kind == "absent":
            return "FALSE"
        if ref.kind == "list":
            var = self._fresh()
            pred = self._on_value(node, var, "str")
            return self.d.t("list_any", l=self.expr(ref), var=var, pred=f"coalesce({pred}, FALSE)")
        return self._on_value(node, self.expr(ref), ref.kind)

    def _keyword(self, node: ir.Str | ir.Regex | ir.Num) -> str:
        """Field-less values search the event's whole text (Sigma: 'across an entire event'): the
        text fields joined by U+001F, once per row (see event_text); a bare keyword means contains."""
        if not self.keyword_refs:
            return "FALSE"
        if isinstance(node, ir.Num):
            node = ir.Str(None, ((ir.LIT, str(node.value)),))
        if isinstance(node, ir.Str):
            node = ir.Str(None, keyword_pattern(node.pattern), node.cased)
            if not node.cased:  # the lowered text is a column of its own, computed once per row
                pattern = tuple((k, t.lower()) for k, t in node.pattern)
                return self._str(self.d.ident(LOWER_TEXT), pattern, cased=True)
        return self._on_value(node, self.d.ident(TEXT), "str")

    # --- values ----------------------------------------------------------------------------------
    def expr(self, ref: Ref) -> str:
        col = self.d.ident(ref.column or "")
        if ref.key is not None:
            return self.d.t("map_get", m=col, k=self.d.literal(ref.key))
        return col

    def _fresh(self) -> str:
        self._var += 1
        return f"v{self._var}"

    def _text(self, x: str, kind: str) -> str:
        return x if kind in STRING_KINDS else self.d.t("text", x=x)

    def _on_value(self, node: ir.Node, x: str, kind: str) -> str:
        if isinstance(node, ir.Str):
            return self._str(self._text(x, kind), node.pattern, node.cased)
        if isinstance(node, ir.Num):
            if kind in ("int", "float"):
                return f"({x} = {node.value!r})"
            return f"({self._text(x, kind)} = {self.d.literal(_num_text(node.value))})"
        if isinstance(node, ir.Regex):
            flags = f"(?{node.flags})" if node.flags else ""
            return self.d.t("regex", x=self._text(x, kind), v=self.d.literal(flags + node.regex))
        if isinstance(node, ir.Cmp):
            op = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[node.op]
            num = x if kind in ("int", "float") else self.d.t("double", x=x)
            return f"({num} {op} {node.value!r})"
        if isinstance(node, ir.Cidr):
            return self._cidr(self._text(x, kind), node.network)
        if isinstance(node, ir.Bool):
            if kind == "bool":
                return f"({x} = {'TRUE' if node.value else 'FALSE'})"
            return f"({self.d.t('lower', x=self._text(x, kind))} = {self.d.literal(str(node.value).lower())})"
        if isinstance(node, ir.TimePart):
            ts = x if kind == "ts" else self.d.t("timestamp", x=self._text(x, kind))
            return f"({self.d.t(node.part, x=ts)} = {int(node.value)})"
        if isinstance(node, ir.FieldRef):
            return self._fieldref(node, x, kind)
        raise CompileError(f"cannot compile {type(node).__name__}")

    def _str(self, x: str, pattern: ir.Pattern, cased: bool) -> str:
        if not cased:
            x = self.d.t("lower", x=x)
            pattern = tuple((k, t.lower()) for k, t in pattern)
        kinds = [k for k, _ in pattern]
        lits = [t for k, t in pattern if k == ir.LIT]
        if ir.ONE not in kinds:
            if kinds == [ir.LIT] or not kinds:
                return f"({x} = {self.d.literal(lits[0] if lits else '')})"
            if kinds == [ir.ANY]:
                return f"({x} IS NOT NULL)"
            if kinds == [ir.ANY, ir.LIT, ir.ANY]:
                return self.d.t("contains", x=x, v=self.d.literal(lits[0]))
            if kinds == [ir.LIT, ir.ANY]:
                return self.d.t("startswith", x=x, v=self.d.literal(lits[0]))
            if kinds == [ir.ANY, ir.LIT]:
                return self.d.t("endswith", x=x, v=self.d.literal(lits[0]))
        like = "".join("%" if k == ir.ANY else "_" if k == ir.ONE else _escape_like(t) for k, t in pattern)
        return self.d.t("like", x=x, v=self.d.literal(like))

    def _cidr(self, x: str, network: str) -> str:
        net = ipaddress.ip_network(network, strict=False)
        if net.version == 4:
            octet = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
            valid = self.d.t("regex", x=x, v=self.d.literal(rf"^{octet}(\.{octet}){{3}}$"))
            lo, hi = int(net.network_address), int(net.broadcast_address)
            return f"({valid} AND {self.d.t('ipv4_int', x=x)} BETWEEN {lo} AND {hi})"
        low = self.d.t("lower", x=x)
        valid = self.d.t("regex", x=low, v=self.d.literal(r"^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$"))
        lo_hex = f"{int(net.network_address):032x}"
        hi_hex = f"{int(net.broadcast_address):032x}"
        return (f"({valid} AND {self.d.t('ipv6_hex', x=low)} BETWEEN {self.d.literal(lo_hex)} "
                f"AND {self.d.literal(hi_hex)})")

    def _fieldref(self, node: ir.FieldRef, x: str, kind: str) -> str:
        other = self.resolve(node.other)
        if other.kind == "absent":
            return "FALSE"
        a, b = self._text(x, kind), self._text(self.expr(other), other.kind)
        if not node.cased:
            a, b = self.d.t("lower", x=a), self.d.t("lower", x=b)
        if node.mode == "startswith":
            return self.d.t("startswith", x=a, v=b)
        if node.mode == "endswith":
            return self.d.t("endswith", x=a, v=b)
        return f"({a} = {b})"

    def _exists(self, node: ir.Exists) -> str:
        ref = self.resolve(node.field)
        if ref.kind == "absent":
            return "FALSE" if node.exists else "TRUE"
        if ref.key is not None:
            has = self.d.t("map_has", m=self.d.ident(ref.column or ""), k=self.d.literal(ref.key))
            has = f"coalesce({has}, FALSE)"
        else:
            has = f"({self.expr(ref)} IS NOT NULL)"
        return has if node.exists else f"(NOT {has})"


def _num_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

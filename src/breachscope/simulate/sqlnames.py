"""Table and column names in the simulated statements and dumps: quoted where PostgreSQL or MySQL reserve them."""

from __future__ import annotations

#: words PostgreSQL or MySQL reserve: a table or column named so is written quoted ("order"; `order` in MySQL)
RESERVED = frozenset((
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between",
    "binary", "both", "by", "case", "cast", "change", "check", "collate", "collation", "column", "condition",
    "constraint", "create", "cross", "current_catalog", "current_date", "current_role", "current_schema",
    "current_time", "current_timestamp", "current_user", "default", "deferrable", "delete", "desc", "describe",
    "distinct", "div", "do", "else", "end", "except", "exists", "false", "fetch", "for", "foreign", "freeze",
    "from", "full", "function", "grant", "group", "having", "ilike", "in", "index", "initially", "inner", "insert",
    "intersect", "interval", "into", "is", "isnull", "join", "key", "keys", "lateral", "leading", "left", "like",
    "limit", "localtime", "localtimestamp", "match", "mod", "natural", "not", "notnull", "null", "offset", "on",
    "only", "option", "or", "order", "outer", "overlaps", "placing", "primary", "range", "rank", "read",
    "references", "release", "returning", "right", "row", "rows", "schema", "select", "session_user", "show",
    "signal", "similar", "some", "sql", "symmetric", "table", "tablesample", "then", "to", "trailing", "trigger",
    "true", "union", "unique", "update", "usage", "user", "using", "values", "variadic", "verbose", "when", "where",
    "window", "with", "write"
))


def ident(name: str) -> str:
    """A table or column name as the statements write it (PostgreSQL's quotes where the name is reserved)."""
    return f'"{name}"' if name in RESERVED else name

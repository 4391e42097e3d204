"""What a statement is: parse the logged text with sqlglot (PostgreSQL or MySQL dialect) into the read
query whose rows it returned, or the query of the rows a write reached, or nothing to replay.

Statement text is attacker-controlled: it is only ever parsed into a tree, never run as written; the
replay runs a query generated from the tree (scope/rewrite.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # it warns on every statement it falls back on

READ, WRITE, DESTROY, IGNORE, UNPARSED = "read", "write", "destroy", "ignore", "unparsed"

_PREPARE = re.compile(r"^\s*PREPARE\s+[\w$]+\s*(?:\((?P<types>[^)]*)\))?\s+AS\s+(?P<body>.*)$", re.I | re.S)
_DECLARE = re.compile(
    r"^\s*DECLARE\s+[\w$]+\s+(?:(?:BINARY|ASENSITIVE|INSENSITIVE|NO|SCROLL)\s+)*CURSOR\s+"
    r"(?:WITH(?:OUT)?\s+HOLD\s+)?FOR\s+(?P<body>.*)$", re.I | re.S)
_OUTFILE = re.compile(r"\bINTO\s+(?:OUTFILE|DUMPFILE)\s+'(?:[^'\\]|\\.|'')*'.*?(?=\bFROM\b|;?\s*\Z)", re.I | re.S)
_NOT_DATA = frozenset({"PREPARE", "EXECUTE", "DEALLOCATE", "EXPLAIN"})
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "mysql", "performance_schema", "sys"})


@dataclass(frozen=True)
class Parsed:
    """The query to replay (a SELECT or set operation), or why there is none."""

    kind: str  # read | write | destroy | ignore | unparsed
    query: exp.Expr | None
    reason: str | None = None  # potential or ignore reason
    param_types: tuple[str, ...] = ()  # PREPARE q(text, int): types of $1, $2
    cursor: bool = False
    tables: tuple[exp.Table, ...] = ()  # tables a destroy/write named, for the reach of the whole table


def statement_body(text: str, dialect: str) -> tuple[str, tuple[str, ...], bool]:
    """The text sqlglot parses (PREPARE/DECLARE prelude and MySQL's INTO OUTFILE removed), the
    PREPARE parameter types, whether it declares a cursor."""
    body, types, cursor = _prelude(text)
    if dialect == "mysql":
        body = _OUTFILE.sub(" ", body)
    return body, types, cursor


def literal_tokens(body: str, dialect: str) -> list[tuple[int, int, str, str]] | None:
    """(start, end offset, kind, value) of the string and number literals of body (None if it does not
    tokenize): what differs between statements of the same shape."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(body)
    except Exception:
        return None
    return [(t.start, t.end, t.token_type.name, t.text) for t in tokens
            if t.token_type.name in ("STRING", "NUMBER", "NATIONAL_STRING")]


def parse_statement(text: str, dialect: str, command: str | None = None) -> Parsed:
    if command and command.upper() in _NOT_DATA:
        return Parsed(IGNORE, None, "prepared or explained, not executed")
    body, types, cursor = statement_body(text, dialect)
    if re.match(r"^\s*EXPLAIN\b", body, re.I) and not re.match(r"^\s*EXPLAIN\s*(\(.*\bANALY[SZ]E\b|ANALY[SZ]E)",
                                                                body, re.I | re.S):
        return Parsed(IGNORE, None, "EXPLAIN without ANALYZE returns no rows")
    try:
        trees = [t for t in sqlglot.parse(body, read=dialect, max_nodes=_node_budget(body)) if t is not None]
    except Exception as exc:  # sqlglot raises several kinds; evidence text must never stop the run
        why = "too complex for the parser" if "Maximum number of AST nodes" in str(exc) else type(exc).__name__
        return Parsed(UNPARSED, None, f"parse failure: {why}")
    if len(trees) != 1:
        return Parsed(UNPARSED, None, "several statements in one record" if trees else "empty statement")
    parsed = classify(trees[0])
    if cursor and parsed.kind == READ:
        return Parsed(READ, parsed.query, "cursor: the rows fetched are unknown", types, cursor=True)
    return Parsed(parsed.kind, parsed.query, parsed.reason, types, parsed.cursor, parsed.tables)


def _node_budget(body: str) -> int:
    """sqlglot retries a chain of JOINs without ON exponentially (2^joins nodes: 30 joins take hours;
    found by fuzzing); real statements build at most about one node per character (an IN list of
    one-digit values). Beyond this, the statement is unparsed (and scoped as such) instead of hanging
    the run. The budget bounds the time too: a 7 KB chain of JOINs spent 9 s of CPU at 10 nodes a
    character, hence 2."""
    return 5_000 + 2 * len(body)


def _prelude(text: str) -> tuple[str, tuple[str, ...], bool]:
    """PREPARE name(types) AS <query> / DECLARE c CURSOR FOR <query> -> the query (and the types)."""
    m = _PREPARE.match(text)
    if m:
        types = tuple(t.strip() for t in (m.group("types") or "").split(",") if t.strip())
        return m.group("body"), types, False
    m = _DECLARE.match(text)
    if m:
        return m.group("body"), (), True
    return text, (), False


def classify(tree: exp.Expr) -> Parsed:
    if isinstance(tree, exp.Select) and tree.args.get("into") is not None:
        tree = tree.copy()
        tree.set("into", None)
        return Parsed(WRITE, tree, "SELECT INTO copies rows into a table")
    if isinstance(tree, exp.Select | exp.SetOperation):
        return Parsed(READ, tree)
    if isinstance(tree, exp.Subquery):
        return classify(tree.unnest())
    if isinstance(tree, exp.Copy):
        return _copy(tree)
    if isinstance(tree, exp.Insert):
        src = tree.expression
        if isinstance(src, exp.Select | exp.SetOperation):
            return Parsed(WRITE, src, "INSERT ... SELECT copies rows into a table")
        return Parsed(IGNORE, None, "insert of new rows")
    if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Select | exp.SetOperation):
        return Parsed(WRITE, tree.expression, "CREATE TABLE AS copies rows into a table")
    if isinstance(tree, exp.Update):
        return _update(tree)
    if isinstance(tree, exp.Delete):
        return _delete(tree)
    if isinstance(tree, exp.TruncateTable):
        return Parsed(DESTROY, None, "TRUNCATE removes every row",  # only tables: odd text parses to others
                      tables=tuple(e for e in tree.expressions if isinstance(e, exp.Table)))
    if isinstance(tree, exp.Drop) and (tree.args.get("kind") or "").upper() == "TABLE":
        return Parsed(DESTROY, None, "DROP TABLE removes every row", tables=tuple(tree.find_all(exp.Table)))
    if isinstance(tree, exp.Merge):
        return Parsed(DESTROY, None, "MERGE may change any row of its tables", tables=tuple(tree.find_all(exp.Table)))
    if isinstance(tree, exp.Command):
        return Parsed(UNPARSED, None, f"unsupported statement: {str(tree.this).upper()[:30]}")
    return Parsed(IGNORE, None, "not a data statement")


def _copy(tree: exp.Copy) -> Parsed:
    if tree.args.get("kind"):  # COPY ... FROM: a load
        return Parsed(IGNORE, None, "COPY FROM loads new rows")
    src = tree.this
    if isinstance(src, exp.Subquery):
        return classify(src.unnest())
    if isinstance(src, exp.Schema) and isinstance(src.this, exp.Table):
        cols = [exp.column(i.name, quoted=i.args.get("quoted")) for i in src.expressions]
        return Parsed(READ, exp.select(*cols).from_(src.this.copy()))
    if isinstance(src, exp.Table):
        return Parsed(READ, exp.select(exp.Star()).from_(src.copy()))
    return Parsed(UNPARSED, None, "unsupported COPY source")


def _update(tree: exp.Update) -> Parsed:
    """The rows an UPDATE reached: its target (joined to FROM), filtered by WHERE; the columns it set."""
    target = tree.this
    if not isinstance(target, exp.Table):
        return Parsed(UNPARSED, None, "unsupported UPDATE target")
    alias = target.alias_or_name
    cols: list[exp.Expr] = [exp.column(e.this.name, table=alias) for e in tree.expressions
                            if isinstance(e, exp.EQ) and isinstance(e.this, exp.Column)]
    returning = tree.args.get("returning")
    cols += [r.copy() for r in (returning.expressions if returning else [])]
    q = exp.select(*(cols or [exp.Star()])).from_(target.copy())
    frm = tree.args.get("from_")
    if frm is not None:
        q = q.join(frm.this.copy(), join_type="cross")
    if tree.args.get("where") is not None:
        q.set("where", tree.args["where"].copy())
    return Parsed(WRITE, q, "UPDATE changed the rows it reached")


def _delete(tree: exp.Delete) -> Parsed:
    target = tree.this
    if not isinstance(target, exp.Table):
        return Parsed(UNPARSED, None, "unsupported DELETE target")
    q = exp.select(exp.Star()).from_(target.copy())
    for u in tree.args.get("using") or []:
        q = q.join(u.copy(), join_type="cross")
    if tree.args.get("where") is not None:
        q.set("where", tree.args["where"].copy())
    return Parsed(WRITE, q, "DELETE removed the rows it reached")


def canonical_table(t: exp.Table, dialect: str, database: str | None) -> tuple[str | None, bool]:
    """(`table` or `schema.table` as the inventory names it, is a system catalog). MySQL's `db.table`
    names the database: the inventory's database is the default one."""
    name = t.name.lower()
    schema = (t.db or "").lower()
    catalog = (t.catalog or "").lower()
    if not name:
        return None, False
    if schema in SYSTEM_SCHEMAS or name.startswith("pg_"):
        return None, True
    if dialect == "mysql":
        if schema and database and schema != database.lower():
            return f"{schema}.{name}", False
        return name, False
    if catalog and database and catalog != database.lower():
        return f"{catalog}.{schema}.{name}", False
    return (name if schema in ("", "public") else f"{schema}.{name}"), False


def table_names_in_text(text: str, objects: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    """Dataset tables a statement that could not be parsed names: the audit record's object names
    (pgAudit log_relation), then whole-word matches of the table names in the text."""
    found = set()
    for o in objects:
        o = o.lower()
        bare = o[len("public."):] if o.startswith("public.") else o
        if bare in known:
            found.add(bare)
    lowered = text.lower()
    for t in known:
        bare = t.rsplit(".", 1)[-1]
        if re.search(r"(?<![\w$])" + re.escape(bare) + r"(?![\w$])", lowered):
            found.add(t)
    return tuple(sorted(found))

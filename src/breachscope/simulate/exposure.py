"""The truth about the data: run the attacker's statements on the snapshot (DuckDB over the Parquet
files, parameters bound) and resolve the returned rows to data subjects with the inventory.

A statement exposes, for each table it projects columns of, the rows whose keys it returned and the
categories of the projected columns. Keys: customers.customer_id, contracts.contract_no,
contacts.contact_id (every attacker statement projects the key of each table it reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from sqlglot import exp

from breachscope.model.sql import quote_literal
from breachscope.simulate.attackdb import Query

ROW_KEYS = {"customers": "customer_id", "contracts": "contract_no", "contacts": "contact_id"}


@dataclass
class StatementResult:
    ref: str
    rows: int
    columns: dict[str, list[str]]  # table -> projected columns
    keys: dict[str, set]  # table -> returned row keys
    candidate_keys: dict[str, set] = field(default_factory=dict)  # uncertain statements: rows it may have returned
    table: pa.Table | None = None  # the rows themselves (for \copy output files)


NTT_TABLES = ("customers", "contracts", "contacts", "service_usage", "orders")


def connect(snapshot: Path, tables: tuple[str, ...] = NTT_TABLES) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # DuckDB's own bar goes to stdout, even a pipe
    for name in tables:
        path = quote_literal(str(snapshot / f"{name}.parquet"))
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({path})')
    return con


def projection(sql: str, dialect: str = "postgres") -> list[tuple[str, str]]:
    """(table, column) of every output column of a SELECT, from its text (in the server's dialect)."""
    tree = sqlglot.parse_one(sql, read=dialect)
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    out = []
    for e in tree.expressions:
        col = e.this if isinstance(e, exp.Alias) else e
        if isinstance(col, exp.Column):
            out.append((aliases[col.table] if col.table else next(iter(aliases.values())), col.name))
        else:
            out.append(("", e.alias_or_name))
    return out


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[int]) -> pa.Table:
    return con.sql(sql, params=params or None).to_arrow_table()


def _as_written(con: duckdb.DuckDBPyConnection, q: Query) -> tuple[pa.Table, pa.Table | None]:
    """A statement of another dialect than PostgreSQL's, run from its text as the server logged it (parsed
    with sqlglot in its dialect, written for DuckDB): its rows, and for a LIMIT without ORDER BY the rows
    in the server's physical order (what it returned) then every row it could have returned."""
    tree = sqlglot.parse_one(q.select_sql, read=q.dialect)
    if q.certain:
        return _rows(con, tree.sql(dialect="duckdb"), []), None
    if not isinstance(tree, exp.Select) or tree.args.get("order") is not None or tree.args.get("limit") is None:
        raise ValueError("probe statement layout changed")
    ordered = tree.copy().order_by(q.physical_order, dialect=q.dialect)
    unlimited = tree.copy()
    unlimited.set("limit", None)
    return _rows(con, ordered.sql(dialect="duckdb"), []), _rows(con, unlimited.sql(dialect="duckdb"), [])


def run(con: duckdb.DuckDBPyConnection, q: Query, keep_rows: bool = False,
        row_keys: dict[str, str] = ROW_KEYS) -> StatementResult:
    """The rows a statement returned; `row_keys` names the column that identifies a row of each table."""
    if q.dialect != "postgres":
        table, maybe = _as_written(con, q)
        return _result(q, table, maybe, projection(q.select_sql, q.dialect), keep_rows, row_keys)
    table = _rows(con, q.select_sql, q.params)
    cols = projection(q.select_sql)
    if not q.certain:  # what the server returned: the first rows in its physical order
        candidates = table
        ordered = q.select_sql.replace("\n LIMIT $3", f"\n ORDER BY {q.physical_order}\n LIMIT $3")
        if ordered == q.select_sql:
            raise ValueError("probe statement layout changed")
        table = _rows(con, ordered, q.params)
        candidates = _rows(con, q.select_sql.replace("\n LIMIT $3", ""), q.params[:2])
    return _result(q, table, None if q.certain else candidates, cols, keep_rows, row_keys)


def _result(q: Query, table: pa.Table, candidates: pa.Table | None, cols: list[tuple[str, str]],
            keep_rows: bool, row_keys: dict[str, str]) -> StatementResult:
    columns: dict[str, list[str]] = {}
    for t, c in cols:
        if t:
            columns.setdefault(t, []).append(c)
    res = StatementResult(q.ref, table.num_rows, columns, {}, {}, table if keep_rows else None)
    for t in columns:
        key = row_keys[t]
        if key not in columns[t]:
            raise ValueError(f"{q.ref}: statement reads {t} without projecting its key {key}")
        pos = next(i for i, (tt, c) in enumerate(cols) if tt == t and c == key)
        res.keys[t] = set(table.column(pos).to_pylist())
        if candidates is not None:
            res.candidate_keys[t] = set(candidates.column(pos).to_pylist())
    return res


@dataclass
class Scope:
    """Subjects of the attack, as a correct scoping of the evidence would find them."""

    organizations: list[int]  # affected (actually returned, not excluded)
    persons: list[int]
    categories: list[str]
    excluded: dict[int, str]  # organization -> exclusion rule
    confirmed_organizations: list[int]
    confirmed_persons: list[int]
    potential_organizations: list[int]  # may have been returned (uncertain statements), not confirmed
    potential_persons: list[int]
    by_statement: dict[str, dict[str, int]]
    excluded_persons: dict[int, str] = field(default_factory=dict)  # person -> exclusion rule


def resolve(con: duckdb.DuckDBPyConnection, results: list[StatementResult], certain: dict[str, bool],
            inventory: dict) -> Scope:
    """Subjects and categories from the statements' exposures, with the inventory's rules."""
    contracts = con.execute("SELECT contract_no, customer_id FROM contracts").fetchall()
    contract_owner = dict(contracts)
    contact_owner = dict(con.execute("SELECT contact_id, customer_id FROM contacts").fetchall())
    rule = inventory["exclusions"][0]
    excluded_rows = {r[0] for r in con.execute(
        f"SELECT contract_no FROM {rule['table']} WHERE {rule['where']}").fetchall()}
    cats_of = {d["table"]: d["columns"] for d in inventory["datasets"]}

    def orgs(keys: dict[str, set], count_excluded: bool) -> tuple[set, set]:
        affected, touched = set(), set()
        for t, ks in keys.items():
            if t == "customers":
                affected |= ks
            elif t == "contracts":
                for k in ks:
                    touched.add(contract_owner[k])
                    if k not in excluded_rows:
                        affected.add(contract_owner[k])
        return affected, touched - affected

    confirmed_o, confirmed_p, actual_o, actual_p = set(), set(), set(), set()
    maybe_o, maybe_p, touched_excluded = set(), set(), set()
    categories: set[str] = set()
    by_statement: dict[str, dict[str, int]] = {}
    for r in results:
        a, ex = orgs(r.keys, True)
        persons = set(r.keys.get("contacts", ()))
        actual_o |= a
        actual_p |= persons
        touched_excluded |= ex
        if certain[r.ref]:
            confirmed_o |= a
            confirmed_p |= persons
        else:
            ca, _ = orgs(r.candidate_keys, True)
            maybe_o |= ca
            maybe_p |= set(r.candidate_keys.get("contacts", ()))
        for t, cols in r.columns.items():
            if r.keys.get(t):
                for c in cols:
                    categories.update(cats_of[t][c])
        by_statement[r.ref] = {"rows": r.rows, "organizations": len(a), "persons": len(persons)}
    # a person's organization is affected whenever the person is (the statements are built that way)
    person_orgs = {contact_owner[p] for p in actual_p}
    if not person_orgs <= actual_o:
        raise ValueError("an exposed person's organization is not itself exposed; scenario invariant broken")
    if actual_o != confirmed_o:
        raise ValueError("the uncertain statement returned organizations no certain statement did")
    excluded = {o: rule["name"] for o in sorted(touched_excluded - actual_o)}
    return Scope(sorted(actual_o), sorted(actual_p), sorted(categories), excluded, sorted(confirmed_o),
                 sorted(confirmed_p), sorted(maybe_o - confirmed_o), sorted(maybe_p - confirmed_p), by_statement)


def np_sorted(values: set) -> list[int]:
    return [int(v) for v in np.sort(np.fromiter(values, dtype=np.int64))]

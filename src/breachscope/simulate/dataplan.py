"""The attacker's statements against a database described by an inventory (datamodel.py), and the ranges of
subjects they cover: what attackdb.py does for the NTT order database, for any tables.

The attacker counts the tables, pages through the main subjects' table and the tables that hold the main
subject's key by key range (a script, bind parameters), probes with a LIMIT without ORDER BY (the log cannot
tell which rows it returned), and exports two files with psql's \\copy. The ranges, in the main subjects'
order (indexes into their keys), are chosen so that exactly `target` subjects of the main kind are affected
once the inventory's exclusions apply:

    [a0 ...... e1 ...... c1 ........ a1][a1+1 ........ b1][b1+1 .. u1]
     pages: main table                   COPY main table   (probe candidates only)
     pages: linked tables (to c1)                 [u0 ............. u1]  LIMIT without ORDER BY
     COPY main joined with the first linked table (to e1)
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot

from breachscope.model.errors import UsageError
from breachscope.simulate.attackdb import PlanOptions, Query, in_mysql, psql_copy
from breachscope.simulate.datamodel import DataModel, TableModel, ident


def linked(model: DataModel) -> list[TableModel]:
    """The tables other than the main one that hold the main subject's key (ranges reach them)."""
    return [t for t in model.tables if t.name != model.main and model.owner_column(t)]


def excluded_mask(con: duckdb.DuckDBPyConnection, model: DataModel, table: str, rows: int) -> np.ndarray:
    """Rows of `table` (in stored order) that one of the inventory's exclusions takes out of scope."""
    mask = np.zeros(rows, dtype=bool)
    for e in model.inventory.exclusions_for(table):
        predicate = sqlglot.transpile(e.where, read="postgres", write="duckdb")[0]
        hit = con.sql(f"SELECT row_number() OVER () - 1 AS i, ({predicate}) AS x FROM {ident(table)}").fetchnumpy()
        mask[np.asarray(hit["i"])[np.asarray(hit["x"], dtype=bool)]] = True
    return mask


def plan(model: DataModel, tables: dict[str, pa.Table], target: int, dialect: str = "postgres",
         options: PlanOptions | None = None) -> tuple[dict, list[Query]]:
    """(the ranges as the truth reports them, the statements as the server of the dialect receives them)."""
    con = duckdb.connect()
    try:
        for name, t in tables.items():
            con.register(name, t)
        r = _ranges(con, model, tables, target, options or PlanOptions())
    finally:
        con.close()
    qs = _statements(model, tables, r)
    ids = np.asarray(tables[model.main][model.main_table.key])
    shown = {"first": ids[r["a0"]], "export_to": ids[r["e1"]], "linked_pages_to": ids[r["c1"]],
             "pages_to": ids[r["a1"]], "copy_to": ids[r["b1"]],
             **({"probe_from": ids[r["u0"]], "probe_to": ids[r["u1"]]} if r["limit"] else {})}
    ranges = {"subject_table": model.main, "subject_key": model.main_table.key,
              **{k: int(v) for k, v in shown.items()}, "page_size": r["page"], "probe_limit": r["limit"]}
    return ranges, (in_mysql(qs) if dialect == "mysql" else qs)


def _ranges(con: duckdb.DuckDBPyConnection, model: DataModel, tables: dict[str, pa.Table],
            target: int, options: PlanOptions) -> dict[str, int]:
    main = model.main_table
    ids = np.asarray(tables[main.name][main.key])
    n = len(ids)
    main_ok = ~excluded_mask(con, model, main.name, n)
    child_ok = np.zeros(n, dtype=bool)  # the subject has a row in a linked table that no exclusion takes out
    for t in linked(model):
        owner = np.asarray(tables[t.name][str(model.owner_column(t))]) - ids[0]
        ok = ~excluded_mask(con, model, t.name, len(owner))
        child_ok[np.unique(owner[ok])] = True
    either = np.cumsum(main_ok | child_ok)
    if either[-1] < target + 20:
        raise ValueError(f"the database holds only {either[-1]} subjects in scope, fewer than the target {target}")
    c1 = round(0.5 * int(np.searchsorted(either, target)))
    base = int(np.count_nonzero((child_ok & ~main_ok)[:c1 + 1]))  # affected through linked rows only
    # the first b1 where the main table's rows in scope make up the rest (the count grows by 0 or 1 per row)
    b1 = max(c1, int(np.searchsorted(np.cumsum(main_ok), target - base)))
    if int(np.count_nonzero(main_ok[:b1 + 1])) + base != target:
        raise ValueError("no range of the main subjects gives the target exactly")
    page, limit = options.page(target), options.limit(target)
    a1 = round(0.8 * b1)
    u0 = b1 - limit - max(5, limit // 7) + 1  # the probe's first `limit` rows (key order) all lie in [u0, b1]
    if limit and u0 <= a1:
        raise UsageError(f"database_sessions: probe_limit {limit} is too large for the {target:,} subjects the "
                         "attacker reads (lower it, or raise --customers)")
    u1 = min(n - 1, b1 + max(10, round(0.02 * b1)))
    return {"a0": 0, "e1": max(1, round(0.16 * b1)), "c1": c1, "a1": a1, "b1": b1, "u0": u0, "u1": u1,
            "page": page, "limit": limit}


def _cols(t: TableModel, alias: str = "") -> list[str]:
    """The row's key, its subject's key when that is another column, then its personal columns."""
    names = dict.fromkeys([t.key, t.subject_key, *t.personal])
    return [f"{alias}{ident(c)}" for c in names]


def _statements(model: DataModel, tables: dict[str, pa.Table], r: dict[str, int]) -> list[Query]:
    main = model.main_table
    key, table = ident(main.key), ident(main.name)
    ids = np.asarray(tables[main.name][main.key])
    cid = lambda i: int(ids[i])  # noqa: E731
    qs: list[Query] = []

    def ref() -> str:
        return f"q{len(qs) + 1:02d}"

    qs.append(Query(ref(), "recon", "SELECT current_user, version();", "SELECT current_user, version()", session=1))
    for t in [main, *linked(model)]:
        sql = f"SELECT count(*) FROM {ident(t.name)};"
        qs.append(Query(ref(), "recon", sql, sql.rstrip(";"), relations=(f"public.{ident(t.name)}",), session=1))
    page_main = (f"SELECT {', '.join(_cols(main))}\n  FROM {table}\n WHERE {key} BETWEEN $1 AND $2\n"
                 f" ORDER BY {key}\n LIMIT $3 OFFSET $4")
    rows = r["a1"] - r["a0"] + 1
    pages = rows // r["page"] + 1  # the script stops after the first short page
    for p in range(pages):
        qs.append(Query(ref(), "page_main", page_main, page_main,
                        [cid(r["a0"]), cid(r["a1"]), r["page"], p * r["page"]], (f"public.{ident(main.name)}",),
                        client="script", session=2 if p < (pages + 1) // 2 else 3))
    for t in linked(model):
        owner = str(model.owner_column(t))
        sql = (f"SELECT {', '.join(_cols(t))}\n  FROM {ident(t.name)}\n WHERE {ident(owner)} BETWEEN $1 AND $2\n"
               f" ORDER BY {ident(t.key)}\n LIMIT $3 OFFSET $4")
        of = np.asarray(tables[t.name][owner])
        n_rows = int(np.count_nonzero((of >= cid(r["a0"])) & (of <= cid(r["c1"]))))
        for p in range(n_rows // r["page"] + 1):
            qs.append(Query(ref(), f"page_{t.name}", sql, sql, [cid(r["a0"]), cid(r["c1"]), r["page"], p * r["page"]],
                            (f"public.{ident(t.name)}",), client="script", session=4))
    probe = f"SELECT {', '.join(_cols(main))}\n  FROM {table}\n WHERE {key} BETWEEN $1 AND $2\n LIMIT $3"
    if r["limit"]:
        qs.append(Query(ref(), "probe_limit", probe, probe, [cid(r["u0"]), cid(r["u1"]), r["limit"]],
                        (f"public.{ident(main.name)}",), certain=False, client="script", session=5,
                        physical_order=key))
    inner = (f"SELECT {', '.join(_cols(main))} FROM {table} WHERE {key} BETWEEN {cid(r['a1'] + 1)} "
             f"AND {cid(r['b1'])} ORDER BY {key}")
    qs.append(Query(ref(), "copy_main", psql_copy(inner), inner, relations=(f"public.{ident(main.name)}",), copy=True,
                    session=6, output_file=f"{main.name}.csv"))
    first = linked(model)[:1]
    rel: tuple[str, ...] = (f"public.{ident(main.name)}",)
    if first:
        t = first[0]
        owner = str(model.owner_column(t))
        theirs = [f"x.{ident(c)}" for c in dict.fromkeys([t.key, *t.personal])
                  if c != owner and c not in main.personal and c != main.key]
        inner = (f"SELECT {', '.join(_cols(main, 's.') + theirs)} FROM {table} s "
                 f"JOIN {ident(t.name)} x ON x.{ident(owner)} = s.{key} "
                 f"WHERE s.{key} BETWEEN {cid(r['a0'])} AND {cid(r['e1'])} ORDER BY s.{key}, x.{ident(t.key)}")
        rel = (f"public.{ident(main.name)}", f"public.{ident(t.name)}")
    else:
        inner = (f"SELECT {', '.join(_cols(main))} FROM {table} WHERE {key} BETWEEN {cid(r['a0'])} "
                 f"AND {cid(r['e1'])} ORDER BY {key}")
    qs.append(Query(ref(), "copy_export", psql_copy(inner), inner, relations=rel, copy=True, session=7,
                    output_file=f"{main.name}_export.csv"))
    return qs

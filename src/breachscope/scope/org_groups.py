"""The organization groups of the affected organizations (table `grp(id, grp)` beside scope/levels.py's
tables), with scope/orgs.py's rules, without one Python record per organization.

An organization can only join another through an exact key value they share or a normalized name they
share; similar names (a name and its branch) only make a review item. So only the records that share a
key value or a name, that carry a branch word or whose name is another's base go through
`group_organizations`; every other record is a group of its own. Key values and names are normalized
by orgs.py's functions (digits-only keys, the common case, in Arrow).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.model.inventory import Inventory
from breachscope.scope.backends import Backend
from breachscope.scope.orgs import OrgRecord, branch_bases, group_organizations, norm_key, normalize_name
from breachscope.scope.snapshot_rows import ids_of, lookup

CHUNK = 65_536  # names normalized in Python per slice (memory stays flat)


def group_table(con: duckdb.DuckDBPyConnection, inventory: Inventory,
                backend: Backend) -> list[tuple[str, tuple[str, ...], str]]:
    """CREATE TABLE grp; returns the review items of the grouping."""
    con.execute("CREATE TABLE grp (id VARCHAR, grp VARCHAR)")
    org = inventory.subject("organization")
    if org is None:
        return []
    ids = ids_of(con, "SELECT id FROM subj WHERE subject = 'organization' AND rank > 0 ORDER BY id")
    if not len(ids):
        return []
    keys = []
    # the subject key itself may be a match key: the inventory then says that every record is an organization
    # of its own (different keys never merge, not even by name)
    plain = [k for k in org.match_keys if "." not in k]
    if plain:
        t = lookup(backend, org.table, org.key, plain, ids)
        keys += [_keys(t.column(0), k, t.column(1 + i)) for i, k in enumerate(plain)]
    for qualified in (k for k in org.match_keys if "." in k):
        table, _, col = qualified.rpartition(".")
        ds = inventory.dataset(table)
        if ds is None or ds.subject != "organization":
            continue
        t = lookup(backend, table, ds.subject_key, [col], ids)
        keys.append(_keys(t.column(0), qualified, t.column(1)))
    con.register("ok_rows", pa.concat_tables(keys) if keys else pa.table(
        {"id": pa.array([], pa.string()), "k": pa.array([], pa.string()), "v": pa.array([], pa.string())}))
    con.execute("CREATE TABLE okeys AS SELECT DISTINCT id, k, v FROM ok_rows WHERE v <> ''")
    con.unregister("ok_rows")
    _names(con)
    cand = con.sql("""
        WITH shared_key AS (SELECT k, v FROM okeys GROUP BY k, v HAVING count(*) > 1),
        shared_name AS (SELECT norm FROM onames WHERE norm <> '' GROUP BY norm HAVING count(*) > 1)
        SELECT id FROM okeys SEMI JOIN shared_key USING (k, v)
        UNION SELECT id FROM onames SEMI JOIN shared_name USING (norm)
        UNION SELECT id FROM obases
        UNION SELECT id FROM onames WHERE norm IN (SELECT base FROM obases)""").to_arrow_table()
    con.register("cand", cand)
    names = {r[0]: r[1] for r in con.execute(
        "SELECT n.id, n.name FROM onames n SEMI JOIN cand USING (id)").fetchall()}
    values: dict[str, list[tuple[str, str]]] = {i: [] for i in names}
    for i, k, v in con.execute("SELECT id, k, v FROM okeys SEMI JOIN cand USING (id)").fetchall():
        values[i].append((k, v))
    records = [OrgRecord(i, names[i], tuple(sorted(set(values[i])))) for i in names]
    grouping = group_organizations(records)
    con.register("grp_rows", pa.table({"id": pa.array(list(grouping.group_of), pa.string()),
                                       "grp": pa.array(list(grouping.group_of.values()), pa.string())}))
    con.execute("INSERT INTO grp SELECT n.id, coalesce(g.grp, n.id) FROM onames n LEFT JOIN grp_rows g USING (id)")
    con.unregister("grp_rows")
    con.unregister("cand")
    con.execute("DROP TABLE okeys; DROP TABLE onames; DROP TABLE obases")
    return grouping.review


def _keys(ids: pa.ChunkedArray, key: str, values: pa.ChunkedArray) -> pa.Table:
    """(id, match key, normalized value): digits-only values are their own normal form."""
    v = values.combine_chunks().cast(pa.string())
    plain = pc.fill_null(pc.match_substring_regex(v, "^[0-9]+$"), False)
    if not pc.all(plain).as_py():
        v = pa.array([x if ok else norm_key(x) for x, ok in zip(v.to_pylist(), plain.to_pylist(), strict=True)],
                     pa.string())
    return pa.table({"id": ids.combine_chunks().cast(pa.string()), "k": pa.repeat(pa.scalar(key), len(v)), "v": v})


def _names(con: duckdb.DuckDBPyConnection) -> None:
    """onames(id, name, norm) of the affected organizations, and obases(id, base): the shorter names a name
    with a branch word may be a branch of."""
    con.execute("""CREATE TABLE onames_src AS SELECT s.id, nm.name FROM subj s LEFT JOIN nm USING (subject, id)
                   WHERE s.subject = 'organization' AND s.rank > 0""")
    con.execute("CREATE TABLE onames (id VARCHAR, name VARCHAR, norm VARCHAR)")
    con.execute("CREATE TABLE obases (id VARCHAR, base VARCHAR)")
    src = con.sql("SELECT id, name FROM onames_src").to_arrow_table()  # Arrow: a query on con ends a reader
    for batch in src.to_batches(max_chunksize=CHUNK):
        norms, base_ids, bases = [], [], []
        for i, name in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            n = normalize_name(name)
            norms.append(n)
            for b in branch_bases(n):
                base_ids.append(i)
                bases.append(b)
        con.register("on_rows", pa.table({"id": batch.column(0), "name": batch.column(1),
                                          "norm": pa.array(norms, pa.string())}))
        con.execute("INSERT INTO onames SELECT * FROM on_rows")
        con.register("ob_rows", pa.table({"id": pa.array(base_ids, pa.string()), "base": pa.array(bases, pa.string())}))
        con.execute("INSERT INTO obases SELECT * FROM ob_rows")
    con.unregister("on_rows")
    con.unregister("ob_rows")
    con.execute("DROP TABLE onames_src")

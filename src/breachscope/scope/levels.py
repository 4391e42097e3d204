"""Levels per subject and per category, exclusions, persons carried to their organizations, names and
evidence: computed in DuckDB and streamed to the subjects' Parquet file and CSV (scope/staged.py), with
no Python object per subject (the first implementation, one ExposedSubject each, took 105 s and 7.8 GiB
at a million subjects; it is kept as the tests' oracle in tests/scope_levels_reference.py).

Per category of a subject, over the rows not excluded:
  returned by a replayed statement + its values in an export file -> CONFIRMED_EXFILTRATED
  returned by a replayed statement, or its value found in an export -> CONFIRMED_ACCESSED
  reachable by a statement that could not be replayed exactly       -> POTENTIAL
A subject's level is its strongest category's. A subject whose every exposed row is excluded is
NOT_EXPOSED, `excluded_by` the policies. An organization also takes the categories and levels of
its affected persons (a contact person's email is the organization's exposure too).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from breachscope.engines import local
from breachscope.model.exposure import EXPOSURE_LEVEL_RANK
from breachscope.model.inventory import Inventory
from breachscope.model.sql import quote_literal
from breachscope.scope.backends import Backend
from breachscope.scope.org_groups import group_table
from breachscope.scope.plans import TableExposure
from breachscope.scope.snapshot_rows import ids_of, lookup
from breachscope.scope.staged import StagedSubjects
from breachscope.scope.subject_sql import (
    EXPOSURE_LISTS_SQL,
    LEVEL_MACRO_SQL,
    SORTED_SQL,
    SubjectCounts,
    subject_counts,
    subjects_sql,
)

EVIDENCE_MAX = 10
#: DuckDB's memory for the levels (beyond it, its hash tables and sorts spill to the staging folder): with
#: the snapshot and the hits held beside it, a million subjects stay under 2 GB.
MEMORY_MB = 1024


@dataclass
class Aggregate:
    subjects: StagedSubjects  # subjects.parquet and the affected CSV, sorted by subject type and id
    counts: SubjectCounts  # what the summary says of them
    review: list[tuple[str, tuple[str, ...], str]]  # uncertain organization matches (scope/orgs.py)


def aggregate(inventory: Inventory, backend: Backend, exposures: list[TableExposure], hits: pa.Table) -> Aggregate:
    folder = tempfile.TemporaryDirectory(prefix="breachscope-scope-")  # the staged files, and DuckDB's spills
    con = local.connect()
    try:
        con.execute(f"SET temp_directory = {quote_literal(str(Path(folder.name) / 'spill'))}")
        con.execute(f"SET memory_limit = '{MEMORY_MB}MB'")
        con.execute("SET preserve_insertion_order = false")  # no order to keep until `ss` (memory)
        con.execute(LEVEL_MACRO_SQL)
        con.register("e", _exposure_table(exposures))
        con.register("h", hits)
        _base_tables(con)
        con.register("p", _person_table(con, inventory, backend))
        _org_tables(con)
        _subject_table(con)
        con.execute("DROP TABLE sc; DROP TABLE cat; DROP TABLE excl; DROP TABLE evk; DROP TABLE cat_all; "
                    "DROP TABLE excl_all; DROP TABLE evp")  # memory: subj holds what is left to do
        _name_table(con, inventory, backend)
        review = group_table(con, inventory, backend)
        counts = subject_counts(con, inventory.default_jurisdiction)
        con.execute(EXPOSURE_LISTS_SQL)
        con.execute("SET preserve_insertion_order = true")  # ss is stored, and then read, in its order
        con.execute(SORTED_SQL)
        con.execute("DROP VIEW sj; DROP TABLE subj; DROP TABLE nm; DROP TABLE grp")
        staged = StagedSubjects.write(con, subjects_sql(EVIDENCE_MAX, inventory.default_jurisdiction,
                                                        backend.info.identity), folder)
    finally:
        con.close()
    return Aggregate(staged, counts, review)


def _exposure_table(exposures: list[TableExposure]) -> pa.Table:
    """Exposures with their evidence order (`ord`) and their class: exposures of the same kind, level and
    categories count the same for levels, so hits are reduced per class before categories are unnested.
    `pos` numbers them from 1 (evidence refers to it); `base` is the file name the CSV cites."""
    rank = {e.index: EXPOSURE_LEVEL_RANK[e.level] for e in exposures}
    kind = {e.index: "statement" if e.statement_id else "file" for e in exposures}
    order = sorted(exposures, key=lambda e: (-rank[e.index], kind[e.index], e.src_file, e.src_record,
                                             e.statement_id, e.index))
    ord_of = {e.index: i for i, e in enumerate(order)}
    classes = sorted({(kind[e.index], rank[e.index], e.categories) for e in exposures})
    class_of = {c: i for i, c in enumerate(classes)}
    bases = {f: Path(f).name if f else "?" for f in {e.src_file for e in exposures}}
    sources: dict[str | None, int] = {}  # coalesce(statement_id, 'file:' || src_file), as a number
    for e in exposures:
        sources.setdefault(_source(e), len(sources))
    return pa.table({
        "exposure": pa.array([e.index for e in exposures], pa.int32()),
        "pos": pa.array(range(1, len(exposures) + 1), pa.int32()),
        "ord": pa.array([ord_of[e.index] for e in exposures], pa.int64()),
        "class": pa.array([class_of[(kind[e.index], rank[e.index], e.categories)] for e in exposures], pa.int32()),
        "kind": pa.array([kind[e.index] for e in exposures], pa.string()),
        "statement_id": pa.array([e.statement_id or None for e in exposures], pa.string()),
        "subject": pa.array([e.subject for e in exposures], pa.string()),
        "rank": pa.array([rank[e.index] for e in exposures], pa.int32()),
        "categories": pa.array([list(e.categories) for e in exposures], pa.list_(pa.string())),
        "reason": pa.array([e.reason for e in exposures], pa.string()),
        "src_file": pa.array([e.src_file for e in exposures], pa.string()),
        "src_record": pa.array([e.src_record or None for e in exposures], pa.int64()),
        "base": pa.array([bases[e.src_file] for e in exposures], pa.string()),
        "source": pa.array([sources[_source(e)] for e in exposures], pa.int32()),
    })


def _source(e: TableExposure) -> str | None:
    if e.statement_id:
        return e.statement_id
    return None if e.src_file is None else f"file:{e.src_file}"


def _base_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE cls AS SELECT DISTINCT class, kind, rank, categories FROM e")
    # hits reduced to (subject, class, policy): levels and categories need nothing finer
    con.execute("""
        CREATE TABLE sc AS
        SELECT DISTINCT e.subject, h.subject_key AS id, h.excluded, e.class
        FROM h JOIN e USING (exposure)""")
    # per category, over rows not excluded: statements' strongest level, and whether an export holds it
    con.execute("""
        CREATE TABLE cat AS
        SELECT subject, id, category,
               CASE WHEN srank = 2 AND infile THEN 3 WHEN srank = 2 OR infile THEN 2 ELSE srank END AS rank
        FROM (SELECT subject, id, category, max(rank) FILTER (WHERE kind = 'statement') AS srank,
                     coalesce(bool_or(kind = 'file'), false) AS infile
              FROM (SELECT sc.subject, sc.id, cls.kind, cls.rank, unnest(cls.categories) AS category
                    FROM sc JOIN cls USING (class) WHERE sc.excluded IS NULL)
              GROUP BY ALL)""")
    con.execute("""
        CREATE TABLE excl AS
        SELECT sc.subject, sc.id, list(DISTINCT sc.excluded ORDER BY sc.excluded) AS policies, max(cls.rank) AS rank
        FROM sc JOIN cls USING (class) WHERE sc.excluded IS NOT NULL AND len(cls.categories) > 0 GROUP BY ALL""")
    # evidence: the first EVIDENCE_MAX (not excluded first, strongest, then file and line order) and a count;
    # a statement that read several of a subject's tables is one piece of evidence (its strongest exposure);
    # `source` numbers the statements and files (a string per hit cost seconds at millions of hits). Ranked by
    # a window (its sort spills to disk) rather than min_by(..., n), whose states held gigabytes.
    con.execute("""
        CREATE TABLE ev1 AS
        SELECT e.subject, h.subject_key AS id, arg_min(e.pos, e.ord) AS pos, min(e.ord) AS ord, h.line, h.excluded
        FROM h JOIN e USING (exposure)
        GROUP BY e.subject, h.subject_key, e.source, h.line, h.excluded""")
    key = "(CAST(excluded IS NOT NULL AS BIGINT) << 60) + (ord << 28) + coalesce(line, 0)"
    con.execute(f"""
        CREATE TABLE evk AS
        SELECT subject, id, max(r) AS total,
               coalesce(list({{'pos': pos, 'line': line, 'excluded': excluded}} ORDER BY k, excluded)
                        FILTER (WHERE r <= {EVIDENCE_MAX}), []) AS first
        FROM (SELECT *, {key} AS k, row_number() OVER (PARTITION BY subject, id ORDER BY {key}, excluded) AS r
              FROM ev1)
        GROUP BY ALL""")
    con.execute("DROP TABLE ev1")


def _person_table(con: duckdb.DuckDBPyConnection, inventory: Inventory, backend: Backend) -> pa.Table:
    person = inventory.subject("person")
    empty = pa.table({"person": pa.array([], pa.string()), "org": pa.array([], pa.string())})
    if person is None or not person.organization:
        return empty
    ids = ids_of(con, "SELECT DISTINCT id FROM sc WHERE subject = 'person' ORDER BY id")
    if not len(ids):
        return empty
    t = lookup(backend, person.table, person.key, [person.organization], ids)
    return pa.table({"person": t.column("__bs_key"), "org": t.column(person.organization)})


def _org_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Organizations take their affected persons' categories, and their persons' exclusions."""
    con.execute("""
        CREATE TABLE cat_all AS
        SELECT subject, id, category, max(rank) AS rank FROM (
          SELECT subject, id, category, rank FROM cat
          UNION ALL
          SELECT 'organization', p.org, c.category, c.rank FROM cat c JOIN p ON c.subject = 'person' AND c.id = p.person
          WHERE p.org IS NOT NULL)
        GROUP BY ALL""")
    con.execute("""
        CREATE TABLE excl_all AS
        SELECT subject, id, flatten(list(policies)) AS policies, max(rank) AS rank FROM (
          SELECT * FROM excl
          UNION ALL
          SELECT 'organization', p.org, e.policies, e.rank FROM excl e JOIN p ON e.subject = 'person'
          AND e.id = p.person WHERE p.org IS NOT NULL)
        GROUP BY ALL""")
    con.execute(f"""
        CREATE TABLE evp AS
        SELECT p.org AS id, count(*) AS total, min_by({{'person': p.person, 'rank': c.rank}},
               (CAST(9 - c.rank AS BIGINT) << 40) + try_cast(p.person AS BIGINT), {EVIDENCE_MAX}) AS first_num,
               min_by({{'person': p.person, 'rank': c.rank}}, lpad(CAST(9 - c.rank AS VARCHAR), 2, '0') || p.person,
                      {EVIDENCE_MAX}) AS first_text
        FROM (SELECT id, max(rank) AS rank FROM cat WHERE subject = 'person' GROUP BY ALL) c
        JOIN p ON c.id = p.person WHERE p.org IS NOT NULL GROUP BY ALL""")


def _subject_table(con: duckdb.DuckDBPyConnection) -> None:
    """One row per subject: categories and their ranks, level rank, exclusions, the evidence keys.
    An organization's persons are listed in numeric order when every listed id is a number."""
    con.execute("""
        CREATE TABLE subj AS
        WITH c AS (SELECT subject, id, list_sort(list({'c': category, 'r': rank})) AS cr, max(rank) AS rank
                   FROM cat_all GROUP BY ALL),  -- sorted by category (one entry each): no ordered aggregate
        s AS (SELECT coalesce(c.subject, x.subject) AS subject, coalesce(c.id, x.id) AS id, c.cr, c.rank,
                     x.policies, x.rank AS xrank
              FROM c FULL JOIN excl_all x ON c.subject = x.subject AND c.id = x.id)
        SELECT s.subject, s.id, coalesce(list_transform(s.cr, lambda q: q.c), []) AS cats,
               coalesce(list_transform(s.cr, lambda q: q.r), []) AS cranks,
               coalesce(s.rank, 0) AS rank, list_sort(list_distinct(coalesce(s.policies, []))) AS policies,
               s.xrank, coalesce(ev.total, 0) AS total, coalesce(ev.first, []) AS first,
               CASE WHEN s.subject = 'organization' THEN coalesce(evp.total, 0) ELSE 0 END AS ptotal,
               CASE WHEN s.subject <> 'organization' THEN []
                    WHEN len(evp.first_num) > 0
                         AND list_bool_and(list_transform(evp.first_num,
                                                          lambda q: regexp_full_match(q.person, '[0-9]+')))
                    THEN evp.first_num
                    ELSE coalesce(evp.first_text, []) END AS persons
        FROM s LEFT JOIN evk ev ON ev.subject = s.subject AND ev.id = s.id
        LEFT JOIN evp ON s.subject = 'organization' AND evp.id = s.id""")


def _name_table(con: duckdb.DuckDBPyConnection, inventory: Inventory, backend: Backend) -> None:
    """nm(subject, id, name, jur, org): the snapshot's row of each person and organization (the last one
    the lookup returns, when a key is not unique)."""
    parts = []
    for kind in ("organization", "person"):
        s = inventory.subject(kind)
        if s is None:
            continue
        ids = ids_of(con, f"SELECT DISTINCT id FROM subj WHERE subject = '{kind}' ORDER BY id")
        if not len(ids):
            continue
        cols = [c for c in (s.name, s.jurisdiction, s.organization) if c]
        t = lookup(backend, s.table, s.key, cols, ids)
        n = t.num_rows

        def col(name: str | None, t: pa.Table = t, cols: list[str] = cols, n: int = n) -> pa.Array:
            return t.column(1 + cols.index(name)) if name else pa.nulls(n, pa.string())

        parts.append(pa.table({"subject": pa.repeat(pa.scalar(kind, pa.string()), n), "id": t.column(0),
                               "name": col(s.name), "jur": col(s.jurisdiction), "org": col(s.organization),
                               "rn": pa.array(np.arange(n, dtype=np.int64))}))
    con.register("nm_rows", pa.concat_tables(parts) if parts else pa.table({
        "subject": pa.array([], pa.string()), "id": pa.array([], pa.string()), "name": pa.array([], pa.string()),
        "jur": pa.array([], pa.string()), "org": pa.array([], pa.string()), "rn": pa.array([], pa.int64())}))
    con.execute("""CREATE TABLE nm AS SELECT subject, id, name, jur, org FROM nm_rows
                   QUALIFY row_number() OVER (PARTITION BY subject, id ORDER BY rn DESC) = 1""")
    con.unregister("nm_rows")

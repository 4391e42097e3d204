"""The SQL of the subjects' rows (SUBJECTS_SCHEMA plus the cells of the affected CSV) and of the summary's
counts, over the tables scope/levels.py builds: `subj` (levels, exclusions, evidence keys), `e` (the
exposures), `nm` (names), `grp` (organization groups), `ss` (all of them, sorted). Each value is what the
first implementation (tests/scope_levels_reference.py) computed in Python: a test compares the two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import duckdb

from breachscope.model.exposure import EXPOSURE_LEVELS
from breachscope.model.sql import quote_literal
from breachscope.model.text import CSV_MACROS_SQL

#: bs_level(rank): the level's name (NULL for NULL).
LEVEL_MACRO_SQL = ("CREATE OR REPLACE TEMP MACRO bs_level(r) AS "
                   f"[{', '.join(quote_literal(x) for x in EXPOSURE_LEVELS)}][r + 1];\n" + CSV_MACROS_SQL)

_NULL_TEXT = "CAST(NULL AS VARCHAR)"


def _text_or_none(expr: str) -> str:
    """Python's f"{x}" of a value that may be None."""
    return f"coalesce(CAST({expr} AS VARCHAR), 'None')"


def _text_line(kind: str, sid: str, base: str, record: str, detail: str) -> str:
    """The CSV's line for one piece of evidence (tests/scope_levels_reference._evidence_line)."""
    return (f"CASE {kind} WHEN 'statement' THEN 'statement ' || {_text_or_none(sid)} || ' (' || {base} || ':' "
            f"|| {_text_or_none(record)} || ')' ELSE 'export ' || {base} || ':' || {_text_or_none(record)} END "
            f"|| CASE WHEN starts_with({detail}, 'excluded by') THEN ' [' || {detail} || ']' ELSE '' END")


#: el: one row, each exposure's attributes as lists indexed by its position `pos` (a few thousand
#: exposures); `ev0` and `line0` are its evidence and CSV line when the hit adds no line and no exclusion
#: (most hits). Evidence is read from them inside one list_transform per subject: no join on the
#: evidence, no re-aggregation.
EXPOSURE_LISTS_SQL = f"""
    CREATE TABLE el AS
    SELECT list(kind ORDER BY pos) AS kind, list(bs_level(rank) ORDER BY pos) AS level,
           list(statement_id ORDER BY pos) AS sid, list(src_file ORDER BY pos) AS file,
           list(src_record ORDER BY pos) AS rec, list(reason ORDER BY pos) AS reason, list(base ORDER BY pos) AS base,
           list(struct_pack(kind := kind, level := bs_level(rank), statement_id := statement_id, src_file := src_file,
                            src_record := src_record, detail := reason) ORDER BY pos) AS ev0,
           list({_text_line("kind", "statement_id", "base", "src_record", "reason")} ORDER BY pos) AS line0
    FROM e"""
#: ss: every subject with its name and group, sorted and numbered (the sort moves compact rows, not the
#: evidence; the stream checks that it comes in this order)
SORTED_SQL = """
    CREATE TABLE ss AS
    SELECT row_number() OVER (ORDER BY s.subject, s.id) AS rn, s.*, nm.name, nm.org, nm.jur, g.grp
    FROM subj s LEFT JOIN nm USING (subject, id) LEFT JOIN grp g ON s.subject = 'organization' AND g.id = s.id
    ORDER BY rn"""


def subjects_sql(evidence_max: int, default_jurisdiction: str | None, snapshot: str) -> str:
    """Every subject of `ss`: `rn`, the artifact's columns, then `affected` and the CSV cells."""
    default = quote_literal(default_jurisdiction) if default_jurisdiction is not None else _NULL_TEXT
    plain = "x.line IS NULL AND x.excluded IS NULL"  # the exposure's own evidence and line
    detail = "CASE WHEN x.excluded <> '' THEN 'excluded by ' || x.excluded ELSE el.reason[x.pos] END"
    record = "coalesce(x.line, el.rec[x.pos])"
    item = (f"CASE WHEN {plain} THEN el.ev0[x.pos] ELSE struct_pack(kind := el.kind[x.pos], "
            f"level := el.level[x.pos], statement_id := el.sid[x.pos], src_file := el.file[x.pos], "
            f"src_record := {record}, detail := {detail}) END")
    line = (f"CASE WHEN {plain} THEN el.line0[x.pos] "
            f"ELSE {_text_line('el.kind[x.pos]', 'el.sid[x.pos]', 'el.base[x.pos]', record, detail)} END")
    person = (f"struct_pack(kind := 'person', level := bs_level(q.rank), statement_id := {_NULL_TEXT}, "
              f"src_file := {_NULL_TEXT}, src_record := CAST(NULL AS BIGINT), detail := 'person ' || q.person)")
    persons = f"s.persons[1:{evidence_max} - len(s.first)]"

    def lines(n: str) -> str:  # the CSV lines of the first n pieces of evidence
        return (f"list_concat(list_transform(s.first[1:{n}], lambda x: {line}), "
                f"list_transform({persons}[1:{n}], lambda q: 'person ' || q.person))[1:{n}]")

    return f"""
        SELECT s.rn, s.subject AS subject_type, s.id AS subject_id, s.name,
               CASE s.subject WHEN 'organization' THEN s.id WHEN 'person' THEN s.org END AS organization_id,
               CASE s.subject WHEN 'organization' THEN s.grp END AS organization_group,
               coalesce(nullif(s.jur, ''), {default}) AS jurisdiction,
               bs_level(s.rank) AS level, s.cats AS categories,
               s.cranks AS category_ranks,  -- category_levels, built in Arrow (scope/staged.py)
               s.policies AS excluded_by, bs_level(s.xrank) AS excluded_level,
               s.total + s.ptotal AS evidence_count,
               CASE WHEN len({persons}) = 0 THEN list_transform(s.first, lambda x: {item})
                    ELSE list_concat(list_transform(s.first, lambda x: {item}),
                                     list_transform({persons}, lambda q: {person})) END AS evidence,
               {quote_literal(snapshot)} AS snapshot,
               s.rank > 0 AS affected,
               {_csv_cells(lines("3"), lines(str(evidence_max)), "s.total + s.ptotal")}
        FROM ss s CROSS JOIN el"""


def _csv_cells(head: str, lines: str, count: str) -> str:
    """The affected CSV's cells (tests/scope_levels_reference.affected_csv), NULL for the others: the evidence as its
    first three distinct lines (the first three, unless two of them are equal) and a count of the rest, every
    cell through csv_text (model/text.py, in SQL). `list_transform([v], lambda p: ...)[1]` names a value
    computed once (an expression repeated in SQL is computed at each use). Levels are names of ours."""
    first3 = (f"list_transform([{head}], lambda h: CASE WHEN len(list_distinct(h)) = len(h) THEN h ELSE "
              f"list_transform([{lines}], lambda l: list_filter(l, lambda t, i: NOT list_contains(l[1:i - 1], t))"
              "[1:3])[1] END)[1]")
    evidence = (f"list_transform([{first3}], lambda p: array_to_string(p, '; ') || CASE WHEN {count} - len(p) > 0 "
                f"THEN '; +' || CAST({count} - len(p) AS VARCHAR) || ' more' ELSE '' END)[1]")
    cells = {"subject_type": "bs_csv_text(s.subject)", "subject_id": "bs_csv_text(s.id)",
             "name": "bs_csv_text(coalesce(s.name, ''))", "level": "bs_level(s.rank)",
             "categories": "bs_csv_text(array_to_string(s.cats, ';'))", "evidence": f"bs_csv_text({evidence})"}
    return ", ".join(f"CASE WHEN s.rank > 0 THEN {expr} END AS csv_{name}" for name, expr in cells.items())


@dataclass(frozen=True)
class SubjectCounts:
    """The summary's counts of the subjects (scope/pipeline.summarize)."""

    persons: Counter[str]  # affected persons per level
    organizations: Counter[str]  # affected organization groups per level (a group's strongest)
    category_levels: dict[str, str]  # category -> strongest level over affected subjects, sorted
    excluded: dict[str, int]  # NOT_EXPOSED subjects with exclusions: organizations, persons
    policies: dict[str, dict[str, int]]  # policy -> {organizations, persons}, sorted
    jurisdictions: dict[str, dict[str, int]]  # jurisdiction -> affected {organizations, persons}, sorted
    organization_records: int  # affected organization records


def subject_counts(con: duckdb.DuckDBPyConnection, default_jurisdiction: str | None) -> SubjectCounts:
    default = quote_literal(default_jurisdiction) if default_jurisdiction is not None else _NULL_TEXT
    con.execute(f"""
        CREATE TEMP VIEW sj AS
        SELECT s.subject, s.id, s.rank, s.cats, s.cranks, s.policies,
               coalesce(nullif(nm.jur, ''), {default}) AS jurisdiction,
               CASE WHEN s.subject = 'organization' THEN coalesce(nullif(g.grp, ''), s.id) END AS grp
        FROM subj s LEFT JOIN nm USING (subject, id) LEFT JOIN grp g ON s.subject = 'organization' AND g.id = s.id""")
    persons = Counter({EXPOSURE_LEVELS[r]: n for r, n in con.execute(
        "SELECT rank, count(*) FROM sj WHERE subject = 'person' AND rank > 0 GROUP BY rank").fetchall()})
    orgs = Counter({EXPOSURE_LEVELS[r]: n for r, n in con.execute(
        "SELECT rank, count(*) FROM (SELECT max(rank) AS rank FROM sj WHERE subject = 'organization' AND rank > 0 "
        "GROUP BY grp) GROUP BY rank").fetchall()})
    cats = {c: EXPOSURE_LEVELS[r] for c, r in con.execute(
        "SELECT c, max(k) FROM (SELECT unnest(cats) AS c, unnest(cranks) AS k FROM sj WHERE rank > 0) "
        "GROUP BY c").fetchall()}
    kinds = "CASE WHEN subject = 'organization' THEN 'organizations' ELSE 'persons' END"
    excluded = "rank = 0 AND len(policies) > 0"
    policies: dict[str, dict[str, int]] = {}
    for policy, kind, n in con.execute(
            f"SELECT p, {kinds}, count(*) FROM (SELECT subject, unnest(policies) AS p FROM sj WHERE {excluded}) "
            "GROUP BY ALL").fetchall():
        policies.setdefault(policy, {"organizations": 0, "persons": 0})[kind] = n
    juris: dict[str, dict[str, int]] = {}
    for j, kind, n in con.execute(
            f"SELECT coalesce(nullif(jurisdiction, ''), 'unknown'), {kinds}, count(*) FROM sj WHERE rank > 0 "
            "GROUP BY ALL").fetchall():
        juris.setdefault(j, {"organizations": 0, "persons": 0})[kind] = n
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE {excluded} AND subject = 'organization'), "
        f"count(*) FILTER (WHERE {excluded} AND subject = 'person'), "
        "count(*) FILTER (WHERE rank > 0 AND subject = 'organization') FROM sj").fetchall()[0]
    return SubjectCounts(persons, orgs, dict(sorted(cats.items())), {"organizations": row[0], "persons": row[1]},
                         {k: policies[k] for k in sorted(policies)}, {k: juris[k] for k in sorted(juris)}, row[2])

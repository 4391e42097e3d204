"""The first implementation of scope's levels, names, evidence, summary and affected CSV, in Python per
subject (one ExposedSubject each): kept as the reference the SQL path (scope/levels.py, scope/subject_sql.py)
is tested against (tests/test_scope_levels_equal.py). Not used by `scope`: at a million subjects it took
105 s and 7.8 GiB.

Levels per subject and per category, exclusions, persons carried to their organizations.

Per category of a subject, over the rows not excluded:
  returned by a replayed statement + its values in an export file -> CONFIRMED_EXFILTRATED
  returned by a replayed statement, or its value found in an export -> CONFIRMED_ACCESSED
  reachable by a statement that could not be replayed exactly       -> POTENTIAL
A subject's level is its strongest category's. A subject whose every exposed row is excluded is
NOT_EXPOSED, `excluded_by` the policies. An organization also takes the categories and levels of
its affected persons (a contact person's email is the organization's exposure too).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from breachscope.engines import local
from breachscope.model.exposure import (
    CONFIRMED_ACCESSED,
    CONFIRMED_EXFILTRATED,
    EXPOSURE_LEVEL_RANK,
    EXPOSURE_LEVELS,
    IGNORED,
    NOT_EXPOSED,
    POTENTIAL,
    REPLAYED,
    STMT_POTENTIAL,
    Controller,
    ExposureSummary,
    LevelCounts,
)
from breachscope.model.exposure_artifact import Evidence, ExposedSubject
from breachscope.model.inventory import Inventory
from breachscope.model.text import csv_text
from breachscope.scope.backends import Backend
from breachscope.scope.orgs import Grouping, OrgRecord, group_organizations
from breachscope.scope.plans import TableExposure

EVIDENCE_MAX = 10


@dataclass
class Aggregate:
    subjects: list[ExposedSubject]  # sorted by subject type and id
    grouping: Grouping


def aggregate(inventory: Inventory, backend: Backend, exposures: list[TableExposure], hits: pa.Table) -> Aggregate:
    con = local.connect()
    try:
        con.register("e", _exposure_table(exposures))
        con.register("h", hits)
        _base_tables(con)
        persons = _person_table(con, inventory, backend)
        con.register("p", persons)
        _org_tables(con)
        rows = _subject_rows(con)
    finally:
        con.close()
    names = _names(inventory, backend, rows)
    orgs = [r for r in rows if r["subject_type"] == "organization" and r["level"] != NOT_EXPOSED]
    grouping = group_organizations(_org_records(inventory, backend, [str(r["subject_id"]) for r in orgs], names))
    subjects = []
    for r in rows:
        info = names.get((str(r["subject_type"]), str(r["subject_id"])), {})
        if r["subject_type"] == "organization":
            r["organization_id"] = r["subject_id"]
            r["organization_group"] = grouping.group_of.get(str(r["subject_id"]))
        subjects.append(ExposedSubject(**r, name=info.get("name"), snapshot=backend.info.identity,
                                       jurisdiction=info.get("jurisdiction") or inventory.default_jurisdiction))
    return Aggregate(subjects, grouping)


def _exposure_table(exposures: list[TableExposure]) -> pa.Table:
    """Exposures with their evidence order (`ord`) and their class: exposures of the same kind, level and
    categories count the same for levels, so hits are reduced per class before categories are unnested."""
    rank = {e.index: EXPOSURE_LEVEL_RANK[e.level] for e in exposures}
    kind = {e.index: "statement" if e.statement_id else "file" for e in exposures}
    order = sorted(exposures, key=lambda e: (-rank[e.index], kind[e.index], e.src_file, e.src_record,
                                             e.statement_id, e.index))
    ord_of = {e.index: i for i, e in enumerate(order)}
    classes = sorted({(kind[e.index], rank[e.index], e.categories) for e in exposures})
    class_of = {c: i for i, c in enumerate(classes)}
    return pa.table({
        "exposure": pa.array([e.index for e in exposures], pa.int32()),
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
    })


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
    # a statement that read several of a subject's tables is one piece of evidence (its strongest exposure)
    con.execute(f"""
        CREATE TABLE evk AS
        SELECT subject, id, count(*) AS total,
               min_by({{'exposure': exposure, 'line': line, 'excluded': excluded}},
                      (CAST(excluded IS NOT NULL AS BIGINT) << 60) + (ord << 28) + coalesce(line, 0),
                      {EVIDENCE_MAX}) AS first
        FROM (SELECT subject, id, arg_min(exposure, ord) AS exposure, min(ord) AS ord, line, excluded
              FROM (SELECT DISTINCT e.subject, h.subject_key AS id, h.exposure, e.ord, h.line, h.excluded,
                           coalesce(e.statement_id, 'file:' || e.src_file) AS source
                    FROM h JOIN e USING (exposure))
              GROUP BY subject, id, source, line, excluded)
        GROUP BY ALL""")


def _person_table(con: duckdb.DuckDBPyConnection, inventory: Inventory, backend: Backend) -> pa.Table:
    person = inventory.subject("person")
    ids = [r[0] for r in con.execute("SELECT DISTINCT id FROM sc WHERE subject = 'person' ORDER BY id").fetchall()]
    if person is None or not person.organization or not ids:
        return pa.table({"person": pa.array([], pa.string()), "org": pa.array([], pa.string())})
    t = backend.lookup(person.table, person.key, [person.organization], ids)
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


def _subject_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The fields of each subject's ExposedSubject but its name, jurisdiction and snapshot."""
    rows = con.sql("""
        WITH subj AS (SELECT DISTINCT subject, id FROM cat_all UNION SELECT subject, id FROM excl_all),
        c AS (SELECT subject, id, list(category ORDER BY category) AS categories,
                     list(rank ORDER BY category) AS cranks, max(rank) AS rank
              FROM cat_all GROUP BY ALL)
        SELECT s.subject, s.id, coalesce(c.categories, []) AS cats, coalesce(c.cranks, []) AS cranks,
               coalesce(c.rank, 0) AS rank, list_sort(list_distinct(coalesce(x.policies, []))) AS policies,
               x.rank AS xrank, coalesce(ev.total, 0) AS total, coalesce(ev.first, []) AS first,
               CASE WHEN s.subject = 'organization' THEN coalesce(evp.total, 0) ELSE 0 END AS ptotal,
               CASE WHEN s.subject = 'organization' THEN coalesce(evp.first_num, []) ELSE [] END AS pnum,
               CASE WHEN s.subject = 'organization' THEN coalesce(evp.first_text, []) ELSE [] END AS ptext
        FROM subj s LEFT JOIN c USING (subject, id) LEFT JOIN excl_all x USING (subject, id)
        LEFT JOIN evk ev USING (subject, id) LEFT JOIN evp ON s.subject = 'organization' AND evp.id = s.id
        ORDER BY s.subject, s.id""").to_arrow_table()  # Arrow: an order of magnitude faster than fetchall()
    expo = {r[0]: r[1:] for r in con.execute(
        "SELECT exposure, kind, rank, statement_id, src_file, src_record, reason FROM e").fetchall()}
    out = []
    cols = [rows.column(n).to_pylist() for n in ("subject", "id", "cats", "cranks", "rank", "policies", "xrank",
                                                   "total", "first", "ptotal", "pnum", "ptext")]
    for (subject, sid, cats, cranks, rank, policies, xrank, total, first, ptotal, pnum, ptext) in zip(*cols,
                                                                                                      strict=True):
        level = EXPOSURE_LEVELS[rank]
        evidence = []
        for item in first:
            kind, erank, stmt, src_file, src_record, reason = expo[item["exposure"]]
            evidence.append(Evidence(kind, EXPOSURE_LEVELS[erank], stmt, src_file,
                                     item["line"] if item["line"] is not None else src_record,
                                     f"excluded by {item['excluded']}" if item["excluded"] else reason))
        persons = pnum if pnum and all(x["person"].isdigit() for x in pnum) else ptext
        for x in (persons or [])[:max(0, EVIDENCE_MAX - len(evidence))]:
            evidence.append(Evidence("person", EXPOSURE_LEVELS[x["rank"]], None, None, None, f"person {x['person']}"))
        out.append({"subject_type": subject, "subject_id": sid, "organization_id": None,
                    "organization_group": None, "level": level, "categories": tuple(cats),
                    "category_levels": {c: EXPOSURE_LEVELS[r] for c, r in zip(cats, cranks, strict=True)},
                    "excluded_by": tuple(policies), "excluded_level": None if xrank is None else EXPOSURE_LEVELS[xrank],
                    "evidence_count": total + ptotal, "evidence": tuple(evidence)})
    return out


def _names(inventory: Inventory, backend: Backend, rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for kind in ("organization", "person"):
        s = inventory.subject(kind)
        ids = sorted({str(r["subject_id"]) for r in rows if r["subject_type"] == kind})
        if s is None or not ids:
            continue
        cols = [c for c in (s.name, s.jurisdiction, s.organization) if c]
        t = backend.lookup(s.table, s.key, cols, ids).to_pylist()
        for r in t:
            out[(kind, r["__bs_key"])] = {"name": r.get(s.name) if s.name else None,
                                          "jurisdiction": r.get(s.jurisdiction) if s.jurisdiction else None,
                                          "organization": r.get(s.organization) if s.organization else None}
    for r in rows:
        if r["subject_type"] == "person":
            r["organization_id"] = out.get(("person", str(r["subject_id"])), {}).get("organization")
    return out


def _org_records(inventory: Inventory, backend: Backend, ids: list[str],
                 names: dict[tuple[str, str], dict]) -> list[OrgRecord]:
    org = inventory.subject("organization")
    if org is None or not ids:
        return []
    # the subject key itself may be a match key: the inventory then says that every record is an organization
    # of its own (different keys never merge, not even by name)
    plain = [k for k in org.match_keys if "." not in k]
    values: dict[str, list[tuple[str, str]]] = {i: [] for i in ids}
    if plain:
        for r in backend.lookup(org.table, org.key, plain, ids).to_pylist():
            for k in plain:
                v = _norm_key(r.get(k))
                if v:
                    values[r["__bs_key"]].append((k, v))
    for qualified in (k for k in org.match_keys if "." in k):
        table, _, col = qualified.rpartition(".")
        ds = inventory.dataset(table)
        if ds is None or ds.subject != "organization":
            continue
        for r in backend.lookup(table, ds.subject_key, [col], ids).to_pylist():
            v = _norm_key(r.get(col))
            if v:
                values[r["__bs_key"]].append((qualified, v))
    return [OrgRecord(i, names.get(("organization", i), {}).get("name"), tuple(sorted(set(values[i]))))
            for i in ids]


def _norm_key(v: object) -> str:
    if v is None:
        return ""
    text = str(v).strip().lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if digits and len(digits) >= len(text.replace("-", "").replace(" ", "")) else text


def summarize(inventory: Inventory, suspects: dict[str, Any], backend: Backend, subjects: list[ExposedSubject],
              statements: list[dict[str, Any]], scans: int, review: int,
              recognized: dict[str, int]) -> ExposureSummary:
    affected = [s for s in subjects if s.level != NOT_EXPOSED]
    excluded = [s for s in subjects if s.level == NOT_EXPOSED and s.excluded_by]
    persons = Counter(s.level for s in affected if s.subject_type == "person")
    groups: dict[str, str] = {}
    for s in affected:
        if s.subject_type == "organization":
            g = s.organization_group or s.subject_id
            lv = s.level
            groups[g] = lv if g not in groups or EXPOSURE_LEVEL_RANK[lv] > EXPOSURE_LEVEL_RANK[groups[g]] else groups[g]
    orgs = Counter(groups.values())
    cat_levels: dict[str, str] = {}
    for s in affected:
        for c, lv in s.category_levels.items():
            if c not in cat_levels or EXPOSURE_LEVEL_RANK[lv] > EXPOSURE_LEVEL_RANK[cat_levels[c]]:
                cat_levels[c] = lv
    by_policy: dict[str, dict[str, int]] = {}
    for s in excluded:
        for p in s.excluded_by:
            d = by_policy.setdefault(p, {"organizations": 0, "persons": 0})
            d["organizations" if s.subject_type == "organization" else "persons"] += 1
    juris: dict[str, dict[str, int]] = {}
    for s in affected:
        d = juris.setdefault(s.jurisdiction or "unknown", {"organizations": 0, "persons": 0})
        d["organizations" if s.subject_type == "organization" else "persons"] += 1
    outcomes = Counter(str(s["outcome"]) for s in statements)
    return ExposureSummary(
        organizations=_counts(orgs),
        persons=_counts(persons),
        categories=tuple(sorted(cat_levels)),
        category_levels=dict(sorted(cat_levels.items())),
        excluded={"organizations": sum(1 for s in excluded if s.subject_type == "organization"),
                  "persons": sum(1 for s in excluded if s.subject_type == "person"),
                  "policies": {k: by_policy[k] for k in sorted(by_policy)}},
        statements={"replayed": outcomes[REPLAYED], "potential": outcomes[STMT_POTENTIAL],
                    "ignored": outcomes[IGNORED]},
        files={"scanned": scans, "values_found": sum(recognized.values()),
               **{f"found_{k}": v for k, v in sorted(recognized.items())}},
        review=review,
        jurisdictions={k: juris[k] for k in sorted(juris)},
        snapshot=backend.info.identity,
        inventory=inventory.name,
        suspects=suspects,
        controller=Controller(inventory.controller.country, tuple(inventory.controller.sectors)),
        organization_records=sum(1 for s in affected if s.subject_type == "organization"),
    )


def _counts(c: Counter) -> LevelCounts:
    return LevelCounts(confirmed_exfiltrated=c[CONFIRMED_EXFILTRATED], confirmed_accessed=c[CONFIRMED_ACCESSED],
                       potential=c[POTENTIAL])


CSV_COLUMNS = ("subject_type", "subject_id", "name", "level", "categories", "evidence")


def affected_csv(subjects: Sequence[ExposedSubject]) -> str:
    """The affected subjects' CSV (subjects NOT_EXPOSED, all of whose rows were excluded, are left out)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for s in subjects:
        if s.level == NOT_EXPOSED:
            continue
        row = [s.subject_type, s.subject_id, s.name or "", s.level, ";".join(s.categories), evidence_text(s)]
        w.writerow([csv_text(str(c)) for c in row])  # controls escaped, formulas neutralized
    return buf.getvalue()


def evidence_text(s: ExposedSubject, limit: int = 3) -> str:
    parts: list[str] = []
    for e in s.evidence:
        text = _evidence_line(e)
        if text not in parts:  # one line per statement, even when it read several of the subject's tables
            parts.append(text)
        if len(parts) == limit:
            break
    more = s.evidence_count - len(parts)
    return "; ".join(parts) + (f"; +{more} more" if more > 0 else "")


def _evidence_line(e: Evidence) -> str:
    if e.kind == "statement":
        text = f"statement {e.statement_id} ({_base(e.src_file)}:{e.src_record})"
    elif e.kind == "file":
        text = f"export {_base(e.src_file)}:{e.src_record}"
    else:
        text = str(e.detail)
    detail = str(e.detail or "")
    return text + (f" [{detail}]" if detail.startswith("excluded by") else "")


def _base(path: str | None) -> str:
    return Path(path).name if path else "?"  # a few distinct files for many subjects: cached

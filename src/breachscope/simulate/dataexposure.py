"""The truth about the data of a database described by an inventory (datamodel.py): the rows each attacker
statement returned (exposure.run, DuckDB over the snapshot), resolved to subjects by the inventory's rules
(docs/inventory.md, "Semantics"): a row exposes its subject unless an exclusion takes the row out; a subject
all of whose exposed rows are excluded is excluded; an affected person makes its organization affected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np

from breachscope.simulate.attackdb import Query
from breachscope.simulate.datamodel import DataModel, ident
from breachscope.simulate.dataplan import excluded_mask
from breachscope.simulate.exposure import Scope, StatementResult, run


def row_keys(model: DataModel) -> dict[str, str]:
    return {t.name: t.key for t in model.tables}


def results(con: duckdb.DuckDBPyConnection, model: DataModel, queries: list[Query]) -> dict[str, StatementResult]:
    keys = row_keys(model)
    return {q.ref: run(con, q, keep_rows=bool(q.output_file), row_keys=keys) for q in queries}


@dataclass
class _Rows:
    """Per table: row key -> (the row's subject, excluded?); persons -> their organization."""

    subject_of: dict[str, dict[int, int]] = field(default_factory=dict)
    excluded: dict[str, set[int]] = field(default_factory=dict)
    rule: dict[str, str] = field(default_factory=dict)
    organization_of: dict[int, int] = field(default_factory=dict)


def _rows(con: duckdb.DuckDBPyConnection, model: DataModel) -> _Rows:
    out = _Rows()
    for t in model.tables:
        got = con.sql(f"SELECT {ident(t.key)} AS k, {ident(t.subject_key)} AS s FROM {ident(t.name)}").fetchnumpy()
        k = np.asarray(got["k"])
        out.subject_of[t.name] = dict(zip(k.tolist(), np.asarray(got["s"]).tolist(), strict=True))
        out.excluded[t.name] = set(k[excluded_mask(con, model, t.name, len(k))].tolist())
        rules = model.inventory.exclusions_for(t.name)
        out.rule[t.name] = rules[0].name if rules else ""
    person = model.inventory.subject("person")
    if person and person.organization and model.inventory.subject("organization"):
        got = con.sql(f"SELECT {ident(person.key)} AS p, {ident(person.organization)} AS o "
                      f"FROM {ident(person.table)}").fetchnumpy()
        out.organization_of = dict(zip(np.asarray(got["p"]).tolist(), np.asarray(got["o"]).tolist(), strict=True))
    return out


def _subjects(model: DataModel, rows: _Rows, keys: dict[str, set]) -> tuple[dict[str, set], dict[str, dict]]:
    """(affected subjects by kind, touched-but-excluded subjects by kind -> rule) of the rows `keys` names."""
    affected: dict[str, set] = {"organization": set(), "person": set()}
    touched: dict[str, dict] = {"organization": {}, "person": {}}
    for table, ks in keys.items():
        kind = model.table(table).subject
        for k in ks:
            s = rows.subject_of[table][k]
            if k in rows.excluded[table]:
                touched[kind].setdefault(s, rows.rule[table])
            else:
                affected[kind].add(s)
    affected["organization"] |= {rows.organization_of[p] for p in affected["person"] if p in rows.organization_of}
    for kind in touched:
        touched[kind] = {s: r for s, r in touched[kind].items() if s not in affected[kind]}
    return affected, touched


def resolve(con: duckdb.DuckDBPyConnection, model: DataModel, results: list[StatementResult],
            certain: dict[str, bool]) -> Scope:
    rows = _rows(con, model)
    confirmed: dict[str, set] = {"organization": set(), "person": set()}
    actual: dict[str, set] = {"organization": set(), "person": set()}
    maybe: dict[str, set] = {"organization": set(), "person": set()}
    excluded: dict[str, dict] = {"organization": {}, "person": {}}
    categories: set[str] = set()
    by_statement: dict[str, dict[str, int]] = {}
    for r in results:
        got, ex = _subjects(model, rows, r.keys)
        for kind in actual:
            actual[kind] |= got[kind]
            excluded[kind].update(ex[kind])
            if certain[r.ref]:
                confirmed[kind] |= got[kind]
        if not certain[r.ref]:
            cand, _ = _subjects(model, rows, r.candidate_keys)
            for kind in maybe:
                maybe[kind] |= cand[kind]
        for t, cols in r.columns.items():
            if r.keys.get(t):
                for c in cols:
                    categories.update(model.table(t).column(c).categories)
        by_statement[r.ref] = {"rows": r.rows, "organizations": len(got["organization"]),
                               "persons": len(got["person"])}
    if actual != confirmed:
        raise ValueError("the uncertain statement returned subjects no certain statement did")
    for kind in excluded:
        excluded[kind] = {s: rule for s, rule in sorted(excluded[kind].items()) if s not in actual[kind]}
    o, p = actual["organization"], actual["person"]
    return Scope(sorted(o), sorted(p), sorted(categories), excluded["organization"], sorted(o), sorted(p),
                 sorted(maybe["organization"] - o), sorted(maybe["person"] - p), by_statement, excluded["person"])

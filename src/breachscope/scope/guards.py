"""Checks before anything is replayed, so that a wrong input is an error or a warning, never a silent zero.

- The case must hold executed statements (`db_audit`): without them scope can only count nobody.
- Every suspect is checked against the case (ignoring the window): one that matches no statement is a
  warning; when suspects were given and none matches anything, the run stops. Host names are
  resolved to the addresses they held over time (entities/hosts.py); the resolution is reported.
- The snapshot must hold every table and column the inventory names (datasets, subjects, match keys)
  and the exclusions' predicates must run on it: otherwise the error names what is missing.
"""

from __future__ import annotations

from typing import Any

import sqlglot

from breachscope.engines.duckdb_case import Case
from breachscope.entities.hosts import HostResolution, is_address, resolve_hosts
from breachscope.model.errors import BreachscopeError
from breachscope.model.inventory import Inventory
from breachscope.scope.backends import Backend
from breachscope.scope.statements import EXECUTED, SPANS, Suspects, host_clause, spans_table


class ScopeInputError(BreachscopeError):
    """The case, the suspects or the snapshot cannot give an answer (exit code 1)."""


def check_case(case: Case) -> int:
    """The number of executed statements in the case; none is an error."""
    n = case.scalar(f"SELECT count(*) FROM db_audit WHERE statement IS NOT NULL AND ({EXECUTED})")
    if not n:
        raise ScopeInputError(
            f"the case {case.root} holds no executed database statement (table db_audit): scope replays them. "
            "Ingest the database audit logs (pgAudit, MySQL general log, MariaDB server_audit) first")
    return int(n)


def check_suspects(case: Case, suspects: Suspects) -> tuple[list[HostResolution], list[str]]:
    """Host name resolutions and warnings; an error when suspects were given and none matches a statement."""
    names = [h for h in suspects.hosts if not is_address(h)]
    resolutions = resolve_hosts(case, names) if names else []
    warnings = []
    for r in resolutions:
        if not r.spans:
            warnings.append(f"suspect host {r.name}: no address for this name in the case (looked in: "
                            f"{'; '.join(r.looked_in) or 'no table that names hosts'})")
    matched, missing = 0, []
    case.con.register(SPANS, spans_table(resolutions))
    try:
        for kind, values in (("host", suspects.hosts), ("user", suspects.users), ("session", suspects.sessions)):
            for v in values:
                n = _count(case, kind, v)
                matched += n
                if n == 0:
                    missing.append(f"--suspect-{kind} {v}")
    finally:
        case.con.unregister(SPANS)
    if missing and not matched:
        notes = resolution_lines(resolutions) + warnings
        raise ScopeInputError("no executed statement of the case matches the suspects (" + ", ".join(missing) + ")"
                              + (": " + "; ".join(notes) if notes else ""))
    warnings += [f"{m} matches no executed statement of the case" for m in missing]
    return resolutions, warnings


def _count(case: Case, kind: str, value: str) -> int:
    where: str
    params: list[Any]
    if kind == "host":
        where, params = host_clause((value,))
    elif kind == "user":
        where, params = 'lower("user") = lower(?)', [value]
    else:
        where, params = "session_id = ?", [value]
    return int(case.scalar(f"SELECT count(*) FROM db_audit WHERE statement IS NOT NULL AND ({EXECUTED}) "
                           f"AND {where}", params) or 0)


def resolution_lines(resolutions: list[HostResolution]) -> list[str]:
    """One line per address a suspect host name held: when, and from which evidence."""
    out = []
    for r in resolutions:
        for sp in r.spans:
            out.append(f"suspect host {r.name} = {sp.address} from {_when(sp.valid_from, 'earlier')} until "
                       f"{_when(sp.valid_until, 'later')} ({sp.sightings} sighting(s): {'; '.join(sp.kinds)})")
    return out


def _when(ts: Any, edge: str) -> str:
    return ts.isoformat() if ts is not None else f"(no {edge} holder seen)"


def check_inventory(inventory: Inventory, backend: Backend) -> None:
    """Every table and column the inventory names is in the snapshot, and the exclusions run on it."""
    tables = backend.info.tables
    needed: dict[str, list[tuple[str, str]]] = {}  # table -> (column, where the inventory names it)
    for i, d in enumerate(inventory.datasets):
        where = f"datasets[{i}] ({d.table})"
        needed.setdefault(d.table, []).append((d.subject_key, f"{where} subject_key"))
        needed[d.table] += [(col, f"{where} columns") for col, _ in d.columns]
    for s in inventory.subjects:
        where = f"subjects.{s.kind}"
        named: list[tuple[str | None, str]] = [(s.key, "key"), (s.name, "name"), (s.organization, "organization"),
                                               (s.jurisdiction, "jurisdiction")]
        needed.setdefault(s.table, []).extend((c, f"{where} {what}") for c, what in named if c)
        for k in s.match_keys:
            table, _, col = k.rpartition(".")
            needed.setdefault(table or s.table, []).append((col, f"{where} match_keys"))
    problems = []
    for table, cols in needed.items():
        if table not in tables:
            problems.append(f"table {table} is not in the snapshot (or the snapshot role cannot read it)")
            continue
        have = tables[table]
        for col, where in cols:
            if col.lower() not in have:
                problems.append(f"column {table}.{col} ({where}) is not in the snapshot; {table} has: "
                                + ", ".join(sorted(have)[:30]))
    if problems:
        raise ScopeInputError("the inventory does not match the snapshot: " + "; ".join(dict.fromkeys(problems)))
    for e in inventory.exclusions:
        if e.table not in tables:
            raise ScopeInputError(f"exclusion {e.name}: table {e.table} is not in the snapshot")
        try:
            pred = sqlglot.transpile(e.where, read="postgres", write=backend.info.dialect)[0]
            schema, _, bare = e.table.rpartition(".")
            target = (f'"{schema}".' if schema else "") + f'"{bare}"'
            backend.query(f"SELECT count(*) AS n FROM {target} WHERE {pred}")
        except Exception as exc:
            raise ScopeInputError(f"exclusion {e.name}: predicate does not run on the snapshot: "
                                  f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

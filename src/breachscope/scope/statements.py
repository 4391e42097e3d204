"""Which statements: database audit records of the suspects, in the window, on the inventory's database.

One statement per execution: pgAudit with `log_relation` writes one line per relation of the same
statement (same backend, statement id and substatement id); those lines are merged into one statement
that keeps every line as provenance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from breachscope.engines.duckdb_case import Case
from breachscope.entities.hosts import HostResolution, is_address
from breachscope.model.audit_dialects import executed_condition

#: Records that carry an executed statement, as each audit dialect declares (model.audit_dialects).
EXECUTED = executed_condition()
_COLUMNS = (
    'src_file, src_record, ts, "user", src_ip, session_id, database, dialect, command, audit_class, '
    'statement_id, substatement_id, object_name, statement, parameters, "rows", '
    "extra['client_host'] AS client_host, extra['parameters'] AS parameters_marker, ts_text, src_sha256"
)


@dataclass(frozen=True)
class Suspects:
    hosts: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()  # database session ids (pgAudit: %c, else the backend pid)
    since: datetime | None = None
    until: datetime | None = None

    def to_dict(self) -> dict[str, list[str]]:
        out = {"hosts": list(self.hosts), "users": list(self.users), "sessions": list(self.sessions)}
        out["since"] = [self.since.isoformat()] if self.since else []
        out["until"] = [self.until.isoformat()] if self.until else []
        return out


@dataclass(frozen=True)
class AuditStatement:
    """One executed statement, with the audit line(s) that logged it."""

    statement_id: str
    src_file: str
    src_record: int
    duplicates: tuple[int, ...]
    ts: datetime | None
    user: str | None
    src_ip: str | None
    session_id: str | None
    database: str | None
    dialect: str
    command: str | None
    audit_class: str | None
    text: str
    parameters: tuple[str | None, ...] | None  # None: not logged
    parameters_marker: str | None  # <not logged>, <previously logged>
    rows: int | None
    objects: tuple[str, ...]
    ts_text: str | None = None  # the time as logged (the server's local time): current_date is bound to it

    @property
    def sql_dialect(self) -> str:
        return "postgres" if self.dialect in ("pgaudit", "postgresql") else "mysql"


def statement_key(src: str, src_record: int) -> str:
    """Stable id of a statement: its first audit line, by the content of its file (sha256) where known,
    so the same evidence gives the same ids wherever the case or the evidence lies."""
    return hashlib.sha256(f"{src}\x1f{src_record}".encode()).hexdigest()[:16]


def select_statements(case: Case, suspects: Suspects, database: str | None,
                      resolutions: list[HostResolution] | None = None) -> list[AuditStatement]:
    """Statements of the suspects in the window; host names given as suspects are taken as the
    addresses they held, over the spans the resolution found (scope/guards.py reports it)."""
    case.con.register(SPANS, spans_table(resolutions or []))
    try:
        where, params = _where(suspects, database)
        rows = case.rows(f"SELECT {_COLUMNS} FROM db_audit WHERE {where} ORDER BY src_file, src_record", params)
    finally:
        case.con.unregister(SPANS)
    return merge_relation_lines(rows)


SPANS = "__bs_host_spans"


def spans_table(resolutions: list[HostResolution]) -> pa.Table:
    rows = [(r.name.lower(), s.address, s.valid_from, s.valid_until) for r in resolutions for s in r.spans]
    ts = pa.timestamp("us", tz="UTC")
    return pa.table({"name": pa.array([r[0] for r in rows], pa.string()),
                     "address": pa.array([r[1] for r in rows], pa.string()),
                     "valid_from": pa.array([r[2] for r in rows], ts),
                     "valid_until": pa.array([r[3] for r in rows], ts)})


def host_clause(hosts: tuple[str, ...]) -> tuple[str, list[Any]]:
    """Statements from one of hosts: an address given, a client host name the log wrote (MySQL,
    MariaDB), or an address a host name held at the statement's time (the registered spans)."""
    addresses = [h.strip() for h in hosts if is_address(h)]
    names = [h.strip().lower() for h in hosts if not is_address(h)]
    parts, params = [], []
    if addresses:
        parts.append("src_ip IN (SELECT unnest(?::VARCHAR[]))")
        params.append(addresses)
    if names:
        parts.append("lower(extra['client_host']) IN (SELECT unnest(?::VARCHAR[]))")
        parts.append(f"EXISTS (SELECT 1 FROM {SPANS} s WHERE s.name IN (SELECT unnest(?::VARCHAR[])) "
                     "AND s.address = src_ip AND (s.valid_from IS NULL OR ts >= s.valid_from) "
                     "AND (s.valid_until IS NULL OR ts <= s.valid_until))")
        params += [names, names]
    return "(" + " OR ".join(parts) + ")", params


def _where(s: Suspects, database: str | None) -> tuple[str, list[Any]]:
    clauses = ["statement IS NOT NULL", f"({EXECUTED})"]
    params: list[Any] = []
    who = []
    if s.users:
        who.append('lower("user") IN (SELECT lower(unnest(?::VARCHAR[])))')
        params.append(list(s.users))
    if s.hosts:
        clause, p = host_clause(s.hosts)
        who.append(clause)
        params += p
    if s.sessions:
        who.append("session_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(s.sessions))
    if who:  # any suspect criterion selects a statement
        clauses.append("(" + " OR ".join(who) + ")")
    if s.since is not None:
        clauses.append("ts >= ?")
        params.append(s.since)
    if s.until is not None:
        clauses.append("ts <= ?")
        params.append(s.until)
    if database:
        # a record without a database name (psql output, default prefixes) may be on any: kept
        clauses.append("(database IS NULL OR lower(database) = lower(?))")
        params.append(database)
    return " AND ".join(clauses), params


def merge_relation_lines(rows: Iterable[tuple[Any, ...]]) -> list[AuditStatement]:
    """Rows sorted by file and line -> statements. Lines of one backend with the same statement id and
    text, one after another, are the same execution: pgAudit writes one line per relation
    (log_relation), and for `COPY (query) TO` one for the query (substatement 1, SELECT) and one for
    the COPY (substatement 2), both with the COPY's text."""
    out: list[AuditStatement] = []
    last: dict[tuple[str, str], tuple[Any, int]] = {}  # (file, session) -> ((stmt id, substmt id), index)
    for r in rows:
        (src_file, src_record, ts, user, src_ip, session_id, database, dialect, command, audit_class,
         stmt_id, _substmt_id, object_name, text, params, nrows, client_host, marker) = r[:18]
        ts_text = r[18] if len(r) > 18 else None
        src_sha256 = r[19] if len(r) > 19 else None
        if dialect == "pgaudit" and stmt_id is not None:
            sess = (src_file, session_id or "")
            ident = (stmt_id, text)
            prev = last.get(sess)
            if prev is not None and prev[0] == ident:
                out[prev[1]] = _add_line(out[prev[1]], src_record, object_name)
                continue
            last[sess] = (ident, len(out))
        out.append(AuditStatement(
            statement_id=statement_key(src_sha256 or src_file, src_record), src_file=src_file,
            src_record=int(src_record),
            duplicates=(), ts=ts, user=user, src_ip=src_ip or client_host, session_id=session_id,
            database=database, dialect=dialect, command=command, audit_class=audit_class, text=text,
            parameters=None if params is None else tuple(params), parameters_marker=marker,
            rows=nrows, objects=(object_name,) if object_name else (), ts_text=ts_text,
        ))
    return out


def _add_line(s: AuditStatement, record: int, object_name: str | None) -> AuditStatement:
    objects = s.objects + ((object_name,) if object_name and object_name not in s.objects else ())
    return AuditStatement(**{**s.__dict__, "duplicates": (*s.duplicates, int(record)), "objects": objects})

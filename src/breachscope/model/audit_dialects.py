"""The dialects of the `db_audit` table: the value of its `dialect` column, and which audit records of
each dialect carry a statement the server executed (what scope replays).

The `dialect` column is part of the table's schema, so its values are declared here, in the layer that
both sides see: each database audit reader (ingest/db_audit/) writes its rows with its descriptor's name
and lists its descriptors on its `Reader`; scope asks `executed_condition()` which rows to replay. A new
dialect is one line in `AUDIT_DIALECTS` (a test checks that the registered readers and this table agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditDialect:
    """One value of `db_audit.dialect` and the `audit_type` values of its records whose statement ran."""

    name: str
    executed: tuple[str, ...]  # audit_type values of executed statements; () when none of its records is one
    meaning: str  # what a record of this dialect is (for docs and messages)


PGAUDIT = AuditDialect("pgaudit", ("SESSION", "OBJECT"), "a pgAudit AUDIT record in a PostgreSQL server log")
POSTGRESQL = AuditDialect("postgresql", (), "any other PostgreSQL server log entry (connection, error, STATEMENT)")
MYSQL_GENERAL = AuditDialect("mysql_general", ("Query", "Execute"), "a MySQL / MariaDB general query log entry")
MARIADB_AUDIT = AuditDialect("mariadb_audit", ("QUERY",), "a MariaDB Audit Plugin (server_audit) record")

#: Every dialect a reader writes, in the order their conditions are written.
AUDIT_DIALECTS: tuple[AuditDialect, ...] = (PGAUDIT, POSTGRESQL, MYSQL_GENERAL, MARIADB_AUDIT)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def executed_condition(dialects: Iterable[AuditDialect] = AUDIT_DIALECTS) -> str:
    """SQL condition over `db_audit` rows: true for the records that carry an executed statement."""
    parts = [f"(dialect = {_literal(d.name)} AND audit_type IN ({', '.join(map(_literal, d.executed))}))"
             for d in dialects if d.executed]
    return " OR ".join(parts) or "FALSE"

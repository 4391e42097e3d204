"""Values the audit record fixes, bound into the replay so that it answers what the server answered.

`now()`, `current_date`, `current_user`, `current_database()`, `version()` (and their MySQL forms)
are replaced by literals of the logged values: the statement's time, user, database, client, and the
server version when the case holds the server's start line. A function whose value the record does
not give (MySQL's CURRENT_USER(), the account's host pattern; version() with no start line) is left
in place and its reason returned: the statement is then not replayed exactly.

The replay session runs in UTC; `current_date` and `localtimestamp` take the server's local time as
its log wrote it (pgAudit's prefix time is in log_timezone, the usual session time zone).
`now()` is the start of the statement's transaction on the server; the statement's own time stands
for it (a difference only for comparisons that fall between the two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlglot import exp

#: Words of a statement that may be bound: a template holding one is keyed by the record's values too.
MENTIONS = re.compile(
    r"(?<![\w$])(now|sysdate|user|version|database|schema|current_\w+|localtime\w*|session_user|system_user|"
    r"utc_\w+|unix_timestamp|statement_timestamp|transaction_timestamp)(?![\w$])", re.I)
_LOCAL = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)")


@dataclass(frozen=True)
class Facts:
    """What one audit record says about the statement's context."""

    dialect: str  # postgres | mysql (the statement's SQL dialect)
    ts: datetime | None
    ts_text: str | None  # the time as logged (server local time for pgAudit prefixes)
    user: str | None
    client: str | None
    database: str | None
    version: str | None  # version() as the server would answer, when known

    def key(self) -> tuple:
        return (self.ts, self.ts_text, self.user, self.client, self.database, self.version)


def mentions(text: str) -> bool:
    return MENTIONS.search(text) is not None


def bind(tree: exp.Expr, f: Facts) -> list[str]:
    """Replace the bindable functions of tree in place; reasons for those whose value is not known
    (replaced by NULL: a statement with one is not replayed)."""
    unknown: list[str] = []
    for node in list(tree.walk()):
        value = _value(node, f)
        if value is None:
            continue
        if isinstance(value, str):  # not known: the statement will not run; the sandbox need not refuse it too
            unknown.append(value)
            value = exp.null()
        node.replace(value)
    return sorted(set(unknown))


def _value(node: exp.Expr, f: Facts) -> exp.Expr | str | None:
    """The literal for node, a reason string when its value is not known, None when node is not bindable."""
    name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
    if isinstance(node, exp.Column) and f.dialect == "postgres" and not node.table:
        ident = node.this
        if isinstance(ident, exp.Identifier) and not ident.quoted and ident.name.lower() in ("user", "current_role"):
            return _text(f.user, f"{ident.name.lower()}: the user is not in the audit record")
        return None
    if isinstance(node, exp.CurrentTimestamp | exp.Systimestamp | exp.CurrentDatetime) or name in (
            "now", "transaction_timestamp", "statement_timestamp", "sysdate"):
        if f.dialect == "mysql":
            return _cast(_local(f, utc=True), "timestamp", "now(): the statement time is not in the audit record")
        return _cast(_instant(f), "timestamptz", "now(): the statement time is not in the audit record")
    if isinstance(node, exp.UtcTimestamp):
        return _cast(_local(f, utc=True), "timestamp", "utc_timestamp(): the statement time is not known")
    if isinstance(node, exp.Localtimestamp):
        return _cast(_local(f), "timestamp", "localtimestamp: the statement time is not known")
    if isinstance(node, exp.CurrentDate | exp.UtcDate):
        local = _local(f, utc=isinstance(node, exp.UtcDate))
        return _cast(local[:10] if local else None, "date", "current_date: the statement time is not known")
    if isinstance(node, exp.CurrentTime | exp.Localtime | exp.UtcTime):
        local = _local(f, utc=isinstance(node, exp.UtcTime))
        return _cast(local[11:] if local else None, "time", "current_time: the statement time is not known")
    if name == "unix_timestamp" and not node.expressions:
        return (exp.Literal.number(int(f.ts.timestamp())) if f.ts else
                "unix_timestamp(): the statement time is not known")
    if isinstance(node, exp.CurrentUser | exp.SessionUser) or name in ("user", "session_user", "system_user"):
        return _user(node, name, f)
    if isinstance(node, exp.CurrentDatabase | exp.CurrentCatalog) or (
            isinstance(node, exp.CurrentSchema) and f.dialect == "mysql") or name in ("database", "current_database"):
        return _text(f.database, "current_database(): the database is not in the audit record")
    if isinstance(node, exp.CurrentVersion) or name == "version":
        return _text(f.version, "version(): the server version is not in the case (no server start line)")
    return None


def _user(node: exp.Expr, name: str, f: Facts) -> exp.Expr | str:
    if f.dialect != "mysql":
        return _text(f.user, "current_user: the user is not in the audit record")
    if isinstance(node, exp.CurrentUser):  # the account that matched: its host part is a pattern the log lacks
        return "CURRENT_USER(): the matched account's host pattern is not in the audit record"
    if f.user is None or f.client is None:
        return f"{name or 'user'}(): the user or client is not in the audit record"
    return exp.Literal.string(f"{f.user}@{f.client}")


def _text(value: str | None, reason: str) -> exp.Expr | str:
    return reason if value is None else exp.Literal.string(value)


def _cast(value: str | None, typ: str, reason: str) -> exp.Expr | str:
    if value is None:
        return reason
    return exp.Cast(this=exp.Literal.string(value), to=exp.DataType.build(typ))


def _instant(f: Facts) -> str | None:
    if f.ts is None:
        return None
    ts = f.ts if f.ts.tzinfo else f.ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(sep=" ")


def _local(f: Facts, utc: bool = False) -> str | None:
    """'YYYY-MM-DD HH:MM:SS[.f]': the server's local time as logged (else UTC)."""
    if not utc and f.ts_text:
        m = _LOCAL.match(f.ts_text)
        if m:
            return f"{m.group(1)} {m.group(2)}"
    if f.ts is None:
        return None
    ts = f.ts if f.ts.tzinfo else f.ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def server_version_at(starts: list[tuple[datetime, str]], ts: datetime | None) -> str | None:
    """version() at ts: the latest server start logged before it (`starting PostgreSQL 15.4 on ...`)."""
    if ts is None:
        return None
    best = None
    for when, text in starts:
        if when <= ts and (best is None or when >= best[0]):
            best = (when, text)
    return best[1] if best else None

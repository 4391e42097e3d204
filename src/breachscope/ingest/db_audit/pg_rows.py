"""PostgreSQL log entries to `db_audit` rows: pgAudit's AUDIT payload parsed (dialect 'pgaudit'), other
entries kept as dialect 'postgresql', and what connection lines say about a backend carried to its later
rows."""

from __future__ import annotations

import re
from typing import Any

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.common import RowBatcher, is_ip
from breachscope.ingest.db_audit.pg_entry import (
    AUDIT,
    NO_PARAMETERS,
    NOT_LOGGED,
    PREVIOUSLY_LOGGED,
    Entry,
    parse_csv_field,
)
from breachscope.model.audit_dialects import PGAUDIT, POSTGRESQL

#: Row tuple order (everything but the provenance columns and `family`).
COLUMNS = (
    "ts", "user", "src_ip", "src_port", "message", "dialect", "database", "session_id", "statement_id",
    "substatement_id", "audit_type", "audit_class", "command", "object_type", "object_name", "statement",
    "parameters", "rows", "application_name", "ts_text", "ts_resolution", "extra",
)

# (?<!\w): tried at word starts only; else a long word without "=" costs O(n^2) (found by fuzzing)
_KV = re.compile(r"(?<!\w)(\w+)=(\S*)")
_PASSWORD_FAILED = re.compile(r'authentication failed for user "([^"]*)"')


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


class RowBuilder:
    """Entries to rows: AUDIT payloads parsed, connection facts carried per backend, batches cut."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.out = RowBatcher(ctx, COLUMNS)
        self.backends: dict[str, dict[str, Any]] = {}  # session id or pid -> client, user, database, app
        self.statements: dict[tuple[str | None, str], str] = {}  # for `<previously logged>`

    def add(self, e: Entry, truncated: bool = False) -> None:
        key = e.session or e.pid
        backend = self.backends.get(key) if key is not None else None
        text = e.text
        if text.startswith(AUDIT):
            row = self._audit(e, key, backend, truncated)
            if row is None:
                return
        else:
            backend = self._connection_facts(e, key, backend)
            row = self._plain(e, backend, truncated)
        self.out.add(e.lineno, row)

    def _fill(self, e: Entry, backend: dict[str, Any] | None) -> tuple[Any, ...]:
        """(user, database, app, src_ip, src_port, client host name) with the backend's known facts filled
        in where the entry lacks them; the names of the filled fields go to extra.from_connection_lines."""
        user, database, app, client, port = e.user, e.database, e.app, e.client, e.port
        if backend is not None and None in (user, database, app, client, port):
            carried = []
            if user is None and backend.get("user") is not None:
                user = backend["user"]
                carried.append("user")
            if database is None and backend.get("database") is not None:
                database = backend["database"]
                carried.append("database")
            if app is None and backend.get("app") is not None:
                app = backend["app"]
                carried.append("application_name")
            if client is None or client == backend.get("client"):
                if client is None and backend.get("client") is not None:
                    client = backend["client"]
                    carried.append("client")
                if port is None and backend.get("port") is not None:
                    port = backend["port"]
                    carried.append("src_port")
            if carried:
                e.extra = {**(e.extra or {}), "from_connection_lines": ",".join(carried)}
        if client is not None and not is_ip(client):
            return user, database, app, None, port, client
        return user, database, app, client, port, None

    def _extra(self, e: Entry, client_host: str | None, truncated: bool) -> dict[str, str]:
        extra = dict(e.extra) if e.extra else {}
        extra["severity"] = e.severity
        if e.pid is not None:
            extra["pid"] = e.pid
        if client_host is not None:
            extra["client_host"] = client_host
        if truncated:
            extra["truncated"] = "true"
        return extra

    def _audit(self, e: Entry, key: str | None, backend: dict[str, Any] | None,
               truncated: bool) -> tuple[Any, ...] | None:
        f = parse_csv_field(e.text[len(AUDIT):])
        if f is None or len(f) < 8:
            self.ctx.reject(f"line {e.lineno}", "malformed pgaudit AUDIT record", e.text)
            return None
        user, database, app, src_ip, port, client_host = self._fill(e, backend)
        extra = self._extra(e, client_host, truncated)
        statement: str | None = f[7]
        stmt_id = f[1]
        if statement in (PREVIOUSLY_LOGGED, NOT_LOGGED):
            extra["statement"] = statement
            statement = self.statements.get((key, stmt_id)) if statement == PREVIOUSLY_LOGGED else None
            if statement is not None:
                extra["statement_source"] = "earlier record of the same statement id"
        else:
            if len(self.statements) > 100_000:
                self.statements.clear()
            self.statements[(key, stmt_id)] = f[7]  # = statement, a text here
        params, rows = self._parameters(f, extra)
        command = f[4] or None
        obj = f[6] or None
        message = f"{command} {obj}" if obj else command
        return (e.ts, user, src_ip, port, message, PGAUDIT.name, database, e.session or e.pid, _int(stmt_id),
                _int(f[2]), f[0] or None, f[3] or None, command, f[5] or None, obj, statement, params, rows, app,
                e.ts_text, e.ts_resolution, extra)

    def _parameters(self, f: list[str], extra: dict[str, str]) -> tuple[list[str] | None, int | None]:
        if len(f) == 8:  # pgAudit before parameter logging existed
            return None, None
        rows = None
        if len(f) == 10 and f[9].isdigit():
            rows = int(f[9])
        elif len(f) > 9:  # pgAudit 1.0 wrote each parameter as a field of its own
            extra["parameters_layout"] = "one field per parameter"
            return f[8:], None
        p = f[8]
        if p in (NOT_LOGGED, PREVIOUSLY_LOGGED):
            extra["parameters"] = p
            return None, rows
        if p == NO_PARAMETERS:
            return [], rows
        params = parse_csv_field(p)
        if params is None:
            extra["parameters"] = p
        return params, rows

    def _connection_facts(self, e: Entry, key: str | None, backend: dict[str, Any] | None) -> dict[str, Any] | None:
        """Remember what connection lines tell about a backend; fill the entry from it."""
        text = e.text
        if text.startswith(("connection received:", "connection authorized:", "replication connection authorized:",
                            "disconnection:")):
            facts = dict(_KV.findall(text.split("\n", 1)[0]))
            if "host" in facts:
                e.client = e.client or facts["host"]
                if "port" in facts and facts["port"].isdigit():
                    e.port = e.port or int(facts["port"])
            e.user = e.user or facts.get("user")
            e.database = e.database or facts.get("database")
            e.app = e.app or facts.get("application_name")
            if key is not None:
                if text.startswith("disconnection:"):
                    self.backends.pop(key, None)
                else:
                    if text.startswith("connection received:") or backend is None:
                        if len(self.backends) > 100_000:
                            self.backends.clear()
                        backend = self.backends[key] = {}
                    for name in ("user", "database", "app", "client", "port"):
                        value = getattr(e, name)
                        if value is not None:
                            backend[name] = value
        elif "authentication failed for user" in text:
            m = _PASSWORD_FAILED.search(text)
            if m:
                e.user = e.user or m.group(1)
        return backend

    def _plain(self, e: Entry, backend: dict[str, Any] | None, truncated: bool) -> tuple[Any, ...]:
        user, database, app, src_ip, port, client_host = self._fill(e, backend)
        extra = self._extra(e, client_host, truncated)
        statement = e.statement
        if e.severity == "STATEMENT":
            statement = e.text
        return (e.ts, user, src_ip, port, e.text, POSTGRESQL.name, database, e.session or e.pid, None, None, None,
                None, None, None, None, statement, None, None, app, e.ts_text, e.ts_resolution, extra)

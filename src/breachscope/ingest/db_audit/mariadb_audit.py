"""MariaDB Audit Plugin (server_audit) file log: `timestamp,serverhost,username,host,connectionid,queryid,
operation,database,object,retcode`.

QUERY events carry the statement in single quotes with backslash escapes (`\\'`, `\\\\`, `\\n`...); table
events (READ, WRITE, CREATE, ALTER, DROP, RENAME) carry the table name; connection events carry the error
code of the attempt (FAILED_CONNECT) and, in some builds, the connection type. Timestamps are the server's
local time without a zone: they take --tz (else UTC) and say so in ts_resolution. Plugin versions before
1.4 did not escape newlines, so a statement may continue on the next physical lines; those lines are
joined back. Test-suite copies mask the time, host and ids as TIME, HOSTNAME and ID: such rows are kept
with a null ts. See docs/formats/db_audit.md.
"""

from __future__ import annotations

import re
from datetime import datetime

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.common import TABLE, RowBatcher, is_ip, sql_command
from breachscope.ingest.lines import decode, head_text, iter_lines
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.timeparse import dt_to_us
from breachscope.model.audit_dialects import MARIADB_AUDIT

COLUMNS = (
    "ts", "host", "user", "src_ip", "message", "database", "session_id", "statement_id", "audit_type",
    "audit_class", "command", "object_type", "object_name", "statement", "retcode", "ts_text", "ts_resolution",
    "extra",
)
TABLE_EVENTS = {"READ": "READ", "WRITE": "WRITE", "CREATE": "DDL", "ALTER": "DDL", "DROP": "DDL", "RENAME": "DDL"}
CONNECTION_EVENTS = frozenset({"CONNECT", "DISCONNECT", "FAILED_CONNECT", "CHANGEUSER", "PROXY_CONNECT"})
_ESCAPES = {"'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "0": "\0"}
_ESCAPE = re.compile(r"\\(.)", re.S)
_LINE = re.compile(r"^(?:\d{8} \d\d:\d\d:\d\d|TIME),[^,]*,[^,]*,[^,]*,(?:\d+|ID),(?:-?\d+|ID),[A-Z_]+,")
MASKED = "ID"  # what mysql-test writes for ids and error codes


def sniff(head: bytes, name: str) -> bool:
    lines = [ln for ln in head_text(head).splitlines()[:50] if ln.strip()]
    if not lines:
        return False
    hits = sum(1 for ln in lines if _LINE.match(ln))
    return hits >= 1 and hits * 2 >= len(lines)


def is_record_start(line: str) -> bool:
    """Cheap test for the time field (`20250205 10:00:00,` or the test suite's `TIME,`)."""
    return (line[17:18] == "," and line[8:9] == " " and line[:8].isdigit()) or line.startswith("TIME,")


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def _code(text: str) -> bool:
    """An error code as the plugin writes it (`0`, `1045`, `-1`), masked `ID`, or nothing."""
    return text.lstrip("-").isdigit() or text == MASKED or not text


def _int(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


def split_query(rest: str) -> tuple[str, str] | None:
    """(statement, retcode) of `'escaped statement',retcode`; None when the closing quote is missing."""
    k = rest.rfind("',")
    if k > 0 and _code(rest[k + 2:]):
        return unescape(rest[1:k]), rest[k + 2:]
    return None


class _Times:
    """`20250205 10:00:00` in the server's local time (no zone in the log) to UTC microseconds."""

    def __init__(self, ctx: ReadContext) -> None:
        self.zone = ctx.options.zone
        self.how = "zone_from_option" if ctx.options.tz else "zone_assumed_utc"
        self.assumption = (f"server_audit timestamps have no zone: taken as {ctx.options.tz}" if ctx.options.tz
                           else "server_audit timestamps have no zone: taken as UTC (use --tz)")
        self.cache: dict[str, int | None] = {}
        self.zone_assumed = self.unreadable = False  # told once per file, at the end

    def parse(self, text: str) -> int | None:
        hit = self.cache.get(text, -1)
        if hit != -1:
            return hit
        if len(self.cache) > 200_000:
            self.cache.clear()
        try:
            local = datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]), int(text[12:14]),
                             int(text[15:17]), tzinfo=self.zone)
            us: int | None = dt_to_us(local)
            self.zone_assumed = True
        except ValueError:
            us = None
            self.unreadable = True
        self.cache[text] = us
        return us

    def tell(self, ctx: ReadContext) -> None:
        if self.zone_assumed:
            ctx.warn(self.assumption)
        if self.unreadable:
            ctx.warn("masked or unreadable timestamps (ts is null)")


class _Builder:
    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.times = _Times(ctx)
        self.out = RowBatcher(ctx, COLUMNS, {"dialect": MARIADB_AUDIT.name})

    def add(self, lineno: int, text: str, truncated: bool = False) -> None:
        f = text.split(",", 8)
        if len(f) < 8 or not (f[4].isdigit() or f[4] == MASKED) or not f[6].isupper():
            self.ctx.reject(f"line {lineno}", "not a server_audit record", text)
            return
        ts_text, server, user, client, conn_id, query_id, op, database = f[:8]
        rest = f[8] if len(f) == 9 else ""
        extra: dict[str, str] = {}
        statement = obj = object_type = None
        command = audit_class = None
        if rest.startswith("'"):
            got = split_query(rest)
            if got is None:
                if not truncated:
                    self.ctx.reject(f"line {lineno}", "server_audit statement without its closing quote", text)
                    return
                got = unescape(rest[1:]), ""
            statement, retcode_text = got
            command, audit_class = sql_command(statement)
        elif op.startswith("QUERY"):
            self.ctx.reject(f"line {lineno}", "server_audit QUERY without a quoted statement", text)
            return
        else:
            obj, retcode_text = self._object(op, database, rest, extra)
            if op in TABLE_EVENTS:
                audit_class, object_type = TABLE_EVENTS[op], "TABLE"
        ts = self.times.parse(ts_text)
        how = None if ts is None else self.times.how
        retcode = _int(retcode_text) if retcode_text else None
        if retcode_text and retcode is None:
            extra["retcode"] = retcode_text
        stmt_id = _int(query_id)
        if stmt_id is None and query_id:
            extra["queryid"] = query_id
        src_ip = client if client and is_ip(client) else None
        if client and src_ip is None:
            extra["client_host"] = client
        if truncated:
            extra["truncated"] = "true"
        message = f"{op} {obj}" if obj else (f"{op} {command}" if command else op)
        self.out.add(lineno, (ts, server or None, user or None, src_ip, message, database or None,
                              conn_id or None, stmt_id, op, audit_class, command, object_type, obj, statement,
                              retcode, ts_text, how, extra or None))

    @staticmethod
    def _object(op: str, database: str, rest: str, extra: dict[str, str]) -> tuple[str | None, str]:
        """(object name, retcode text) of a table, connection or config event."""
        parts = rest.split(",")
        if op in CONNECTION_EVENTS and len(parts) >= 3 and not _code(parts[-1]):
            extra["connection_type"] = parts.pop()
        retcode = parts.pop() if len(parts) >= 2 else ""
        obj = ",".join(parts) or None
        if op == "RENAME" and obj and "|" in obj:
            obj, _, new_name = obj.partition("|")
            extra["renamed_to"] = new_name
        if op in TABLE_EVENTS and obj and database and "." not in obj:
            obj = f"{database}.{obj}"
        return obj, retcode


def _open_query(text: str) -> bool:
    """A statement whose closing quote has not come yet (plugins before 1.4 wrote raw line breaks)."""
    f = text.split(",", 8)
    return len(f) == 9 and f[8].startswith("'") and split_query(f[8]) is None


def read(ctx: ReadContext) -> Batches:
    builder = _Builder(ctx)
    out = builder.out
    pending: list[str] = []
    start = 0
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        line = decode(raw, ctx)
        starts = is_record_start(line)
        if pending and not starts and _open_query("\n".join(pending)):
            pending.append(line)
            continue
        if pending:
            builder.add(start, pending[0] if len(pending) == 1 else "\n".join(pending))
            pending = []
            if out.full():
                yield TABLE, out.flush()
        if starts:
            pending, start = [line], lineno
        elif line.strip():
            ctx.reject(f"line {lineno}", "not a server_audit record", raw)
    if pending:
        text = "\n".join(pending)
        truncated = _open_query(text)
        if truncated:
            ctx.warn("last record is cut short (stored with extra.truncated = true)")
        builder.add(start, text, truncated)
    builder.times.tell(ctx)
    if out.rows:
        yield TABLE, out.flush()


READER = Reader(
    name="mariadb_audit",
    family="db_audit",
    description="MariaDB Audit Plugin (server_audit) CSV file log",
    sniff=sniff,
    read=read,
    audit_dialects=(MARIADB_AUDIT,),
)

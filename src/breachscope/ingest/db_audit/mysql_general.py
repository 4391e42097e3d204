"""MySQL / MariaDB general query log: `2025-02-05T10:00:00.123456Z\\t   12 Query\\tSELECT ...`.

Two layouts: MySQL 5.7+ writes an ISO 8601 time on every line (UTC `Z` or, with log_timestamps=SYSTEM,
a local offset); MySQL 5.6 and MariaDB write `250205 10:00:00` (server local time, no zone) only when
the second changes, and begin the other lines with two tabs. A statement that spans several lines
continues on the following lines, which have no time, id or command: they are joined back with `\\n`.
The header that the server writes at start and at each log flush (`... Version: ... started with:`,
`Tcp port: ...`, `Time  Id Command  Argument`) is not a record.

The log names the user and client only on the `Connect` line of a connection; they are carried to the
later rows of the same thread id (until its `Quit`), as is the current database (`Connect ... on db`,
`Init DB`, `USE db`). See docs/formats/db_audit.md.
"""

from __future__ import annotations

import re
from datetime import datetime

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.common import TABLE, RowBatcher, is_ip, sql_command
from breachscope.ingest.lines import decode, head_text, iter_lines
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.timeparse import dt_to_us
from breachscope.model.audit_dialects import MYSQL_GENERAL

COLUMNS = (
    "ts", "user", "src_ip", "message", "database", "session_id", "audit_type", "audit_class",
    "command", "statement", "ts_text", "ts_resolution", "extra",
)
#: Server command names (sql/sql_parse.cc command_name[] of MySQL 8 and MariaDB).
COMMANDS = (
    "Sleep", "Quit", "Init DB", "Query", "Field List", "Create DB", "Drop DB", "Refresh", "Shutdown", "Statistics",
    "Processlist", "Connect", "Kill", "Debug", "Ping", "Time", "Delayed insert", "Change user", "Binlog Dump GTID",
    "Binlog Dump", "Table Dump", "Connect Out", "Register Slave", "Register Replica", "Prepare", "Execute",
    "Long Data", "Close stmt", "Reset stmt", "Set option", "Fetch", "Daemon", "Reset Connection", "Error",
    "Bulk_execute", "Slave_worker", "Slave_IO", "Slave_SQL", "Com_multi", "clone", "Group Replication Data Stream",
)
#: Commands whose argument is SQL text and may span lines.
SQL_COMMANDS = frozenset({"Query", "Prepare", "Execute", "Bulk_execute"})
_COMMAND_RE = "|".join(re.escape(c) for c in sorted(COMMANDS, key=len, reverse=True))
# time (ISO 8601, `yymmdd h:mm:ss`, or nothing after two tabs), thread id, command, argument
_RECORD = re.compile(
    r"^(?:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?)|(\d{6} [ \d]\d:\d\d:\d\d)|(?=\t))"
    r"[\t ]+(\d+) (" + _COMMAND_RE + r")(?:\t|  +|$)(.*)$", re.S)
COMMAND_SET = frozenset(COMMANDS)
_CONNECT = re.compile(r"^(?P<user>[^@\s]*)@(?P<host>\S*)(?: as \S+)?(?: on(?: (?P<db>\S*))?)?(?: using (?P<via>.+))?$")
_DENIED = re.compile(r"Access denied for user '(?P<user>[^']*)'@'(?P<host>[^']*)'")
_USE = re.compile(r"^\s*use\s+`?([^`;\s]+)`?", re.I)


def _is_header(line: str) -> bool:
    return (line.endswith("started with:") and ", Version: " in line) or line.startswith(
        ("Tcp port:", "TCP Port:")) or (line.startswith("Time") and "Id Command" in line.replace("\t", " "))


def match_record(line: str) -> tuple[str | None, str | None, str, str, str] | None:
    """(ISO time, old-layout time, thread id, command, argument) of a record line, None for other lines."""
    if line[4:5] == "-" and line[10:11] == "T":  # MySQL 5.7+ with tabs: no regex needed
        tab = line.find("\t", 19, 40)
        if tab > 0:
            thread, _, rest = line[tab + 1:].lstrip(" ").partition(" ")
            command, sep, argument = rest.partition("\t")
            if thread.isdigit() and command in COMMAND_SET and (sep or not argument):
                return line[:tab], None, thread, command, argument
    m = _RECORD.match(line)
    return m.groups() if m else None  # type: ignore[return-value]  # groups 3-5 always take part in a match


def sniff(head: bytes, name: str) -> bool:
    lines = head_text(head).splitlines()[:60]
    if sum(1 for ln in lines[:5] if _is_header(ln)) >= 2:
        return True
    records = sum(1 for ln in lines if (m := match_record(ln)) and (m[0] or m[1]))
    return records >= 3 or (records >= 1 and records * 2 >= len([ln for ln in lines if ln.strip()]))


class _Times:
    """ISO stamps with their zone, or `yymmdd h:mm:ss` in --tz (else UTC); cached per second."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.zone = ctx.options.zone
        self.local_how = "zone_from_option" if ctx.options.tz else "zone_assumed_utc"
        self.local_warning = (f"general log timestamps without a zone taken as {ctx.options.tz}" if ctx.options.tz
                              else "general log timestamps without a zone taken as UTC (use --tz)")
        self.cache: dict[str, int | None] = {}
        self.zone_assumed = False  # told once per file, at the end

    def tell(self) -> None:
        if self.zone_assumed:
            self.ctx.warn(self.local_warning)

    def iso(self, text: str) -> tuple[int | None, str | None]:
        base, frac = text[:19], ""
        rest = text[19:]
        if rest.startswith("."):
            k = 1
            while k < len(rest) and rest[k].isdigit():
                k += 1
            frac, rest = rest[1:k], rest[k:]
        key = base + rest
        us = self.cache.get(key, -1)
        if us == -1:
            try:
                dt = datetime.fromisoformat(base + (rest.replace("Z", "+00:00") if rest else ""))
                if dt.tzinfo is None:
                    dt = dt.replace(tzinfo=self.zone)
                us = dt_to_us(dt)
            except ValueError:
                us = None
            self._put(key, us)
        if us is None:
            return None, None
        if not rest:
            self.zone_assumed = True
        return us + (int((frac + "00000")[:6]) if frac else 0), ("zone_in_text" if rest else self.local_how)

    def old(self, text: str) -> tuple[int | None, str | None]:
        us = self.cache.get(text, -1)
        if us == -1:
            try:
                us = dt_to_us(datetime(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]), int(text[7:9]),
                                       int(text[10:12]), int(text[13:15]), tzinfo=self.zone))
            except ValueError:
                us = None
            self._put(text, us)
        if us is None:
            return None, None
        self.zone_assumed = True
        return us, self.local_how

    def _put(self, key: str, us: int | None) -> None:
        if len(self.cache) > 200_000:
            self.cache.clear()
        self.cache[key] = us


class _Record:
    __slots__ = ("argument", "command", "lineno", "thread", "ts", "ts_resolution", "ts_text")

    def __init__(self, lineno: int, ts: int | None, ts_text: str | None, how: str | None, thread: str,
                 command: str, argument: str) -> None:
        self.lineno = lineno
        self.ts = ts
        self.ts_text = ts_text
        self.ts_resolution = how
        self.thread = thread
        self.command = command
        self.argument = [argument]


class _Builder:
    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.out = RowBatcher(ctx, COLUMNS, {"dialect": MYSQL_GENERAL.name})
        self.threads: dict[str, dict[str, str | None]] = {}  # thread id -> user, src_ip, client_host, database

    def add(self, r: _Record, truncated: bool = False) -> None:
        argument = "\n".join(r.argument) if len(r.argument) > 1 else r.argument[0]
        command = r.command
        conn = self.threads.get(r.thread)
        extra: dict[str, str] = {}
        statement = None
        verb = audit_class = None
        if command in ("Connect", "Change user"):
            conn = self._connect(r.thread, argument, extra)
        elif command == "Init DB":
            conn = self._state(r.thread, conn)
            conn["database"] = argument.strip() or None
        if command in SQL_COMMANDS:
            statement = argument
            verb, audit_class = sql_command(argument)
            if verb == "USE":
                m = _USE.match(argument)
                if m:
                    conn = self._state(r.thread, conn)
                    conn["database"] = m.group(1)
        elif argument:
            extra["argument"] = argument
        if truncated:
            extra["truncated"] = "true"
        user = src_ip = database = None
        if conn is not None:
            user, src_ip, database = conn.get("user"), conn.get("src_ip"), conn.get("database")
            if conn.get("client_host"):
                extra["client_host"] = conn["client_host"]  # type: ignore[assignment]  # tested not None above
        message = f"{command} {verb}" if verb else command
        self.out.add(r.lineno, (r.ts, user, src_ip, message, database, r.thread, command,
                                audit_class, verb, statement, r.ts_text, r.ts_resolution, extra or None))
        if command == "Quit":
            self.threads.pop(r.thread, None)

    def _state(self, thread: str, conn: dict[str, str | None] | None) -> dict[str, str | None]:
        if conn is None:
            if len(self.threads) > 100_000:
                self.threads.clear()
            conn = self.threads[thread] = {}
        return conn

    def _connect(self, thread: str, argument: str, extra: dict[str, str]) -> dict[str, str | None]:
        """`user@host on db using TCP/IP`, or the error of a refused connection."""
        conn: dict[str, str | None] = {}
        m = _CONNECT.match(argument.strip())
        denied = None if m else _DENIED.search(argument)
        if m or denied:
            g = (m or denied).groupdict()  # type: ignore[union-attr]  # one of them matched
            host = g.get("host") or None
            conn["user"] = g.get("user") or None
            conn["src_ip"] = host if host and is_ip(host) else None
            conn["client_host"] = None if conn["src_ip"] else host
            conn["database"] = g.get("db") or None
            if g.get("via"):
                extra["connection_type"] = g["via"]
            if denied:
                extra["connect_error"] = "access denied"
        if len(self.threads) > 100_000:
            self.threads.clear()
        self.threads[thread] = conn
        return conn


def read(ctx: ReadContext) -> Batches:
    builder = _Builder(ctx)
    times = _Times(ctx)
    pending: _Record | None = None
    last_ts: tuple[int | None, str | None, str | None] = (None, None, None)  # the old layout's "same second"
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        line = decode(raw, ctx)
        m = match_record(line)
        if m is None:
            if pending is not None and pending.command in SQL_COMMANDS and not _is_header(line):
                pending.argument.append(line)  # a statement that goes on over several lines
                continue
            if pending is not None:
                builder.add(pending)
                pending = None
            if _is_header(line) or not line.strip():
                continue
            ctx.reject(f"line {lineno}", "not a general query log record", raw)
            continue
        if pending is not None:
            builder.add(pending)
            if builder.out.full():
                yield TABLE, builder.out.flush()
        iso, old, thread, command, argument = m
        if iso:
            ts, how = times.iso(iso)
            last_ts = (ts, iso, how)
        elif old:
            ts, how = times.old(old)
            last_ts = (ts, old, how)
        else:  # two tabs: the same second as the last stamped line
            ts, old, how = last_ts
            if old is None:
                ctx.warn("records before the first timestamp of the file (ts is null)")
        pending = _Record(lineno, ts, iso or old, how, thread, command, argument)
    if pending is not None:
        builder.add(pending, truncated=_ends_without_newline(ctx))
    times.tell()
    if builder.out.rows:
        yield TABLE, builder.out.flush()


def _ends_without_newline(ctx: ReadContext) -> bool:
    """A last line without its newline may be cut short (the server writes whole lines)."""
    with ctx.source.path.open("rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return False
        fh.seek(-1, 2)
        cut = fh.read(1) != b"\n"
    if cut:
        ctx.warn("last line has no newline: it may be cut short (extra.truncated = true)")
    return cut


READER = Reader(
    name="mysql_general",
    family="db_audit",
    description="MySQL / MariaDB general query log (5.6 and 5.7+/8 layouts)",
    sniff=sniff,
    read=read,
    audit_dialects=(MYSQL_GENERAL,),
)

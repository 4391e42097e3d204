"""PostgreSQL server logs with pgAudit records: stderr (any log_line_prefix), csvlog, jsonlog, psql output.

pgAudit writes `AUDIT: TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,OBJECT_TYPE,OBJECT_NAME,STATEMENT,
PARAMETER[,ROWS]` as the message of an ordinary server log entry, so this reader reads the server log and
stores every entry: AUDIT entries as dialect 'pgaudit', the others (connections, errors, STATEMENT lines,
checkpoints) as dialect 'postgresql' with audit_type null. Connection lines matter: `connection received:
host=... port=...` and `connection authorized: user=... database=...` tie a backend (session id or pid) to
a client, and that client is carried to the later rows of the same backend whose prefix lacks it.

The stderr prefix is not known in advance; it is read token by token (timestamp, `[pid]`, `user@db`,
`host(port)`, `key=value` lists, session id...), cached per distinct prefix. psql regression output
(`NOTICE:  AUDIT: ...` between psql's own lines) is a variant where only the AUDIT lines are records and
the other lines are counted in a warning. See docs/formats/db_audit.md.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.common import TABLE, RowBatcher, is_ip
from breachscope.ingest.lines import decode, head_text, iter_lines
from breachscope.ingest.reader import HEAD_BYTES, Batches, Reader
from breachscope.ingest.timeparse import dt_to_us, epoch_to_us

# Python's csv module refuses a field over 128 KiB (field_size_limit): a pgAudit record (or csvlog
# field) holding a longer statement, e.g. one an attacker padded to hide it, was rejected as malformed.
# Records of any size are read (the ingest's own record-size cap, if any, applies before this).
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))

SEVERITIES = frozenset({
    "LOG", "NOTICE", "WARNING", "ERROR", "FATAL", "PANIC", "INFO", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3",
    "DEBUG4", "DEBUG5", "STATEMENT", "DETAIL", "HINT", "CONTEXT", "QUERY", "LOCATION",
})
AUDIT = "AUDIT: "
NOT_LOGGED = "<not logged>"
PREVIOUSLY_LOGGED = "<previously logged>"
NO_PARAMETERS = "<none>"

#: Zone abbreviations PostgreSQL writes with %m/%t (those of the tz database), minutes east of UTC.
ZONE_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UCT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60, "CEST": 120, "MET": 60,
    "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "IST": 330, "PKT": 300, "WIB": 420, "WITA": 480,
    "WIT": 540, "HKT": 480, "JST": 540, "KST": 540, "AWST": 480, "ACST": 570, "ACDT": 630, "AEST": 600,
    "AEDT": 660, "NZST": 720, "NZDT": 780, "SAST": 120, "CAT": 120, "EAT": 180, "WAT": 60, "IDT": 180,
    "HST": -600, "AKST": -540, "AKDT": -480, "PST": -480, "PDT": -420, "MST": -420, "MDT": -360,
    "CST": -360, "CDT": -300, "EST": -300, "EDT": -240, "AST": -240, "ADT": -180, "NST": -210, "NDT": -150,
}
#: Abbreviations the tz database gives to several zones: the table's choice is reported, --tz decides.
AMBIGUOUS_ZONES = frozenset({"IST", "CST", "PST", "AST"})
UTC_NAMES = frozenset({"UTC", "GMT", "UCT", "Z"})

#: Row tuple order (everything but the provenance columns and `family`).
COLUMNS = (
    "ts", "user", "src_ip", "src_port", "message", "dialect", "database", "session_id", "statement_id",
    "substatement_id", "audit_type", "audit_class", "command", "object_type", "object_name", "statement",
    "parameters", "rows", "application_name", "ts_text", "ts_resolution", "extra",
)

_ISO_IN_PREFIX = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?: (?:[A-Z]{2,6}|[+-]\d\d(?::?\d\d)?))?")
# (?<!\w): tried at word starts only; else a long word without "=" costs O(n^2) (found by fuzzing)
_KV = re.compile(r"(?<!\w)(\w+)=(\S*)")
_PREFIX_KV = re.compile(r"(?<!\w)(\w+)=([^,\s]*)")
_SESSION_ID = re.compile(r"^[0-9a-f]{1,16}\.[0-9a-f]{1,16}$")
_HOST_PORT = re.compile(r"^(.+)\((\d{1,5})\)$")
_PID_TOKEN = re.compile(r"^\[(\d+)(?:-\d+)?\]:?$")
_SYSLOG_TAG = re.compile(r"(?:^|\s)[\w./-]+\[\d+\]: (?:\[\d+-\d+\] )?")
_SEVERITY_TAIL = re.compile(r"([A-Z][A-Z0-9]*)$")
_PASSWORD_FAILED = re.compile(r'authentication failed for user "([^"]*)"')

_KEY_NAMES = {
    "user": "user", "usr": "user", "u": "user", "username": "user", "db": "database", "database": "database",
    "dbname": "database", "d": "database", "app": "app", "application": "app", "application_name": "app",
    "a": "app", "client": "client", "host": "client", "remote": "client", "h": "client", "r": "client",
    "ip": "client", "client_addr": "client", "session": "session", "session_id": "session", "sess": "session",
    "c": "session", "pid": "pid", "p": "pid",
}
_UNKNOWN = ("[unknown]", "")


# --- sniffing and variant detection ----------------------------------------------------------------

def split_entry(line: str) -> tuple[str, str, str] | None:
    """(prefix, severity, message) of a log entry line (`... LOG:  text`), None if it is not one."""
    start = 0
    while True:
        i = line.find(":  ", start)
        if i < 0 or i > 2000:
            return None
        j = line.rfind(" ", 0, i) + 1
        sev = line[j:i]
        if sev in SEVERITIES:
            return line[:j], sev, line[i + 3:]
        m = _SEVERITY_TAIL.search(sev)  # a prefix that ends without a space: "[123]:LOG:  "
        if m and m.group(1) in SEVERITIES:
            k = j + m.start()
            return line[:k], m.group(1), line[i + 3:]
        start = i + 3


def _starts_with_ts(prefix: str) -> bool:
    return (len(prefix) >= 19 and prefix[4] == "-" and prefix[10] in " T" and prefix[13] == ":"
            and prefix[:4].isdigit()) or (len(prefix) > 11 and prefix[10] == "." and prefix[:10].isdigit())


def _csv_head_record(text: str) -> list[str] | None:
    """The first csvlog record of the head, if the head starts with one."""
    if not _starts_with_ts(text[:40]):
        return None
    end = 0
    quotes = 0
    while True:
        nl = text.find("\n", end)
        if nl < 0:
            return None
        quotes += text.count('"', end, nl)
        end = nl + 1
        if quotes % 2 == 0:
            break
    try:
        return next(csv.reader((text[:end - 1].rstrip("\r"),)))
    except (csv.Error, StopIteration):
        return None


def detect_variant(text: str) -> str | None:
    """'csvlog', 'jsonlog', 'stderr', 'psql' (regression output) or None (not a PostgreSQL log)."""
    stripped = text.lstrip()
    if stripped.startswith('{"timestamp":') and '"error_severity":' in stripped.split("\n", 1)[0]:
        return "jsonlog"
    fields = _csv_head_record(stripped)
    if fields is not None and len(fields) >= 22 and fields[11] in SEVERITIES:
        return "csvlog"
    prefixed = bare = other = audit = 0
    for line in text.splitlines()[:400]:
        if not line.strip() or line.startswith("\t"):
            continue
        entry = split_entry(line)
        if entry is None:
            other += 1
            continue
        prefix, _sev, message = entry
        if message.startswith(("AUDIT: SESSION,", "AUDIT: OBJECT,")):
            audit += 1
        if _SYSLOG_TAG.search(prefix):  # sent through syslog: split lines, `#011` tabs; the syslog reader's
            other += 1
        elif not prefix:
            bare += 1
        elif _starts_with_ts(prefix) or _ISO_IN_PREFIX.search(prefix):
            prefixed += 1
        else:
            other += 1
    if prefixed and (audit or prefixed >= 3) and prefixed >= other:
        return "stderr"
    if bare and audit and not prefixed:
        return "psql" if other >= 3 else "stderr"
    return None


def sniff(head: bytes, name: str) -> bool:
    return detect_variant(head_text(head)) is not None


# --- timestamps --------------------------------------------------------------------------------------

def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


class TimeParser:
    """PostgreSQL timestamps (`2025-02-05 10:00:00.123 JST`, `... +09`, epoch `%n`) to UTC microseconds.

    The zone text decides; an abbreviation matching --tz at that moment takes that zone (DST included),
    else the abbreviation table; no zone at all takes --tz, else UTC. Cached per distinct second.
    """

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.option_zone: ZoneInfo | None = ZoneInfo(ctx.options.tz) if ctx.options.tz else None
        self.cache: dict[tuple[str, str], tuple[int | None, str | None]] = {}
        self.warned: set[str] = set()

    def warn(self, message: str) -> None:
        """Each assumption is told once per file (this runs once per distinct second, not per row)."""
        if message not in self.warned:
            self.warned.add(message)
            self.ctx.warn(message)

    def parse(self, text: str) -> tuple[int | None, str | None]:
        """(epoch microseconds, ts_resolution); (None, None) when unreadable."""
        if text[19:20] == "." and text[23:24] in (" ", "") and _digits(text[20:23]):  # %m: milliseconds
            base, frac, zone = text[:19], text[20:23], text[24:]
        elif len(text) > 11 and text[10] == "." and text[:10].isdigit():
            return epoch_to_us(text), "zone_in_text"
        else:
            base, rest = text[:19], text[19:]
            frac = ""
            if rest.startswith("."):
                k = 1
                while k < len(rest) and "0" <= rest[k] <= "9":  # ASCII only: int() refuses "²"
                    k += 1
                frac, rest = rest[1:k], rest[k:]
            zone = rest.strip()
        key = (base, zone)
        hit = self.cache.get(key)
        if hit is None:
            if len(self.cache) > 200_000:
                self.cache.clear()
            hit = self.cache[key] = self._resolve(base, zone)
        us, how = hit
        if us is not None and frac:
            us += int((frac + "00000")[:6])
        return us, how

    def _resolve(self, base: str, zone: str) -> tuple[int | None, str | None]:
        try:
            local = datetime.fromisoformat(base)
        except ValueError:
            self.warn("unreadable timestamps (ts is null)")
            return None, None
        tz, how = self._zone(zone, local)
        return dt_to_us(local.replace(tzinfo=tz)), how

    def _zone(self, zone: str, local: datetime) -> tuple[tzinfo, str]:
        if not zone:
            if self.option_zone is not None:
                self.warn(f"timestamps without a zone taken in {self.ctx.options.tz} (--tz)")
                return self.option_zone, "zone_from_option"
            self.warn("timestamps without a zone taken as UTC (use --tz)")
            return UTC, "zone_assumed_utc"
        if zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            if _digits(digits) and len(digits) in (2, 4):
                minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) == 4 else 0)
                if minutes < 24 * 60:  # else not an offset (+53): an unknown zone below (found by fuzzing)
                    return timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes)), "zone_in_text"
        if zone in UTC_NAMES:
            return UTC, "zone_in_text"
        if self.option_zone is not None and local.replace(tzinfo=self.option_zone).tzname() == zone:
            return self.option_zone, "zone_abbreviation"
        if zone in ZONE_ABBREVIATIONS:
            if zone in AMBIGUOUS_ZONES:
                self.warn(f"zone abbreviation {zone} is ambiguous: took UTC{ZONE_ABBREVIATIONS[zone] / 60:+g}h"
                              " (give the server's log_timezone with --tz)")
            return timezone(timedelta(minutes=ZONE_ABBREVIATIONS[zone])), "zone_abbreviation"
        if self.option_zone is not None:
            self.warn(f"unknown zone abbreviation {zone[:16]}: taken as {self.ctx.options.tz} (--tz)")
            return self.option_zone, "zone_from_option"
        self.warn(f"unknown zone abbreviation {zone[:16]}: taken as UTC (use --tz)")
        return UTC, "zone_assumed_utc"


# --- stderr prefixes ---------------------------------------------------------------------------------

def split_prefix_ts(prefix: str) -> tuple[str | None, str]:
    """(timestamp text, rest of the prefix) of a log_line_prefix rendering."""
    n = len(prefix)
    if n >= 19 and prefix[4] == "-" and prefix[10] in " T" and prefix[13] == ":":
        end = 19
        if end < n and prefix[end] == ".":
            end += 1
            while end < n and prefix[end].isdigit():
                end += 1
        if end < n and prefix[end] in "+-Z":  # an ISO offset glued to the time (not PostgreSQL's own)
            k = prefix.find(" ", end)
            end = n if k < 0 else k
        elif end < n and prefix[end] == " ":
            k = prefix.find(" ", end + 1)
            k = n if k < 0 else k
            cand = prefix[end + 1:k]
            if (cand.isalpha() and cand.isupper() and len(cand) <= 6) or (
                    cand[:1] in ("+", "-") and cand[1:].replace(":", "").isdigit()):
                end = k
        return prefix[:end], prefix[end:]
    if n > 11 and prefix[10] == "." and prefix[:10].isdigit():  # %n: epoch with milliseconds
        k = prefix.find(" ")
        k = n if k < 0 else k
        return prefix[:k], prefix[k:]
    m = _ISO_IN_PREFIX.search(prefix)
    if m:
        return m.group(0), prefix[: m.start()] + prefix[m.end():]
    return None, prefix


class PrefixInfo:
    """What a log_line_prefix rendering (without its timestamp) says about the backend."""

    __slots__ = ("app", "client", "database", "pid", "port", "session", "unparsed", "user")

    def __init__(self) -> None:
        self.user: str | None = None
        self.database: str | None = None
        self.pid: str | None = None
        self.session: str | None = None
        self.client: str | None = None
        self.port: int | None = None
        self.app: str | None = None
        self.unparsed: str | None = None


def _value(text: str) -> str | None:
    return None if text in _UNKNOWN else text


def _set_client(info: PrefixInfo, text: str) -> None:
    m = _HOST_PORT.match(text)
    if m:
        info.client, info.port = m.group(1), int(m.group(2))
    else:
        info.client = _value(text)


def parse_prefix(rest: str) -> PrefixInfo:
    """Read the tokens of a prefix: `[pid]`, `[pid-line]`, `user@db`, `host(port)`, `[local]`, session id,
    `key=value[,key=value]`; an unrecognised last token after user@db or the client is the application."""
    info = PrefixInfo()
    unparsed: list[str] = []
    seen_identity = False
    tokens = rest.split()
    for idx, token in enumerate(tokens):
        m = _PID_TOKEN.match(token)
        if m:
            if info.pid is None:
                info.pid = m.group(1)
            continue
        if "=" in token:
            kv = _PREFIX_KV.findall(token)
            if kv:
                for key, val in kv:
                    field = _KEY_NAMES.get(key.lower())
                    if field == "client":
                        _set_client(info, val)
                    elif field == "pid":
                        info.pid = val or None
                    elif field is not None:
                        setattr(info, field, _value(val))
                    else:
                        unparsed.append(f"{key}={val}")
                seen_identity = True
                continue
        if token == "[local]" or _HOST_PORT.match(token):
            _set_client(info, token)
            seen_identity = True
            continue
        if "@" in token and not token.startswith("@"):
            user, _, db = token.rpartition("@")
            info.user, info.database = _value(user), _value(db.rstrip(":"))
            seen_identity = True
            continue
        if _SESSION_ID.match(token):
            info.session = token
            continue
        if is_ip(token):
            info.client = token
            seen_identity = True
            continue
        if token.isdigit() and info.pid is None:
            info.pid = token
            continue
        if seen_identity and idx == len(tokens) - 1 and info.app is None:
            info.app = _value(token)
            continue
        if token not in _UNKNOWN:
            unparsed.append(token)
    if unparsed:
        info.unparsed = " ".join(unparsed)
    return info


# --- rows ----------------------------------------------------------------------------------------------

class Entry:
    """One server log entry, whatever the log format, before it becomes a row."""

    __slots__ = ("app", "client", "database", "extra", "lineno", "pid", "port", "session", "severity",
                 "statement", "text", "ts", "ts_resolution", "ts_text", "user")

    def __init__(self, lineno: int, severity: str, text: str) -> None:
        self.lineno = lineno
        self.severity = severity
        self.text = text
        self.ts: int | None = None
        self.ts_text: str | None = None
        self.ts_resolution: str | None = None
        self.user: str | None = None
        self.database: str | None = None
        self.pid: str | None = None
        self.session: str | None = None
        self.client: str | None = None
        self.port: int | None = None
        self.app: str | None = None
        self.statement: str | None = None  # the query of an error (csvlog/jsonlog), STATEMENT lines
        self.extra: dict[str, str] | None = None


def parse_csv_field(text: str) -> list[str] | None:
    """Fields of one CSV record (pgAudit's payload, its parameter list); None when malformed."""
    if '"' not in text:
        return text.split(",")
    try:
        return next(csv.reader((text,), strict=True))
    except (csv.Error, StopIteration):
        return None


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
            self.statements[(key, stmt_id)] = statement
        params, rows = self._parameters(f, extra)
        command = f[4] or None
        obj = f[6] or None
        message = f"{command} {obj}" if obj else command
        return (e.ts, user, src_ip, port, message, "pgaudit", database, e.session or e.pid, _int(stmt_id),
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
        return (e.ts, user, src_ip, port, e.text, "postgresql", database, e.session or e.pid, None, None, None,
                None, None, None, None, statement, None, None, app, e.ts_text, e.ts_resolution, extra)


# --- the four log formats ------------------------------------------------------------------------------

class _Pending:
    """The entry being assembled from a first line and its continuation lines."""

    __slots__ = ("audit", "entry", "parts", "quotes")

    def __init__(self, entry: Entry, first: str) -> None:
        self.entry = entry
        self.parts = [first]
        self.audit = first.startswith(AUDIT)
        self.quotes = first.count('"') if self.audit else 0

    def open_quote(self) -> bool:
        return self.audit and self.quotes % 2 == 1

    def add(self, line: str) -> None:
        self.parts.append(line)
        if self.audit:
            self.quotes += line.count('"')


def _stderr_entry(lineno: int, prefix: str, severity: str, message: str, times: TimeParser,
                  prefixes: dict[str, PrefixInfo]) -> Entry:
    e = Entry(lineno, severity, message)
    ts_text, rest = split_prefix_ts(prefix)
    if ts_text is not None:
        e.ts_text = ts_text
        e.ts, e.ts_resolution = times.parse(ts_text)
    info = prefixes.get(rest)
    if info is None:
        if len(prefixes) > 50_000:
            prefixes.clear()
        info = prefixes[rest] = parse_prefix(rest)
    e.user, e.database, e.pid, e.session = info.user, info.database, info.pid, info.session
    e.client, e.port, e.app = info.client, info.port, info.app
    if info.unparsed:
        e.extra = {"prefix_unparsed": info.unparsed}
    return e


def _new_entry(parts: tuple[str, str, str] | None, psql: bool) -> bool:
    """Whether a line that comes while a quote is open is surely a new entry (the quote was never closed)."""
    if parts is None:
        return False
    prefix, _sev, message = parts
    if psql or not prefix:
        return message.startswith(("AUDIT: SESSION,", "AUDIT: OBJECT,"))
    return _starts_with_ts(prefix)


def _finish(p: _Pending, builder: RowBuilder, ctx: ReadContext, at_eof: bool = False) -> None:
    e = p.entry
    truncated = False
    if p.open_quote():
        if not at_eof:
            ctx.reject(f"line {e.lineno}", "pgaudit AUDIT record with an unterminated quote", p.parts[0])
            return
        ctx.warn("last record is cut short (stored with extra.truncated = true)")
        p.parts[-1] += '"'
        truncated = True
    e.text = "\n".join(p.parts) if len(p.parts) > 1 else p.parts[0]
    builder.add(e, truncated)


def read_text_log(ctx: ReadContext, variant: str) -> Batches:
    """stderr logs and psql regression output: one entry per prefixed line plus its continuation lines."""
    psql = variant == "psql"
    builder = RowBuilder(ctx)
    times = TimeParser(ctx)
    prefixes: dict[str, PrefixInfo] = {}
    pending: _Pending | None = None
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        line = decode(raw, ctx)
        parts = None
        if pending is not None:
            if line.startswith("\t") and not psql:  # the server indents continuation lines with a tab
                pending.add(line[1:])
                continue
            if pending.open_quote():  # inside a quoted statement: only a clear new entry ends it
                parts = split_entry(line)
                if not _new_entry(parts, psql):
                    pending.add(line)
                    continue
        parts = parts or split_entry(line)
        if parts is None or (psql and not parts[2].startswith(AUDIT)):
            if pending is not None:
                _finish(pending, builder, ctx)
                pending = None
            if not line.strip():
                continue
            if psql:
                ctx.warn("psql output lines between the AUDIT lines are not records")
            else:
                ctx.reject(f"line {lineno}", "not a PostgreSQL log entry", raw)
            continue
        if pending is not None:
            _finish(pending, builder, ctx)
        if psql:
            entry = Entry(lineno, parts[1], parts[2])
        else:
            entry = _stderr_entry(lineno, parts[0], parts[1], parts[2], times, prefixes)
        pending = _Pending(entry, parts[2])
        if builder.out.full():
            yield TABLE, builder.out.flush()
    if pending is not None:
        _finish(pending, builder, ctx, at_eof=True)
    if psql and builder.out.rows:
        ctx.warn("psql output has no timestamps, users or sessions (ts is null)")
    if builder.out.rows:
        yield TABLE, builder.out.flush()


#: A csvlog record begins with its log_time (`2025-02-05 10:00:00.123 JST,`): no statement line looks like that.
_CSV_START = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z]{1,6}| [+-]\d\d(?::?\d\d)?)?,")
CSV_FIELDS = 22  # csvlog up to `location` (PostgreSQL 9.0+); application_name and later are optional


def _client_from(text: str) -> tuple[str | None, int | None]:
    """csvlog connection_from: 'host:port' or '[local]'."""
    if not text:
        return None, None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return text, None


def _csv_entry(lineno: int, f: list[str], times: TimeParser) -> Entry:
    e = Entry(lineno, f[11], f[13])
    if f[0]:
        e.ts_text = f[0]
        e.ts, e.ts_resolution = times.parse(f[0])
    e.user, e.database, e.pid, e.session = f[1] or None, f[2] or None, f[3] or None, f[5] or None
    e.client, e.port = _client_from(f[4])
    e.app = (f[22] or None) if len(f) > 22 else None
    e.statement = f[19] or None
    extra = {"sqlstate": f[12]} if f[12] and f[12] != "00000" else {}
    for idx, name in ((14, "detail"), (15, "hint"), (18, "context"), (7, "command_tag")):
        if f[idx]:
            extra[name] = f[idx]
    if extra:
        e.extra = extra
    return e


def read_csvlog(ctx: ReadContext) -> Batches:
    builder = RowBuilder(ctx)
    times = TimeParser(ctx)
    start = 0
    parts: list[bytes] = []
    quotes = 0
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if parts and _CSV_START.match(raw):  # a quote left open, and a new record begins: drop the broken one
            ctx.reject(f"line {start}", "csvlog record with an unterminated quote", parts[0])
            parts, quotes = [], 0
        if not parts:
            if not raw.strip():
                continue
            start = lineno
        parts.append(raw)
        quotes += raw.count(b'"')
        if quotes % 2:
            continue
        _csv_record(start, parts, builder, times, ctx)
        parts, quotes = [], 0
        if builder.out.full():
            yield TABLE, builder.out.flush()
    if parts:  # a quote still open at the end: the last record is cut short
        _csv_record(start, [*parts[:-1], parts[-1] + b'"'], builder, times, ctx, truncated=True)
    if builder.out.rows:
        yield TABLE, builder.out.flush()


def _csv_record(start: int, parts: list[bytes], builder: RowBuilder, times: TimeParser, ctx: ReadContext,
                truncated: bool = False) -> None:
    raw = b"\n".join(parts)
    text = decode(raw, ctx)
    try:
        f = next(csv.reader((text,), strict=True))
    except (csv.Error, StopIteration):
        ctx.reject(f"line {start}", "malformed csvlog record", raw)
        return
    if truncated and len(f) > 13 and f[11] in SEVERITIES:  # cut inside or after the message: keep what is there
        ctx.warn("last record is cut short (stored with extra.truncated = true)")
        f += [""] * (CSV_FIELDS + 1 - len(f))
    elif len(f) < CSV_FIELDS or f[11] not in SEVERITIES:
        reason = "truncated record at end of file" if truncated else "csvlog record with too few fields"
        ctx.reject(f"line {start}", reason, raw)
        return
    builder.add(_csv_entry(start, f, times), truncated)


def _json_entry(lineno: int, d: dict[str, Any], times: TimeParser) -> Entry:
    def s(key: str) -> str | None:
        v = d.get(key)
        return None if v is None else str(v)

    e = Entry(lineno, s("error_severity") or "", s("message") or "")
    ts_text = s("timestamp")
    if ts_text:
        e.ts_text = ts_text
        e.ts, e.ts_resolution = times.parse(ts_text)
    e.user, e.database, e.pid, e.session = s("user"), s("dbname"), s("pid"), s("session_id")
    e.client = s("remote_host")
    port = d.get("remote_port")
    e.port = port if isinstance(port, int) else None
    e.app = s("application_name")
    e.statement = s("statement")
    extra = {}
    for key, name in (("state_code", "sqlstate"), ("detail", "detail"), ("hint", "hint"), ("context", "context"),
                      ("ps", "command_tag")):
        v = s(key)
        if v and not (key == "state_code" and v == "00000"):
            extra[name] = v
    if extra:
        e.extra = extra
    return e


def read_jsonlog(ctx: ReadContext) -> Batches:
    builder = RowBuilder(ctx)
    times = TimeParser(ctx)
    loads = orjson.loads
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if not raw.strip():
            continue
        try:
            d = loads(raw)
        except orjson.JSONDecodeError:
            try:
                d = loads(decode(raw, ctx))
            except orjson.JSONDecodeError:
                ctx.reject(f"line {lineno}", "invalid JSON", raw)
                continue
        if not isinstance(d, dict) or not isinstance(d.get("message"), str):
            ctx.reject(f"line {lineno}", "JSON line is not a PostgreSQL log entry", raw)
            continue
        builder.add(_json_entry(lineno, d, times))
        if builder.out.full():
            yield TABLE, builder.out.flush()
    if builder.out.rows:
        yield TABLE, builder.out.flush()


def read(ctx: ReadContext) -> Iterator[tuple[str, pa.RecordBatch]]:
    with ctx.source.path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    variant = detect_variant(head_text(head)) or "stderr"
    if variant == "csvlog":
        yield from read_csvlog(ctx)
    elif variant == "jsonlog":
        yield from read_jsonlog(ctx)
    else:
        yield from read_text_log(ctx, variant)


READER = Reader(
    name="pgaudit",
    family="db_audit",
    description="PostgreSQL server log with pgAudit records (stderr with any prefix, csvlog, jsonlog, psql output)",
    sniff=sniff,
    read=read,
)

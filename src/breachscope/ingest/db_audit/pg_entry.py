"""A PostgreSQL server log entry, whatever the log format (stderr, csvlog, jsonlog, psql output): the
severities, `split_entry` (prefix, severity and message of a line), `Entry` (one entry before it becomes a
row) and the CSV of pgAudit's payload."""

from __future__ import annotations

import csv
import re

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

ISO_IN_PREFIX = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?: (?:[A-Z]{2,6}|[+-]\d\d(?::?\d\d)?))?")
_SEVERITY_TAIL = re.compile(r"([A-Z][A-Z0-9]*)$")


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


def starts_with_ts(prefix: str) -> bool:
    return (len(prefix) >= 19 and prefix[4] == "-" and prefix[10] in " T" and prefix[13] == ":"
            and prefix[:4].isdigit()) or (len(prefix) > 11 and prefix[10] == "." and prefix[:10].isdigit())


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

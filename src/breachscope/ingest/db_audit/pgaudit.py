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

The reader is split along the log's seams: pg_entry (severities, an entry line, `Entry`), pg_time
(timestamps and zones), pg_prefix (the stderr prefix), pg_rows (entries to rows, pgAudit's payload,
connection facts), and one module per log format (pg_stderr for stderr and psql output, pg_csvlog,
pg_jsonlog). This module detects the format and holds the reader.
"""

from __future__ import annotations

import csv
import re

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.pg_csvlog import read_csvlog
from breachscope.ingest.db_audit.pg_entry import ISO_IN_PREFIX, SEVERITIES, split_entry, starts_with_ts
from breachscope.ingest.db_audit.pg_jsonlog import read_jsonlog
from breachscope.ingest.db_audit.pg_stderr import read_text_log
from breachscope.ingest.lines import head_text
from breachscope.ingest.reader import HEAD_BYTES, Batches, Reader
from breachscope.model.audit_dialects import PGAUDIT, POSTGRESQL

_SYSLOG_TAG = re.compile(r"(?:^|\s)[\w./-]+\[\d+\]: (?:\[\d+-\d+\] )?")


def _csv_head_record(text: str) -> list[str] | None:
    """The first csvlog record of the head, if the head starts with one."""
    if not starts_with_ts(text[:40]):
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
        elif starts_with_ts(prefix) or ISO_IN_PREFIX.search(prefix):
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


def read(ctx: ReadContext) -> Batches:
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
    audit_dialects=(PGAUDIT, POSTGRESQL),
)

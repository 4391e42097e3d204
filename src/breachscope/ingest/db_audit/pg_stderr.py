"""The PostgreSQL stderr log (any `log_line_prefix`) and psql regression output (`NOTICE:  AUDIT: ...`
between psql's own lines): one entry per prefixed line plus its continuation lines."""

from __future__ import annotations

from breachscope.ingest.context import ReadContext
from breachscope.ingest.db_audit.common import TABLE
from breachscope.ingest.db_audit.pg_entry import AUDIT, Entry, split_entry, starts_with_ts
from breachscope.ingest.db_audit.pg_prefix import PrefixInfo, parse_prefix, split_prefix_ts
from breachscope.ingest.db_audit.pg_rows import RowBuilder
from breachscope.ingest.db_audit.pg_time import TimeParser
from breachscope.ingest.lines import decode, iter_lines
from breachscope.ingest.reader import Batches


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
    return starts_with_ts(prefix)


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

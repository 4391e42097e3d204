"""Syslog lines: RFC 3164 (BSD), RFC 5424, Cisco IOS / IOS-XE / NX-OS / IOS-XR and ASA/FTD; one record per line.

A line is read in layers, outermost first: an optional `<PRI>`, an optional relay prefix (Kiwi's
`Original Address=`), a standard header (RFC 5424, or BSD `Mmm dd hh:mm:ss host` and its year-first,
year-after-day and ISO variants, possibly nested once by a relay), then the Cisco part
(`seq: host: *Mmm dd hh:mm:ss.mmm ZONE: %FAC-SEV-MNEMONIC: text`), either as the whole line or inside
the header's message. A line that is none of these is kept as a 'bare' record with the line as its
message, as a relay would. The rules (and which timestamp wins) are in docs/formats/syslog.md.

This module turns parsed lines into rows and batches; the parsing is split by what it reads:
- grammar: the shared pattern atoms (month, clock, mnemonic) and `Parsed`, what a parse yields
- header: `<PRI>`, relay prefix, RFC 5424 and BSD headers, the BSD tag (`parse_line`)
- cisco: the Cisco part (sequence numbers, host, clock or uptime, `%FAC-SEV-MNEMONIC:`)
- times: zone labels, year resolution, `ts_resolution`
- extract: users and addresses named in messages, per mnemonic, ASA message id or program
- fast: the common line shapes parsed in bulk with Arrow; `read` hands it each block first
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.batch import make_batch, to_array
from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import decode, head_text, line_arrays
from breachscope.ingest.reader import HEAD_BYTES, Batches, Reader
from breachscope.ingest.syslog import fast
from breachscope.ingest.syslog.extract import EXTRACT_CHARS, Extractor, extractor_for
from breachscope.ingest.syslog.grammar import Parsed
from breachscope.ingest.syslog.header import parse_line
from breachscope.ingest.syslog.times import TimeResolver
from breachscope.model.schema import SYSLOG_SCHEMA

TABLE = "syslog"
SNIFF_LINES = 20
SNIFF_SHARE = 0.8  # share of the first non-empty lines that must parse as syslog
CONTROL_BYTES = bytes(c for c in range(32) if c != 9)

#: Row layout produced by the parser, in this order (family and provenance are added per batch).
COLUMNS = ("ts", "host", "user", "src_ip", "src_port", "dst_ip", "dst_port", "message", "syslog_format",
           "facility", "severity", "app_name", "procid", "msgid", "structured_data", "cisco_facility",
           "cisco_severity", "cisco_mnemonic", "cisco_seq", "ts_text", "ts_resolution", "raw", "extra")

_TYPES = {f.name: f.type for f in SYSLOG_SCHEMA}
FAST_MIN_LINES = 256  # a smaller block is read line by line: Arrow's fixed costs per block would outweigh

__all__ = ["COLUMNS", "READER", "TABLE", "Parsed", "RowBuilder", "parse_line", "read", "sniff"]


# --- the reader --------------------------------------------------------------------------------------
class RowBuilder:
    """Parsed lines to row tuples in COLUMNS order: picks the timestamp, extracts users and addresses."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.times = TimeResolver(ctx)
        self._extractors: dict[tuple[str | None, str | None, str | None], Extractor | None] = {}

    def row(self, s: str, p: Parsed) -> tuple[Any, ...]:
        fac, mn, message = p.fac, p.mn, p.message
        user = src_ip = src_port = dst_ip = dst_port = None
        key = (fac, mn, p.app)
        extract = self._extractors.get(key, _UNSET)
        if extract is _UNSET:
            extract = self._extractor(key)
        if extract is not None and message:
            got = extract(message if len(message) <= EXTRACT_CHARS else message[:EXTRACT_CHARS])
            if got is not None:
                user, src_ip, src_port, dst_ip, dst_port, more = got
                if more:
                    if p.extra is None:
                        p.extra = more
                    else:
                        p.extra.update(more)
        seq = None
        if not p.cisco:
            ts, ts_text, how = self._header_time(p)
        else:
            n1, n2, task, node, clock = p.seq1, p.seq2, p.task, p.node, p.clock
            mark = clock.group("mark") if clock is not None else None
            ts, ts_text, how = self._cisco_time(p, clock, mark)
            if n1 is not None or n2 is not None:
                if n1 is not None and n2 is not None:
                    p.put("message_count", n1)
                n = n2 or n1 or ""
                if len(n) <= 18:
                    seq = int(n)
                else:
                    p.put("cisco_seq_text", n)
            if task:
                p.put("task", task)
            if node:
                p.put("node", node)
            if mark:
                p.put("clock", "unsynchronized" if mark == "*" else "sync_lost")
        pri, sev = p.pri, p.sev
        return (ts, p.host, user, src_ip, src_port, dst_ip, dst_port, message, p.fmt,
                None if pri is None else pri >> 3, None if pri is None else pri & 7, p.app, p.procid, p.msgid,
                p.sd, fac, None if sev is None else int(sev), mn, seq, ts_text, how, s, p.extra)

    def _extractor(self, key: tuple[str | None, str | None, str | None]) -> Extractor | None:
        if len(self._extractors) > 10_000:  # hostile input with endless distinct mnemonics
            self._extractors.clear()
        found = self._extractors[key] = extractor_for(*key)
        return found

    def _header_time(self, p: Parsed) -> tuple[int | None, str | None, str | None]:
        """No Cisco part with a clock: the (innermost) header's time, else a login message's time."""
        times = self.times
        anchor = times.anchor(p) if (p.relay is not None or p.extra is not None) else None
        if p.hdr_iso is not None:
            us, how, _ = times.iso(p.hdr_iso)
            return us, p.hdr_iso, how
        if p.hdr is not None:
            us, how = times.clock(p.hdr, None, anchor)
            return us, p.hdr.group("time"), how
        if anchor is not None and anchor[2] == "year_from_message":
            when = p.extra["login_time"]  # type: ignore[index]  # anchor() says year_from_message only from it
            us, how = times.login_time(when)
            return us, when, how
        return (None, None, None) if p.fmt == "bare" else (None, None, "missing")

    def _cisco_time(self, p: Parsed, clock: re.Match[str] | None,
                    mark: str | None) -> tuple[int | None, str | None, str | None]:
        """The device's own clock unless it says it was never set ('*') and a header has a time; then
        the header's; then a login message's time; else the uptime (ts null)."""
        has_hdr = p.hdr is not None or p.hdr_iso is not None
        if clock is not None and (mark != "*" or not has_hdr):
            times = self.times
            anchor = None
            if p.hdr_iso is not None:
                _, _, anchor = times.iso(p.hdr_iso)
            elif p.relay is not None or p.extra is not None:
                anchor = times.anchor(p)
            header_time = p.hdr_iso if p.hdr is None else p.hdr.group("time")
            if header_time is not None:  # has_hdr
                p.put("header_time", header_time)
            us, how = times.clock(clock, clock.group("zone"), anchor)
            return us, clock.group(), how
        up = p.up
        if up is not None:
            p.put("uptime", up)
        if clock is not None:
            p.put("device_time", clock.group())
        ts, ts_text, header_how = self._header_time(p)
        if ts_text is None and up is not None:
            self.times.warn_once("Cisco uptime stamps without a wall-clock time: ts is null "
                                 "(ts_resolution uptime_only)")
            return None, up, "uptime_only"
        return ts, ts_text, header_how


_UNSET: Any = object()


def sniff(head: bytes, name: str) -> bool:
    """Most of the first non-empty lines (>= 80% of up to 20) must parse as one of the syslog forms."""
    lines = head_text(head).split("\n")
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines.pop()  # cut at the 64 KiB boundary
    sample = []
    for line in lines:
        line = line.strip("\r\x00")
        if line.strip():
            sample.append(line[:4096])
            if len(sample) >= SNIFF_LINES:
                break
    if not sample:
        return False
    good = sum(1 for line in sample if parse_line(line).fmt != "bare")
    return good >= SNIFF_SHARE * len(sample)


def _broken(raw: bytes) -> tuple[bytes | None, str | None]:
    """(line to keep, reject reason) for a line holding NUL bytes: NUL padding (left by a crash in a
    preallocated log file) is cut; a line that is then empty, or still >= 25% control bytes, is binary."""
    kept = raw.strip(b"\x00")
    if not kept.strip():
        return None, "line of NUL bytes"
    controls = len(kept) - len(kept.translate(None, CONTROL_BYTES))
    if controls * 4 >= len(kept):
        return None, "binary data (NUL or control bytes)"
    return kept, None


def read(ctx: ReadContext) -> Batches:
    """Rows of every non-blank line, in batches of batch_rows: lines of the common shapes parsed in
    bulk (fast.py), the others line by line, in file order."""
    builder = RowBuilder(ctx)
    out = _Rebatch(ctx.options.batch_rows)
    for first, lines in line_arrays(ctx):
        batch = _block(builder, first, lines, ctx)
        if batch is not None:
            yield from ((TABLE, b) for b in out.add(batch))
    yield from ((TABLE, b) for b in out.rest())


def line_row(builder: RowBuilder, raw: bytes, lineno: int, ctx: ReadContext) -> tuple[Any, ...] | None:
    """The row of one non-blank line by the per-line parser (None: rejected)."""
    nul_cut = 0
    if b"\x00" in raw:
        kept, reason = _broken(raw)
        if kept is None:
            ctx.reject(f"line {lineno}", reason or "binary data", raw)
            return None
        nul_cut, raw = len(raw) - len(kept), kept
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        s = decode(raw, ctx)  # replaces the bad bytes and notes it in the manifest
    try:
        p = parse_line(s)
        if nul_cut:
            p.put("nul_bytes_removed", str(nul_cut))
        return builder.row(s, p)
    except Exception as exc:  # a parser bug must not lose the line: keep it bare and say so
        builder.times.warn_once("lines the syslog parser failed on were kept as 'bare' records")
        return _bare(s, {"parse_error": type(exc).__name__})


def _block(builder: RowBuilder, first: int, lines: pa.Array, ctx: ReadContext) -> pa.RecordBatch | None:
    """One block of lines to one batch of rows (blank lines are not records)."""
    blank = pc.match_substring_regex(lines, pattern="^[ \t\r\x0b\x0c]*$").to_numpy(zero_copy_only=False)
    text, rows = None, fast.empty()
    if len(lines) >= FAST_MIN_LINES:
        text, cand = _candidates(lines, blank, ctx)
        try:
            rows = fast.classify(text, cand)
            rows = fast.drop(rows, fast.extract(rows))
        except Exception:  # a bug in the fast path must not change the result: the block goes line by line
            text, rows = None, fast.empty()
    is_slow = ~blank
    is_slow[rows.pos] = False
    slow_pos = np.flatnonzero(is_slow)
    runs = fast.YearRuns(rows, slow_pos)
    slow_rows, kept = [], []
    raws = lines.take(pa.array(slow_pos)).to_pylist()
    k, starts = 0, runs.start_pos
    for pos, raw in zip(slow_pos.tolist(), raws, strict=True):
        while k < len(starts) and starts[k] < pos:  # the fast lines' dates before this line
            runs.play(k, builder.times)
            k += 1
        row = line_row(builder, raw, first + pos, ctx)
        if row is not None:
            slow_rows.append(row)
            kept.append(pos)
    for rest in range(k, len(starts)):
        runs.play(rest, builder.times)
    slow_pos = np.array(kept, dtype=np.int64)
    n = len(rows.pos) + len(slow_pos)
    if not n:
        return None
    slow_cols = {name: to_array(vals, _TYPES[name]) for name, vals in
                 zip(COLUMNS, zip(*slow_rows, strict=True), strict=True)} if slow_rows else {}
    fast_cols: dict[str, pa.Array] = {}
    if len(rows.pos):
        ts, how = fast.resolve(rows, runs, builder.times)
        fast_cols = fast.column_arrays(rows, ts, how, text.take(pa.array(rows.pos)))  # type: ignore[union-attr]  # rows has lines only if text was set
    columns: dict[str, Any] = fast.merge(COLUMNS, fast_cols, rows.pos, slow_cols, slow_pos, _TYPES)
    columns["family"] = pa.repeat("syslog", n)
    records = np.sort(np.concatenate([rows.pos, slow_pos])) + first
    return make_batch(SYSLOG_SCHEMA, columns, n, ctx, records.tolist())


def _candidates(lines: pa.Array, blank: np.ndarray, ctx: ReadContext) -> tuple[pa.Array, np.ndarray]:
    """The block as text, and which lines the fast path may take: not blank, no NUL, valid UTF-8."""
    cand = ~blank & ~pc.match_substring(lines, "\x00").to_numpy(zero_copy_only=False)
    try:
        return lines.cast(pa.string()), cand
    except pa.ArrowInvalid:  # some line is not UTF-8: those go line by line (decode reports them)
        texts = []
        for i, raw in enumerate(lines.to_pylist()):
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append("")
                cand[i] = False
        return pa.array(texts, pa.string()), cand


class _Rebatch:
    """Batches of exactly `size` rows (the last one shorter) from batches of any size."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.pending: list[pa.RecordBatch] = []
        self.n = 0

    def add(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        if not self.pending and batch.num_rows == self.size:
            yield batch
            return
        self.pending.append(batch)
        self.n += batch.num_rows
        while self.n >= self.size:
            yield self._take(self.size)

    def rest(self) -> Iterator[pa.RecordBatch]:
        if self.n:
            yield self._take(self.n)

    def _take(self, k: int) -> pa.RecordBatch:
        table = pa.Table.from_batches(self.pending)
        head = table.slice(0, k).combine_chunks().to_batches()[0]
        tail = table.slice(k)
        self.pending = tail.combine_chunks().to_batches() if tail.num_rows else []
        self.n -= k
        return head


def _bare(s: str, extra: dict[str, str]) -> tuple[Any, ...]:
    row: list[Any] = [None] * len(COLUMNS)
    row[COLUMNS.index("message")] = s
    row[COLUMNS.index("syslog_format")] = "bare"
    row[COLUMNS.index("raw")] = s
    row[COLUMNS.index("extra")] = extra
    return tuple(row)


READER = Reader(
    name="syslog",
    family="syslog",
    description="Syslog text: RFC 3164, RFC 5424, Cisco IOS/IOS-XE/NX-OS/IOS-XR and ASA/FTD",
    sniff=sniff,
    read=read,
)

"""Line-oriented reading for text formats: BOMs, UTF-16, CRLF, invalid UTF-8, huge lines.

Lines come out as UTF-8 bytes without their line ending, numbered from 1, so that every reader
gives the same `src_record` (the line number) for the same file.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.context import ReadContext

CHUNK_BYTES = 4 << 20  # line_arrays reads this much at a time
TRANSCODED_LINES = 65_536  # lines per array from a UTF-16 file
_UTF16 = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}
REPLACED = "invalid UTF-8 bytes replaced with U+FFFD"


def text_encoding(head: bytes) -> tuple[str, int]:
    """(encoding, bytes of BOM to skip) of a text file from its first bytes."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    for bom, enc in _UTF16.items():
        if head.startswith(bom):
            return enc, 2
    sample = head[:512]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):  # UTF-16 without BOM
        return ("utf-16-le" if sample[1] == 0 else "utf-16-be"), 0
    return "utf-8", 0


def head_text(head: bytes) -> str:
    """The first bytes as text, for sniffing (never fails)."""
    enc, skip = text_encoding(head)
    data = head[skip:]
    if enc != "utf-8":
        data = data[: len(data) // 2 * 2]
    return data.decode(enc, "replace")


def iter_lines(path: Path, ctx: ReadContext) -> Iterator[tuple[int, bytes]]:
    """(line number, UTF-8 bytes) for every line of the file, the last one even without newline."""
    with path.open("rb") as fh:
        head = fh.read(4096)
        enc, skip = text_encoding(head)
        fh.seek(skip)
        if enc == "utf-8":
            yield from _utf8_lines(fh, ctx)
        else:
            yield from _transcoded_lines(fh, enc, ctx)


def line_arrays(ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    """(number of the first line, lines as a binary array without their line ends), a few MiB at a
    time, cut and numbered exactly as iter_lines does (a CR before the LF belongs to the line end, a
    last line without LF keeps a CR it ends with). UTF-16 files are transcoded through iter_lines.
    A line over `max_record_bytes` is rejected with its number and never held whole in memory: the
    arrays skip its number."""
    with ctx.source.path.open("rb") as fh:
        enc, skip = text_encoding(fh.read(4096))
        if enc != "utf-8":
            yield from _transcoded_arrays(ctx)
            return
        fh.seek(skip)
        limit = ctx.options.max_record_bytes
        lineno = 1
        pending: list[bytes] = []  # the start of a line longer than a chunk: joined once its end is read
        pending_len = 0
        long: LongLine | None = None  # a line over the limit, whose rest is being read and dropped
        while data := fh.read(CHUNK_BYTES):
            ctx.progress(len(data))
            start = 0
            if long is not None:
                end = data.find(b"\n")
                if end < 0:
                    long.length += len(data)
                    continue
                long.length += end
                long.reject(ctx)
                long, lineno, start = None, lineno + 1, end + 1
            cut = data.rfind(b"\n")
            if cut < start:  # no line end in the rest of the chunk
                pending.append(data[start:])
                pending_len += len(data) - start
                if pending_len > limit:
                    long = LongLine(lineno, pending_len, pending[0][:EXCERPT_BYTES])
                    pending, pending_len = [], 0
                continue
            if pending:
                end = data.find(b"\n", start)
                if pending_len + end - start > limit:  # the pending line ends here, over the limit
                    LongLine(lineno, pending_len + end - start, pending[0][:EXCERPT_BYTES]).reject(ctx)
                    pending, pending_len, lineno, start = [], 0, lineno + 1, end + 1
            if cut >= start:
                buf = b"".join([*pending, data[start:cut]]) if pending else data[start:cut]
                yield from _bounded(_split_lines(buf), lineno, limit, ctx)
                lineno += buf.count(b"\n") + 1
            pending = [data[cut + 1:]] if cut + 1 < len(data) else []
            pending_len = len(data) - cut - 1
        if long is not None:
            long.reject(ctx)
        elif pending:
            yield lineno, pa.array([b"".join(pending)], pa.binary())


EXCERPT_BYTES = 800
LONG_LINE = "line over the maximum record size (--max-record-bytes): cut, not stored"


class LongLine:
    """A line over max_record_bytes: only its length and first bytes are kept, to reject it."""

    def __init__(self, lineno: int, length: int, excerpt: bytes) -> None:
        self.lineno, self.length, self.excerpt = lineno, length, excerpt

    def reject(self, ctx: ReadContext) -> None:
        ctx.reject(f"line {self.lineno} ({self.length:,} bytes)", LONG_LINE, self.excerpt)


def _bounded(lines: pa.Array, first: int, limit: int, ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    """The lines in runs around any over the limit (only possible when the limit is below a chunk)."""
    if limit >= CHUNK_BYTES:
        yield first, lines
        return
    over = np.flatnonzero(pc.greater(pc.binary_length(lines), limit).to_numpy(zero_copy_only=False))
    prev = 0
    for i in over.tolist():
        if i > prev:
            yield first + prev, lines.slice(prev, i - prev)
        raw = lines[i].as_py()
        LongLine(first + i, len(raw), raw[:EXCERPT_BYTES]).reject(ctx)
        prev = i + 1
    if prev < len(lines):
        yield first + prev, lines.slice(prev)


def _split_lines(buf: bytes) -> pa.Array:
    lines = pc.split_pattern(pa.array([buf], pa.large_binary()), pattern="\n").flatten()
    if b"\r" in buf:  # CRLF files: the CR belongs to the line end
        lines = pc.replace_substring_regex(lines, pattern="\r$", replacement="")
    return lines.cast(pa.binary())


def _transcoded_arrays(ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    first = 1
    lines: list[bytes] = []
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if lines and lineno != first + len(lines):  # a line was cut out: its number is skipped
            yield first, pa.array(lines, pa.binary())
            lines = []
        if not lines:
            first = lineno
        lines.append(raw)
        if len(lines) >= TRANSCODED_LINES:
            yield first, pa.array(lines, pa.binary())
            lines = []
    if lines:
        yield first, pa.array(lines, pa.binary())


def _utf8_lines(fh: BinaryIO, ctx: ReadContext) -> Iterator[tuple[int, bytes]]:
    """Lines from chunks split in C (faster than iterating the file, and a line never grows past
    the limit in memory: the rest of a longer one is read and dropped)."""
    limit = ctx.options.max_record_bytes
    lineno = 0
    pending = b""  # the start of a line that continues in the next chunk
    long: LongLine | None = None  # a line over the limit whose rest is being dropped
    while data := fh.read(CHUNK_BYTES):
        ctx.progress(len(data))
        if long is not None:
            end = data.find(b"\n")
            if end < 0:
                long.length += len(data)
                continue
            long.length += len(data[:end].rstrip(b"\r"))
            long.reject(ctx)
            long, lineno, data = None, lineno + 1, data[end + 1:]
        parts = data.split(b"\n")
        if pending:
            parts[0] = pending + parts[0]
        pending = parts.pop()
        for raw in parts:
            lineno += 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > limit:
                LongLine(lineno, len(raw), raw[:EXCERPT_BYTES]).reject(ctx)
                continue
            yield lineno, raw
        if len(pending) > limit:
            long, pending = LongLine(lineno + 1, len(pending), pending[:EXCERPT_BYTES]), b""
    if long is not None:
        long.reject(ctx)
    elif pending:  # a last line without its line end keeps a CR it ends with
        if len(pending) > limit:
            LongLine(lineno + 1, len(pending), pending[:EXCERPT_BYTES]).reject(ctx)
        else:
            yield lineno + 1, pending


def _transcoded_lines(fh: BinaryIO, enc: str, ctx: ReadContext) -> Iterator[tuple[int, bytes]]:
    # newline="\n": only LF ends a line, as in the UTF-8 path (CR is stripped below)
    reader = io.TextIOWrapper(fh, encoding=enc, errors="replace", newline="\n")
    limit = ctx.options.max_record_bytes // 2  # characters: two bytes each in UTF-16
    lineno = 0
    while line := reader.readline(limit + 2):
        lineno += 1
        ctx.progress(len(line) * 2)
        if not line.endswith("\n") and len(line) == limit + 2:
            long = LongLine(lineno, len(line) * 2, line[:EXCERPT_BYTES].encode("utf-8"))
            while (rest := reader.readline(CHUNK_BYTES)) and not rest.endswith("\n"):
                long.length += len(rest) * 2
                ctx.progress(len(rest) * 2)
            long.length += len(rest.rstrip("\r\n")) * 2
            long.reject(ctx)
            continue
        yield lineno, line.rstrip("\r\n").encode("utf-8")


def decode(raw: bytes, ctx: ReadContext) -> str:
    """UTF-8 text of a line; bad bytes are replaced and the file's entry says so."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        ctx.warn(REPLACED)
        return raw.decode("utf-8", "replace")

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

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.context import ReadContext

PROGRESS_EVERY = 1 << 20
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
    last line without LF keeps a CR it ends with). UTF-16 files are transcoded through iter_lines."""
    with ctx.source.path.open("rb") as fh:
        enc, skip = text_encoding(fh.read(4096))
        if enc != "utf-8":
            yield from _transcoded_arrays(ctx)
            return
        fh.seek(skip)
        lineno = 1
        pending: list[bytes] = []  # a line longer than a chunk: joined once its end is read
        while data := fh.read(CHUNK_BYTES):
            ctx.progress(len(data))
            cut = data.rfind(b"\n")
            if cut < 0:
                pending.append(data)
                continue
            lines = _split_lines(b"".join([*pending, data[:cut]]) if pending else data[:cut])
            pending = [data[cut + 1:]] if cut + 1 < len(data) else []
            yield lineno, lines
            lineno += len(lines)
        if pending:
            yield lineno, pa.array([b"".join(pending)], pa.binary())


def _split_lines(buf: bytes) -> pa.Array:
    lines = pc.split_pattern(pa.array([buf], pa.large_binary()), pattern="\n").flatten()
    if b"\r" in buf:  # CRLF files: the CR belongs to the line end
        lines = pc.replace_substring_regex(lines, pattern="\r$", replacement="")
    return lines.cast(pa.binary())


def _transcoded_arrays(ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    first, lines = 1, []
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if not lines:
            first = lineno
        lines.append(raw)
        if len(lines) >= TRANSCODED_LINES:
            yield first, pa.array(lines, pa.binary())
            lines = []
    if lines:
        yield first, pa.array(lines, pa.binary())


def _utf8_lines(fh: BinaryIO, ctx: ReadContext) -> Iterator[tuple[int, bytes]]:
    done = 0
    lineno = 0
    for lineno, raw in enumerate(fh, 1):
        done += len(raw)
        if done >= PROGRESS_EVERY:
            ctx.progress(done)
            done = 0
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        yield lineno, raw
    ctx.progress(done)


def _transcoded_lines(fh: BinaryIO, enc: str, ctx: ReadContext) -> Iterator[tuple[int, bytes]]:
    # newline="\n": only LF ends a line, as in the UTF-8 path (CR is stripped below)
    reader = io.TextIOWrapper(fh, encoding=enc, errors="replace", newline="\n")
    for lineno, line in enumerate(reader, 1):
        ctx.progress(len(line) * 2)
        yield lineno, line.rstrip("\r\n").encode("utf-8")


def decode(raw: bytes, ctx: ReadContext) -> str:
    """UTF-8 text of a line; bad bytes are replaced and the file's entry says so."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        ctx.warn(REPLACED)
        return raw.decode("utf-8", "replace")

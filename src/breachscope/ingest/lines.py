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

from breachscope.ingest.context import ReadContext

PROGRESS_EVERY = 1 << 20
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

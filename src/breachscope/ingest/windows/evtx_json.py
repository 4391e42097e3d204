"""EVTX records rendered as JSON documents (`evtx_dump -o json`, the SigmaHQ regression samples):
one or more `{"Event": {"System": ..., "EventData": ...}}` objects, pretty-printed over many lines,
optionally preceded by `Record N` lines. Each object goes through the same System/EventData mapping as
the EVTX reader, so both renderings of a record give the same row."""

from __future__ import annotations

import io
import json
import re

from breachscope.ingest.batch import SURROGATES, scrub_surrogates
from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import LongLine, head_text, text_encoding
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.windows.events import TABLE, builder_for
from breachscope.ingest.windows.evtx import _attr, event_data, system_fields

_START = re.compile(r'^\s*(?:Record \d+\s*)?\{\s*"Event"\s*:', re.S)
_RECORD_LINE = re.compile(r"\s*Record \d+\s*")
CHUNK_CHARS = 4 << 20
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def sniff(head: bytes, name: str) -> bool:
    text = head_text(head)
    return bool(_START.match(text)) and '"System"' in text


def read(ctx: ReadContext) -> Batches:
    decoder = json.JSONDecoder()
    builder = builder_for(ctx, "evtx_json")
    win = _Window(ctx)
    pos = 0
    while True:
        pos = win.skip_space(pos)
        if pos >= len(win.text):
            break
        line = win.line_of(pos)
        pos = win.ensure_record(pos)
        if pos < 0:  # over the limit: rejected, its text dropped
            LongLine(line, win.dropped_length, win.dropped_head).reject(ctx)
            pos = 0
            continue
        m = _RECORD_LINE.match(win.text, pos)
        if m and m.end() > pos:
            pos = m.end()
            continue
        text = win.text
        try:
            doc, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            nxt = _next_start(text, pos + 1)
            ctx.reject(f"line {line}", f"invalid JSON: {exc.msg}", text[pos:pos + 200])
            if nxt < 0:
                break
            pos = nxt + 1
            continue
        start, pos = pos, end
        # json decodes a lone "\\ud800" to text Arrow cannot store (found by fuzzing)
        if _SURROGATE_ESCAPE.search(text, start, end):
            clean = scrub_surrogates(doc)
            if clean != doc:
                ctx.warn(SURROGATES)
                doc = clean
        event = doc.get("Event") if isinstance(doc, dict) else None
        system = event.get("System") if isinstance(event, dict) else None
        if not isinstance(event, dict) or not isinstance(system, dict):  # (system is a dict only in a dict event)
            ctx.reject(f"line {line}", "JSON object without Event/System", text[pos:pos + 200])
            continue
        created = _attr(system.get("TimeCreated"), "SystemTime")
        builder.add(line, created, system_fields(system), event_data(event))
        if builder.n >= ctx.options.batch_rows:
            yield TABLE, builder.flush()


class _Window:
    """The file's text, read a few MiB at a time: a record is decoded once the text holds its end
    (the next line that starts a record) or the end of the file. A record over max_record_bytes is
    dropped as it is read, never held whole."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.limit = ctx.options.max_record_bytes
        fh = ctx.source.path.open("rb")
        enc, skip = text_encoding(fh.read(4096))
        fh.seek(skip)
        self.reader = io.TextIOWrapper(fh, encoding=enc, errors="replace", newline="")
        self.text = ""
        self.eof = False
        self.base_line = 1  # line number of text[0]
        self.counted = (0, 1)  # (offset, its line number): line numbers are counted forward only
        self.dropped_length = 0
        self.dropped_head = b""
        self._more()

    def _more(self) -> bool:
        chunk = self.reader.read(CHUNK_CHARS)
        if not chunk:
            self.eof = True
            self.reader.close()
            return False
        self.ctx.progress(len(chunk.encode("utf-8", "replace")))
        self.text += chunk
        return True

    def _compact(self, pos: int) -> None:
        """Drop the text before pos (already read)."""
        self.base_line = self.line_of(pos)
        self.text = self.text[pos:]
        self.counted = (0, self.base_line)

    def line_of(self, pos: int) -> int:
        at, line = self.counted
        if pos < at:
            at, line = 0, self.base_line
        line += self.text.count("\n", at, pos)
        self.counted = (pos, line)
        return line

    def skip_space(self, pos: int) -> int:
        while True:
            n = len(self.text)
            while pos < n and self.text[pos].isspace():
                pos += 1
            if pos < n or self.eof:
                return pos
            self._compact(pos)
            pos = 0
            self._more()

    def ensure_record(self, pos: int) -> int:
        """Read until the record at pos is whole in the text; its offset then (the text before it
        may have been dropped), or -1 if it is over the limit: then it was dropped, up to the next
        record or the end of the file."""
        nxt = _next_start(self.text, pos)
        if nxt < 0 and not self.eof:
            self._compact(pos)
            pos = 0
            while nxt < 0 and not self.eof and len(self.text) <= self.limit:
                searched = len(self.text)
                self._more()
                nxt = _next_start(self.text, max(searched - 1, 0))
        end = nxt if nxt >= 0 else len(self.text)
        if end - pos <= self.limit:
            return pos
        self._compact(pos)
        self._drop()
        return -1

    def _drop(self) -> None:
        """Drop the record at the start of the text, reading on to its end if need be."""
        self.dropped_head = self.text[:200].encode("utf-8", "replace")
        length = 0
        while True:
            nxt = _next_start(self.text, 1)
            if nxt >= 0 or self.eof:
                end = nxt + 1 if nxt >= 0 else len(self.text)
                length += len(self.text[:end].encode("utf-8", "replace"))
                self._compact(end)
                self.dropped_length = length
                return
            length += len(self.text[:-1].encode("utf-8", "replace"))
            self._compact(len(self.text) - 1)  # a record start may straddle the chunk boundary
            self._more()


def _next_start(text: str, pos: int) -> int:
    """Offset of the line end before the next record (`{` or `Record N` at a line start), or -1."""
    a = text.find("\n{", pos)
    b = text.find("\nRecord ", pos)
    return a if b < 0 else b if a < 0 else min(a, b)


READER = Reader(
    name="evtx_json",
    family="windows",
    description="EVTX records rendered as JSON documents (evtx_dump -o json)",
    sniff=sniff,
    read=read,
)

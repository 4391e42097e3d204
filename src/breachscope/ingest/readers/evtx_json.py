"""EVTX records rendered as JSON documents (`evtx_dump -o json`, the SigmaHQ regression samples):
one or more `{"Event": {"System": ..., "EventData": ...}}` objects, pretty-printed over many lines,
optionally preceded by `Record N` lines. Each object goes through the same System/EventData mapping as
the EVTX reader, so both renderings of a record give the same row."""

from __future__ import annotations

import json
import re

from breachscope.ingest.batch import SURROGATES, scrub_surrogates
from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import head_text, text_encoding
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.readers.evtx import _attr, event_data, system_fields
from breachscope.ingest.windows import TABLE, builder_for

_START = re.compile(r'^\s*(?:Record \d+\s*)?\{\s*"Event"\s*:', re.S)
_RECORD_LINE = re.compile(r"\s*Record \d+\s*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def sniff(head: bytes, name: str) -> bool:
    text = head_text(head)
    return bool(_START.match(text)) and '"System"' in text


def read(ctx: ReadContext) -> Batches:
    raw = ctx.source.path.read_bytes()
    enc, skip = text_encoding(raw[:4096])
    text = raw[skip:].decode(enc, "replace")
    ctx.progress(len(raw))
    decoder = json.JSONDecoder()
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    builder = builder_for(ctx, "evtx_json")
    pos = 0
    n = len(text)
    while pos < n:
        m = _RECORD_LINE.match(text, pos)
        if m and m.end() > pos:
            pos = m.end()
            continue
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            break
        line = text.count("\n", 0, pos) + 1
        try:
            doc, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            nxt = text.find("\n{", pos + 1)
            ctx.reject(f"line {line}", f"invalid JSON: {exc.msg}", text[pos:pos + 200])
            if nxt < 0:
                break
            pos = nxt + 1
            continue
        pos = end
        if surrogates:  # json decodes a lone "\\ud800" to text Arrow cannot store (found by fuzzing)
            clean = scrub_surrogates(doc)
            if clean != doc:
                ctx.warn(SURROGATES)
                doc = clean
        event = doc.get("Event") if isinstance(doc, dict) else None
        system = event.get("System") if isinstance(event, dict) else None
        if not isinstance(system, dict):
            ctx.reject(f"line {line}", "JSON object without Event/System", text[pos:pos + 200])
            continue
        created = _attr(system.get("TimeCreated"), "SystemTime")
        builder.add(line, created, system_fields(system), event_data(event))
        if builder.n >= ctx.options.batch_rows:
            yield TABLE, builder.flush()


READER = Reader(
    name="evtx_json",
    family="windows",
    description="EVTX records rendered as JSON documents (evtx_dump -o json)",
    sniff=sniff,
    read=read,
)

"""The readers, in the order they are tried: most specific content signatures first."""

from __future__ import annotations

from breachscope.ingest.reader import Reader
from breachscope.ingest.readers import evtx, winjson

READERS: list[Reader] = [
    evtx.READER,
    winjson.READER,
]


def detect(head: bytes, name: str) -> Reader | None:
    """The first reader whose sniff accepts the content (None: unknown format)."""
    for reader in READERS:
        try:
            if reader.sniff(head, name):
                return reader
        except Exception:  # a sniffer must never take the run down; treat as "not mine"
            continue
    return None


def reader_by_name(name: str) -> Reader | None:
    return next((r for r in READERS if r.name == name), None)

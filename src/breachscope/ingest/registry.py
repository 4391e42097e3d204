"""The readers, in the order they are tried: most specific content signatures first."""

from __future__ import annotations

from breachscope.ingest.reader import Reader
from breachscope.ingest.readers import (
    argus,
    evtx,
    evtx_json,
    mariadb_audit,
    mysql_general,
    netflow_csv,
    nfdump,
    pgaudit,
    winjson,
    zeek,
)
from breachscope.ingest.readers import syslog as syslog_reader

READERS: list[Reader] = [
    evtx.READER,
    evtx_json.READER,
    zeek.READER_TSV,
    zeek.READER_JSON,
    winjson.READER,
    pgaudit.READER,
    mariadb_audit.READER,
    mysql_general.READER,
    argus.READER,  # flow CSVs: strict header sniffers, Argus and nfdump names before the generic one
    nfdump.READER,
    netflow_csv.READER,
    syslog_reader.READER,  # generic text: after the JSON and other specific readers
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

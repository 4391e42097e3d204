"""The readers, in the order they are tried: most specific content signatures first.

One line per reader; a reader lives in its family's package (windows, zeek, db_audit, flows, syslog).
"""

from __future__ import annotations

from breachscope.ingest.db_audit import mariadb_audit, mysql_general, pgaudit
from breachscope.ingest.flows import argus, netflow_csv, nfdump
from breachscope.ingest.packets import reader as packets
from breachscope.ingest.reader import Reader
from breachscope.ingest.syslog import reader as syslog
from breachscope.ingest.windows import evtx, evtx_json, json_lines
from breachscope.ingest.zeek import readers as zeek

READERS: list[Reader] = [
    evtx.READER,
    packets.READER,  # pcap and pcapng: binary magic numbers
    evtx_json.READER,
    zeek.READER_TSV,
    zeek.READER_JSON,
    json_lines.READER,
    pgaudit.READER,
    mariadb_audit.READER,
    mysql_general.READER,
    argus.READER,  # flow CSVs: strict header sniffers, Argus and nfdump names before the generic one
    nfdump.READER,
    netflow_csv.READER,
    syslog.READER,  # generic text: after the JSON and other specific readers
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

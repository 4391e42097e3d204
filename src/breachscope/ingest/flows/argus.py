"""Argus bidirectional flow records as `ra -c , -s ...` writes them (the Stratosphere/CTU `.binetflow`).

A header line names the columns (`StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,
dTos,TotPkts,TotBytes,SrcBytes,Label`; columns and their order vary with `ra -s`), comma or tab
separated. Times are local without a zone (`2011/08/10 09:46:53.047277`): `--tz`, else UTC, with a
warning. ICMP "ports" are type/code in hex (`0x0008`). The reading itself is the shared flow text
engine in flows/text.py; this module is the Argus column names and the sniffer.
"""

from __future__ import annotations

from breachscope.ingest.context import ReadContext
from breachscope.ingest.flows.layout import FAMILY, FlowTextFormat, aliases, sniff_layout
from breachscope.ingest.flows.text import FlowText
from breachscope.ingest.reader import Batches, Reader

ARGUS = aliases({
    "start:auto": ("StartTime", "stime"),
    "end:auto": ("LastTime", "ltime"),
    "duration:s": ("Dur",),
    "proto": ("Proto",),
    "src_ip": ("SrcAddr", "saddr"),
    "dst_ip": ("DstAddr", "daddr"),
    "src_port": ("Sport",),
    "dst_port": ("Dport",),
    "direction": ("Dir",),
    "state": ("State",),
    "packets": ("TotPkts", "pkts"),
    "bytes": ("TotBytes", "bytes"),
    "src_bytes": ("SrcBytes", "sbytes"),
    "dst_bytes": ("DstBytes", "dbytes"),
    "src_packets": ("SrcPkts", "spkts"),
    "dst_packets": ("DstPkts", "dpkts"),
    "label": ("Label",),
})

TEXT_FORMAT = FlowTextFormat(name="argus_binetflow", aliases=ARGUS, flow_format=lambda _names: "argus",
                  delimiters=(",", "\t"))

#: Argus's own spelling of the columns any `ra` field list for flows has.
_REQUIRED = ("starttime", "srcaddr", "dstaddr")


def sniff(head: bytes, name: str) -> bool:
    layout = sniff_layout(head, TEXT_FORMAT)
    return layout is not None and all(n in layout.normalized for n in _REQUIRED)


def read(ctx: ReadContext) -> Batches:
    return FlowText(ctx, TEXT_FORMAT).read()


READER = Reader(
    name="argus_binetflow",
    family=FAMILY,
    description="Argus flow records as CSV/TSV with a header (ra -c; Stratosphere/CTU .binetflow)",
    sniff=sniff,
    read=read,
)

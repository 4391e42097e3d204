"""Flow records as delimited text with a header line: generic NetFlow/IPFIX/VPC CSV.

What collectors and exporters write as CSV/TSV: IPFIX information element names, NetFlow v5/v9
names (flow-tools `flow-export -f2`, nProbe templates), AWS VPC flow logs (space separated, `-` for
absent fields), generic `srcaddr,dstaddr,srcport,...`. This module is the generic alias table, the
`flow_format` guess and the sniffer; the reading is the shared flow text engine (flows/text.py).
See docs/formats/flows.md for the field mapping.
"""

from __future__ import annotations

from breachscope.ingest.context import ReadContext
from breachscope.ingest.flows.layout import FAMILY, FlowTextFormat, aliases, sniff_layout
from breachscope.ingest.flows.text import FlowText
from breachscope.ingest.reader import Batches, Reader

# --- the generic NetFlow/IPFIX/VPC text format -----------------------------------------------------------

GENERIC = aliases({
    "start:s": ("flowStartSeconds", "timeFlowStart", "start", "unix_start"),
    "start:ms": ("flowStartMilliseconds",),
    "start:us": ("flowStartMicroseconds",),
    "start:ns": ("flowStartNanoseconds", "timeFlowStartNs", "time_flow_start_ns"),
    "start:uptime": ("flowStartSysUpTime",),
    "start:first_last": ("first", "first_switched", "firstSwitched"),
    "start:auto": ("startTime", "start_time", "firstSeen", "first_seen", "ts", "timestamp", "time", "stime"),
    "end:s": ("flowEndSeconds", "timeFlowEnd", "end", "unix_end"),
    "end:ms": ("flowEndMilliseconds",),
    "end:us": ("flowEndMicroseconds",),
    "end:ns": ("flowEndNanoseconds", "timeFlowEndNs", "time_flow_end_ns"),
    "end:uptime": ("flowEndSysUpTime",),
    "end:first_last": ("last", "last_switched", "lastSwitched"),
    "end:auto": ("endTime", "end_time", "lastSeen", "last_seen", "te", "ltime"),
    "duration:s": ("duration", "dur", "duration_s", "td"),
    "duration:ms": ("flowDurationMilliseconds", "flow_duration_milliseconds", "duration_ms"),
    "duration:us": ("flowDurationMicroseconds", "duration_us"),
    "src_ip": ("sourceIPv4Address", "sourceIPv6Address", "srcaddr", "src_addr", "srcip", "src_ip", "sourceip",
               "source_ip", "source_address", "sourceaddress", "ipv4_src_addr", "ipv6_src_addr", "sa", "saddr"),
    "dst_ip": ("destinationIPv4Address", "destinationIPv6Address", "dstaddr", "dst_addr", "dstip", "dst_ip",
               "destinationip", "destination_ip", "destination_address", "destinationaddress", "destip",
               "dest_ip", "ipv4_dst_addr", "ipv6_dst_addr", "da", "daddr"),
    "src_port": ("sourceTransportPort", "srcport", "src_port", "sport", "sourceport", "source_port",
                 "l4_src_port", "sp"),
    "dst_port": ("destinationTransportPort", "dstport", "dst_port", "dport", "destinationport",
                 "destination_port", "destport", "dest_port", "l4_dst_port", "dp"),
    "proto": ("protocolIdentifier", "protocol", "proto", "prot", "ip_protocol", "pr"),
    "tcp_flags": ("tcpControlBits", "tcp_flags", "tcpflags", "flags", "flg"),
    "direction": ("direction",),
    "direction:code": ("flowDirection", "flow-direction"),  # IPFIX 0/1, or VPC's ingress/egress text
    "state": ("state", "conn_state"),
    "label": ("label",),
    "bytes": ("bytes_total", "total_bytes", "totbytes"),
    "src_bytes": ("octetDeltaCount", "octetTotalCount", "dOctets", "octets", "in_bytes", "inbytes", "ibyt",
                  "src_bytes", "srcbytes", "bytes_in"),
    "dst_bytes": ("reverseOctetDeltaCount", "reverseOctetTotalCount", "out_bytes", "outbytes", "obyt",
                  "dst_bytes", "dstbytes", "bytes_out"),
    "bytes_any": ("bytes", "byt"),
    "packets": ("packets_total", "total_packets", "totpkts"),
    "src_packets": ("packetDeltaCount", "packetTotalCount", "dPkts", "in_pkts", "inpkts", "in_packets", "ipkt",
                    "src_packets", "srcpkts", "src_pkts", "packets_in"),
    "dst_packets": ("reversePacketDeltaCount", "reversePacketTotalCount", "out_pkts", "outpkts", "out_packets",
                    "opkt", "dst_packets", "dstpkts", "dst_pkts", "packets_out"),
    "packets_any": ("packets", "pkts", "pkt"),
    "boot_ms": ("systemInitTimeMilliseconds",),
    "export_s": ("unix_secs", "exportTimeSeconds"),
    "export_ns": ("unix_nsecs",),
    "uptime_ms": ("sysuptime", "sys_uptime"),
})

#: What a generic header must also have besides two addresses: two of these, so that a customer
#: list with an IP column, or an inventory, is not taken for flows.
_FLOW_EVIDENCE = ("src_port", "dst_port", "proto", "start", "src_bytes", "bytes", "src_packets", "packets")


def generic_flow_format(names: frozenset[str]) -> str:
    if "logstatus" in names or {"accountid", "interfaceid"} <= names:
        return "aws_vpc"
    if names & {"ipv4srcaddr", "l4srcport", "inbytes"}:
        return "nprobe"
    if names & {"sourceipv4address", "sourceipv6address", "octetdeltacount", "protocolidentifier",
                "flowstartmilliseconds", "flowstartseconds", "flowstartsysuptime"}:
        return "ipfix"
    if {"unixsecs", "sysuptime"} <= names:
        return "flow_tools"
    return "netflow_csv"


TEXT_FORMAT = FlowTextFormat(
    name="netflow_csv",
    aliases=GENERIC,
    flow_format=generic_flow_format,
    delimiters=(",", "\t", ";", "|", " "),
    null_values=("", "-"),  # AWS VPC flow logs write "-" for fields a record does not have
)


def sniff(head: bytes, name: str) -> bool:
    layout = sniff_layout(head, TEXT_FORMAT)
    return layout is not None and sum(layout.has(r) for r in _FLOW_EVIDENCE) >= 2


def read(ctx: ReadContext) -> Batches:
    return FlowText(ctx, TEXT_FORMAT).read()


READER = Reader(
    name="netflow_csv",
    family=FAMILY,
    description="Flow records as CSV/TSV with a header: IPFIX names, NetFlow v5/v9 (flow-tools, nProbe), "
                "AWS VPC flow logs",
    sniff=sniff,
    read=read,
)

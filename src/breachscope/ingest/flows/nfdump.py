"""nfdump flow records as text: `nfdump -o csv` (1.6/1.7, short column names), the newer
`-o csv:%fmt...` and `-o csv-fast` (long names such as firstSeen, srcAddr).

`-o csv` ends with a summary block that is not flow records:

    Summary
    flows,bytes,packets,avg_bps,avg_pps,avg_bpp
    5,1234,20,0,0,61

It is read as such: its flow count is compared with the flow lines seen (a warning when they
differ, as they do when nfdump aggregated or limited its output), and nfdump's run statistics
that may follow are not records; any other line after the summary is rejected.

Binary nfcapd files (what `nfcapd` writes and `nfdump -r` reads) are not text and are not read:
export them with `nfdump -r FILE -o csv > FILE.csv`. Times are local without a zone: `--tz`, else
UTC, with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from breachscope.ingest.context import ReadContext
from breachscope.ingest.flows.layout import FAMILY, FlowTextFormat, aliases, sniff_layout
from breachscope.ingest.flows.text import FlowText
from breachscope.ingest.reader import Batches, Reader

NFDUMP = aliases({
    # -o csv (nf_common.c / output_csv.c): ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,...
    "start:auto": ("ts", "firstSeen"),
    "end:auto": ("te", "lastSeen"),
    "duration:s": ("td", "duration"),
    "src_ip": ("sa", "srcAddr"),
    "dst_ip": ("da", "dstAddr"),
    "src_port": ("sp", "srcPort"),
    "dst_port": ("dp", "dstPort"),
    "proto": ("pr", "proto"),
    "tcp_flags": ("flg", "flags"),
    "src_packets": ("ipkt", "inPackets"),
    "src_bytes": ("ibyt", "inBytes"),
    "dst_packets": ("opkt", "outPackets"),
    "dst_bytes": ("obyt", "outBytes"),
    "packets_any": ("pkt", "packets"),
    "bytes_any": ("byt", "bytes"),
    "label": ("lbl", "label"),
})

SUMMARY = b"Summary"
SUMMARY_HEADER = "flows,bytes,packets,avg_bps,avg_pps,avg_bpp"
#: What nfdump prints after the summary when not run with -q (its run statistics).
RUN_STATISTICS = ("Time window:", "Total flows processed:", "Sys:", "Total records processed:")


def _summary(lines: Iterator[tuple[int, bytes]], ctx: ReadContext, flow_lines: int) -> None:
    """The summary block: 'Summary', its header, its values line; then nfdump's run statistics."""
    step = 0
    for n, raw in lines:
        text = raw.decode("utf-8", "replace").strip()
        if step == 0:  # the "Summary" line itself
            step = 1
        elif step == 1:
            step = 2
            if text != SUMMARY_HEADER:
                ctx.reject(f"line {n}", "malformed nfdump summary", raw)
        elif step == 2:
            step = 3
            flows = text.split(",")[0]
            if not flows.isdigit():
                ctx.reject(f"line {n}", "malformed nfdump summary", raw)
            elif int(flows) != flow_lines:
                ctx.warn(f"nfdump summary counts {flows} flows, the file has {flow_lines} flow lines "
                         "(nfdump aggregation or a record limit also make them differ)")
        elif text and not text.startswith(RUN_STATISTICS):
            ctx.reject(f"line {n}", "line after the nfdump summary", raw)


TEXT_FORMAT = FlowTextFormat(name="nfdump_csv", aliases=NFDUMP, flow_format=lambda _names: "nfdump", delimiters=(",",),
                  stop_line=SUMMARY, trailer=_summary)


def sniff(head: bytes, name: str) -> bool:
    layout = sniff_layout(head, TEXT_FORMAT)
    if layout is None:
        return False
    names = layout.normalized
    legacy = {"ts", "te", "sa", "da"} <= names and bool(names & {"pr", "sp", "dp", "ibyt", "ipkt"})
    modern = {"firstseen", "srcaddr", "dstaddr"} <= names and bool(names & {"proto", "srcport", "dstport"})
    return legacy or modern


def read(ctx: ReadContext) -> Batches:
    return FlowText(ctx, TEXT_FORMAT).read()


READER = Reader(
    name="nfdump_csv",
    family=FAMILY,
    description="nfdump flow records exported as CSV (nfdump -o csv / csv:fmt / csv-fast)",
    sniff=sniff,
    read=read,
)

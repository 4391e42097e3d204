"""The packet capture reader: pcap and pcapng files to `flow` records and Zeek-shaped DNS, HTTP and TLS
rows (see the package docstring and docs/formats/pcap.md).

Recognised by the magic number only: pcap `a1b2c3d4` (µs) and `a1b23c4d` (ns) in either byte order
(and Kuznetzov's `a1b2cd34`), pcapng's section header `0a0d0d0a` with its byte-order magic `1a2b3c4d`.
"""

from __future__ import annotations

import os

from breachscope.ingest.context import ReadContext
from breachscope.ingest.packets.capture import PCAP_MAGICS, PCAPNG_BOMS, PCAPNG_SHB, Capture, FileView
from breachscope.ingest.packets.decode import Skip, decode
from breachscope.ingest.packets.flowrows import TABLE, FlowRows, make_uid
from breachscope.ingest.packets.flowtable import Flow, FlowTable
from breachscope.ingest.packets.meta import Meta
from breachscope.ingest.reader import Batches, Reader

FAMILY = "pcap"
SNAPLEN_CUT = ("packets cut by the capture's snap length: their flows count the IP length from the header; "
               "their payload metadata may be partial")
HEADER_CUT = "transport headers cut by the snap length or damaged: flows keep the ports and flags captured"
CHECK_EVERY = 1024  # packets between looks at the row buffers (and progress reports)
_TS_RANGE = 1 << 62


def sniff(head: bytes, name: str) -> bool:
    if head[:4] in PCAP_MAGICS:
        return True
    return head[:4] == PCAPNG_SHB and head[8:12] in PCAPNG_BOMS


def read(ctx: ReadContext) -> Batches:
    with ctx.source.path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            ctx.reject("byte 0", "empty file: no capture header")
            return
        yield from _read(ctx, FileView(fh.fileno(), size))


def _read(ctx: ReadContext, view: FileView) -> Batches:
    capture = Capture(view, ctx)
    sha = ctx.source.sha256
    rows = FlowRows(ctx)

    def uid_of(flow: Flow) -> str:
        if flow.uid is None:
            flow.uid = make_uid(sha, flow.first_frame)
        return flow.uid

    meta = Meta(ctx, uid_of)

    def emit(flow: Flow, reason: str) -> None:
        meta.close(flow)
        interfaces = capture.interfaces or []
        name = None
        if len(interfaces) > 1:
            name = interfaces[flow.interface].name or str(flow.interface)
        rows.add(flow, reason, uid_of(flow), name)

    table = FlowTable(emit, meta.payload, meta.wants, ctx.warn)
    step = max(1, ctx.options.batch_rows)
    reported = 0
    linktypes: list[int] = []
    packet = table.packet
    for number, ts, iface, data, orig_len, offset in capture.frames():
        if iface >= len(linktypes):
            linktypes = [i.linktype for i in capture.interfaces or []]
        if not -_TS_RANGE < ts < _TS_RANGE:
            ctx.reject(f"packet {number} (byte {offset})", "packet time out of range", str(ts))
            continue
        got = decode(linktypes[iface], data)
        if type(got) is Skip:
            if got.reject:
                ctx.reject(f"packet {number} (byte {offset})", got.reason, data[:64].hex(" "))
            else:
                ctx.warn(got.reason)
        else:
            if orig_len > len(data):
                ctx.warn(SNAPLEN_CUT)
            if got.cut:  # type: ignore[union-attr]
                ctx.warn(HEADER_CUT)
            packet(got, ts, number, iface)  # type: ignore[arg-type]
        if number % CHECK_EVERY == 0:
            yield from _full(rows, meta, step)
            ctx.progress(capture.offset - reported)
            reported = capture.offset
    table.close()
    if capture.resyncs:
        ctx.warn(f"packet numbers after a damaged part count the packets read, Wireshark stops at the first "
                 f"damage: {capture.resyncs} damaged part(s) skipped")
    yield from _full(rows, meta, 1)
    ctx.progress(len(view) - reported)


def _full(rows: FlowRows, meta: Meta, step: int) -> Batches:
    if len(rows) >= step:
        yield TABLE, rows.flush()
    for zeek in meta.tables:
        if len(zeek) >= step:
            yield zeek.table, zeek.flush()


READER = Reader(
    name="pcap",
    family=FAMILY,
    description="packet captures (pcap, pcapng): flows, and DNS, HTTP and TLS metadata in Zeek's tables",
    sniff=sniff,
    read=read,
)

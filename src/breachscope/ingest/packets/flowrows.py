"""Ended flows to rows of the `flow` table (FLOW_SCHEMA), built into batches.

Columns as the other flow readers fill them (docs/formats/flows.md): `flow_format` = `pcap`, protocol
names, `direction` `->` (one side seen) or `<->`, `state` Zeek's conn_state for TCP (`S0` SYN only,
`SF`, `REJ`, `RSTO`...) and `S0`/`SF` for the others (no reply / a reply), `tcp_flags` the flags of
both sides OR-ed in nfdump's letters (`...AP.SF`), bytes = IP bytes (the IP header's length: as
NetFlow and IPFIX count octets, not frame bytes). `extra` holds `uid` (the flow's id in the Zeek-shaped
tables), `flowEndReason`, `last_packet`, each side's TCP flags, the first packet's VLAN id and, in a
pcapng of several interfaces, the interface.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from breachscope.ingest.batch import make_batch
from breachscope.ingest.context import ReadContext
from breachscope.ingest.flows.values import PROTOCOLS, tcp_flags_text
from breachscope.ingest.packets.decode import TCP_P
from breachscope.ingest.packets.flowtable import Flow, tcp_state
from breachscope.ingest.packets.meta import ip_text
from breachscope.model.schema import FLOW_SCHEMA

TABLE = "flow"
_COLUMNS = ("ts", "end_ts", "duration", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "direction",
            "state", "packets", "bytes", "src_bytes", "dst_bytes", "src_packets", "dst_packets", "tcp_flags",
            "extra")


def make_uid(sha256: str, packet: int) -> str:
    """A Zeek-like connection id (17 characters) for the flow that starts at `packet` of the file: `P`
    (Zeek's own start with `C`) and 16 hex digits of a hash of the file and the packet number, so it is
    the same at every ingest of the file and differs between files."""
    return "P" + hashlib.blake2b(f"{sha256}:{packet}".encode(), digest_size=8).hexdigest()


#: nfdump's letters for every flag byte
_FLAGS = [tcp_flags_text(str(bits)) or "" for bits in range(256)]


class FlowRows:
    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
        self.records: list[int] = []

    def __len__(self) -> int:
        return len(self.records)

    def add(self, f: Flow, reason: str, uid: str, interface: str | None) -> None:
        c = self.cols
        c["ts"].append(f.first_us)
        c["end_ts"].append(f.last_us)
        c["duration"].append((f.last_us - f.first_us) / 1e6)
        c["src_ip"].append(ip_text(f.src))
        c["src_port"].append(f.sport)
        c["dst_ip"].append(ip_text(f.dst))
        c["dst_port"].append(f.dport)
        c["proto"].append(PROTOCOLS.get(f.proto, str(f.proto)))
        c["direction"].append("<->" if f.d_pkts else "->")
        c["packets"].append(f.s_pkts + f.d_pkts)
        c["bytes"].append(f.s_bytes + f.d_bytes)
        c["src_bytes"].append(f.s_bytes)
        c["dst_bytes"].append(f.d_bytes)
        c["src_packets"].append(f.s_pkts)
        c["dst_packets"].append(f.d_pkts)
        extra = [("uid", uid), ("flowEndReason", reason), ("last_packet", str(f.last_frame))]
        if f.proto == TCP_P:
            c["state"].append(tcp_state(f))
            c["tcp_flags"].append(_FLAGS[f.s_flags | f.d_flags])
            extra.append(("src_tcp_flags", _FLAGS[f.s_flags]))
            extra.append(("dst_tcp_flags", _FLAGS[f.d_flags]))
        else:
            c["state"].append("SF" if f.d_pkts else "S0")
            c["tcp_flags"].append(None)
        if f.vlan is not None:
            extra.append(("vlan", str(f.vlan)))
        if interface is not None:
            extra.append(("interface", interface))
        c["extra"].append(extra)
        self.records.append(f.first_frame)

    def flush(self) -> pa.RecordBatch:
        n = len(self.records)
        columns: dict[str, Any] = dict(self.cols)
        columns["family"] = pa.repeat(pa.scalar("flow"), n)
        columns["flow_format"] = pa.repeat(pa.scalar("pcap"), n)
        columns["ts_resolution"] = pa.repeat(pa.scalar("epoch"), n)
        batch = make_batch(FLOW_SCHEMA, columns, n, self.ctx, self.records)
        self.cols = {c: [] for c in _COLUMNS}
        self.records = []
        return batch

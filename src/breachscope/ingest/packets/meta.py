"""Protocol metadata of the flows: DNS queries and answers, HTTP requests, TLS hellos, as rows of the
Zeek-shaped tables (zeekrows.py).

Which protocol a flow carries is decided from its first payload, as Zeek's analyzers do: DNS by port
(53 over UDP and TCP, mDNS 5353 and LLMNR 5355 over UDP), TLS and HTTP by content on any TCP port (a
client's first bytes that are a TLS handshake record, or an HTTP method and a space). A flow whose
client starts with anything else is not looked at again. Rows are paired as Zeek pairs them and
written when complete or when their flow ends:

- DNS: one row per query and its response (matched by transaction id within the flow), with `rtt`; a
  query never answered, or a response whose query was not captured, is a row of its own;
- HTTP: one row per request, with the status of the response that follows (in order, `trans_depth`
  counts the requests of the flow); only the segment that starts a head is read;
- TLS: one row per flow that shows a ClientHello or a ServerHello (read across segments, in sequence
  order); `ts` is the flow's start, as in Zeek's ssl.log.

Each row's `uid` is its flow's (kept in the flow's `extra`), and `src_record` the packet that carries
the query, the request or the ClientHello.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from breachscope.ingest.context import ReadContext
from breachscope.ingest.packets import dns, http, tls
from breachscope.ingest.packets.decode import TCP_P, UDP_P, Packet
from breachscope.ingest.packets.flowtable import Flow
from breachscope.ingest.packets.zeekrows import ZeekRows

DNS_UDP_PORTS = frozenset({53, 5353, 5355})
DNS_TCP_PORTS = frozenset({53})
MAX_PENDING = 64  # unanswered DNS queries / HTTP requests held per flow; the oldest is written beyond
MAX_PENDING_ALL = 16_384  # the same over all flows: beyond, a query or request is written without its answer
MAX_STREAM = 1 << 15  # bytes of one direction buffered to read a TLS hello (records are 16 KiB at most)
MAX_BUFFERED = 32 << 20  # the same over all flows: beyond, a hello that needs more segments is not read
FULL = "rows held for their answers reached the memory budget: some queries or requests written without it"
SEQ = 0xFFFFFFFF
NOT_DNS = "payloads on DNS ports that are not DNS messages (too short, or nothing readable): not read"
DNS_DAMAGED = "DNS messages cut by the snap length or damaged: the question and answers before the damage kept"


def ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


class DnsState:
    __slots__ = ("expect", "pending")

    def __init__(self) -> None:
        self.pending: dict[int, tuple[dict[str, Any], int, int]] = {}  # trans id -> (row, ts, packet)
        self.expect: list[int | None] = [None, None]  # DNS over TCP: where the next message starts, per side


class HttpState:
    __slots__ = ("depth", "pending")

    def __init__(self) -> None:
        self.pending: list[tuple[dict[str, Any], int]] = []  # (row, packet), in request order
        self.depth = 0


class TlsState:
    __slots__ = ("bufs", "done", "frames", "nexts", "server", "sni")

    def __init__(self) -> None:
        self.bufs: list[bytes | None] = [None, None]  # client, server
        self.nexts = [0, 0]
        self.frames = [0, 0]
        self.sni: str | None = None  # "" when the ClientHello names no server
        self.server: tls.ServerHello | None = None
        self.done = [False, False]


class Meta:
    def __init__(self, ctx: ReadContext, uid_of: Callable[[Flow], str]) -> None:
        self.ctx = ctx
        self.uid_of = uid_of
        self.dns = ZeekRows("dns", ctx)
        self.http = ZeekRows("http", ctx)
        self.ssl = ZeekRows("ssl", ctx)
        self.tables = (self.dns, self.http, self.ssl)
        self.pending = 0  # DNS queries and HTTP requests waiting for their answer, over all flows
        self.buffered = 0  # bytes of TLS streams held, over all flows

    def wants(self, flow: Flow) -> bool:
        """Whether a new flow's payload may hold metadata."""
        if flow.proto == UDP_P:
            return flow.sport in DNS_UDP_PORTS or flow.dport in DNS_UDP_PORTS
        return flow.proto == TCP_P

    def _base(self, flow: Flow, ts: int) -> dict[str, Any]:
        return {"ts": ts, "uid": self.uid_of(flow), "id.orig_h": ip_text(flow.src), "id.orig_p": flow.sport,
                "id.resp_h": ip_text(flow.dst), "id.resp_p": flow.dport}

    # -- per packet ---------------------------------------------------------------------------------------

    def payload(self, flow: Flow, p: Packet, from_src: bool, ts: int, frame: int) -> None:
        state = flow.app
        if state is None:
            if flow.proto == UDP_P or flow.sport in DNS_TCP_PORTS or flow.dport in DNS_TCP_PORTS:
                state = DnsState()
            elif not from_src:
                return  # the client speaks first in the protocols read here
            elif tls.looks_like_handshake(p.payload):
                state = TlsState()
            elif http.looks_like_request(p.payload):
                state = HttpState()
            else:
                flow.app = False
                return
            flow.app = state
        if type(state) is DnsState:
            self._dns(flow, state, p, from_src, ts, frame)
        elif type(state) is HttpState:
            self._http(flow, state, p.payload, from_src, ts, frame)
        elif type(state) is TlsState:
            self._tls(flow, state, p, from_src, frame)

    # -- DNS ----------------------------------------------------------------------------------------------

    def _dns(self, flow: Flow, state: DnsState, p: Packet, from_src: bool, ts: int, frame: int) -> None:
        payload = p.payload
        if flow.proto == UDP_P:
            self._dns_message(flow, state, payload, "udp", ts, frame)
            return
        side = 0 if from_src else 1  # DNS over TCP: two-byte length before each message
        expect = state.expect[side]
        if expect is not None and p.seq != expect:
            return  # the rest of a message begun earlier, or a retransmission
        off = 0
        while off + 2 <= len(payload):
            n = int.from_bytes(payload[off:off + 2], "big")
            self._dns_message(flow, state, payload[off + 2:off + 2 + n], "tcp", ts, frame)
            off += 2 + n
        state.expect[side] = (p.seq + off) & SEQ if off >= len(payload) else None

    def _dns_message(self, flow: Flow, state: DnsState, payload: bytes, proto: str, ts: int, frame: int) -> None:
        m = dns.parse(payload)
        if m is None or m.opcode > 6 or (m.query is None and not m.complete):
            self.ctx.warn(NOT_DNS)
            return
        if not m.complete:
            self.ctx.warn(DNS_DAMAGED)
        if not m.qr:
            if m.trans_id in state.pending:
                return  # a retransmitted query: the first one is the row
            row = self._base(flow, ts)
            row.update({"proto": proto, "trans_id": m.trans_id, "query": m.query, "qclass": m.qclass,
                        "qclass_name": None if m.qclass is None else dns.qclass_name(m.qclass),
                        "qtype": m.qtype, "qtype_name": None if m.qtype is None else dns.qtype_name(m.qtype),
                        "AA": False, "TC": False, "RD": m.rd, "RA": False, "Z": m.z, "rejected": False})
            if self.pending >= MAX_PENDING_ALL:
                self.ctx.warn(FULL)
                self.dns.add(row, frame)
                return
            state.pending[m.trans_id] = (row, ts, frame)
            self.pending += 1
            if len(state.pending) > MAX_PENDING:
                oldest = next(iter(state.pending))
                row, _ts, at = state.pending.pop(oldest)
                self.pending -= 1
                self.dns.add(row, at)
            return
        got = state.pending.pop(m.trans_id, None)
        if got is not None:
            self.pending -= 1
        if got is None:
            row = self._base(flow, ts)
            row.update({"proto": proto, "trans_id": m.trans_id, "query": m.query, "qclass": m.qclass,
                        "qclass_name": None if m.qclass is None else dns.qclass_name(m.qclass),
                        "qtype": m.qtype, "qtype_name": None if m.qtype is None else dns.qtype_name(m.qtype),
                        "RD": m.rd})
            at = frame
        else:
            row, query_ts, at = got
            row["rtt"] = max(ts - query_ts, 0) / 1e6
        row.update({"rcode": m.rcode, "rcode_name": dns.rcode_name(m.rcode), "AA": m.aa, "TC": m.tc,
                    "RA": m.ra, "Z": m.z,
                    # Zeek: a response with no record at all rejected the query
                    "rejected": m.ancount == 0 and m.nscount == 0 and m.arcount == 0})
        if m.answers:
            row["answers"], row["TTLs"] = m.answers, m.ttls
        self.dns.add(row, at)

    # -- HTTP ---------------------------------------------------------------------------------------------

    def _http(self, flow: Flow, state: HttpState, payload: bytes, from_src: bool, ts: int, frame: int) -> None:
        if from_src:
            req = http.request(payload)
            if req is None:
                return
            state.depth += 1
            row = self._base(flow, ts)
            row.update(req)
            row["trans_depth"] = state.depth
            if self.pending >= MAX_PENDING_ALL:
                self.ctx.warn(FULL)
                self.http.add(row, frame)
                return
            state.pending.append((row, frame))
            self.pending += 1
            if len(state.pending) > MAX_PENDING:
                row, at = state.pending.pop(0)
                self.pending -= 1
                self.http.add(row, at)
            return
        got = http.response(payload)
        if got is None or not state.pending:
            return
        code, reason = got
        row, at = state.pending[0]
        if 100 <= code < 200 and code != 101:  # informational: the final status follows
            row["info_code"], row["info_msg"] = code, reason
            return
        row["status_code"], row["status_msg"] = code, reason
        state.pending.pop(0)
        self.pending -= 1
        self.http.add(row, at)

    # -- TLS ----------------------------------------------------------------------------------------------

    def _tls(self, flow: Flow, state: TlsState, p: Packet, from_src: bool, frame: int) -> None:
        side = 0 if from_src else 1
        if state.done[side]:
            return
        held = state.bufs[side]
        if held is None:
            buf = p.payload
            state.frames[side] = frame
        elif p.seq == state.nexts[side]:
            buf = held + p.payload
            self.buffered -= len(held)
        else:
            return  # out of order or retransmitted: the hello is read in sequence only
        state.nexts[side] = (p.seq + len(p.payload)) & SEQ
        got: object = tls.client_hello(buf) if side == 0 else tls.server_hello(buf)
        if got == tls.NEED_MORE and len(buf) < MAX_STREAM:
            if self.buffered + len(buf) <= MAX_BUFFERED:
                state.bufs[side] = buf
                self.buffered += len(buf)
                return
            self.ctx.warn("TLS hellos spread over segments while the memory budget for them was spent: not read")
        state.bufs[side] = None
        state.done[side] = True
        if side == 0 and isinstance(got, str) and got != tls.NEED_MORE:
            state.sni = got
        elif side == 1 and isinstance(got, tls.ServerHello):
            state.server = got
        if all(state.done):
            self._ssl_row(flow, state)
            flow.app = False  # nothing more to read in this flow

    def _ssl_row(self, flow: Flow, state: TlsState) -> None:
        if state.sni is None and state.server is None:
            return
        row = self._base(flow, flow.first_us)
        row["server_name"] = state.sni or None
        if state.server is not None:
            s = state.server
            row.update({"version": s.version, "cipher": s.cipher, "curve": s.curve, "next_protocol": s.alpn})
        self.ssl.add(row, state.frames[0] if state.sni is not None else state.frames[1])
        state.sni = state.server = None

    # -- the flow ends --------------------------------------------------------------------------------------

    def close(self, flow: Flow) -> None:
        """Write what the flow still holds: unanswered queries, requests without a response, a lone hello."""
        state = flow.app
        if type(state) is DnsState:
            for row, _ts, at in state.pending.values():
                self.dns.add(row, at)
            self.pending -= len(state.pending)
        elif type(state) is HttpState:
            for row, at in state.pending:
                self.http.add(row, at)
            self.pending -= len(state.pending)
        elif type(state) is TlsState:
            self.buffered -= sum(len(b) for b in state.bufs if b is not None)
            self._ssl_row(flow, state)  # a hello without its answer (or a hello cut short: no row)

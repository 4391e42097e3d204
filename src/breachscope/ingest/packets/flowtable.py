"""The flow cache: packets to one record per bidirectional connection, as a flow exporter writes them.

A flow is keyed by protocol, addresses and ports (ICMP echo: the identifier) in the orientation of its
first packet, whose sender is the flow's source, except where that packet shows it came from the
server: a TCP SYN-ACK, an ICMP echo reply, or (without a SYN) a packet from a port below 1024 to one
above it, as Zeek decides. A flow ends, and is handed to the sink, when:

- TCP: FIN seen both ways, or a RST (`end of flow detected`), after CLOSE_LINGER seconds without a
  packet (trailing ACKs stay in the flow); a new SYN on a closed flow starts a new one at once;
- it has been idle: TCP_IDLE seconds for TCP without an end, OTHER_IDLE for UDP, ICMP and other
  protocols (`idle timeout`);
- it has lasted ACTIVE_TIMEOUT seconds: the record is cut and the connection goes on in a new record
  with the same orientation (`active timeout`);
- the cache holds MAX_FLOWS flows: the least recently seen one is ended (`lack of resources`);
- the capture ends (`forced end`).

The reasons are IPFIX's flowEndReason names. Times are the capture's, never the wall clock. One ordered
dict per timeout class keeps flows by last packet, so expiry pops from the front and memory is bounded
by the flows alive at one time (and MAX_FLOWS).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from breachscope.ingest.packets.decode import ICMP6_P, ICMP_P, TCP_P, UDP_P, Packet

US = 1_000_000
TCP_IDLE = 60 * US
OTHER_IDLE = 30 * US
CLOSE_LINGER = 5 * US
ACTIVE_TIMEOUT = 30 * 60 * US
MAX_FLOWS = 262_144
SWEEP_EVERY = 1 * US  # capture time between expiry sweeps
#: Flows ended by a timeout remember their orientation this long (entries), so that the connection's
#: next record keeps its client as the source.
REMEMBERED = 65_536
FRAGMENTS = 65_536  # first fragments remembered, so later fragments count in their flow

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_OPEN, _OTHER, _CLOSED = 0, 1, 2
_ECHO = {8: 0, 0: 8, 128: 129, 129: 128}  # ICMP/ICMPv6 echo request <-> reply
_ECHO_REPLY = frozenset({0, 129})
_ICMPS = frozenset({ICMP_P, ICMP6_P})

IDLE_TIMEOUT, ACTIVE, END_DETECTED, FORCED_END, LACK_OF_RESOURCES = (
    "idle timeout", "active timeout", "end of flow detected", "forced end", "lack of resources")


class Flow:
    """One connection record in the making. `src` is the client (see the module docstring)."""

    __slots__ = ("app", "cls", "d_bytes", "d_flags", "d_pkts", "dport", "dst", "first_frame", "first_us",
                 "interface", "key", "last_frame", "last_us", "proto", "rst_first", "s_bytes", "s_flags", "s_pkts",
                 "sport", "src", "uid", "vlan")

    def __init__(self, key: tuple[int, bytes, int, bytes, int], proto: int, src: bytes, dst: bytes,
                 sport: int | None, dport: int | None, ts: int, frame: int, vlan: int | None,
                 interface: int, cls: int) -> None:
        self.key = key
        self.proto = proto
        self.src, self.dst, self.sport, self.dport = src, dst, sport, dport
        self.first_us = self.last_us = ts
        self.first_frame = self.last_frame = frame
        self.s_pkts = self.s_bytes = self.d_pkts = self.d_bytes = 0
        self.s_flags = self.d_flags = 0
        self.rst_first = 0  # 1: the source reset first, 2: the destination did
        self.cls = cls
        self.vlan = vlan
        self.interface = interface
        self.app: object = None  # protocol metadata state (meta.py); False: nothing to look for
        self.uid: str | None = None


def tcp_state(f: Flow) -> str:
    """Zeek's conn_state from the flags each side sent (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0,
    RSTRH, SH, SHR, OTH)."""
    o, r = f.s_flags, f.d_flags
    o_syn, r_syn = o & SYN, r & SYN
    if not o_syn:
        if r_syn and r & RST:
            return "RSTRH"
        if r_syn and r & FIN:
            return "SHR"
        return "OTH"
    if not r_syn:
        if r & RST:
            return "REJ"
        if o & RST:
            return "RSTOS0"
        if o & FIN:
            return "SH"
        return "S0"
    if f.rst_first == 1:
        return "RSTO"
    if f.rst_first == 2:
        return "RSTR"
    if o & FIN and r & FIN:
        return "SF"
    if o & FIN:
        return "S2"
    if r & FIN:
        return "S3"
    return "S1"


Sink = Callable[[Flow, str], None]
#: (flow, packet, from its source, ts, packet number): protocol metadata of a packet with payload
PayloadHook = Callable[[Flow, Packet, bool, int, int], None]


class FlowTable:
    def __init__(self, emit: Sink, payload: PayloadHook, wants_payload: Callable[[Flow], bool],
                 warn: Callable[[str], None]) -> None:
        self.emit = emit
        self.payload = payload
        self.wants_payload = wants_payload
        self.warn = warn
        self.flows: dict[tuple[int, bytes, int, bytes, int], Flow] = {}
        self.lru: list[OrderedDict[tuple[int, bytes, int, bytes, int], Flow]] = [
            OrderedDict(), OrderedDict(), OrderedDict()]
        self.timeouts = (TCP_IDLE, OTHER_IDLE, CLOSE_LINGER)
        self.now = 0
        self.swept = 0
        self.remembered: OrderedDict[tuple[int, bytes, int, bytes, int], bool] = OrderedDict()
        self.fragments: OrderedDict[tuple[bytes, bytes, int, int], tuple[tuple[int, bytes, int, bytes, int], bool]] = (
            OrderedDict())

    # -- packets -----------------------------------------------------------------------------------------

    def packet(self, p: Packet, ts: int, frame: int, interface: int) -> None:
        if ts > self.now:
            self.now = ts
            if ts - self.swept >= SWEEP_EVERY:
                self.expire(ts)
        src, dst, proto, sport, dport, flags, seq, payload, ip_len, _vlan, fragment, _fid, _cut = p
        if fragment == 2:
            self._later_fragment(p, ts, frame)
            return
        if sport is None or dport is None:
            sport = dport = 0
        elif proto in _ICMPS and sport in _ECHO:
            sport = dport = seq  # request and reply in one flow by identifier; other ICMP: by (type, code)
        fwd = (proto, src, sport, dst, dport)
        flows = self.flows
        flow = flows.get(fwd)
        from_src = True
        if flow is None:
            rev = (proto, dst, dport, src, sport)
            flow = flows.get(rev)
            from_src = False
            if flow is None:
                flow, from_src = self._new(p, fwd, rev, ts, frame, interface)
        if flow.cls == _CLOSED and flags & SYN and not flags & ACK:  # the ports are used again
            flow, from_src = self._restart(flow, p, fwd, ts, frame, interface)
        elif ts - flow.first_us > ACTIVE_TIMEOUT:
            flow, from_src = self._restart(flow, p, fwd, ts, frame, interface, ACTIVE)
        if ts > flow.last_us:
            flow.last_us = ts
        flow.last_frame = frame
        if from_src:
            flow.s_pkts += 1
            flow.s_bytes += ip_len
            flow.s_flags |= flags
        else:
            flow.d_pkts += 1
            flow.d_bytes += ip_len
            flow.d_flags |= flags
        cls = flow.cls
        if proto == TCP_P and cls == _OPEN and (flags & RST or (flow.s_flags & FIN and flow.d_flags & FIN)):
            if not flow.rst_first and flags & RST:
                flow.rst_first = 1 if from_src else 2
            del self.lru[_OPEN][flow.key]
            flow.cls = _CLOSED
            self.lru[_CLOSED][flow.key] = flow
        else:
            if flags & RST and not flow.rst_first:
                flow.rst_first = 1 if from_src else 2
            self.lru[cls].move_to_end(flow.key)
        if fragment == 1:
            self._first_fragment(p, flow.key, from_src)
        if payload and flow.app is not False:
            self.payload(flow, p, from_src, ts, frame)

    def _new(self, p: Packet, fwd: tuple[int, bytes, int, bytes, int], rev: tuple[int, bytes, int, bytes, int],
             ts: int, frame: int, interface: int) -> tuple[Flow, bool]:
        """A flow for a packet that belongs to none: oriented from its client (module docstring)."""
        if len(self.flows) >= MAX_FLOWS:
            self._evict_one()
        proto = p.proto
        flip = False
        known = self.remembered.pop(fwd, None)
        if known is not None:
            flip = not known
        elif (known := self.remembered.pop(rev, None)) is not None:
            flip = known
        elif proto == TCP_P:
            flip = bool(p.flags & ACK) if p.flags & SYN else _server_port(p.sport, p.dport)
        elif proto == UDP_P:
            flip = _server_port(p.sport, p.dport)
        elif proto in (ICMP_P, ICMP6_P) and p.sport in _ECHO_REPLY:
            flip = True
        cls = _OPEN if proto == TCP_P else _OTHER
        if flip:
            sport, dport = p.dport, p.sport
            if proto in (ICMP_P, ICMP6_P) and p.sport in _ECHO:
                sport, dport = _ECHO[p.sport], p.sport  # the request's type, then the reply's
            flow = Flow(rev, proto, p.dst, p.src, sport, dport, ts, frame, p.vlan, interface, cls)
        else:
            dport = p.dport
            if proto in (ICMP_P, ICMP6_P) and p.sport in _ECHO:
                dport = _ECHO[p.sport]  # Zeek: the responder "port" of an echo is the reply's type
            flow = Flow(fwd, proto, p.src, p.dst, p.sport, dport, ts, frame, p.vlan, interface, cls)
        if not self.wants_payload(flow):
            flow.app = False
        self.flows[flow.key] = flow
        self.lru[cls][flow.key] = flow
        return flow, not flip

    def _restart(self, old: Flow, p: Packet, fwd: tuple[int, bytes, int, bytes, int], ts: int, frame: int,
                 interface: int, reason: str = END_DETECTED) -> tuple[Flow, bool]:
        """End `old` and start the next record of the connection (a new SYN, or the active timeout)."""
        self._end(old, reason)
        if reason == ACTIVE:
            self._remember(old)
        rev = (fwd[0], fwd[3], fwd[4], fwd[1], fwd[2])
        return self._new(p, fwd, rev, ts, frame, interface)

    # -- fragments ---------------------------------------------------------------------------------------

    def _first_fragment(self, p: Packet, key: tuple[int, bytes, int, bytes, int], from_src: bool) -> None:
        frags = self.fragments
        frags[(p.src, p.dst, p.proto, p.frag_id)] = (key, from_src)
        if len(frags) > FRAGMENTS:
            frags.popitem(last=False)

    def _later_fragment(self, p: Packet, ts: int, frame: int) -> None:
        got = self.fragments.get((p.src, p.dst, p.proto, p.frag_id))
        flow = self.flows.get(got[0]) if got is not None else None
        if flow is None or got is None:
            self.warn("IP fragments whose first fragment was not seen or whose flow had ended: not counted "
                      "in a flow")
            return
        if ts > flow.last_us:
            flow.last_us = ts
        flow.last_frame = frame
        if got[1]:
            flow.s_pkts += 1
            flow.s_bytes += p.ip_len
        else:
            flow.d_pkts += 1
            flow.d_bytes += p.ip_len

    # -- ending flows ------------------------------------------------------------------------------------

    def expire(self, now: int) -> None:
        """End every flow idle for longer than its class's timeout."""
        self.swept = now
        for cls, lru in enumerate(self.lru):
            limit = now - self.timeouts[cls]
            while lru:
                key = next(iter(lru))
                flow = lru[key]
                if flow.last_us > limit:
                    break
                if cls == _CLOSED:
                    self._end(flow, END_DETECTED)
                else:
                    self._end(flow, IDLE_TIMEOUT)
                    self._remember(flow)

    def _evict_one(self) -> None:
        fronts = [(lru[next(iter(lru))].last_us, cls) for cls, lru in enumerate(self.lru) if lru]
        _, cls = min(fronts)
        lru = self.lru[cls]
        flow = lru[next(iter(lru))]
        self.warn(f"flows ended early because more than {MAX_FLOWS} were open at once: the flow cache was full")
        self._end(flow, END_DETECTED if cls == _CLOSED else LACK_OF_RESOURCES)
        if cls != _CLOSED:
            self._remember(flow)

    def _remember(self, flow: Flow) -> None:
        """The connection goes on after this record: its next record keeps the same client."""
        self.remembered[flow.key] = True
        if len(self.remembered) > REMEMBERED:
            self.remembered.popitem(last=False)

    def _end(self, flow: Flow, reason: str) -> None:
        del self.flows[flow.key]
        del self.lru[flow.cls][flow.key]
        self.emit(flow, reason)

    def close(self) -> None:
        """The capture ended: every open flow is ended (in the order they were last seen)."""
        for cls, reason in ((_CLOSED, END_DETECTED), (_OPEN, FORCED_END), (_OTHER, FORCED_END)):
            lru = self.lru[cls]
            while lru:
                self._end(lru[next(iter(lru))], reason)


def _server_port(sport: int | None, dport: int | None) -> bool:
    """A packet from a well-known port to an ephemeral one: sent by the server."""
    return sport is not None and dport is not None and 0 < sport < 1024 <= dport

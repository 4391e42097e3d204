"""One captured frame to the fields a flow needs, decoded by dpkt: link layer (Ethernet with 802.1Q/QinQ,
MPLS, PPPoE and LLC/SNAP; Linux cooked SLL and SLL2; BSD loopback/null; raw IPv4/IPv6; PPP), IPv4 or IPv6
(extension headers, fragments), then TCP, UDP, ICMP or ICMPv6 headers.

`decode` returns a `Packet`, or a `Skip` saying why the frame gives no packet: a frame that is not IP
(ARP, LLDP, STP...) or on a link type this reader does not decode is counted in a warning; a frame whose
headers claim IP but cannot be read is a reject. dpkt may raise anything on hostile bytes: its calls
are guarded here, never this module's own logic.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

# dpkt publishes no type information (pyarrow's is ignored the same way in pyproject's mypy overrides)
from dpkt import ethernet, icmp, icmp6, ip, ip6, loopback, ppp, sll, sll2, tcp, udp

Ethernet, ICMP, ICMP6, IP, IP6 = ethernet.Ethernet, icmp.ICMP, icmp6.ICMP6, ip.IP, ip6.IP6
Loopback, PPP, SLL, SLL2, TCP, UDP = loopback.Loopback, ppp.PPP, sll.SLL, sll2.SLL2, tcp.TCP, udp.UDP

TCP_P, UDP_P, ICMP_P, ICMP6_P, ESP_P = 6, 17, 1, 58, 50

#: Link types (LINKTYPE_* numbers of pcap and pcapng) and their names, for the reports.
LINKTYPE_NAMES = {
    0: "NULL (BSD loopback)", 1: "ETHERNET", 9: "PPP", 12: "RAW (DLT 12)", 14: "RAW (DLT 14)", 101: "RAW",
    105: "IEEE802_11", 108: "LOOP (OpenBSD loopback)", 113: "LINUX_SLL", 119: "IEEE802_11_PRISM",
    127: "IEEE802_11_RADIOTAP", 163: "IEEE802_11_AVS", 192: "PPI", 195: "IEEE802_15_4", 220: "USB_LINUX_MMAPPED",
    228: "IPV4", 229: "IPV6", 249: "USBPCAP", 253: "NETLINK", 276: "LINUX_SLL2", 51: "PPP_ETHER", 50: "PPP_HDLC",
    10: "FDDI", 6: "IEEE802_5 (token ring)", 104: "C_HDLC", 107: "FRELAY", 147: "USER0",
}
_ETHERNET, _PPP_TYPES, _RAW, _SLL, _SLL2, _LOOP = 1, (9, 50), (12, 14, 101), 113, 276, (0, 108)
_RAW4, _RAW6 = 228, 229
SUPPORTED_LINKTYPES = frozenset({_ETHERNET, *_PPP_TYPES, *_RAW, _SLL, _SLL2, *_LOOP, _RAW4, _RAW6})

#: Ethertypes named in the "not IP" warning; others are counted together.
ETHERTYPE_NAMES = {
    0x0806: "ARP", 0x8035: "RARP", 0x88CC: "LLDP", 0x888E: "EAPOL", 0x8100: "802.1Q", 0x88A8: "802.1ad",
    0x8847: "MPLS", 0x8863: "PPPoE discovery", 0x8864: "PPPoE session", 0x88E5: "MACsec", 0x8137: "IPX",
    0x88F7: "PTP", 0x9000: "loopback test", 0x8809: "slow protocols (LACP)", 0x22F0: "AVB", 0x893A: "IEEE 1905",
    0x88E1: "HomePlug", 0x8892: "PROFINET", 0x88B8: "GOOSE", 0x88BA: "SV", 0x0842: "Wake-on-LAN",
}


class Packet(NamedTuple):
    """What a flow needs of one IP packet (addresses as raw bytes: text only once per flow)."""

    src: bytes
    dst: bytes
    proto: int
    sport: int | None  # ICMP: the type
    dport: int | None  # ICMP: the code
    flags: int  # TCP flags (0 for other protocols)
    seq: int  # TCP sequence number; ICMP echo identifier; 0 otherwise
    payload: bytes  # transport payload as captured (may be cut by the snap length)
    ip_len: int  # IP bytes on the wire, from the IP header (what NetFlow/IPFIX count as octets)
    vlan: int | None
    fragment: int  # 0 not a fragment, 1 first fragment, 2 a later fragment (no transport header)
    frag_id: int
    cut: bool  # the transport header was cut by the snap length


class Skip(NamedTuple):
    reject: bool  # True: a bad record (rejected); False: a frame outside the flows' scope (warned)
    reason: str


LINK_UNREADABLE = Skip(True, "link-layer header unreadable")
IP4_UNREADABLE = Skip(True, "IPv4 header unreadable (cut or corrupt)")
IP6_UNREADABLE = Skip(True, "IPv6 header unreadable (cut or corrupt)")
IP4_SHORT = Skip(True, "IPv4 total length shorter than its header")
NOT_IP_OTHER = Skip(False, "frames that are not IP not read as flows: other protocols")
NOT_IP_LLC = Skip(False, "frames that are not IP not read as flows: 802.3 LLC, e.g. STP, CDP")
_NOT_IP = {t: Skip(False, f"frames that are not IP not read as flows: {name}") for t, name in ETHERTYPE_NAMES.items()}
_UNKNOWN_LINK: dict[int, Skip] = {}
_IP_ETHERTYPES = (0x0800, 0x86DD)
_PORTS = struct.Struct(">HH")
_FAST_PROTOS = frozenset({TCP_P, UDP_P, ICMP6_P})
#: IPv4 payloads dpkt decodes (and may decode differently from the fast path): left to it
_DPKT_DECODED4 = frozenset(IP._protosw)


def unknown_link(linktype: int) -> Skip:
    skip = _UNKNOWN_LINK.get(linktype)
    if skip is None:
        name = LINKTYPE_NAMES.get(linktype, "unknown")
        skip = Skip(False, f"packets on link type {linktype} = {name} not read: this link type is not decoded")
        if len(_UNKNOWN_LINK) < 1024:
            _UNKNOWN_LINK[linktype] = skip
    return skip


def decode(linktype: int, data: bytes) -> Packet | Skip:
    """The packet in one frame, or why there is none."""
    if linktype == _ETHERNET:
        got = fast_ethernet(data)
        if got is not None:
            return got
    return decode_dpkt(linktype, data)


# --- the common frames without dpkt ------------------------------------------------------------------------
# Ethernet II (with at most one 802.1Q tag), IPv4 not fragmented or IPv6 without extension headers, then a
# whole TCP, UDP or ICMP header: read with struct, exactly as dpkt reads them (tests compare the two on
# every capture they use). Anything else returns None and goes to dpkt.

_U16 = struct.Struct(">H")
_IP4 = struct.Struct(">BBHHHBB")  # version/ihl, tos, total length, id, flags/offset, ttl, protocol
_IP6 = struct.Struct(">HB")  # payload length, next header (at offset 4)
_TCP = struct.Struct(">HHIIBB")  # ports, seq, ack, data offset, flags


def fast_ethernet(data: bytes) -> Packet | None:
    n = len(data)
    if n < 34:
        return None
    (etype,) = _U16.unpack_from(data, 12)
    off = 14
    vlan = None
    if etype == 0x8100:
        (tci,) = _U16.unpack_from(data, 14)
        (etype,) = _U16.unpack_from(data, 16)
        vlan = tci & 0x0FFF
        off = 18
    if etype == 0x0800:
        if n < off + 20:
            return None
        vhl, _tos, total, ident, frag, _ttl, proto = _IP4.unpack_from(data, off)
        hl = (vhl & 0x0F) * 4
        if vhl >> 4 != 4 or hl < 20 or total < hl or frag & 0x3FFF or n < off + hl:
            return None  # options past the capture, a fragment, a zero (offloaded) length: dpkt decides
        src, dst = data[off + 12:off + 16], data[off + 16:off + 20]
        end = off + total
        l4 = off + hl
    elif etype == 0x86DD:
        if n < off + 40 or data[off] >> 4 != 6:
            return None
        plen, proto = _IP6.unpack_from(data, off + 4)
        if plen == 0 or proto not in _FAST_PROTOS:
            return None  # jumbo or offloaded length, extension headers: dpkt decides
        src, dst = data[off + 8:off + 24], data[off + 24:off + 40]
        total = 40 + plen
        end = off + total
        l4 = off + 40
        ident = 0
    else:
        return None
    lim = end if end < n else n  # the transport bytes end at the IP length (Ethernet pads short frames)
    if proto == TCP_P:
        if lim < l4 + 20:
            return None
        sport, dport, seq, _ack, doff, flags = _TCP.unpack_from(data, l4)
        if doff >> 4 < 5:
            return None
        start = l4 + (doff >> 4) * 4
        return Packet(src, dst, proto, sport, dport, flags, seq, data[start:lim] if lim > start else b"", total,
                      vlan, 0, ident, False)
    if proto == UDP_P:
        if lim < l4 + 8:
            return None
        sport, dport = _PORTS.unpack_from(data, l4)
        return Packet(src, dst, proto, sport, dport, 0, 0, data[l4 + 8:lim], total, vlan, 0, ident, False)
    if proto in (ICMP_P, ICMP6_P):
        if lim < l4 + 8:
            return None
        itype, code = data[l4], data[l4 + 1]
        echo = itype in (0, 8) if proto == ICMP_P else itype in (128, 129)
        echo_id = _U16.unpack_from(data, l4 + 4)[0] if echo else 0
        return Packet(src, dst, proto, itype, code, 0, echo_id, b"", total, vlan, 0, ident, False)
    if etype == 0x0800 and proto not in _DPKT_DECODED4:
        return Packet(src, dst, proto, None, None, 0, 0, b"", total, vlan, 0, ident, False)
    return None


def decode_dpkt(linktype: int, data: bytes) -> Packet | Skip:
    """Any frame of the link types read, by dpkt (the reference for fast_ethernet)."""
    vlan = None
    try:
        if linktype == _ETHERNET:
            l2 = Ethernet(data)
            tags = getattr(l2, "vlan_tags", None)
            if tags:
                vlan = tags[0].id
            net = l2.data
            ethertype = l2._next_type or l2.type  # after VLAN tags and MPLS labels
        elif linktype in _RAW or linktype in (_RAW4, _RAW6):
            version = data[0] >> 4 if data else 0
            if version == 4:
                try:
                    net = IP(data)
                except Exception:
                    return IP4_UNREADABLE
                ethertype = 0x0800
            elif version == 6:
                try:
                    net = IP6(data)
                except Exception:
                    return IP6_UNREADABLE
                ethertype = 0x86DD
            else:
                return Skip(True, "raw IP packet of neither version 4 nor 6")
        elif linktype == _SLL:
            l2 = SLL(data)
            net, ethertype = l2.data, l2.ethtype
        elif linktype == _SLL2:
            l2 = SLL2(data)
            net, ethertype = l2.data, l2.ethtype
        elif linktype in _LOOP:
            l2 = Loopback(data)
            net, ethertype = l2.data, None
        elif linktype in _PPP_TYPES:
            l2 = PPP(data)
            net, ethertype = l2.data, None
        else:
            return unknown_link(linktype)
    except Exception:  # dpkt on a hostile or cut link-layer header
        return LINK_UNREADABLE
    for _ in range(4):  # LLC/SNAP, PPPoE, PPP and loopback-in-Ethernet wrap the IP packet
        t = type(net)
        if t is IP or t is IP6 or isinstance(net, bytes | bytearray):
            break
        ethertype = getattr(net, "type", ethertype) if not isinstance(net, Ethernet) else net.type
        net = getattr(net, "data", b"")
    t = type(net)
    if t is IP:
        return _ip4(net, vlan)
    if t is IP6:
        return _ip6(net, vlan)
    if ethertype == 0x0800:
        return IP4_UNREADABLE
    if ethertype == 0x86DD:
        return IP6_UNREADABLE
    if ethertype is None:
        return NOT_IP_OTHER
    return NOT_IP_LLC if ethertype <= 1500 else _NOT_IP.get(ethertype, NOT_IP_OTHER)


def _ip4(ip: Any, vlan: int | None) -> Packet | Skip:
    hl = ip.hl * 4
    total = ip.len
    l4 = ip.data
    if total == 0:  # segmentation offload: the length is what was captured
        total = hl + len(l4)
    elif total < hl:
        return IP4_SHORT
    offset = ip.offset
    fragment = 2 if offset else (1 if ip.mf else 0)
    if fragment == 2:
        return Packet(ip.src, ip.dst, ip.p, None, None, 0, 0, b"", total, vlan, 2, ip.id, False)
    return _transport(ip.src, ip.dst, ip.p, l4, total, vlan, fragment, ip.id)


def _ip6(ip: Any, vlan: int | None) -> Packet | Skip:
    l4 = ip.data
    proto = getattr(ip, "p", ESP_P)  # dpkt leaves it unset after an ESP header (no next header to read)
    total = 40 + (ip.plen or len(l4))
    frag = ip.extension_hdrs.get(44)
    fragment, frag_id = 0, 0
    if frag is not None:
        frag_id = frag.id
        if frag.frag_off:
            return Packet(ip.src, ip.dst, proto, None, None, 0, 0, b"", total, vlan, 2, frag_id, False)
        fragment = 1 if frag.m_flag else 0
    return _transport(ip.src, ip.dst, proto, l4, total, vlan, fragment, frag_id)


def _transport(src: bytes, dst: bytes, p: int, l4: Any, total: int, vlan: int | None, fragment: int,
               frag_id: int) -> Packet:
    t = type(l4)
    if p == TCP_P:
        if t is TCP:
            return Packet(src, dst, p, l4.sport, l4.dport, l4.flags & 0xFF, l4.seq, l4.data,
                          total, vlan, fragment, frag_id, False)
        raw = _raw(l4)
        ports = _PORTS.unpack_from(raw) if len(raw) >= 4 else (None, None)
        flags = raw[13] if len(raw) >= 14 else 0
        seq = struct.unpack_from(">I", raw, 4)[0] if len(raw) >= 8 else 0
        return Packet(src, dst, p, ports[0], ports[1], flags, seq, b"", total, vlan, fragment, frag_id, True)
    if p == UDP_P:
        if t is UDP:
            return Packet(src, dst, p, l4.sport, l4.dport, 0, 0, l4.data,
                          total, vlan, fragment, frag_id, False)
        raw = _raw(l4)
        ports = _PORTS.unpack_from(raw) if len(raw) >= 4 else (None, None)
        return Packet(src, dst, p, ports[0], ports[1], 0, 0, b"", total, vlan, fragment, frag_id, True)
    if p in (ICMP_P, ICMP6_P):
        if t is ICMP or t is ICMP6:
            echo = l4.data
            ident = echo.id if type(echo) is ICMP.Echo or type(echo) is ICMP6.Echo else 0
            return Packet(src, dst, p, l4.type, l4.code, 0, ident, b"",
                          total, vlan, fragment, frag_id, False)
        raw = _raw(l4)
        if len(raw) >= 2:
            return Packet(src, dst, p, raw[0], raw[1], 0, 0, b"", total, vlan, fragment, frag_id, len(raw) < 8)
        return Packet(src, dst, p, None, None, 0, 0, b"", total, vlan, fragment, frag_id, True)
    return Packet(src, dst, p, None, None, 0, 0, b"", total, vlan, fragment, frag_id, False)


def _raw(l4: Any) -> bytes:
    if isinstance(l4, bytes | bytearray):
        return bytes(l4)
    try:
        return bytes(l4)
    except Exception:  # a dpkt object that cannot pack itself again
        return b""


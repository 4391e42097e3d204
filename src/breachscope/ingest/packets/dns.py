"""DNS messages to the fields of Zeek's dns.log, by a bounded decoder that never raises.

Names are read with compression pointers that must point backwards (so no loop), at most 255 bytes, in
lower case as Zeek writes them; bytes outside printable ASCII are written `\\xNN` as Zeek escapes them,
so a tunnel that puts binary in its labels still shows. What a cut (snap length) or damaged message
still holds is kept: the question and the answers up to the damage. Answers are formatted as Zeek's
dns.log formats them (addresses, names, `TXT <len> <text>` per string, the SOA's primary server,
`<unknown type=N>`).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

MAX_NAME = 255
MAX_ANSWERS = 256
MAX_QUESTIONS = 25  # Zeek's dns_max_queries: more is not taken for DNS

QTYPES = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 10: "NULL", 11: "WKS",
    12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB", 24: "SIG", 25: "KEY",
    28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 41: "OPT",
    42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID",
    50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP", 59: "CDS", 60: "CDNSKEY",
    61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS", 99: "SPF", 108: "EUI48",
    109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "*",
    256: "URI", 257: "CAA", 32768: "TA", 32769: "DLV",
}
QCLASSES = {1: "C_INTERNET", 2: "C_CSNET", 3: "C_CHAOS", 4: "C_HESIOD", 254: "C_NONE", 255: "C_ANY"}
RCODES = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
    7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADVERS", 17: "BADKEY", 18: "BADTIME",
    19: "BADMODE", 20: "BADNAME", 21: "BADALG", 22: "BADTRUNC", 23: "BADCOOKIE",
}

_ESC = [chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in range(256)]
_PLAIN = frozenset(range(0x20, 0x7F)) - {0x5C}


def escape(raw: bytes) -> str:
    """Printable ASCII as is, other bytes (and the backslash) as `\\xNN`, as Zeek writes them."""
    if raw.isascii() and raw.isalnum():
        return raw.decode("ascii")
    if all(b in _PLAIN for b in raw):
        return raw.decode("ascii")
    return "".join(_ESC[b] for b in raw)


class _Bad(Exception):
    """The message ends or breaks here."""


def _name(msg: bytes, off: int) -> tuple[str, int]:
    """(name, offset after it in the record), compression pointers followed backwards only."""
    labels: list[str] = []
    total = 0
    end = -1  # offset after the name where it started (before the first pointer)
    floor = off  # a pointer must point before the label it is read from
    n = len(msg)
    while True:
        if off >= n:
            raise _Bad
        length = msg[off]
        if length == 0:
            off += 1
            break
        if length & 0xC0 == 0xC0:
            if off + 1 >= n:
                raise _Bad
            ptr = ((length & 0x3F) << 8) | msg[off + 1]
            if ptr >= floor:
                raise _Bad
            if end < 0:
                end = off + 2
            off = floor = ptr
            continue
        if length & 0xC0:
            raise _Bad  # extended label types (0x40, 0x80) are not in use
        total += length + 1
        if total > MAX_NAME or off + 1 + length > n:
            raise _Bad
        labels.append(escape(msg[off + 1:off + 1 + length].lower()))
        off += 1 + length
    return ".".join(labels), (end if end >= 0 else off)


@dataclass
class Message:
    trans_id: int
    qr: bool
    opcode: int
    aa: bool
    tc: bool
    rd: bool
    ra: bool
    z: int
    rcode: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int
    query: str | None = None
    qtype: int | None = None
    qclass: int | None = None
    answers: list[str] = field(default_factory=list)
    ttls: list[float] = field(default_factory=list)
    complete: bool = True  # False: cut or damaged after the header


def parse(msg: bytes) -> Message | None:
    """The message, or None when not even its header and flags are there."""
    if len(msg) < 12:
        return None
    tid, flags, qd, an, ns, ar = struct.unpack_from(">HHHHHH", msg)
    m = Message(tid, bool(flags & 0x8000), (flags >> 11) & 0xF, bool(flags & 0x0400), bool(flags & 0x0200),
                bool(flags & 0x0100), bool(flags & 0x0080), (flags >> 4) & 0x7, flags & 0xF, qd, an, ns, ar)
    off = 12
    try:
        for i in range(min(qd, MAX_QUESTIONS)):
            name, off = _name(msg, off)
            if off + 4 > len(msg):
                raise _Bad
            qtype, qclass = struct.unpack_from(">HH", msg, off)
            off += 4
            if i == 0:
                m.query, m.qtype, m.qclass = name, qtype, qclass
        if qd > MAX_QUESTIONS:
            raise _Bad
        for _ in range(min(an, MAX_ANSWERS)):
            _owner, off = _name(msg, off)
            if off + 10 > len(msg):
                raise _Bad
            rtype, _rclass, ttl, rdlen = struct.unpack_from(">HHIH", msg, off)
            off += 10
            if off + rdlen > len(msg):
                raise _Bad
            if rtype != 41:  # OPT is no answer
                m.answers.append(_rdata(msg, off, rdlen, rtype))
                m.ttls.append(float(ttl))
            off += rdlen
    except _Bad:
        m.complete = False
    return m


def _rdata(msg: bytes, off: int, rdlen: int, rtype: int) -> str:
    rdata = msg[off:off + rdlen]
    try:
        if rtype == 1 and rdlen == 4:
            return socket.inet_ntop(socket.AF_INET, rdata)
        if rtype == 28 and rdlen == 16:
            return socket.inet_ntop(socket.AF_INET6, rdata)
        if rtype in (2, 5, 12, 39, 6):  # NS, CNAME, PTR, DNAME, SOA (its primary server)
            return _name(msg, off)[0]
        if rtype == 15 and rdlen >= 3:  # MX
            return _name(msg, off + 2)[0]
        if rtype == 33 and rdlen >= 7:  # SRV
            return _name(msg, off + 6)[0]
        if rtype == 16:  # TXT: each character-string as Zeek writes it
            parts, i = [], 0
            while i < rdlen:
                k = rdata[i]
                text = rdata[i + 1:i + 1 + k]
                parts.append(f"TXT {len(text)} {escape(text)}")
                i += 1 + k
            return " ".join(parts)
    except _Bad:
        pass
    return f"<unknown type={rtype}>"


def qtype_name(qtype: int) -> str:
    return QTYPES.get(qtype, f"query-{qtype}")


def qclass_name(qclass: int) -> str:
    return QCLASSES.get(qclass, f"qclass-{qclass}")


def rcode_name(rcode: int) -> str:
    return RCODES.get(rcode, f"rcode-{rcode}")

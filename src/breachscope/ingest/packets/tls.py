"""TLS ClientHello and ServerHello to the fields of Zeek's ssl.log, by a bounded decoder that never raises.

The hello may span several TCP segments and TLS records: the caller hands the first bytes of one
direction of the stream and learns whether more are needed. ClientHello gives `server_name` (SNI);
ServerHello the negotiated `version` (the supported_versions extension for TLS 1.3), `cipher` (IANA
names, dpkt's table), `curve` (TLS 1.3 key share) and `next_protocol` (ALPN).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dpkt.ssl_ciphersuites import BY_CODE

from breachscope.ingest.packets.dns import escape

MAX_HELLO = 1 << 16  # a hello longer than this is not read

VERSIONS = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv10", 0x0302: "TLSv11", 0x0303: "TLSv12",
            0x0304: "TLSv13", 0xFEFF: "DTLSv10", 0xFEFD: "DTLSv12", 0xFEFC: "DTLSv13"}
CURVES = {23: "secp256r1", 24: "secp384r1", 25: "secp521r1", 29: "x25519", 30: "x448", 256: "ffdhe2048",
          257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144", 260: "ffdhe8192", 0x11EB: "SecP256r1MLKEM768",
          0x11EC: "X25519MLKEM768", 0x11ED: "SecP384r1MLKEM1024", 0x6399: "X25519Kyber768Draft00"}

NEED_MORE = "need more"


class _Bad(Exception):
    pass


@dataclass
class ServerHello:
    version: str
    cipher: str
    curve: str | None
    alpn: str | None


def looks_like_handshake(payload: bytes) -> bool:
    """A TLS record of type handshake (22) with an SSL 3 / TLS version."""
    return len(payload) >= 3 and payload[0] == 0x16 and payload[1] == 3 and payload[2] <= 4


def _handshake(stream: bytes, want: int) -> bytes | str | None:
    """The body of the first handshake message, of type `want`, at the start of a TLS stream; NEED_MORE
    when the stream stops before it is complete; None when the stream does not start with one."""
    data = b""
    off = 0
    while True:
        if off + 5 > len(stream):
            return NEED_MORE
        ctype, major, _minor, rlen = struct.unpack_from(">BBBH", stream, off)
        if ctype != 22 or major != 3 or rlen == 0 or rlen > (1 << 14) + 2048:
            return None
        chunk = stream[off + 5:off + 5 + rlen]
        data += chunk
        if len(data) >= 4:
            hlen = int.from_bytes(data[1:4], "big")
            if data[0] != want or hlen > MAX_HELLO:
                return None
            if len(data) >= 4 + hlen:
                return data[4:4 + hlen]
        if len(chunk) < rlen:
            return NEED_MORE
        off += 5 + rlen


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.off = buf, 0

    def take(self, n: int) -> bytes:
        if self.off + n > len(self.buf):
            raise _Bad
        out = self.buf[self.off:self.off + n]
        self.off += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())

    def extensions(self) -> list[tuple[int, bytes]]:
        if self.off >= len(self.buf):
            return []
        exts = _Reader(self.vec16())
        out = []
        while exts.off < len(exts.buf):
            etype = exts.u16()
            out.append((etype, exts.vec16()))
        return out


def client_hello(stream: bytes) -> str | None:
    """The SNI host name of the ClientHello at the start of `stream` ("" when it names none), NEED_MORE,
    or None when the stream does not start with a ClientHello."""
    body = _handshake(stream, 1)
    if body is None or body == NEED_MORE:
        return body  # type: ignore[return-value]
    try:
        r = _Reader(body)  # type: ignore[arg-type]
        r.take(2 + 32)  # version, random
        r.vec8()  # session id
        r.vec16()  # cipher suites
        r.vec8()  # compression methods
        for etype, data in r.extensions():
            if etype == 0:  # server_name
                names = _Reader(_Reader(data).vec16())
                while names.off < len(names.buf):
                    kind = names.u8()
                    name = names.vec16()
                    if kind == 0:
                        return escape(name[:MAX_HELLO])
    except _Bad:
        return None
    return ""


def server_hello(stream: bytes) -> ServerHello | str | None:
    """The ServerHello at the start of `stream`, NEED_MORE, or None."""
    body = _handshake(stream, 2)
    if body is None or body == NEED_MORE:
        return body  # type: ignore[return-value]
    try:
        r = _Reader(body)  # type: ignore[arg-type]
        version = r.u16()
        r.take(32)
        r.vec8()  # session id
        cipher = r.u16()
        r.u8()  # compression
        curve = alpn = None
        for etype, data in r.extensions():
            e = _Reader(data)
            if etype == 43 and len(data) == 2:  # supported_versions: the chosen one
                version = e.u16()
            elif etype == 51 and len(data) >= 2:  # key_share: the server's group
                group = e.u16()
                curve = CURVES.get(group, f"unknown-{group}")
            elif etype == 16:  # ALPN: one protocol chosen
                protos = _Reader(e.vec16())
                if protos.off < len(protos.buf):
                    alpn = escape(protos.vec8())
    except _Bad:
        return None
    suite = BY_CODE.get(cipher)
    return ServerHello(version_name(version), suite.name if suite is not None else f"unknown-{cipher}", curve, alpn)


def version_name(version: int) -> str:
    if version >> 8 == 0x7F:
        return "TLSv13-draft"
    return VERSIONS.get(version, f"unknown-{version}")

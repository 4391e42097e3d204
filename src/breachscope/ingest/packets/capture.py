"""The framing of a capture file: pcap (both byte orders, µs or ns, Kuznetzov's modified pcap) and pcapng
(sections of either byte order, several interfaces with their own link type and time resolution).

The file is memory-mapped and walked record by record; nothing but the current packet is held. Every
length is checked against the file and a bound before it is used. Damage is rejected with its
location (packet number and byte offset) and reading goes on: a corrupt record header is skipped to
the next place where two consecutive records make sense (resynchronization), a record cut by the end
of the file is rejected. Packet numbers are 1-based and count packet records only, as Wireshark's
`frame.number` does (up to the first damage: what Wireshark cannot read past is not numbered by it).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from dpkt import pcapng

from breachscope.ingest.context import ReadContext

#: Packet bound when the file declares no larger snap length (Wireshark's standard maximum).
MAX_PACKET = 262_144
#: Packet bound whatever the file declares.
MAX_SNAPLEN = 16 << 20
#: How far past a damaged header resynchronization looks before giving up.
RESYNC_WINDOW = 64 << 20
#: Without an earlier packet's time to look for, candidates are tried byte by byte this far.
RESYNC_BRUTE = 1 << 20
#: Interfaces described in one file (each one is a few bytes of file and of memory).
MAX_INTERFACES = 4096
#: Seconds a resynchronized packet's time may differ from the last good one's.
RESYNC_SECONDS = 7 * 86_400

PCAP_MAGICS: dict[bytes, tuple[str, int, int]] = {  # magic -> (byte order, fraction per second, header bytes)
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000, 16),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000, 16),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000, 16),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000, 16),
    b"\x34\xcd\xb2\xa1": ("<", 1_000_000, 24),  # Kuznetzov's modified pcap (old Red Hat tcpdump)
    b"\xa1\xb2\xcd\x34": (">", 1_000_000, 24),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
PCAPNG_BOMS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}

_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
_MIN_BLOCK = {_SHB: 28, _IDB: 20, _PB: 32, _SPB: 16, _EPB: 32}
_S = {o + f: struct.Struct(o + f) for o in "<>" for f in ("I", "H", "II", "IIIII", "HHIIII")}


class FileView:
    """A capture file read in blocks and used like bytes: slices, struct unpacking, find. The file is read
    with pread, never memory-mapped (a file truncated under a mapping kills the process with SIGBUS); a
    file that shrinks while it is read gives short reads, which end the walk with a reject."""

    BLOCK = 1 << 20

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size
        self.base, self.block = 0, b""

    def __len__(self) -> int:
        return self.size

    def _load(self, off: int, n: int) -> tuple[bytes, int]:
        """A buffer holding [off, off + n) (less at the end of the file) and where that starts in it."""
        rel = off - self.base
        if rel >= 0 and rel + n <= len(self.block):
            return self.block, rel
        if n > self.BLOCK:
            return os.pread(self.fd, n, off), 0
        self.block, self.base = os.pread(self.fd, self.BLOCK, off), off
        return self.block, 0

    def __getitem__(self, s: slice) -> bytes:
        start = s.start or 0
        stop = self.size if s.stop is None else min(s.stop, self.size)
        if stop <= start:
            return b""
        block, rel = self._load(start, stop - start)
        return block[rel:rel + stop - start]

    def unpack(self, st: struct.Struct, off: int) -> tuple[Any, ...]:
        block, rel = self._load(off, st.size)
        return st.unpack_from(block, rel)  # struct.error when the file ends (or shrank) before it

    def find(self, pat: bytes, start: int, end: int) -> int:
        """The first offset in [start, end - len(pat)] where `pat` is, or -1 (as bytes.find)."""
        n = len(pat)
        end = min(end, self.size)
        pos = start
        while pos + n <= end:
            rel = pos - self.base
            if rel < 0 or rel + n > len(self.block):
                self.block, self.base = os.pread(self.fd, self.BLOCK, pos), pos
                rel = 0
                if len(self.block) < n:
                    return -1
            block_end = self.base + len(self.block)
            i = self.block.find(pat, rel, min(end, block_end) - self.base)
            if i >= 0:
                return self.base + i
            if block_end >= end:
                return -1
            pos = block_end - n + 1  # the next block overlaps this one by a pattern's length
        return -1


class Interface(NamedTuple):
    """One capture interface: its link type, and how its packet times become epoch microseconds."""

    linktype: int
    snaplen: int
    name: str | None
    mul: int = 1  # ticks * mul // div + offset_us
    div: int = 1
    offset_us: int = 0


class Frame(NamedTuple):
    number: int  # 1-based packet number (Wireshark's frame.number)
    ts_us: int
    interface: int  # index into Capture.interfaces
    data: bytes
    orig_len: int  # length on the wire (data may be shorter: snap length)
    offset: int  # byte offset of the packet record in the file


@dataclass
class Capture:
    """Iterates the packets of one capture file; damage goes to ctx.reject."""

    buf: FileView
    ctx: ReadContext
    kind: str = ""
    interfaces: list[Interface] | None = None
    offset: int = 0  # how far the walk has got (for progress)
    resyncs: int = 0

    def frames(self) -> Iterator[Frame]:
        head = self.buf[:4]
        if head in PCAP_MAGICS:
            self.kind = "pcap"
            return self._guard(self._pcap(*PCAP_MAGICS[head]))
        if head == PCAPNG_SHB:
            self.kind = "pcapng"
            return self._guard(self._pcapng())
        self.ctx.reject("byte 0", "not a pcap or pcapng file (unknown magic number)", head.hex(" "))
        return iter(())

    def _guard(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        try:
            yield from frames
        except (struct.error, OSError) as exc:  # every length is checked first: the file shrank, or a read failed
            self.ctx.reject(f"byte {self.offset}", "the file changed or could not be read while it was read: "
                            "reading stopped", str(exc))

    # -- pcap ------------------------------------------------------------------------------------------

    def _pcap(self, order: str, per_second: int, hdr_len: int) -> Iterator[Frame]:
        buf, ctx, size = self.buf, self.ctx, len(self.buf)
        if size < 24:
            ctx.reject("byte 0", "pcap file header cut by the end of the file", buf[:24].hex(" "))
            return
        major, _minor, _zone, _sigfigs, snaplen, linktype = buf.unpack(struct.Struct(order + "HHiIII"), 4)
        if major != 2:
            ctx.warn(f"pcap: unusual format version {major} in the file header, read as 2.4")
        limit = _limit(snaplen, ctx)
        self.interfaces = [Interface(linktype & 0xFFFF, snaplen, None)]
        rec = struct.Struct(order + "IIII")
        unpack = buf.unpack
        to_us = 1 if per_second == 1_000_000 else 1000
        last_sec: int | None = None
        off, n = 24, 0
        while off < size:
            self.offset = off
            if off + hdr_len > size:
                ctx.reject(f"packet {n + 1} (byte {off})", "packet header cut by the end of the file",
                           buf[off:off + hdr_len].hex(" "))
                return
            sec, frac, caplen, orig = unpack(rec, off)
            if caplen > limit:
                nxt = self._pcap_resync(off, rec, hdr_len, limit, per_second, last_sec)
                if nxt is None:
                    ctx.reject(f"packet {n + 1} (byte {off})",
                               "corrupt packet header (absurd length): nothing readable after it",
                               buf[off:off + hdr_len].hex(" "))
                    return
                ctx.reject(f"packet {n + 1} (byte {off})",
                           "corrupt packet header (absurd length): bytes skipped to the next readable packet",
                           f"{nxt - off} bytes skipped; header {buf[off:off + hdr_len].hex(' ')}")
                self.resyncs += 1
                off = nxt
                continue
            start = off + hdr_len
            end = start + caplen
            if end > size:
                ctx.reject(f"packet {n + 1} (byte {off})", "packet cut by the end of the file",
                           f"{size - start} of {caplen} bytes present")
                return
            n += 1
            last_sec = sec
            yield Frame(n, sec * 1_000_000 + frac // to_us, 0, buf[start:end], orig, off)
            off = end
        self.offset = size

    def _pcap_resync(self, bad: int, rec: struct.Struct, hdr_len: int, limit: int, per_second: int,
                     last_sec: int | None) -> int | None:
        """Offset of the first record after `bad` whose header, and the next one's, make sense."""
        buf, size = self.buf, len(self.buf)
        unpack = buf.unpack

        def plausible(p: int) -> int | None:  # the end of the record at p, if its header makes sense
            if p + hdr_len > size:
                return None
            sec, frac, caplen, orig = unpack(rec, p)
            if caplen > limit or orig < caplen or orig > max(limit, MAX_PACKET) or frac >= per_second:
                return None
            if last_sec is not None and abs(sec - last_sec) > RESYNC_SECONDS:
                return None
            end = p + hdr_len + caplen
            return end if end <= size else None

        def good(p: int) -> bool:
            end = plausible(p)
            return end is not None and (end == size or plausible(end) is not None)

        stop = min(size, bad + RESYNC_WINDOW)
        if last_sec is None:
            for p in range(bad + 1, min(stop, bad + RESYNC_BRUTE)):
                if good(p):
                    return p
            return None
        # the seconds' two high bytes rarely change between packets: jump from one occurrence to the next
        order = rec.format[0]
        shift = 2 if order == "<" else 0  # where the high bytes sit in the header
        pats = {struct.pack(order + "I", s)[2:] if order == "<" else struct.pack(order + "I", s)[:2]
                for s in (last_sec, last_sec + 65_536, last_sec - 65_536) if 0 <= s <= 0xFFFFFFFF}
        pos = {pat: buf.find(pat, bad + 1 + shift, stop + shift) for pat in pats}
        while True:
            live = [(q, pat) for pat, q in pos.items() if q >= 0]
            if not live:
                return None
            q, pat = min(live)
            p = q - shift
            if p > bad and good(p):
                return p
            pos[pat] = buf.find(pat, q + 1, stop + shift)

    # -- pcapng ----------------------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[Frame]:
        buf, ctx, size = self.buf, self.ctx, len(self.buf)
        self.interfaces = []
        section: list[int] = []  # this section's interface ids -> index into self.interfaces
        order = "<"
        off, n, last_us = 0, 0, 0
        limit = _limit(0, ctx)
        warned_spb = False
        while off < size:
            self.offset = off
            if off + 12 > size:
                ctx.reject(f"block at byte {off}", "pcapng block cut by the end of the file",
                           buf[off:off + 12].hex(" "))
                return
            btype_raw = buf[off:off + 4]
            if btype_raw == PCAPNG_SHB:
                bom = PCAPNG_BOMS.get(buf[off + 8:off + 12])
                if bom is not None:
                    order = bom
            btype, blen = buf.unpack(_S[order + "II"], off)
            problem = None
            if btype == _SHB and buf[off + 8:off + 12] not in PCAPNG_BOMS:
                problem = "section header without a byte-order magic"
            elif blen < 12 or blen % 4:
                problem = f"block length {blen} is impossible"
            elif off + blen > size:
                if blen <= limit + 4096:
                    ctx.reject(f"packet {n + 1} (byte {off})" if btype in (_EPB, _SPB, _PB) else f"block at byte {off}",
                               "pcapng block cut by the end of the file", f"{size - off} of {blen} bytes present")
                    return
                problem = f"block length {blen} runs past the end of the file"
            elif buf.unpack(_S[order + "I"], off + blen - 4)[0] != blen:
                problem = "block's trailing length differs from its leading length"
            if problem is not None:
                nxt = self._pcapng_resync(off, order, limit)
                ctx.reject(f"block at byte {off}", f"corrupt pcapng block ({problem})"
                           + (": nothing readable after it" if nxt is None
                              else ": bytes skipped to the next readable block"),
                           buf[off:off + 16].hex(" "))
                if nxt is None:
                    return
                self.resyncs += 1
                off = nxt
                continue
            end = off + blen
            if blen < _MIN_BLOCK.get(btype, 12):
                if btype in (_EPB, _PB, _SPB):
                    n += 1
                ctx.reject(f"block at byte {off}", "pcapng block shorter than its fixed fields", f"length {blen}")
            elif btype in (_EPB, _PB):
                if btype == _EPB:
                    if_id, hi, lo, caplen, orig = buf.unpack(_S[order + "IIIII"], off + 8)
                else:
                    if_id, _drops, hi, lo, caplen, orig = buf.unpack(_S[order + "HHIIII"], off + 8)
                n += 1
                if 28 + caplen + 4 > blen:
                    ctx.reject(f"packet {n} (byte {off})", "packet block's capture length runs past the block",
                               f"capture length {caplen}, block length {blen}")
                elif if_id >= len(section):
                    ctx.reject(f"packet {n} (byte {off})", "packet on an interface its section does not describe",
                               f"interface {if_id}; {len(section)} described")
                else:
                    iface = self.interfaces[section[if_id]]
                    last_us = ((hi << 32) | lo) * iface.mul // iface.div + iface.offset_us
                    yield Frame(n, last_us, section[if_id], buf[off + 28:off + 28 + caplen], orig, off)
            elif btype == _SPB:
                n += 1
                if not section:
                    ctx.reject(f"packet {n} (byte {off})", "packet on an interface its section does not describe",
                               "simple packet block before any interface description")
                else:
                    (orig,) = buf.unpack(_S[order + "I"], off + 8)
                    iface = self.interfaces[section[0]]
                    caplen = min(orig, blen - 16, iface.snaplen or orig)
                    if not warned_spb:
                        ctx.warn("pcapng: simple packet blocks carry no time: each takes the time of the packet "
                                 "before it")
                        warned_spb = True
                    yield Frame(n, last_us, section[0], buf[off + 12:off + 12 + caplen], orig, off)
            elif btype == _SHB:
                major = buf.unpack(_S[order + "H"], off + 12)[0]
                if major != 1:
                    ctx.warn(f"pcapng: unusual section version {major}, read as 1.0")
                section = []
            elif btype == _IDB:
                if len(self.interfaces) >= MAX_INTERFACES:
                    ctx.reject(f"block at byte {off}", f"more than {MAX_INTERFACES} interfaces described: "
                               "this one and its packets not read")
                else:
                    section.append(len(self.interfaces))
                    self.interfaces.append(self._interface(buf[off:end], order))
            off = end
        self.offset = size

    def _interface(self, block: bytes, order: str) -> Interface:
        """An interface description block, its options (name, time resolution, offset) read by dpkt."""
        linktype, _res, snaplen = struct.unpack_from(order + "HHI", block, 8)
        try:
            idb = (pcapng.InterfaceDescriptionBlockLE if order == "<" else pcapng.InterfaceDescriptionBlock)(block)
            opts = list(idb.opts)
        except Exception:  # dpkt on hostile options: the interface is kept with the default resolution
            self.ctx.warn("pcapng: interface options that do not parse ignored, µs resolution assumed")
            opts = []
        name, mul, div, offset_us = None, 1, 1, 0
        for opt in opts:
            code, data = opt.code, bytes(opt.data)
            if code == 2 and data:  # if_name
                name = data.split(b"\x00", 1)[0].decode("utf-8", "replace")[:200]
            elif code == 9 and len(data) >= 1:  # if_tsresol: 10^-k, or 2^-k with the high bit set
                k = data[0] & 0x7F
                if data[0] & 0x80:
                    mul, div = 1_000_000, 1 << k
                elif k >= 6:
                    mul, div = 1, 10 ** (k - 6)
                else:
                    mul, div = 10 ** (6 - k), 1
            elif code == 14 and len(data) >= 8:  # if_tsoffset, seconds
                offset_us = struct.unpack_from(order + "q", data)[0] * 1_000_000
        return Interface(linktype, snaplen, name, mul, div, offset_us)

    def _pcapng_resync(self, bad: int, order: str, limit: int) -> int | None:
        """Offset of the first packet or section block after `bad` whose lengths agree."""
        buf, size = self.buf, len(self.buf)
        stop = min(size, bad + RESYNC_WINDOW)
        pats = [struct.pack(order + "I", t) for t in (_EPB, _SPB)] + [PCAPNG_SHB]
        pos = {pat: buf.find(pat, bad + 1, stop) for pat in pats}
        while True:
            live = [(q, pat) for pat, q in pos.items() if q >= 0]
            if not live:
                return None
            p, pat = min(live)
            if p % 4 == bad % 4 and p + 12 <= size:  # blocks are 32-bit aligned
                o = order
                if pat == PCAPNG_SHB:
                    o = PCAPNG_BOMS.get(buf[p + 8:p + 12], "")
                if o:
                    blen = buf.unpack(_S[o + "I"], p + 4)[0]
                    if (12 <= blen <= limit + 4096 and blen % 4 == 0 and p + blen <= size
                            and buf.unpack(_S[o + "I"], p + blen - 4)[0] == blen):
                        return p
            pos[pat] = buf.find(pat, p + 1, stop)


def _limit(snaplen: int, ctx: ReadContext) -> int:
    """The largest packet accepted: the file's snap length when sane, at least Wireshark's maximum."""
    declared = snaplen if 0 < snaplen <= MAX_SNAPLEN else 0
    return min(max(MAX_PACKET, declared), ctx.options.max_record_bytes)

"""FTP uploads to partners (network.noise.partner_ftp; docs/scenarios.md, "Noise"): on workdays the batch host
(and, for some seeds, one more server) sends files to one to three partners' FTP servers outside, as a scheduled
WinSCP or curl job does: a DNS lookup, the control connection (port 21), one passive data connection per file
(PASV, then STOR), written as the attack's `ftp_exfiltration` step writes its upload (steps/exfiltration_ftp.py):
Zeek's conn, dns and ftp (PASV and STOR, Zeek's default logged commands), the firewall's build and teardown and
the core router's NetFlow of each outside connection. Drawn from (seed, day) alone, so that the Zeek, firewall
and NetFlow groups, written by different processes, each write their side of the same uploads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.formats import flows as F
from breachscope.simulate.formats import syslog as S
from breachscope.simulate.formats import zeek as Z
from breachscope.simulate.network import Network
from breachscope.simulate.rng import rng_for
from breachscope.simulate.scenario_file import ScenarioFile
from breachscope.simulate.streams import Chunk
from breachscope.simulate.text import random_b62

RATE = 2_400_000  # bytes per second of an upload through the edge (as the attack's step)
#: partner kinds: (DNS label, account suffix, file stems); the names are invented (example.* domains)
PARTNERS = (
    ("carrier", "edi", ("manifest", "returns", "pickups")),
    ("customs", "decl", ("declarations", "invoices")),
    ("forwarder", "ops", ("bookings", "status")),
    ("bank", "pay", ("payments", "remittance")),
    ("lab", "res", ("orders", "results")),
    ("supplier", "po", ("purchase_orders", "stock")),
)
TLDS = ("example.com", "example.net", "example.org")
BRANDS = ("global", "express", "link", "direct", "connect", "partners")
IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
#: the documentation addresses partners take: .100-.199 of 192.0.2.0/24 and 198.51.100.0/24 (the episodes'
#: fixed addresses are below .100; an address the scenario file names is skipped)
POOLS = ((0xC0000200, 100, 100), (0xC6336400, 100, 100))


@dataclass(frozen=True)
class Partner:
    ip: str
    name: str  # the FTP server's DNS name
    account: str
    stems: tuple[str, ...]
    sender: int  # host index (Hosts) of the inside host that uploads to it
    times: tuple[tuple[int, int], ...]  # local (hour, minute) of the daily uploads


@dataclass
class Conn:
    """A connection of an upload: what Zeek, the firewall and NetFlow each log of it."""

    ts: int
    seconds: float
    src: int  # host index
    src_ip: str
    sport: int
    dst_ip: str
    dport: int
    proto: str
    service: str
    up: int
    down: int
    uid: str
    nport: int  # the translated source port (firewall)
    outside: bool  # through the edge (firewall and NetFlow); the DNS lookup stays inside

    @property
    def end(self) -> int:
        return self.ts + int(self.seconds * clock.US)


@dataclass
class Day:
    conns: list[Conn] = field(default_factory=list)
    ftp: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (ts, Zeek ftp fields)
    dns: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (ts, Zeek dns fields)


class FtpPlan:
    """The partners, their schedules and each day's uploads; the same in every process (built from the seed)."""

    def __init__(self, net: Network, seed: int, scenario: ScenarioFile, index: dict[str, int],
                 silence: dict[str, list[tuple[int, int]]]) -> None:
        rng = rng_for(seed, "noise", "partner ftp")
        self.seed = seed
        self.silence = {index[h]: p for h, p in silence.items() if h in index}  # a host cut off uploads nothing
        self.ip = {i: h for h, i in ((x.ip, index[x.name]) for x in net.hosts.values())}
        self.dns_server = net.with_role("dc")[0].ip  # the first domain controller answers DNS (as Story.dns)
        batch = net.host("batch")
        attacked = {net.key.get("device_a"), net.key.get("device_b")}  # the attack's hosts upload nothing routinely
        others = [s for s in net.servers if s.os == "windows" and s.role in ("app", "bi", "file")
                  and s.name not in attacked]
        senders = [index[batch.name]]
        if others and rng.random() < 0.7:
            senders.append(index[others[int(rng.integers(0, len(others)))].name])
        used = set(IPV4.findall(scenario.model_dump_json())) | {ip for s in net.sites for ip in s.ips}
        pool = [f"{(v >> 24) & 255}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"
                for base, first, count in POOLS for v in range(base + first, base + first + count)]
        pool = [ip for ip in pool if ip not in used]
        n = int(rng.integers(1, 4))
        addresses = [pool[i] for i in rng.choice(len(pool), n, replace=False)]
        kinds = rng.choice(len(PARTNERS), n, replace=False)
        org = net.domain.lower()
        self.partners = []
        for k, (ip, kind) in enumerate(zip(addresses, kinds, strict=True)):
            label, suffix, stems = PARTNERS[int(kind)]
            brand = BRANDS[int(rng.integers(0, len(BRANDS)))]
            name = f"ftp.{label}-{brand}.{TLDS[int(rng.integers(0, len(TLDS)))]}"
            times = tuple(sorted((int(rng.integers(9, 19)), int(rng.integers(0, 60)))
                                 for _ in range(int(rng.integers(1, 3)))))
            self.partners.append(Partner(ip, name, f"{org}_{suffix}", stems, senders[k % len(senders)], times))
        self.senders = senders
        self._day = lru_cache(maxsize=8)(self._draw)

    def between(self, lo: int, hi: int) -> Day:
        """The uploads that may have a record in [lo, hi): those of that day and the day before."""
        out = Day()
        for d in range(max(0, clock.day_index(lo) - 1), min(clock.DAYS - 1, clock.day_index(hi - 1)) + 1):
            day = self._day(d)
            out.conns += day.conns
            out.ftp += day.ftp
            out.dns += day.dns
        return out

    def _draw(self, day: int) -> Day:
        out = Day()
        if not clock.is_workday(clock.day_of(clock.day_start(day))):
            return out
        rng = rng_for(self.seed, "noise", "partner ftp", day)
        for p in self.partners:
            for hour, minute in p.times:
                t = clock.on_day(day, hour, minute) + int(rng.integers(0, 240 * clock.US))
                if not any(a <= t < b for a, b in self.silence.get(p.sender, ())):
                    self._upload(rng, out, p, t, day)
        return out

    def _upload(self, rng: np.random.Generator, out: Day, p: Partner, t: int, day: int) -> None:
        """One session, as steps/exfiltration_ftp.py writes the attack's (same timings, fields and sizes' form)."""
        src, src_ip = p.sender, self.ip[p.sender]
        date = clock.day_of(clock.day_start(day)).strftime("%Y%m%d")
        k = int(rng.integers(1, len(p.stems) + 1))
        minute = (t - clock.day_start(day)) // clock.MINUTE
        stamp = f"{date}_{minute // 60:02d}{minute % 60:02d}"  # the job stamps its files with the run's local time
        files = [(f"{p.stems[int(s)]}_{stamp}.csv", int(rng.lognormal(np.log(60_000), 1.2)) + 400)
                 for s in np.sort(rng.choice(len(p.stems), k, replace=False))]
        uid = lambda prefix=b"C": random_b62(rng, 1, 17, prefix)[0].as_py()  # noqa: E731
        port = lambda: int(rng.integers(49152, 65536))  # noqa: E731
        dns_uid = uid()
        out.conns.append(Conn(t - 900_000, 0.0009, src, src_ip, port(), self.dns_server, 53, "udp", "dns", 40, 90,
                              dns_uid, 0, False))
        out.dns.append((t - 900_000, {
            "uid": dns_uid, "id.orig_h": src_ip, "id.orig_p": "-", "id.resp_h": self.dns_server, "id.resp_p": "53",
            "proto": "udp", "trans_id": str(int(rng.integers(0, 65536))), "rtt": "0.000850", "query": p.name,
            "qclass": "1", "qclass_name": "C_INTERNET", "qtype": "1", "qtype_name": "A", "rcode": "0",
            "rcode_name": "NOERROR", "AA": "F", "TC": "F", "RD": "T", "RA": "T", "Z": "0", "answers": p.ip,
            "TTLs": "60.000000", "rejected": "F"}))
        sport, control = port(), uid()
        ids = {"id.orig_h": src_ip, "id.orig_p": str(sport), "id.resp_h": p.ip, "id.resp_p": "21"}
        at = t + 900_000  # after the banner, USER, PASS, PWD, CWD in and TYPE I
        for fname, size in files:
            pasv = int(rng.integers(40_000, 50_000))
            at += int(rng.integers(20_000, 60_000))
            out.ftp.append((at, {
                "uid": control, **ids, "user": p.account, "password": "<hidden>", "command": "PASV",
                "reply_code": "227", "reply_msg": f"Entering Passive Mode ({p.ip.replace('.', ',')},{pasv >> 8},"
                                                  f"{pasv & 255}).", "data_channel.passive": "T",
                "data_channel.orig_h": src_ip, "data_channel.resp_h": p.ip, "data_channel.resp_p": str(pasv)}))
            seconds = max(0.05, size / RATE)
            out.conns.append(Conn(at + 30_000, seconds, src, src_ip, port(), p.ip, pasv, "tcp", "ftp-data", size, 0,
                                  uid(), port(), True))
            at += 30_000 + int(seconds * clock.US) + int(rng.integers(20_000, 90_000))
            out.ftp.append((at, {
                "uid": control, **ids, "user": p.account, "password": "<hidden>", "command": "STOR",
                "arg": f"ftp://{p.ip}/./in/{fname}", "mime_type": "text/plain", "file_size": str(size),
                "reply_code": "226", "reply_msg": "Transfer complete.", "fuid": uid(b"F")}))
        seconds = (at - t) / clock.US + 0.3
        out.conns.append(Conn(t, seconds, src, src_ip, sport, p.ip, 21, "tcp", "ftp", 120 + 60 * len(files),
                              640 + 130 * len(files), control, port(), True))


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _in(ts: int, sl: clock.Slice) -> bool:
    return sl.start <= ts < sl.end


def _records(log: str, rows: list[tuple[int, dict[str, str]]]) -> Chunk:
    ts = np.array([t for t, _ in rows], dtype=np.int64)
    names = [f for f, _ in Z.FIELDS[log][1:]]
    cols: dict[str, pa.Array | str] = {f: pa.array([r.get(f, "-") for _, r in rows]) for f in names}
    return Chunk(ts, Z.lines(log, ts, cols))


def zeek_chunks(day: Day, sl: clock.Slice, into: dict[str, list[Chunk]]) -> None:
    """The slice's conn, dns and ftp records of the uploads (`into`: output key -> chunks to merge)."""
    conns = [(c.ts, conn_fields(c)) for c in day.conns if _in(c.ts, sl)]
    for log, rows in (("conn", conns), ("dns", [r for r in day.dns if _in(r[0], sl)]),
                      ("ftp", [r for r in day.ftp if _in(r[0], sl)])):
        if rows:
            into.setdefault(f"zeek.{log}", []).append(_records(log, sorted(rows, key=lambda r: r[0])))


def conn_fields(c: Conn) -> dict[str, str]:
    """Zeek's conn record of the connection (as Story.conn writes the attack's)."""
    opk, rpk = max(1, c.up // 1200 + 3), max(1, c.down // 1400 + 2)
    hdr = 52 if c.proto == "tcp" else 28
    return {"uid": c.uid, "id.orig_h": c.src_ip, "id.orig_p": str(c.sport), "id.resp_h": c.dst_ip,
            "id.resp_p": str(c.dport), "proto": c.proto, "service": c.service, "duration": f"{c.seconds:.6f}",
            "orig_bytes": str(c.up), "resp_bytes": str(c.down), "conn_state": "SF", "local_orig": "T",
            "local_resp": "F" if c.outside else "T", "missed_bytes": "0",
            "history": "ShADadFf" if c.proto == "tcp" else "Dd", "orig_pkts": str(opk),
            "orig_ip_bytes": str(c.up + opk * hdr), "resp_pkts": str(rpk), "resp_ip_bytes": str(c.down + rpk * hdr),
            "tunnel_parents": "(empty)"}


def asa_built(c: Conn, cid: int, nat: str) -> str:
    """The firewall's build line text of an outside connection (as steps/edge.outbound)."""
    return (f"Built outbound TCP connection {cid} for outside:{c.dst_ip}/{c.dport} ({c.dst_ip}/{c.dport}) to "
            f"inside:{c.src_ip}/{c.sport} ({nat}/{c.nport})")


def asa_teardown(c: Conn, cid: int) -> str:
    return (f"Teardown TCP connection {cid} for outside:{c.dst_ip}/{c.dport} to inside:{c.src_ip}/{c.sport} "
            f"duration {hms(c.seconds)} bytes {c.up + c.down} TCP FINs from inside")


def asa_chunk(fw: str, rows: list[tuple[int, str, str]]) -> Chunk:
    """ASA lines (ts, level-id, text), in time order."""
    rows = sorted(rows, key=lambda r: r[0])
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    return Chunk(ts, S.asa_lines(ts, fw, pa.array([r[1] for r in rows]), pa.array([r[2] for r in rows])))


def flow_chunk(day: Day, sl: clock.Slice) -> Chunk | None:
    """The core router's NetFlow of the slice's outside connections, both directions (as steps/edge.flows)."""
    cs = [c for c in day.conns if c.outside and _in(c.ts, sl)]
    if not cs:
        return None
    rows: list[tuple[int, int, str, str, int, int, int, int, str, str]] = []
    for c in cs:
        up_p, down_p = max(1, c.up // 1400), max(1, c.down // 1400)
        rows.append((c.ts, c.end, c.src_ip, c.dst_ip, c.sport, c.dport, c.up + up_p * 40, up_p, "3", "1"))
        rows.append((c.ts + 300, c.end, c.dst_ip, c.src_ip, c.dport, c.sport, c.down + down_p * 40, down_p, "1", "3"))
    rows.sort(key=lambda r: r[0])
    col = lambda i: [r[i] for r in rows]  # noqa: E731
    n = len(rows)
    lines = F.lines(np.array(col(0)), np.array(col(1)), pa.array(col(2)), pa.array(col(3)), np.array(col(4)),
                    np.array(col(5)), np.full(n, 6), np.array(col(6)), np.array(col(7)), np.full(n, 27),
                    pa.array(col(8)), pa.array(col(9)))
    return Chunk(np.array(col(0), dtype=np.int64), lines)

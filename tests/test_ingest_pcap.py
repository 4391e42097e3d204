"""Packet captures (pcap, pcapng): flows into `flow`, DNS/HTTP/TLS metadata into the Zeek tables.

Real captures from ../shared/datasets (skipped when absent) and captures the tests write themselves
(both byte orders, ns resolution, pcapng with several interfaces, VLAN, IPv6, Linux cooked, damage)."""

from __future__ import annotations

import gzip
import socket
import struct
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from unittest import mock

import dpkt
import pyarrow as pa
import pytest

from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.packets import decode as decode_mod
from breachscope.ingest.packets import flowtable
from breachscope.ingest.packets.reader import READER, sniff
from breachscope.ingest.reader import HEAD_BYTES
from breachscope.ingest.registry import detect
from breachscope.model.schema import FLOW_SCHEMA
from tests.conftest import DATASETS

SLIPS = DATASETS / "stratosphere-slips-dataset" / "dataset"
SYN_FLOOD = DATASETS / "cic-ddos2019-lucid-sample" / "CIC-DDoS-2019-SynFlood.pcap"
DNS_TUNNEL = DATASETS / "evtx-attack-samples" / "Command and Control" / "cmds over dns txt queries and reponses.pcap"
TLS_CAPTURE = SLIPS / "test-cc" / "test-cc-capture-1.pcap"
SSH_BRUTE = SLIPS / "test19-malicious-ssh" / "malicious-ssh-bruteforce.pcap"
ZEEK_DNS_LOG = DATASETS / "wrccdc-zeek-sample" / "zeek-default" / "dns.log.gz"
needs_datasets = pytest.mark.skipif(not DATASETS.is_dir(), reason=f"shared datasets not found at {DATASETS}")

US = 1_000_000
T0 = 1_700_000_000 * US
CLIENT, SERVER = "10.0.0.5", "198.51.100.7"
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


# --- packets and captures, written here ---------------------------------------------------------------------

def tcp(sport: int, dport: int, flags: int, seq: int = 0, payload: bytes = b"") -> bytes:
    return struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv4(src: str, dst: str, proto: int, l4: bytes, ident: int = 1, frag: int = 0) -> bytes:
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, frag, 64, proto, 0, socket.inet_aton(src),
                       socket.inet_aton(dst)) + l4


def ipv6(src: str, dst: str, nxt: int, l4: bytes) -> bytes:
    return (struct.pack(">IHBB", 0x60000000, len(l4), nxt, 64) + socket.inet_pton(socket.AF_INET6, src)
            + socket.inet_pton(socket.AF_INET6, dst) + l4)


def eth(ip: bytes, vlan: int | None = None, etype: int | None = None) -> bytes:
    if etype is None:
        etype = 0x86DD if ip[:1] and ip[0] >> 4 == 6 else 0x0800
    tag = struct.pack(">HH", 0x8100, vlan) if vlan is not None else b""
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + tag + struct.pack(">H", etype) + ip


def sll(ip: bytes) -> bytes:
    etype = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", etype) + ip


def sll2(ip: bytes) -> bytes:
    etype = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack(">HHIHBB8s", etype, 0, 3, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00") + ip


def null(ip: bytes) -> bytes:  # BSD loopback: the address family in the writer's byte order
    return struct.pack("<I", 2) + ip


Pkt = tuple[int, bytes]  # (epoch µs, frame)


def pcap(packets: Iterable[Pkt], order: str = "<", nano: bool = False, linktype: int = 1, snaplen: int = 65535,
         caplen: int | None = None) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts, frame in packets:
        sec, us = divmod(ts, US)
        data = frame[:caplen] if caplen is not None else frame
        out.append(struct.pack(order + "IIII", sec, us * 1000 if nano else us, len(data), len(frame)) + data)
    return b"".join(out)


def _block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def pcapng(packets: Iterable[tuple[int, int, bytes]], interfaces: list[tuple[int, int]], order: str = "<") -> bytes:
    """packets: (interface, epoch µs, frame); interfaces: (link type, if_tsresol exponent of 10)."""
    out = [_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for i, (linktype, resol) in enumerate(interfaces):
        name = f"eth{i}".encode()
        opts = (struct.pack(order + "HH", 2, len(name)) + name + b"\x00" * (-len(name) % 4)
                + struct.pack(order + "HHB3x", 9, 1, resol) + struct.pack(order + "HH", 0, 0))
        out.append(_block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + opts))
    for iface, ts, frame in packets:
        ticks = ts * 10 ** (interfaces[iface][1] - 6)
        out.append(_block(order, 6, struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                                                len(frame)) + frame))
    return b"".join(out)


def connection(wrap: Any = eth, ip: Any = ipv4, client: str = CLIENT, server: str = SERVER, t0: int = T0,
               cport: int = 40000, sport: int = 443) -> list[Pkt]:
    """A whole TCP connection: handshake, data both ways, FIN both ways, last ACK (8 packets)."""
    c2s = [(0, SYN, b""), (2, ACK, b""), (3, PSH | ACK, b"hello"), (5, ACK, b""), (6, FIN | ACK, b""), ]
    s2c = [(1, SYN | ACK, b""), (4, PSH | ACK, b"welcome!"), (7, FIN | ACK, b"")]
    proto = 6
    pkts = [(t0 + i * 1000, wrap(ip(client, server, proto, tcp(cport, sport, f, 100 + i, p))), i) for i, f, p in c2s]
    pkts += [(t0 + i * 1000, wrap(ip(server, client, proto, tcp(sport, cport, f, 900 + i, p))), i) for i, f, p in s2c]
    pkts.sort(key=lambda x: x[2])
    return [(ts, frame) for ts, frame, _ in pkts] + [(t0 + 8000, wrap(ip(client, server, proto,
                                                                         tcp(cport, sport, ACK, 108))))]


def dns_message(tid: int, name: str, qtype: int = 1, answers: list[tuple[int, bytes]] | None = None,
                rcode: int = 0) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    flags = 0x0100 if answers is None else 0x8180 | rcode
    an = answers or []
    body = struct.pack(">HHHHHH", tid, flags, 1, len(an), 0, 0) + qname + struct.pack(">HH", qtype, 1)
    for rtype, rdata in an:
        body += b"\xc0\x0c" + struct.pack(">HHIH", rtype, 1, 300, len(rdata)) + rdata
    return body


def client_hello(sni: str) -> bytes:
    name = sni.encode()
    ext_sni = struct.pack(">HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    exts = ext_sni + struct.pack(">HH", 0x0015, 300) + b"\x00" * 300  # padding: the hello spans two segments
    body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + struct.pack(">H", 2) + b"\x13\x01" + b"\x01\x00" + \
        struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def server_hello() -> bytes:
    exts = struct.pack(">HHH", 43, 2, 0x0304) + struct.pack(">HHHH", 51, 36, 29, 32) + b"\x22" * 32
    body = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\x13\x02" + b"\x00" + struct.pack(">H", len(exts)) + exts
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack(">H", len(hs)) + hs


def app_capture() -> list[Pkt]:
    """DNS (query + answer, and a query never answered), HTTP (request + response), TLS (hello in 2 segments)."""
    t = T0
    q = dns_message(0x1234, "exfil.AbCd1234.example.com", 16)
    a = dns_message(0x1234, "exfil.AbCd1234.example.com", 16, [(16, b"\x05hello\x03abc")])
    lone = dns_message(0x4321, "nobody.example.net", 1)
    req = (b"GET /path?q=1 HTTP/1.1\r\nHost: www.example.org\r\nUser-Agent: curl/8.0\r\n"
           b"Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n")
    resp = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    hello = client_hello("secret.example.com")
    pkts = [
        (t, eth(ipv4(CLIENT, "192.0.2.53", 17, udp(53000, 53, q)))),
        (t + 20_000, eth(ipv4("192.0.2.53", CLIENT, 17, udp(53, 53000, a)))),
        (t + 30_000, eth(ipv4(CLIENT, "192.0.2.53", 17, udp(53001, 53, lone)))),
        (t + 40_000, eth(ipv4(CLIENT, SERVER, 6, tcp(40001, 80, SYN, 10)))),
        (t + 41_000, eth(ipv4(SERVER, CLIENT, 6, tcp(80, 40001, SYN | ACK, 50)))),
        (t + 42_000, eth(ipv4(CLIENT, SERVER, 6, tcp(40001, 80, PSH | ACK, 11, req)))),
        (t + 43_000, eth(ipv4(SERVER, CLIENT, 6, tcp(80, 40001, PSH | ACK, 51, resp)))),
        (t + 50_000, eth(ipv4(CLIENT, SERVER, 6, tcp(40002, 8443, SYN, 1000)))),
        (t + 51_000, eth(ipv4(SERVER, CLIENT, 6, tcp(8443, 40002, SYN | ACK, 5000)))),
        (t + 52_000, eth(ipv4(CLIENT, SERVER, 6, tcp(40002, 8443, PSH | ACK, 1001, hello[:100])))),
        (t + 53_000, eth(ipv4(CLIENT, SERVER, 6, tcp(40002, 8443, PSH | ACK, 1101, hello[100:])))),
        (t + 54_000, eth(ipv4(SERVER, CLIENT, 6, tcp(8443, 40002, PSH | ACK, 5001, server_hello())))),
    ]
    return pkts


# --- running the reader ---------------------------------------------------------------------------------------

def read_file(path: Path, **options: Any) -> tuple[dict[str, pa.Table], ReadContext]:
    src = SourceInfo(display=path.name, path=path, sha256="0" * 64, size=path.stat().st_size, mtime=0.0)
    ctx = ReadContext(source=src, options=IngestOptions(**options))
    got: dict[str, list[pa.RecordBatch]] = {}
    for table, batch in READER.read(ctx):
        if table == "flow":
            assert batch.schema == FLOW_SCHEMA
        got.setdefault(table, []).append(batch)
    return {t: pa.Table.from_batches(b) for t, b in got.items()}, ctx


def read_bytes(data: bytes, tmp_path: Path, name: str = "x.pcap", **options: Any) -> tuple[dict[str, pa.Table],
                                                                                          ReadContext]:
    path = tmp_path / name
    path.write_bytes(data)
    assert sniff(data[:HEAD_BYTES], name)
    return read_file(path, **options)


def flows(tables: dict[str, pa.Table]) -> list[dict[str, Any]]:
    rows = tables["flow"].to_pylist() if "flow" in tables else []
    for r in rows:
        r["extra"] = dict(r["extra"] or [])
    return sorted(rows, key=lambda r: (r["src_record"], r["ts"]))


CORE_FLOW = ("ts", "end_ts", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "direction", "state", "packets",
             "bytes", "src_bytes", "dst_bytes", "src_packets", "dst_packets", "tcp_flags", "src_record")


def core(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in CORE_FLOW) for r in rows]


# --- sniffing -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("head", [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                                  b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a",
                                  b"\x0a\x0d\x0d\x0a\x00\x00\x00\x1c\x1a\x2b\x3c\x4d"])
def test_magic_numbers_are_recognised(head: bytes) -> None:
    data = head + b"\x00" * 40
    assert sniff(data, "whatever.bin")
    reader = detect(data, "whatever.bin")
    assert reader is not None and reader.name == "pcap"


def test_other_content_is_not_a_capture() -> None:
    for data in (b"#separator \\x09\n#path\tconn\n", b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00garbage!", b"ElfFile\x00",
                 b"\xa1\xb2"):
        assert not sniff(data, "capture.pcap")


# --- one connection, every container --------------------------------------------------------------------------

def test_a_tcp_connection_is_one_record_from_the_client(tmp_path: Path) -> None:
    tables, ctx = read_bytes(pcap(connection()), tmp_path)
    (row,) = flows(tables)
    assert (row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"]) == (CLIENT, 40000, SERVER, 443)
    assert (row["proto"], row["state"], row["direction"], row["tcp_flags"]) == ("tcp", "SF", "<->", "...AP.SF")
    assert (row["packets"], row["src_packets"], row["dst_packets"]) == (9, 6, 3)
    assert row["src_bytes"] == 5 * 40 + 5 + 40 and row["dst_bytes"] == 3 * 40 + 8
    assert row["bytes"] == row["src_bytes"] + row["dst_bytes"]
    assert row["src_record"] == 1 and row["extra"]["last_packet"] == "9"
    assert row["duration"] == pytest.approx(0.008) and row["ts"].timestamp() * US == T0
    assert (row["family"], row["flow_format"], row["ts_resolution"]) == ("flow", "pcap", "epoch")
    assert row["extra"]["flowEndReason"] == "end of flow detected" and row["extra"]["uid"].startswith("P")
    assert ctx.rejected == 0 and not ctx.warnings


def test_capture_started_after_the_syn_keeps_the_client_as_source(tmp_path: Path) -> None:
    tables, _ = read_bytes(pcap(connection()[1:]), tmp_path)  # first packet: the server's SYN-ACK
    (row,) = flows(tables)
    assert (row["src_ip"], row["src_port"], row["state"]) == (CLIENT, 40000, "SHR")  # Zeek: no SYN seen
    assert row["src_record"] == 1


CONTAINERS = {
    "pcap little endian": lambda pk: pcap(pk, "<"),
    "pcap big endian": lambda pk: pcap(pk, ">"),
    "pcap nanoseconds": lambda pk: pcap(pk, "<", nano=True),
    "pcap nanoseconds big endian": lambda pk: pcap(pk, ">", nano=True),
    "pcapng little endian": lambda pk: pcapng([(0, ts, f) for ts, f in pk], [(1, 6)], "<"),
    "pcapng big endian, ns": lambda pk: pcapng([(0, ts, f) for ts, f in pk], [(1, 9)], ">"),
}


@pytest.mark.parametrize("container", CONTAINERS)
def test_every_container_gives_the_same_flow(tmp_path: Path, container: str) -> None:
    reference = core(flows(read_bytes(pcap(connection()), tmp_path, "ref.pcap")[0]))
    tables, ctx = read_bytes(CONTAINERS[container](connection()), tmp_path)
    assert core(flows(tables)) == reference
    assert ctx.rejected == 0


@pytest.mark.parametrize("link", ["vlan", "sll", "sll2", "null", "raw", "ipv6", "pcapng two interfaces"])
def test_link_types_vlan_and_ipv6(tmp_path: Path, link: str) -> None:
    if link == "vlan":
        data = pcap(connection(wrap=lambda ip: eth(ip, vlan=42)))
    elif link == "sll":
        data = pcap(connection(wrap=sll), linktype=113)
    elif link == "sll2":
        data = pcap(connection(wrap=sll2), linktype=276)
    elif link == "null":
        data = pcap(connection(wrap=null), linktype=0)
    elif link == "raw":
        data = pcap(connection(wrap=lambda ip: ip), linktype=101)
    elif link == "ipv6":
        data = pcap(connection(ip=ipv6, client="2001:db8::5", server="2001:db8:1::7"))
    else:  # two interfaces: Ethernet (µs) and raw IP (ns); the connection seen once, split over both
        pk = connection()
        raw = connection(wrap=lambda ip: ip)
        data = pcapng([(i % 2, ts, pk[i][1] if i % 2 == 0 else raw[i][1]) for i, (ts, _) in enumerate(pk)],
                      [(1, 6), (101, 9)])
    tables, ctx = read_bytes(data, tmp_path)
    (row,) = flows(tables)
    assert (row["state"], row["packets"], row["src_packets"]) == ("SF", 9, 6)
    if link == "ipv6":
        assert (row["src_ip"], row["dst_ip"]) == ("2001:db8::5", "2001:db8:1::7")
        assert row["src_bytes"] == 6 * 60 + 5
    else:
        assert row["src_ip"] == CLIENT
    if link == "vlan":
        assert row["extra"]["vlan"] == "42"
    if link.startswith("pcapng"):
        assert row["extra"]["interface"] == "eth0"
    assert ctx.rejected == 0


# --- timeouts and memory ---------------------------------------------------------------------------------------

def test_idle_timeouts_split_flows_and_keep_the_client(tmp_path: Path) -> None:
    dns = [eth(ipv4(CLIENT, "192.0.2.53", 17, udp(5000, 123))), eth(ipv4("192.0.2.53", CLIENT, 17, udp(123, 5000)))]
    pk = [(T0, dns[0]), (T0 + 10 * US, dns[1]), (T0 + 50 * US, dns[0])]  # 40 s idle > 30 s (UDP)
    conn = connection(t0=T0 + 100 * US)
    late = [(ts + 70 * US, f) if i >= 4 else (ts, f) for i, (ts, f) in enumerate(conn)]  # 70 s idle > 60 s (TCP)
    tables, _ = read_bytes(pcap(pk + late), tmp_path)
    rows = flows(tables)
    assert [(r["proto"], r["packets"], r["extra"]["flowEndReason"]) for r in rows] == [
        ("udp", 2, "idle timeout"), ("udp", 1, "idle timeout"), ("tcp", 4, "idle timeout"),
        ("tcp", 5, "end of flow detected")]
    assert all(r["src_ip"] == CLIENT for r in rows)  # the second part of the TCP connection starts with the server
    assert rows[3]["state"] == "OTH" and rows[3]["src_port"] == 40000


def test_active_timeout_cuts_long_flows(tmp_path: Path) -> None:
    frame = eth(ipv4(CLIENT, SERVER, 17, udp(5000, 514, b"log")))
    pk = [(T0 + i * 20 * US, frame) for i in range(100)]  # 33 minutes, never idle
    tables, _ = read_bytes(pcap(pk), tmp_path)
    rows = flows(tables)
    assert [r["extra"]["flowEndReason"] for r in rows] == ["active timeout", "forced end"]
    assert sum(r["packets"] for r in rows) == 100
    assert rows[0]["duration"] <= 30 * 60 and rows[1]["src_record"] == rows[0]["packets"] + 1


def test_a_full_flow_cache_ends_the_oldest_flows(tmp_path: Path) -> None:
    pk = [(T0 + i, eth(ipv4(CLIENT, SERVER, 6, tcp(10000 + i, 80, SYN)))) for i in range(50)]
    with mock.patch.object(flowtable, "MAX_FLOWS", 10):
        tables, ctx = read_bytes(pcap(pk), tmp_path)
    rows = flows(tables)
    assert len(rows) == 50 and all(r["state"] == "S0" for r in rows)
    assert Counter(r["extra"]["flowEndReason"] for r in rows) == {"lack of resources": 40, "forced end": 10}
    assert any("the flow cache was full" in w for w in ctx.warnings)


def test_a_new_syn_after_the_end_starts_a_new_flow(tmp_path: Path) -> None:
    first = connection()
    again = connection(t0=T0 + 2 * US)  # the same ports, 2 s later (within the close linger)
    tables, _ = read_bytes(pcap(first + again), tmp_path)
    rows = flows(tables)
    assert [(r["state"], r["packets"], r["src_record"]) for r in rows] == [("SF", 9, 1), ("SF", 9, 10)]


def test_fragments_count_in_their_flow_and_pings_pair_up(tmp_path: Path) -> None:
    big = udp(5353, 53, b"q" * 100)
    first = ipv4(CLIENT, SERVER, 17, big[:48], ident=77, frag=0x2000)  # MF, offset 0
    later = ipv4(CLIENT, SERVER, 17, big[48:], ident=77, frag=6)  # offset 48 bytes
    orphan = ipv4(CLIENT, SERVER, 17, b"z" * 20, ident=78, frag=6)
    echo = [eth(ipv4(SERVER, CLIENT, 1, b"\x00\x00\x00\x00\x12\x34\x00\x01")),  # the reply first
            eth(ipv4(CLIENT, SERVER, 1, b"\x08\x00\x00\x00\x12\x34\x00\x02")),
            eth(ipv4(SERVER, CLIENT, 1, b"\x00\x00\x00\x00\x12\x34\x00\x02"))]
    pk = [(T0, eth(first)), (T0 + 1, eth(later)), (T0 + 2, eth(orphan))]
    pk += [(T0 + 10 + i, f) for i, f in enumerate(echo)]
    tables, ctx = read_bytes(pcap(pk), tmp_path)
    udp_row, icmp_row = flows(tables)
    assert (udp_row["packets"], udp_row["bytes"], udp_row["src_port"]) == (2, 20 + 48 + 20 + 60, 5353)
    assert (icmp_row["src_ip"], icmp_row["src_port"], icmp_row["dst_port"], icmp_row["state"]) == (CLIENT, 8, 0, "SF")
    assert (icmp_row["src_packets"], icmp_row["dst_packets"]) == (1, 2)
    assert any("first fragment was not seen" in w for w in ctx.warnings)


# --- protocol metadata ---------------------------------------------------------------------------------------

def test_dns_http_and_tls_metadata_in_zeek_tables(tmp_path: Path) -> None:
    tables, ctx = read_bytes(pcap(app_capture()), tmp_path)
    uids = {(r["src_port"], r["dst_port"]): r["extra"]["uid"] for r in flows(tables)}
    dns_rows = sorted(tables["zeek_dns"].to_pylist(), key=lambda r: r["src_record"])
    assert [(r["query"], r["qtype_name"], r["rcode_name"], r["answers"], r["src_record"]) for r in dns_rows] == [
        ("exfil.abcd1234.example.com", "TXT", "NOERROR", ["TXT 5 hello TXT 3 abc"], 1),
        ("nobody.example.net", "A", None, None, 3)]
    first = dns_rows[0]
    assert first["rtt"] == pytest.approx(0.02) and first["TTLs"] == [300.0] and first["trans_id"] == 0x1234
    assert (first["id.orig_h"], first["id.orig_p"], first["id.resp_p"], first["proto"]) == (CLIENT, 53000, 53, "udp")
    assert (first["src_ip"], first["dst_port"], first["family"]) == (CLIENT, 53, "zeek")
    assert first["uid"] == uids[(53000, 53)]
    (h,) = tables["zeek_http"].to_pylist()
    assert (h["method"], h["host_header"], h["uri"], h["user_agent"], h["version"]) == (
        "GET", "www.example.org", "/path?q=1", "curl/8.0", "1.1")
    assert (h["status_code"], h["status_msg"], h["trans_depth"], h["username"], h["password"]) == (
        404, "Not Found", 1, "user", None)
    assert h["user"] == "user" and h["src_record"] == 6 and h["uid"] == uids[(40001, 80)]
    (s,) = tables["zeek_ssl"].to_pylist()
    assert (s["server_name"], s["version"], s["cipher"], s["curve"]) == (
        "secret.example.com", "TLSv13", "TLS_AES_256_GCM_SHA384", "x25519")
    assert s["src_record"] == 10 and s["uid"] == uids[(40002, 8443)]
    assert s["ts"].timestamp() * US == T0 + 50_000  # Zeek's ssl.log: the connection's start
    assert ctx.rejected == 0


def test_dns_over_tcp(tmp_path: Path) -> None:
    q = dns_message(9, "zone.example", 252)  # AXFR
    a = dns_message(9, "zone.example", 252, [(1, socket.inet_aton("192.0.2.1")), (28, b"\x20\x01" + b"\x00" * 14)])
    lq, la = struct.pack(">H", len(q)) + q, struct.pack(">H", len(a)) + a
    pk = [(T0, eth(ipv4(CLIENT, SERVER, 6, tcp(40000, 53, SYN, 1)))),
          (T0 + 1, eth(ipv4(SERVER, CLIENT, 6, tcp(53, 40000, SYN | ACK, 7)))),
          (T0 + 2, eth(ipv4(CLIENT, SERVER, 6, tcp(40000, 53, PSH | ACK, 2, lq)))),
          (T0 + 3, eth(ipv4(SERVER, CLIENT, 6, tcp(53, 40000, PSH | ACK, 8, la)))),
          (T0 + 4, eth(ipv4(SERVER, CLIENT, 6, tcp(53, 40000, PSH | ACK, 8, la))))]  # a retransmission
    tables, _ = read_bytes(pcap(pk), tmp_path)
    (row,) = tables["zeek_dns"].to_pylist()
    assert (row["proto"], row["qtype_name"], row["answers"], row["src_record"]) == (
        "tcp", "AXFR", ["192.0.2.1", "2001::"], 3)


def test_zeek_tables_have_zeek_columns_and_types(tmp_path: Path) -> None:
    tables, _ = read_bytes(pcap(app_capture()), tmp_path)
    dns_types = {f.name: f.type for f in tables["zeek_dns"].schema}
    assert dns_types["id.orig_p"] == pa.int32() and dns_types["trans_id"] == pa.int64()
    assert dns_types["answers"] == pa.list_(pa.string()) and dns_types["TTLs"] == pa.list_(pa.float64())
    assert dns_types["AA"] == pa.bool_() and dns_types["rtt"] == pa.float64()
    assert "host_header" in tables["zeek_http"].schema.names and "host" in tables["zeek_http"].schema.names


def test_binary_dns_labels_are_escaped_not_lost() -> None:
    from breachscope.ingest.packets import dns
    msg = dns_message(7, "x.example", 16).replace(b"\x01x", b"\x01\xff")
    m = dns.parse(msg)
    assert m is not None and m.query == "\\xff.example"
    looped = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c"  # a pointer to itself
    m = dns.parse(looped)
    assert m is not None and m.query is None and not m.complete


# --- damage ---------------------------------------------------------------------------------------------------

def test_truncated_last_packet_is_rejected_with_its_number(tmp_path: Path) -> None:
    data = pcap(connection())
    tables, ctx = read_bytes(data[:-10], tmp_path)
    (row,) = flows(tables)
    assert row["packets"] == 8
    assert ctx.rejected == 1 and ctx.first_rejects[0]["reason"] == "packet cut by the end of the file"
    assert ctx.first_rejects[0]["location"].startswith("packet 9 (byte ")
    tables, ctx = read_bytes(data[:-len(connection()[-1][1]) - 6], tmp_path)  # the last header cut
    assert flows(tables)[0]["packets"] == 8
    assert ctx.rejects_by_reason == {"packet header cut by the end of the file": 1}


def test_corrupt_header_is_skipped_to_the_next_packet(tmp_path: Path) -> None:
    pk = connection()
    data = bytearray(pcap(pk))
    off = 24 + sum(16 + len(f) for _, f in pk[:3])
    data[off + 8:off + 12] = struct.pack("<I", 0x7FFFFFF0)  # packet 4's capture length: absurd
    tables, ctx = read_bytes(bytes(data), tmp_path)
    (row,) = flows(tables)
    assert row["packets"] == 8 and row["state"] == "SF"
    assert ctx.rejected == 1 and "skipped to the next readable packet" in ctx.first_rejects[0]["reason"]
    assert any("damaged part" in w for w in ctx.warnings)


def test_corrupt_pcapng_block_is_skipped(tmp_path: Path) -> None:
    pk = connection()
    data = bytearray(pcapng([(0, ts, f) for ts, f in pk], [(1, 6)], ">"))
    first_epb = data.find(struct.pack(">I", 6), 28 + 8)
    data[first_epb + 4:first_epb + 8] = struct.pack(">I", 13)  # impossible length
    tables, ctx = read_bytes(bytes(data), tmp_path)
    assert flows(tables)[0]["packets"] == 8
    assert ctx.rejected == 1 and "corrupt pcapng block" in ctx.first_rejects[0]["reason"]


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_garbage_in_the_middle_is_skipped_and_reading_goes_on(tmp_path: Path, kind: str) -> None:
    first, second = connection(), connection(t0=T0 + 100 * US, cport=41000)
    if kind == "pcap":
        a, b = pcap(first), pcap(second)[24:]
    else:
        a, b = pcapng([(0, ts, f) for ts, f in first], [(1, 6)]), pcapng([(0, ts, f) for ts, f in second], [(1, 6)])
    noise = bytes((i * 7919) % 251 for i in range(300_000))  # no valid record in it
    tables, ctx = read_bytes(a + noise + b, tmp_path)
    assert [(r["src_port"], r["packets"], r["state"]) for r in flows(tables)] == [(40000, 9, "SF"), (41000, 9, "SF")]
    assert ctx.rejected == 1 and "skipped to the next readable" in ctx.first_rejects[0]["reason"]


def test_a_file_that_shrinks_while_read_stops_with_a_reject(tmp_path: Path) -> None:
    from breachscope.ingest.packets.capture import Capture, FileView
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap(connection()))
    src = SourceInfo(display="x.pcap", path=path, sha256="0" * 64, size=0, mtime=0.0)
    ctx = ReadContext(source=src, options=IngestOptions())
    with path.open("rb") as fh:
        view = FileView(fh.fileno(), path.stat().st_size + 100)  # the size it had when ingest started
        got = list(Capture(view, ctx).frames())
    assert len(got) == 9
    assert ctx.rejected == 1 and "could not be read while it was read" in ctx.first_rejects[0]["reason"]


def test_snaplen_cut_packets_keep_their_ip_length(tmp_path: Path) -> None:
    big = [(T0, eth(ipv4(CLIENT, SERVER, 6, tcp(40000, 80, PSH | ACK, 1, b"x" * 1400))))]
    tables, ctx = read_bytes(pcap(big, snaplen=60, caplen=60), tmp_path)
    (row,) = flows(tables)
    assert row["bytes"] == 1440 and row["src_port"] == 40000
    assert any("snap length" in w for w in ctx.warnings)
    tables, ctx = read_bytes(pcap(big, snaplen=38, caplen=38), tmp_path)  # the TCP header itself is cut
    (row,) = flows(tables)
    assert (row["bytes"], row["src_port"], row["dst_port"]) == (1440, 40000, 80)
    assert any("transport headers cut" in w for w in ctx.warnings)


def test_hostile_frames_are_rejected_or_counted(tmp_path: Path) -> None:
    pk = [
        (T0, eth(b"\x45\x00")),  # IPv4 header cut
        (T0 + 1, eth(b"\x00" * 28, etype=0x0806)),  # ARP
        (T0 + 2, eth(ipv4(CLIENT, SERVER, 6, tcp(1, 2, SYN)), vlan=5)[:16]),  # VLAN tag cut
        (T0 + 3, eth(struct.pack(">BBH", 0x45, 0, 8) + b"\x00" * 16)),  # total length shorter than the header
        (T0 + 4, eth(ipv4(CLIENT, SERVER, 17, udp(53, 53, b"\x00\x01")))),  # DNS too short
        (T0 + 5, b""),  # an empty frame
    ]
    tables, ctx = read_bytes(pcap(pk), tmp_path)
    assert {r["location"].split(" (")[0] for r in ctx.first_rejects} == {"packet 1", "packet 3", "packet 4",
                                                                           "packet 6"}
    assert any("ARP" in w for w in ctx.warnings)
    assert len(flows(tables)) == 1


def test_unknown_link_type_is_counted_not_dropped_silently(tmp_path: Path) -> None:
    tables, ctx = read_bytes(pcap(connection(), linktype=105), tmp_path)
    assert not tables
    assert ctx.warning_lines() == [
        "packets on link type 105 = IEEE802_11 not read: this link type is not decoded (9 times)"]


@pytest.mark.parametrize("data", [b"\xd4\xc3\xb2\xa1\x02\x00", b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a",
                                  b"\xd4\xc3\xb2\xa1" + b"\xff" * 200])
def test_broken_files_give_rejects_never_a_traceback(tmp_path: Path, data: bytes) -> None:
    tables, ctx = read_bytes(data, tmp_path)
    assert ctx.rejected >= 1 and not flows(tables)


# --- the fast path and dpkt give the same packets -----------------------------------------------------------------

def _real_captures() -> list[Path]:
    return sorted(DATASETS.rglob("*.pcap")) if DATASETS.is_dir() else []


def test_fast_path_equals_dpkt_on_built_captures(tmp_path: Path) -> None:
    ns_bit = bytearray(tcp(40009, 80, SYN | ACK))
    ns_bit[12] |= 1  # the ECN nonce bit, beside the eight flags nfdump's letters show
    odd = [(T0 + 9 * US, eth(ipv4(CLIENT, SERVER, 6, bytes(ns_bit)))),
           (T0 + 9 * US, eth(ipv4(CLIENT, SERVER, 47, b"\x00" * 8))),  # GRE: no ports
           (T0 + 9 * US, eth(ipv4(CLIENT, SERVER, 1, b"\x08\x00\x00\x00\x12\x34\x00\x01")))]  # ping
    data = pcap(connection() + app_capture() + odd + connection(
        wrap=lambda ip: eth(ip, vlan=3), ip=ipv6, client="2001:db8::1", server="2001:db8::2"))
    fast, _ = read_bytes(data, tmp_path)
    with mock.patch.object(decode_mod, "fast_ethernet", lambda _data: None):
        slow, _ = read_bytes(data, tmp_path)
    assert fast.keys() == slow.keys()
    for t in fast:
        assert fast[t].equals(slow[t]), t


@needs_datasets
@pytest.mark.parametrize("path", _real_captures(), ids=lambda p: p.name)
def test_fast_path_equals_dpkt_on_real_captures(path: Path) -> None:
    fast, fctx = read_file(path)
    with mock.patch.object(decode_mod, "fast_ethernet", lambda _data: None):
        slow, sctx = read_file(path)
    assert fast.keys() == slow.keys()
    for t in fast:
        assert fast[t].equals(slow[t]), t
    assert (fctx.reject_rows, fctx.warning_lines()) == (sctx.reject_rows, sctx.warning_lines())


# --- real captures ----------------------------------------------------------------------------------------------

def _independent_counts(path: Path) -> dict[tuple[Any, ...], tuple[int, int]]:
    """(proto, sorted endpoints) -> (packets, IP bytes), computed with dpkt alone."""
    out: Counter[tuple[Any, ...]] = Counter()
    size: Counter[tuple[Any, ...]] = Counter()
    with path.open("rb") as fh:
        for _ts, buf in dpkt.pcap.Reader(fh):
            ip = dpkt.ethernet.Ethernet(buf).data
            if not isinstance(ip, dpkt.ip.IP):
                continue
            l4 = ip.data
            ports = (l4.sport, l4.dport) if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP) else (0, 0)
            a, b = (socket.inet_ntoa(ip.src), ports[0]), (socket.inet_ntoa(ip.dst), ports[1])
            key = (ip.p, *sorted([a, b]))
            out[key] += 1
            size[key] += ip.len
    return {k: (out[k], size[k]) for k in out}


@needs_datasets
@pytest.mark.parametrize("path", [SSH_BRUTE, TLS_CAPTURE], ids=lambda p: p.name)
def test_flow_counts_and_bytes_equal_an_independent_count(path: Path) -> None:
    tables, ctx = read_file(path)
    mine: Counter[tuple[Any, ...]] = Counter()
    mine_bytes: Counter[tuple[Any, ...]] = Counter()
    for r in tables["flow"].to_pylist():
        if r["proto"] not in ("tcp", "udp"):
            continue
        key = ({"tcp": 6, "udp": 17}[r["proto"]], *sorted([(r["src_ip"], r["src_port"]), (r["dst_ip"], r["dst_port"])]))
        mine[key] += r["packets"]
        mine_bytes[key] += r["bytes"]
    theirs = {k: v for k, v in _independent_counts(path).items() if k[0] in (6, 17)}
    assert {k: (mine[k], mine_bytes[k]) for k in mine} == theirs
    assert ctx.rejected == 0


@needs_datasets
def test_syn_flood_gives_many_syn_only_flows_to_one_victim() -> None:
    tables, ctx = read_file(SYN_FLOOD)
    rows = tables["flow"].to_pylist()
    with SYN_FLOOD.open("rb") as fh:
        packets = sum(1 for _ in dpkt.pcap.Reader(fh))
    assert sum(r["packets"] for r in rows) == packets  # every packet is in one flow
    victims = Counter(r["dst_ip"] for r in rows)
    victim, n = victims.most_common(1)[0]
    assert victim == "192.168.50.4" and n == len(rows) > 5000
    states = Counter(r["state"] for r in rows)
    assert states["S0"] > len(rows) / 2 and set(states) <= {"S0", "REJ"}
    assert {r["tcp_flags"] for r in rows if r["state"] == "S0"} == {"......S."}
    assert len({r["src_port"] for r in rows}) > 5000 and ctx.rejected == 0


@needs_datasets
def test_dns_tunnel_capture_gives_txt_queries_with_payload_answers() -> None:
    tables, _ = read_file(DNS_TUNNEL)
    rows = tables["zeek_dns"].to_pylist()
    tunnel = [r for r in rows if r["query"] and r["query"].endswith(".ns.ostrykebs.pl")]
    assert len(tunnel) >= 40 and {r["qtype_name"] for r in tunnel} == {"TXT"}
    assert len({r["query"] for r in tunnel}) > 15  # one subdomain per chunk
    longest = max(len(a) for r in tunnel for a in r["answers"] or [])
    assert longest > 200  # base64 chunks in TXT answers
    assert all(r["uid"].startswith("P") and r["src_file"] == DNS_TUNNEL.name for r in rows)


@needs_datasets
def test_tls_capture_gives_sni_rows() -> None:
    tables, _ = read_file(TLS_CAPTURE)
    ssl = tables["zeek_ssl"].to_pylist()
    flow_rows = tables["flow"].to_pylist()
    assert len(ssl) == len(flow_rows) == 299
    assert {(r["server_name"], r["version"]) for r in ssl} == {("testing.com", "TLSv13")}
    assert {r["state"] for r in flow_rows} == {"SF"}


# --- through the pipeline: one case with a Zeek dns.log and a capture --------------------------------------------

def test_zeek_log_and_capture_share_one_table(ingest_case: Any, tmp_path: Path) -> None:
    capture = tmp_path / "capture.pcapng"
    capture.write_bytes(pcapng([(0, ts, f) for ts, f in app_capture()], [(1, 6)]))
    log = tmp_path / "dns.log"
    log.write_bytes(gzip.decompress(ZEEK_DNS_LOG.read_bytes())[:20000].rsplit(b"\n", 1)[0] + b"\n"
                    if ZEEK_DNS_LOG.is_file() else _zeek_dns_log())
    summary, case = ingest_case([capture, log])
    entries = {Path(e.path).name: e for e in summary.files}
    assert entries["capture.pcapng"].format == "pcap"
    assert entries["capture.pcapng"].tables == {"flow": 4, "zeek_dns": 2, "zeek_http": 1, "zeek_ssl": 1}
    got = case.rows('SELECT src_file LIKE \'%.pcapng\', count(*), count(query), count(DISTINCT typeof("TTLs")) '
                    "FROM zeek_dns GROUP BY 1 ORDER BY 1")
    assert [g[0] for g in got] == [False, True] and all(g[1] > 0 and g[3] == 1 for g in got)
    types = dict(case.rows("SELECT column_name, column_type FROM (DESCRIBE zeek_dns)"))
    assert types["answers"] == "VARCHAR[]" and types["TTLs"] == "DOUBLE[]" and types["id.resp_p"] == "INTEGER"
    assert case.rows("SELECT count(*) FROM zeek_dns d JOIN flow f ON f.extra['uid'] = d.uid") == [(2,)]


def _zeek_dns_log() -> bytes:
    return (b"#separator \\x09\n#path\tdns\n"
            b"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\t"
            b"qclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n"
            b"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\t"
            b"string\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n"
            b"1700000000.0\tCabc\t10.0.0.9\t5353\t10.0.0.1\t53\tudp\t1\t0.01\texample.com\t1\tC_INTERNET\t1\tA\t0\t"
            b"NOERROR\tF\tF\tT\tT\t0\t93.184.216.34\t60.0\tF\n")


def test_rejects_reach_the_case_with_their_location(ingest_case: Any, tmp_path: Path) -> None:
    capture = tmp_path / "cut.pcap"
    capture.write_bytes(pcap(connection())[:-10])
    summary, case = ingest_case([capture])
    (entry,) = summary.files
    assert entry.format == "pcap" and entry.rejected == 1 and entry.tables == {"flow": 1}
    assert case.rows("SELECT location, reason FROM rejects") == [
        (entry.first_rejects[0]["location"], "packet cut by the end of the file")]

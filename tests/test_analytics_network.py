"""The network analytics (issue 13 item 2) on logs written here and ingested: a jittered beacon ranks above a
popular periodic service and a nightly job; a one-off upload to a rare address is found (its bytes counted
once though two sensors saw it), a nightly backup stays low; a long session is found, long calls to a
popular service are not; a DNS tunnel (names, and the real DNS-over-TXT capture) is found, browsing is not;
and the simulation's beacon and AD upload as check_analytics scores them."""

from __future__ import annotations

import base64
import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from breachscope.detect.analytics import ANALYTICS
from breachscope.detect.analytics.base import Analytic
from breachscope.detect.analytics.runner import run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.engines.duckdb_case import open_case
from tests.conftest import DATASETS, run_ingest

T0 = 1_738_368_000  # 2025-02-01 00:00:00 UTC
DAY = 86_400
BEACON = ANALYTICS["beaconing"]
LONG = ANALYTICS["long_connections"]
EXFIL = ANALYTICS["exfiltration"]
DNS = ANALYTICS["dns_tunnelling"]
DNS_TXT_PCAP = DATASETS / "evtx-attack-samples" / "Command and Control" / "cmds over dns txt queries and reponses.pcap"
NJRAT_CONN = DATASETS / "stratosphere-security-datasets" / "001-zeek-scenario-malicious" / "labeled-conn.log"

CONN_FIELDS = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
               "orig_bytes", "resp_bytes", "conn_state")
CONN_TYPES = ("time", "string", "addr", "port", "addr", "port", "enum", "string", "interval", "count", "count",
              "string")
DNS_FIELDS = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "query", "qtype",
              "qtype_name", "rcode_name", "answers")
DNS_TYPES = ("time", "string", "addr", "port", "addr", "port", "enum", "string", "count", "string", "string",
             "vector[string]")
FLOW_HEADER = ("flowStartMilliseconds,flowEndMilliseconds,sourceIPv4Address,destinationIPv4Address,"
               "sourceTransportPort,destinationTransportPort,protocolIdentifier,octetDeltaCount,packetDeltaCount,"
               "tcpControlBits\n")
SITES = [f"198.18.{i}.10" for i in range(12)]  # everybody's web


def zeek_log(path: str, fields: tuple[str, ...], types: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    head = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
            f"#path\t{path}\n#fields\t" + "\t".join(fields) + "\n#types\t" + "\t".join(types) + "\n")
    body = "".join("\t".join(str(v) for v in r) + "\n" for r in sorted(rows, key=lambda r: r[0]))
    return head + body


def conn(ts: float, src: str, dst: str, port: int, up: int, down: int, dur: float = 0.3) -> tuple[Any, ...]:
    return (f"{ts:.6f}", f"C{random.getrandbits(40):x}", src, random.randrange(49152, 65536), dst, port, "tcp", "ssl",
            f"{dur:.6f}", up, down, "SF")


def browsing(rng: random.Random, hosts: int, days: int, per_day: int) -> list[tuple[Any, ...]]:
    """Office browsing: each host visits popular sites at random moments of the working day."""
    rows = []
    for h in range(1, hosts + 1):
        for d in range(days):
            for _ in range(per_day):
                t = T0 + d * DAY + rng.uniform(8, 18) * 3600
                rows.append(conn(t, f"10.1.0.{h}", rng.choice(SITES), 443, int(rng.lognormvariate(7.5, 1.2)),
                                 int(rng.lognormvariate(10, 1.5)), rng.lognormvariate(1, 1)))
    return rows


def findings(tmp_path: Path, files: dict[str, str], analytics: list[Analytic]) -> list[dict[str, Any]]:
    ev = tmp_path / "ev"
    ev.mkdir()
    for name, text in files.items():
        (ev / name).write_text(text)
    run_ingest([ev], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        res = run_analytics(CaseContext(c, table_columns(c)), analytics)
    assert [r.status for r in res.runs] == ["ran"] * len(analytics), res.runs
    return sorted(res.findings.to_pylist(), key=lambda f: -f["score"])


def about(fs: list[dict[str, Any]], *ips: str) -> list[dict[str, Any]]:
    return [f for f in fs if all(ip in (f["src_ip"], f["dst_ip"]) for ip in ips)]


def test_a_jittered_beacon_ranks_above_periodic_services(tmp_path: Path) -> None:
    rng = random.Random(7)
    rows = browsing(rng, 40, 3, 30)
    t = T0 + 3600.0
    while t < T0 + 2 * DAY:  # C2: every 5 minutes, +-20 %, day and night, small requests
        rows.append(conn(t, "10.1.0.7", "203.0.113.66", 443, rng.randrange(400, 460), rng.randrange(200, 330)))
        t += 300 * rng.uniform(0.8, 1.2)
    for h in range(1, 41):  # an update check on every host, hourly and exact: periodic, but everybody's
        for k in range(48):
            rows.append(conn(T0 + h * 13 + k * 3600.0, f"10.1.0.{h}", "198.51.100.10", 443, 350, 1200))
    for d in range(30):  # one server's nightly job to a partner, 02:00 +- 2 min
        rows.append(conn(T0 + d * DAY + 7200 + rng.uniform(-120, 120), "10.1.0.40", "192.0.2.200", 443,
                         int(rng.lognormvariate(15, 0.5)), 4000, 40.0))
    fs = findings(tmp_path, {"conn.log": zeek_log("conn", CONN_FIELDS, CONN_TYPES, rows)}, [BEACON])
    top = fs[0]
    assert (top["src_ip"], top["dst_ip"]) == ("10.1.0.7", "203.0.113.66"), top
    assert top["level"] == "high" and "Beaconing" in top["rule_title"]
    assert "every 5 min" in top["description"]
    assert json.loads(top["event"])["connections"] >= 500
    assert top["evidence"] and top["src_file"].endswith("conn.log")
    for f in about(fs, "198.51.100.10") + about(fs, "192.0.2.200"):
        assert f["level"] in ("informational", "low"), f
    # check_analytics' rule: the top finding that mentions a beacon names the C2 and the host
    text = json.dumps(top, default=str).lower()
    assert "beacon" in text and "203.0.113.66" in text and "10.1.0.7" in text


def test_the_labelled_njrat_c2_is_the_only_beacon(tmp_path: Path) -> None:
    """Stratosphere's CTU-Malware-Capture-Botnet-230-1 (NjRAT): the beacons found are flows labelled CC; the
    IPv6 neighbour discovery to multicast groups, as periodic, is no outside host."""
    if not NJRAT_CONN.is_file():
        pytest.skip(f"the labelled NjRAT conn.log is not at {NJRAT_CONN} (shared datasets)")
    run_ingest([NJRAT_CONN], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        cc = c.rows('SELECT DISTINCT "id.orig_h", "id.resp_h" FROM zeek_conn WHERE detailedlabel = \'CC\'')
        res = run_analytics(CaseContext(c, table_columns(c)), [BEACON])
    fs = res.findings.to_pylist()
    # medium, not high: with one inside host, how few hosts talk to the address says nothing (netcommon.rarity)
    assert fs and fs[0]["level"] == "medium", fs
    assert {(f["src_ip"], f["dst_ip"]) for f in fs} <= set(cc), fs  # the multicast chatter is not in it


def test_a_one_off_upload_is_found_and_a_nightly_backup_stays_low(tmp_path: Path) -> None:
    rng = random.Random(11)
    rows = browsing(rng, 20, 10, 40)
    for d in range(10):  # the backup server uploads ~2 GB to its cloud every night
        size = int(2e9 * rng.uniform(0.9, 1.1))
        rows.append(conn(T0 + d * DAY + 3600, "10.1.0.20", "198.51.100.99", 443, size, 900_000, 600.0))
    up_ts = T0 + 8 * DAY + 14 * 3600
    rows.append(conn(up_ts, "10.1.0.9", "192.0.2.50", 443, 80_000_000, 30_000, 88.0))
    # the core router's flow export saw the upload too: counted once, from Zeek
    flow = FLOW_HEADER + f"{up_ts * 1000},{up_ts * 1000 + 88_000},10.1.0.9,192.0.2.50,50000,443,6,80000000,57000,27\n"
    fs = findings(tmp_path, {"conn.log": zeek_log("conn", CONN_FIELDS, CONN_TYPES, rows), "flows.csv": flow},
                  [EXFIL])
    top = fs[0]
    assert (top["src_ip"], top["dst_ip"]) == ("10.1.0.9", "192.0.2.50"), top
    assert top["level"] == "high"
    assert json.loads(top["event"])["bytes_out"] == 80_000_000  # not 160 MB: one connection, two sensors
    assert "80,000,000 bytes" in top["description"]
    for f in about(fs, "10.1.0.20", "198.51.100.99"):
        assert f["level"] in ("informational", "low"), f


def test_uploads_in_unidirectional_flows_take_the_answers_into_account(tmp_path: Path) -> None:
    """NetFlow/IPFIX writes a connection's two directions as two records: the answer's bytes come from the
    reverse record (an upload is mostly out, a big download with a sizeable request is no upload)."""
    rng = random.Random(13)
    lines = []

    def both(t: float, src: str, dst: str, up: int, down: int) -> None:
        ms, port = int(t * 1000), rng.randrange(49152, 65536)
        lines.append(f"{ms},{ms + 2000},{src},{dst},{port},443,6,{up},{up // 1400 + 1},27\n")
        lines.append(f"{ms + 1},{ms + 2000},{dst},{src},443,{port},6,{down},{down // 1400 + 1},27\n")

    for h in range(1, 21):
        for d in range(7):
            for _ in range(30):
                both(T0 + d * DAY + rng.uniform(8, 18) * 3600, f"10.2.0.{h}", rng.choice(SITES),
                     int(rng.lognormvariate(7.5, 1)), int(rng.lognormvariate(10, 1.5)))
    both(T0 + 5 * DAY + 50_000, "10.2.0.9", "192.0.2.70", 60_000_000, 20_000)
    both(T0 + 5 * DAY + 60_000, "10.2.0.5", "192.0.2.71", 900_000, 700_000_000)  # a download
    fs = findings(tmp_path, {"flows.csv": FLOW_HEADER + "".join(sorted(lines))}, [EXFIL])
    assert (fs[0]["src_ip"], fs[0]["dst_ip"], fs[0]["level"]) == ("10.2.0.9", "192.0.2.70", "high"), fs[:1]
    assert json.loads(fs[0]["event"])["bytes_in"] == 20_000
    assert not [f for f in about(fs, "192.0.2.71") if f["level"] not in ("informational", "low")]


def test_a_long_session_is_found_long_calls_to_a_popular_service_are_not(tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = browsing(rng, 30, 2, 20)
    rows.append(conn(T0 + 9 * 3600, "10.1.0.5", "203.0.113.5", 22, 3_000_000, 9_000_000, 5 * 3600.0))
    for h in range(1, 31):  # everybody's two-hour video call
        rows.append(conn(T0 + 10 * 3600 + h, f"10.1.0.{h}", "198.51.100.20", 443, 90_000_000, 200_000_000, 7200.0))
    fs = findings(tmp_path, {"conn.log": zeek_log("conn", CONN_FIELDS, CONN_TYPES, rows)}, [LONG])
    top = fs[0]
    assert (top["src_ip"], top["dst_ip"]) == ("10.1.0.5", "203.0.113.5"), top
    assert top["level"] in ("medium", "high") and "5.0 h" in top["rule_title"]
    assert not [f for f in about(fs, "198.51.100.20") if f["level"] not in ("informational", "low")]


def _dns_row(ts: float, client: str, query: str, qtype: str = "A", answers: str = "-") -> tuple[Any, ...]:
    code = {"A": 1, "AAAA": 28, "TXT": 16, "PTR": 12}[qtype]
    return (f"{ts:.6f}", f"D{random.getrandbits(40):x}", client, random.randrange(49152, 65536), "10.1.0.250", 53,
            "udp", query, code, qtype, "NOERROR", answers)


def test_a_dns_tunnel_is_found_browsing_is_not(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = []
    names = ["www.google.com", "login.microsoftonline.com", "outlook.office365.com", "www.yahoo.co.jp",
             "teams.microsoft.com", "news.yahoo.co.jp"]
    for h in range(1, 31):
        for _ in range(60):
            rows.append(_dns_row(T0 + rng.uniform(0, DAY), f"10.1.0.{h}", rng.choice(names), answers="198.18.0.1"))
        for _ in range(10):  # a video CDN's random-looking server names, on every host
            rows.append(_dns_row(T0 + rng.uniform(0, DAY), f"10.1.0.{h}",
                                 f"rr{rng.randrange(1, 9)}---sn-{rng.randrange(16 ** 6):06x}.googlevideo.com"))
        rows.append(_dns_row(T0 + rng.uniform(0, DAY), f"10.1.0.{h}", f"{h}.0.1.10.in-addr.arpa", "PTR"))
    for k in range(300):  # data out in the names: base32 labels under one domain, from one host
        label = base64.b32encode(rng.randbytes(30)).decode().rstrip("=").lower()
        rows.append(_dns_row(T0 + 3600 + k * 2.0, "10.1.0.8", f"{label[:40]}.{label[40:]}.{k}.c2-tunnel.net"))
    rows.append(_dns_row(T0 - 5 * DAY, "10.1.0.3", "www.c2-tunnel.net"))  # its web site, days before: not the tunnel
    rows.sort(key=lambda r: r[0])
    fs = findings(tmp_path, {"dns.log": zeek_log("dns", DNS_FIELDS, DNS_TYPES, rows)}, [DNS])
    assert fs and fs[0]["rule_title"] == "DNS tunnelling via c2-tunnel.net" and fs[0]["level"] == "high", fs[:1]
    assert fs[0]["first_ts"].timestamp() == pytest.approx(T0 + 3600), fs[0]["first_ts"]
    assert fs[0]["src_ip"] == "10.1.0.8" and fs[0]["evidence"]
    assert not [f for f in fs if "c2-tunnel.net" not in f["rule_title"]], [f["rule_title"] for f in fs]


def pcap_dns_log(pcap: Path) -> str:
    """The DNS answers of a capture (Ethernet, IPv4, UDP) as a Zeek dns.log: the query, its type, its TXT
    answers, the client."""
    data = pcap.read_bytes()
    rows: list[tuple[Any, ...]] = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[14:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 15) * 4:]
        if struct.unpack(">H", udp[:2])[0] != 53:
            continue
        dns = udp[8:]
        query, pos = _dns_name(dns, 12)
        qtype = struct.unpack(">H", dns[pos:pos + 2])[0]
        pos += 4
        answers = []
        for _ in range(struct.unpack(">H", dns[6:8])[0]):
            _, pos = _dns_name(dns, pos)
            rtype, _, _, rlen = struct.unpack(">HHIH", dns[pos:pos + 10])
            rdata = dns[pos + 10:pos + 10 + rlen]
            pos += 10 + rlen
            if rtype == 16:
                text, k = b"", 0
                while k < len(rdata):
                    text, k = text + rdata[k + 1:k + 1 + rdata[k]], k + 1 + rdata[k]
                answers.append(text.decode("latin-1").replace("\\", "\\x5c").replace(",", "\\x2c")
                               .replace("\t", "\\x09"))
        client = ".".join(map(str, ip[16:20]))
        name = {16: "TXT", 1: "A", 12: "PTR", 28: "AAAA"}.get(qtype, str(qtype))
        rows.append((f"{sec}.{usec:06d}", f"D{len(rows)}", client, 53000, ".".join(map(str, ip[12:16])), 53, "udp",
                     query, qtype, name, "NOERROR", ",".join(a for a in answers if a) or "(empty)"))
    return zeek_log("dns", DNS_FIELDS, DNS_TYPES, rows)


def _dns_name(msg: bytes, pos: int) -> tuple[str, int]:
    labels, end = [], None
    while msg[pos]:
        if msg[pos] & 0xC0 == 0xC0:  # a pointer: the rest of the name is elsewhere
            end = end or pos + 2
            pos = ((msg[pos] & 0x3F) << 8) | msg[pos + 1]
            continue
        labels.append(msg[pos + 1:pos + 1 + msg[pos]].decode("latin-1"))
        pos += 1 + msg[pos]
    return ".".join(labels), end or pos + 1


def test_commands_over_dns_txt_in_a_real_capture(tmp_path: Path) -> None:
    if not DNS_TXT_PCAP.is_file():
        pytest.skip(f"the DNS-over-TXT capture is not at {DNS_TXT_PCAP} (shared datasets)")
    fs = findings(tmp_path, {"dns.log": pcap_dns_log(DNS_TXT_PCAP)}, [DNS])
    assert [f["rule_title"] for f in fs] == ["DNS tunnelling via ostrykebs.pl"], fs
    assert fs[0]["src_ip"] == "192.168.100.121" and fs[0]["level"] in ("medium", "high")
    assert "TXT/NULL answers" in fs[0]["description"]


def test_the_simulated_c2_and_ad_upload(tmp_path: Path) -> None:
    from breachscope.ingest.pipeline import ingest
    from breachscope.simulate import SimConfig, run

    run(SimConfig(out=tmp_path / "sim", events=60_000, customers=2000, seed=7, episodes=("beacon", "ad-2020"),
                  jobs=1).validate())
    ingest([str(tmp_path / "sim" / "evidence")], tmp_path / "case", jobs=1)
    with open_case(tmp_path / "case") as c:
        res = run_analytics(CaseContext(c, table_columns(c)), [BEACON, LONG, EXFIL, DNS])
    assert all(r.status == "ran" for r in res.runs), res.runs
    fs = [json.loads(json.dumps(f, default=str)) for f in res.findings.to_pylist()]
    ep = json.loads((tmp_path / "sim" / "truth.json").read_text())["episodes"]
    text = [json.dumps(f).lower() for f in fs]
    beacons = sorted((f for f, t in zip(fs, text, strict=True) if "beacon" in t), key=lambda f: -f["score"])
    assert beacons and ep["beacon"]["c2"]["ip"] in json.dumps(beacons[0])
    assert ep["beacon"]["host"]["ip"] in json.dumps(beacons[0])
    assert any(ep["ad-2020"]["upload"]["ip"] in t for t in text)


def test_without_records_the_analytics_say_so(tmp_path: Path) -> None:
    """Empty inputs are a reason given (skipped), never an empty result passed off as 'nothing found'."""
    dns = zeek_log("dns", DNS_FIELDS, DNS_TYPES, [_dns_row(T0, "10.1.0.1", "www.google.com")])
    conns = zeek_log("conn", CONN_FIELDS, CONN_TYPES, [conn(T0, "10.1.0.1", SITES[0], 443, 500, 9000)])
    for name, text in (("dns.log", dns), ("conn.log", conns)):
        ev = tmp_path / name.split(".")[0]
        ev.mkdir()
        (ev / name).write_text(text)
        run_ingest([ev], tmp_path / f"case-{name}")
        with open_case(tmp_path / f"case-{name}") as c:
            runs = {r.name: r for r in run_analytics(CaseContext(c, table_columns(c)), [BEACON, LONG, EXFIL, DNS]).runs}
        skipped = {n for n, r in runs.items() if r.status == "skipped"}
        if name == "dns.log":
            assert skipped == {"beaconing", "long_connections", "exfiltration"}, runs
            assert "no connection records" in (runs["beaconing"].reason or "")
        else:
            assert skipped == {"dns_tunnelling"} and "no DNS queries" in (runs["dns_tunnelling"].reason or ""), runs

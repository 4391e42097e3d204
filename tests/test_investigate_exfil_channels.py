"""The investigation's exfil_channels detector on Zeek logs written here and ingested: a DNS tunnel (base32
names under one domain, forwarded by the resolver to the domain's name server) and a one-off upload to a
cloud storage bucket are data movements with their bytes and outside address; a weekly backup to cloud
storage and workstations' small uploads to the same service are not. The simulated scenarios are in
test_scenarios_shipped.py; the Spark parity in test_investigate_spark.py."""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any

import pytest

from breachscope.investigate.detectors.exfil_channels import _bits_per_char, _zone_labels
from breachscope.investigate.pipeline import InvestigateRequest, find_incident
from breachscope.model.incident import Incident
from tests.conftest import run_ingest

T0 = 1_738_368_000  # 2025-02-01 00:00:00 UTC
DAY = 86_400
RESOLVER, RESOLVER_2, NAME_SERVER = "10.0.0.10", "10.0.0.11", "203.0.113.53"
TUNNEL_HOST, TUNNEL_ZONE = "10.0.2.40", "t1.metrics-cdn.example.net"
SERVER, BUCKET_IP, BUCKET = "10.0.1.30", "52.219.1.2", "ops-archive.s3.ap-northeast-1.amazonaws.com"
BACKUP, VAULT_IP, VAULT = "10.0.1.20", "52.219.9.9", "backup-vault.s3.ap-northeast-1.amazonaws.com"
S3_SHARED = "198.18.142.130"  # the service's address the workstations' browsers use
SITES = [(f"198.18.{i}.10", f"www.site{i}.example.com") for i in range(12)]
UPLOADED = 1_200_000
TUNNELLED = 60_000  # bytes of data in the names

CONN = (("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
        ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"), ("duration", "interval"),
        ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"))
DNS = (("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
       ("id.resp_p", "port"), ("proto", "enum"), ("query", "string"), ("qtype", "count"), ("qtype_name", "string"),
       ("rcode_name", "string"), ("answers", "vector[string]"))
SSL = (("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
       ("id.resp_p", "port"), ("version", "string"), ("server_name", "string"), ("established", "bool"))


def _log(path: str, fields: tuple[tuple[str, str], ...], rows: list[tuple[Any, ...]]) -> str:
    head = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t" + path
            + "\n#fields\t" + "\t".join(f for f, _ in fields) + "\n#types\t" + "\t".join(t for _, t in fields) + "\n")
    return head + "".join("\t".join(str(v) for v in r) + "\n" for r in sorted(rows, key=lambda r: float(r[0])))


class Logs:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.conn: list[tuple[Any, ...]] = []
        self.dns: list[tuple[Any, ...]] = []
        self.ssl: list[tuple[Any, ...]] = []

    def uid(self) -> str:
        return f"C{self.rng.getrandbits(48):x}"

    def tls(self, ts: float, src: str, dst: str, name: str, up: int, down: int) -> None:
        uid, port = self.uid(), self.rng.randrange(49152, 65536)
        self.conn.append((f"{ts:.6f}", uid, src, port, dst, 443, "tcp", "ssl", "2.5", up, down, "SF"))
        self.ssl.append((f"{ts + 0.01:.6f}", uid, src, port, dst, 443, "TLSv13", name, "T"))

    def query(self, ts: float, src: str, server: str, name: str, qtype: str = "A", answer: str = "-") -> None:
        uid, port = self.uid(), self.rng.randrange(49152, 65536)
        self.conn.append((f"{ts:.6f}", uid, src, port, server, 53, "udp", "dns", "0.05", len(name) + 30, 90, "SF"))
        self.dns.append((f"{ts:.6f}", uid, src, port, server, 53, "udp", name, 16 if qtype == "TXT" else 1, qtype,
                         "NOERROR", answer))

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, fields, rows in (("conn", CONN, self.conn), ("dns", DNS, self.dns), ("ssl", SSL, self.ssl)):
            (folder / f"{name}.log").write_text(_log(name, fields, rows))
        return folder


def evidence(folder: Path, seed: int = 7) -> Path:
    """Fourteen days of a small network: 20 workstations browsing (a few small uploads to S3), a backup
    server's weekly upload to its bucket, one server's one-off upload to a new bucket, a workstation's one-off
    upload through its browser, one host's tunnel."""
    logs = Logs(seed)
    rng = logs.rng
    workstations = [f"10.0.3.{i}" for i in range(10, 30)]
    for day in range(14):
        for ws in workstations:
            for _ in range(6):
                ip, name = rng.choice(SITES)
                t = T0 + day * DAY + rng.uniform(0, DAY)
                logs.query(t - 0.2, ws, RESOLVER, name, answer=ip)
                logs.tls(t, ws, ip, name, rng.randrange(800, 30_000), rng.randrange(5_000, 400_000))
            if rng.random() < 0.2:
                t = T0 + day * DAY + rng.uniform(0, DAY)
                logs.tls(t, ws, S3_SHARED, "s3.ap-northeast-1.amazonaws.com", rng.randrange(20_000, 60_000), 4_000)
        if day % 6 == 0:  # days 0, 6 and 12: the weekly backup set
            logs.tls(T0 + day * DAY + 3 * 3600, BACKUP, VAULT_IP, VAULT, 5_000_000_000 + day, 2_400_000)
    logs.tls(T0 + 10 * DAY + 2 * 3600, SERVER, BUCKET_IP, BUCKET, UPLOADED, 4_900)
    # a user shares a file through a browser: a workstation, which talks to the whole web, once
    logs.tls(T0 + 5 * DAY + 9 * 3600, workstations[5], "52.219.7.7", "docs-share.s3.amazonaws.com", 900_000, 3_000)
    data = bytes(rng.getrandbits(8) for _ in range(TUNNELLED))
    text = base64.b32encode(data).decode().rstrip("=").lower()
    t = T0 + 11 * DAY + 3600.0
    for seq, pos in enumerate(range(0, len(text), 189)):
        chunk = text[pos:pos + 189]
        labels = [chunk[i:i + 63] for i in range(0, len(chunk), 63)]
        name = ".".join([*labels, f"ab{seq:04x}", TUNNEL_ZONE])
        t += rng.uniform(0.15, 0.65)
        resolver = (RESOLVER, RESOLVER_2)[seq % 2]  # the host's two resolvers, in turn
        logs.query(t, TUNNEL_HOST, resolver, name, "TXT", "TXT 6 a0")
        logs.query(t + 0.01, resolver, NAME_SERVER, name, "TXT", "TXT 6 a0")  # forwarded: the name is new
    return logs.write(folder)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("exfil")
    run_ingest([evidence(tmp / "zeek")], tmp / "case")
    return tmp / "case"


@pytest.fixture(scope="module")
def incident(case: Path) -> Incident:
    return find_incident(InvestigateRequest(case))[0]


def test_the_dns_tunnel_is_a_data_movement_to_the_name_server(incident: Incident) -> None:
    moves = [m for m in incident.data_movements if m.kind == "exfiltration" and m.src_ip == TUNNEL_HOST]
    assert len(moves) == 1
    m = moves[0]
    assert m.dst_ip == NAME_SERVER
    assert TUNNELLED <= m.bytes <= 1.005 * TUNNELLED  # the sequence label (ab0001...) is not payload
    assert m.sensors == ("zeek_dns",)
    ext = {e.ip: e for e in incident.external}
    assert ext[NAME_SERVER].role == "exfiltration"
    # the resolvers forward the names: they are not the source of the data
    assert not [m for m in incident.data_movements if m.src_ip in (RESOLVER, RESOLVER_2)]


def test_the_one_off_upload_to_cloud_storage_is_found_with_its_bytes(incident: Incident) -> None:
    moves = [m for m in incident.data_movements if m.kind == "exfiltration" and m.src_ip == SERVER]
    assert [(m.dst_ip, m.bytes) for m in moves] == [(BUCKET_IP, UPLOADED)]
    assert {e.ip: e.role for e in incident.external}[BUCKET_IP] == "exfiltration"


def test_the_weekly_backup_and_the_browsers_uploads_are_not_reported(incident: Incident) -> None:
    reported = {m.src_ip for m in incident.data_movements} | {h for e in incident.external for h in e.internal_hosts}
    assert BACKUP not in reported
    assert not any(ip.startswith("10.0.3.") for ip in reported if ip)
    assert {e.ip for e in incident.external} == {NAME_SERVER, BUCKET_IP}


def test_the_payload_is_measured_without_the_zone_labels() -> None:
    subs = ["mzxw6ytb.ab0001.t1.metrics-cdn", "nbswy3dp.ab0002.t1.metrics-cdn"]
    assert _zone_labels(subs) == ["t1", "metrics-cdn"]
    assert _zone_labels(["abc", "abd"]) == []
    assert _bits_per_char(["deadbeef01"]) == 4
    assert _bits_per_char(["mzxw6ytb.ab0001"]) == 5
    assert _bits_per_char(["aGVsbG8-_x"]) == 6

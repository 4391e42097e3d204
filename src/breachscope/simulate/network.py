"""The simulated company network: hosts, accounts and the internet they talk to.

Sized from --events (workstations and users grow with the volume, servers are fixed). Built
deterministically from the seed, so worker processes rebuild the same network on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from breachscope.simulate import names as N
from breachscope.simulate.rng import rng_for
from breachscope.simulate.text import ip_int

DOMAIN = "CORP"
FQDN = "corp.example.jp"
REALM = "CORP.EXAMPLE.JP"


@dataclass(frozen=True)
class Host:
    name: str  # NetBIOS / short name, upper case for Windows
    ip: str
    role: str  # dc, workstation, server, app, db, file, batch, bi, backup, jump, maint, router, firewall
    os: str = "windows"  # windows, linux, ios, asa

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{FQDN}" if self.os == "windows" else self.name.lower()


@dataclass(frozen=True)
class User:
    sam: str  # sAMAccountName
    display: str  # 山田 太郎
    sid: str
    kind: str  # person, admin, service


@dataclass(frozen=True)
class Site:
    domain: str
    ips: tuple[str, ...]
    weight: float
    service: str = "ssl"  # ssl or http


@dataclass
class Network:
    hosts: dict[str, Host]
    users: list[User]
    workstations: list[Host]
    servers: list[Host]
    owner_of: dict[str, str]  # workstation name -> user sam
    sites: list[Site]
    key: dict[str, str] = field(default_factory=dict)  # role in the story -> host name

    def host(self, role: str) -> Host:
        return self.hosts[self.key[role]]

    @property
    def people(self) -> list[User]:
        return [u for u in self.users if u.kind == "person"]

    @property
    def admins(self) -> list[User]:
        return [u for u in self.users if u.kind == "admin"]

    def by_ip(self) -> dict[str, Host]:
        return {h.ip: h for h in self.hosts.values()}


DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"

#: (name, ip, role, os); story roles are given in KEY_HOSTS.
SERVERS: tuple[tuple[str, str, str, str], ...] = (
    ("DC01", "10.10.0.10", "dc", "windows"), ("DC02", "10.10.0.11", "dc", "windows"),
    ("FS01", "10.30.0.21", "file", "windows"), ("FS02", "10.30.0.22", "file", "windows"),
    ("ORD-AP01", "10.40.2.11", "app", "windows"), ("ORD-AP02", "10.40.2.12", "app", "windows"),
    ("ORD-AP03", "10.40.2.13", "app", "windows"), ("ORD-AP04", "10.40.2.14", "app", "windows"),
    ("ORD-BAT01", "10.40.2.21", "batch", "windows"), ("ord-db01", "10.40.2.30", "db", "linux"),
    ("BI01", "10.50.1.15", "bi", "windows"), ("BKP01", "10.50.1.40", "backup", "windows"),
    ("JMP01", "10.10.5.5", "jump", "windows"), ("ORD-MNT01", "10.40.9.15", "maint", "windows"),
    ("WSUS01", "10.10.0.30", "server", "windows"), ("PRN01", "10.30.0.40", "server", "windows"),
    ("PAY-GW01", "10.60.1.10", "server", "windows"),
)
ROUTERS: tuple[tuple[str, str, str, str], ...] = (
    ("core-rtr01", "10.10.255.1", "router", "ios"), ("core-rtr02", "10.10.255.2", "router", "ios"),
    ("ord-rtr01", "10.40.255.1", "router", "ios"), ("wan-rtr01", "10.10.255.9", "router", "ios"),
    ("fw-edge01", "10.0.0.1", "firewall", "asa"),
)
KEY_HOSTS = {"device_a": "ORD-AP02", "device_b": "ORD-MNT01", "db": "ord-db01", "batch": "ORD-BAT01",
             "bi": "BI01", "backup": "BKP01", "jump": "JMP01", "entry_router": "ord-rtr01",
             "core_router": "core-rtr01", "wan_router": "wan-rtr01", "firewall": "fw-edge01",
             "payment": "PAY-GW01", "fs": "FS01"}
PUBLIC_NAT = "198.51.100.10"  # the company's outbound address (TEST-NET-2)
PAYMENT_VIP = "198.51.100.200"

SITES: tuple[tuple[str, float, str], ...] = (
    ("login.microsoftonline.com", 14, "ssl"), ("outlook.office365.com", 16, "ssl"), ("teams.microsoft.com", 10, "ssl"),
    ("www.google.com", 9, "ssl"), ("www.yahoo.co.jp", 6, "ssl"), ("update.googleapis.com", 3, "ssl"),
    ("ctldl.windowsupdate.com", 2, "http"), ("www.msftconnecttest.com", 2, "http"), ("slack.com", 2, "ssl"),
    ("zoom.us", 3, "ssl"), ("app.box.com", 2, "ssl"), ("login.salesforce.com", 3, "ssl"), ("www.nikkei.com", 2, "ssl"),
    ("www.nhk.or.jp", 1, "ssl"), ("news.yahoo.co.jp", 2, "ssl"), ("www.amazon.co.jp", 1, "ssl"),
    ("s3.ap-northeast-1.amazonaws.com", 2, "ssl"), ("storage.googleapis.com", 1, "ssl"),
    ("edge.microsoft.com", 3, "ssl"), ("ocsp.digicert.com", 2, "http"), ("crl.globalsign.com", 1, "http"),
    ("www.e-gov.go.jp", 1, "ssl"), ("www.jpcert.or.jp", 0.3, "ssl"), ("github.com", 1, "ssl"),
    ("api.github.com", 0.5, "ssl"), ("www.bing.com", 2, "ssl"), ("fonts.gstatic.com", 2, "ssl"),
    ("partner-portal.example.co.jp", 1, "ssl"), ("sso.partner.example.com", 0.5, "ssl"),
    ("cdn.jsdelivr.net", 1, "ssl"), ("www.mlit.go.jp", 0.3, "ssl"), ("weather.example.jp", 0.5, "http"),
)


def _ip_of(name: str, pool: tuple[int, int]) -> str:
    """A stable address for an internet name inside a pool (benchmark or documentation ranges)."""
    import zlib

    v = pool[0] + zlib.crc32(name.encode()) % pool[1]
    return f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"


def _sites() -> list[Site]:
    out = []
    for domain, weight, service in SITES:
        pool = (ip_int("203.0.113.0"), 256) if "partner" in domain else (ip_int("198.18.0.0"), 2**17)
        ips = tuple(_ip_of(f"{domain}#{k}", pool) for k in range(1 + len(domain) % 3))
        out.append(Site(domain, ips, weight, service))
    return out


WORKSTATIONS_PER_SUBNET = 240


def workstation_count(events: int) -> int:
    return int(np.clip(events // 1500, 40, 4000))


def build(seed: int, events: int) -> Network:
    rng = rng_for(seed, "network")
    hosts: dict[str, Host] = {}
    for name, ip, role, os_ in SERVERS + ROUTERS:
        hosts[name] = Host(name, ip, role, os_)
    n_ws = workstation_count(events)
    workstations = []
    for i in range(n_ws):
        subnet, last = divmod(i, WORKSTATIONS_PER_SUBNET)  # .10-.249 of each 10.20.N.0/24: valid host addresses
        h = Host(f"PC{10001 + i}", f"10.20.{subnet}.{last + 10}", "workstation")
        hosts[h.name] = h
        workstations.append(h)
    users: list[User] = []
    seen: set[str] = set()
    rid = 1105
    sur = rng.integers(0, len(N.SURNAMES), n_ws * 2)
    giv = rng.integers(0, len(N.GIVEN_NAMES), n_ws * 2)
    for s, g in zip(sur.tolist(), giv.tolist(), strict=True):
        if len(users) >= n_ws:
            break
        sam = f"{N.GIVEN_NAMES[g][2]}.{N.SURNAMES[s][2]}"
        k = 2
        while sam in seen:
            sam = f"{N.GIVEN_NAMES[g][2]}.{N.SURNAMES[s][2]}{k}"
            k += 1
        seen.add(sam)
        users.append(User(sam, f"{N.SURNAMES[s][0]} {N.GIVEN_NAMES[g][0]}", f"{DOMAIN_SID}-{rid}", "person"))
        rid += 1
    for sam in ("adm_tanaka", "adm_suzuki", "adm_ito", "adm_kato", "netadmin"):
        users.append(User(sam, sam, f"{DOMAIN_SID}-{rid}", "admin"))
        rid += 1
    for sam in ("svc_order", "svc_batch", "svc_backup", "svc_bi", "svc_sql", "svc_wsus", "svc_scan"):
        users.append(User(sam, sam, f"{DOMAIN_SID}-{rid}", "service"))
        rid += 1
    owner_of = {h.name: u.sam for h, u in zip(workstations, users, strict=False)}
    servers = [h for h in hosts.values() if h.role not in ("workstation", "router", "firewall") and h.os == "windows"]
    return Network(hosts, users, workstations, servers, owner_of, _sites(), dict(KEY_HOSTS))

"""The simulated company network: hosts, accounts and the internet they talk to.

Built from the scenario file's network (servers, devices, workstation ranges, accounts) and sized from
--events (workstations and people grow with the volume, servers are fixed). Built deterministically
from the seed, so worker processes rebuild the same network on their own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np

from breachscope.simulate import names as N
from breachscope.simulate.rng import rng_for
from breachscope.simulate.scenario_file import Device, NetworkSpec, Server
from breachscope.simulate.text import ip_int


@dataclass(frozen=True)
class Host:
    name: str  # NetBIOS / short name, upper case for Windows
    ip: str
    role: str  # dc, workstation, server, app, db, file, batch, bi, backup, jump, maint, router, firewall
    os: str = "windows"  # windows, linux, ios, asa
    dns_suffix: str = ""  # the domain's DNS name (Windows hosts are named NAME.suffix)

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.dns_suffix}" if self.os == "windows" else self.name.lower()


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
    key: dict[str, str]  # role in the story -> host name
    spec: NetworkSpec  # the scenario file's network, for its names and addresses

    @property
    def domain(self) -> str:
        return self.spec.domain.netbios

    @property
    def fqdn(self) -> str:
        return self.spec.domain.dns

    @property
    def realm(self) -> str:
        return self.spec.domain.dns.upper()

    @property
    def domain_sid(self) -> str:
        return self.spec.domain.sid

    @property
    def public_nat(self) -> str:
        return self.spec.public_address

    @property
    def stolen_admin(self) -> str:
        return self.spec.accounts.stolen_admin

    @property
    def payment_edge_router(self) -> str:
        return self.spec.payment_edge_router or f"{self.host('payment').name.lower()}-edge"

    @property
    def batch_account(self) -> str:
        """The service account of the nightly batch jobs: the first service account named for batches."""
        services = self.spec.accounts.services
        return next((s for s in services if "batch" in s.lower()), services[0])

    @property
    def network_admin(self) -> str:
        return self.spec.accounts.network_admin

    @property
    def other_admins(self) -> list[str]:
        """The administrators with no part in the story, in the file's order (the daily admin work)."""
        acc = self.spec.accounts
        return [a for a in acc.admins if a not in (acc.stolen_admin, acc.network_admin)]

    def with_role(self, role: str) -> list[Host]:
        return [h for h in self.hosts.values() if h.role == role]

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


def workstation_count(spec: NetworkSpec, events: int) -> int:
    ws = spec.workstations
    return int(np.clip(events // ws.events_per_workstation, ws.min, ws.max))


def build(spec: NetworkSpec, seed: int, events: int) -> Network:
    rng = rng_for(seed, "network")
    suffix = spec.domain.dns
    hosts: dict[str, Host] = {}
    entries: list[Server | Device] = [*spec.servers, *spec.devices]
    for entry in entries:
        hosts[entry.name] = Host(entry.name, entry.address, entry.role, entry.os, suffix)
    ws = spec.workstations
    n_ws = workstation_count(spec, events)
    base = int(ipaddress.IPv4Network(ws.network, strict=False).network_address)
    workstations = []
    for i in range(n_ws):
        subnet, last = divmod(i, ws.per_subnet)  # hosts first_host.. of each /24: valid host addresses
        ip = str(ipaddress.IPv4Address(base + subnet * 256 + ws.first_host + last))
        h = Host(ws.name.replace("{number}", str(ws.first_number + i)), ip, "workstation", "windows", suffix)
        hosts[h.name] = h
        workstations.append(h)
    users: list[User] = []
    seen: set[str] = set()
    rid = spec.accounts.first_rid
    sid = spec.domain.sid
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
        users.append(User(sam, f"{N.SURNAMES[s][0]} {N.GIVEN_NAMES[g][0]}", f"{sid}-{rid}", "person"))
        rid += 1
    for sam in spec.accounts.admins:
        users.append(User(sam, sam, f"{sid}-{rid}", "admin"))
        rid += 1
    for sam in spec.accounts.services:
        users.append(User(sam, sam, f"{sid}-{rid}", "service"))
        rid += 1
    owner_of = {h.name: u.sam for h, u in zip(workstations, users, strict=False)}
    servers = [h for h in hosts.values() if h.role not in ("workstation", "router", "firewall") and h.os == "windows"]
    return Network(hosts, users, workstations, servers, owner_of, _sites(), dict(spec.story_hosts), spec)

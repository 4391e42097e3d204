"""An inside vulnerability scanner (network.noise.scanner; docs/scenarios.md, "Noise"): once a week, at night, a
server of the organization scans the servers, the routers and some workstations: a connection to each port of
its list (Zeek conn: SF where a service answers, REJ where the host resets, S0 where a Windows firewall drops),
SSH and telnet logins with default accounts on the routers (Zeek conn and ssh; the routers'
`%SEC_LOGIN-4-LOGIN_FAILED` from the scanner's address) and a logon with a random account over SMB and RDP on
some Windows servers (their Security 4625). Drawn from (seed, day) alone, so that Zeek, the routers and the
servers, written by different processes, each write their side of the same scan."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.dbengine import engine
from breachscope.simulate.formats import zeek as Z
from breachscope.simulate.network import Network
from breachscope.simulate.noise.common import Hosts, audible
from breachscope.simulate.rng import rng_for
from breachscope.simulate.streams import Chunk
from breachscope.simulate.text import random_b62, strs

PORTS = (21, 22, 23, 25, 53, 80, 88, 110, 135, 139, 389, 443, 445, 1433, 3306, 3389, 5432, 5900, 5985, 8080, 8443)
SF, REJ, S0 = range(3)
STATES = ("SF", "REJ", "S0")
HISTORY = {SF: "ShADadFf", REJ: "Sr", S0: "S"}
SERVICE = {21: "ftp", 22: "ssh", 25: "smtp", 53: "dns", 80: "http", 88: "krb_tcp", 389: "ldap_tcp", 443: "ssl",
           445: "smb", 1433: "-", 3306: "mysql", 3389: "rdp", 5432: "-", 5985: "http", 8080: "http", 8443: "ssl"}
ROUTER_USERS = ("admin", "cisco", "root")  # the default accounts the scanner tries on a device
WS_PER_SCAN = 12  # workstations scanned each week (a different sample each time), at most


@dataclass(frozen=True)
class Scan:
    """The probes of a day, in time order (host indexes are Hosts'); `login` marks the login attempts on the
    routers (user: index in ROUTER_USERS), `fail4625` the probes that leave a 4625 on the target."""

    ts: np.ndarray
    dst: np.ndarray
    dport: np.ndarray
    sport: np.ndarray
    state: np.ndarray
    seconds: np.ndarray
    up: np.ndarray
    down: np.ndarray
    uid: pa.Array
    login: np.ndarray
    user: np.ndarray
    fail4625: np.ndarray
    account: pa.Array  # the random account name of a 4625 probe

    def take(self, sel: np.ndarray) -> Scan:
        rows = pa.array(sel, pa.int64())
        return Scan(self.ts[sel], self.dst[sel], self.dport[sel], self.sport[sel], self.state[sel], self.seconds[sel],
                    self.up[sel], self.down[sel], self.uid.take(rows), self.login[sel], self.user[sel],
                    self.fail4625[sel], self.account.take(rows))


class ScanPlan:
    """The scanner, its weekly night and each scan; the same in every process (built from the seed)."""

    def __init__(self, net: Network, seed: int, h: Hosts, silence: dict[str, list[tuple[int, int]]]) -> None:
        rng = rng_for(seed, "noise", "scanner")
        self.seed, self.h, self.silence = seed, h, silence
        story = set(net.key.values())
        # a server of no other part (role `server`), else the update server (patch management scans too)
        spare = [s for s in net.servers if s.role == "server" and s.name not in story]
        host = spare[0] if spare else net.host("wsus")
        self.src = h.index[host.name]
        self.ip, self.name = host.ip, host.name
        self.weekday = int(rng.integers(0, 7))
        self.hour = int(rng.integers(1, 4))
        db_port = engine(net.spec.database).port
        self.servers = np.array([i for i, x in enumerate(h.list) if x.role not in ("workstation", "router", "firewall")
                                 and x.name != host.name], dtype=np.int64)  # the Linux hosts too
        self.routers = np.array([h.index[r.name] for r in net.with_role("router")], dtype=np.int64)
        self.dcs = set(h.dcs.tolist())
        self.open: dict[int, set[int]] = {}
        for i, x in enumerate(h.list):
            if x.os == "ios":
                self.open[i] = {22, 23}
            elif x.os == "linux":
                self.open[i] = {22} | ({db_port} if x.role == "db" else set())
            elif x.role == "workstation":
                self.open[i] = {135, 139, 445}
            else:
                self.open[i] = {135, 139, 445, 3389, 5985} | {"dc": {53, 88, 389}, "app": {80, 443, 8443},
                                                               "bi": {1433, 80}}.get(x.role, set())
        self._day = lru_cache(maxsize=8)(self._draw)

    def between(self, lo: int, hi: int) -> Scan:
        """The probes in [lo, hi) (none to or from a host cut off the network)."""
        lo = max(lo, clock.day_start(0))
        first, last = max(0, clock.day_index(lo) - 1), min(clock.DAYS - 1, clock.day_index(hi - 1))
        days = [self._day(d) for d in range(first, last + 1)]
        cols = {f: [getattr(d, f) for d in days] for f in Scan.__dataclass_fields__}
        s = Scan(**{f: (pa.concat_arrays(v) if isinstance(v[0], pa.Array) else np.concatenate(v))
                    for f, v in cols.items()})
        keep = (s.ts >= lo) & (s.ts < hi) & audible(s.ts, s.dst, self.h, self.silence) & audible(
            s.ts, np.full(len(s.ts), self.src), self.h, self.silence)
        return s.take(np.flatnonzero(keep))

    def _draw(self, day: int) -> Scan:
        base = clock.day_start(day)
        if clock.day_of(base).weekday() != self.weekday:
            return _empty()
        rng = rng_for(self.seed, "noise", "scanner", day)
        h = self.h
        ws = h.ws[np.sort(rng.choice(len(h.ws), min(WS_PER_SCAN, len(h.ws)), replace=False))]
        targets = np.r_[self.servers, self.routers, ws]
        t0 = clock.on_day(day, self.hour) + int(rng.integers(0, 20 * clock.MINUTE))
        rows: list[tuple[int, int, int, int, int, int]] = []  # (ts, dst, port, state, login, user)
        t = t0
        for dst in targets.tolist():
            opened = self.open.get(dst, set())
            windows = h.list[dst].os == "windows"
            for port in rng.permutation(PORTS).tolist():
                t += int(rng.integers(20_000, 400_000))
                st = SF if port in opened else (S0 if windows else REJ)
                rows.append((t, dst, port, st, 0, 0))
            if h.list[dst].os == "ios":  # default accounts over SSH, then telnet
                for port in (22, 23):
                    for u in range(len(ROUTER_USERS)):
                        t += int(rng.integers(1_500_000, 4_000_000))
                        rows.append((t, dst, port, SF, 1, u))
            t += int(rng.integers(1 * clock.US, 6 * clock.US))
        a = np.array(rows, dtype=np.int64)
        n = len(a)
        ts, dsts, dports, state, login, user = (a[:, j] for j in range(6))
        sf = state == SF
        seconds = np.where(sf, np.where(login == 1, rng.uniform(2.0, 6.0, n), rng.lognormal(np.log(0.08), 0.8, n)),
                           np.where(state == REJ, rng.uniform(0.0002, 0.0012, n), 0.0))
        up = np.where(sf, np.where(login == 1, rng.integers(900, 1800, n), rng.integers(0, 320, n)), 0)
        down = np.where(sf, np.where(login == 1, rng.integers(1200, 2600, n), rng.integers(0, 2200, n)), 0)
        # SMB and RDP on the Windows member servers: a logon with a random account (does a guest get in?); on
        # about half of them a week
        member = np.isin(dsts, self.servers) & ~np.isin(dsts, list(self.dcs))
        windows = np.array([h.list[d].os == "windows" for d in dsts.tolist()], dtype=bool)
        chosen = rng.random(len(h.list)) < 0.5
        fail = sf & member & windows & np.isin(dports, [445, 3389]) & chosen[dsts]
        letters = np.frombuffer(string.ascii_lowercase.encode(), dtype=np.uint8)
        names = letters[rng.integers(0, 26, (n, 8))]
        account = pa.array([bytes(r).decode() for r in names])
        return Scan(ts, dsts, dports, rng.integers(40_000, 61_000, n), state, seconds, up.astype(np.int64),
                    down.astype(np.int64), random_b62(rng, n, 17, b"C"), login, user, fail, account)


def _empty() -> Scan:
    z = np.zeros(0, dtype=np.int64)
    return Scan(z, z, z, z, z, np.zeros(0), z, z, pa.array([], pa.string()), z, z, np.zeros(0, dtype=bool),
                pa.array([], pa.string()))


def zeek_chunks(plan: ScanPlan, s: Scan, host_key: pa.Array, into: dict[str, list[Chunk]]) -> None:
    """Zeek's conn of every probe and ssh of the SSH logins (`into`: output key -> chunks to merge)."""
    if not len(s.ts):
        return
    h = plan.h
    ip = np.array(h.ip.to_pylist(), dtype=object)
    sf, rej = s.state == SF, s.state == REJ
    svc = np.array([SERVICE.get(p, "-") for p in s.dport.tolist()], dtype=object)
    service = np.where(sf, np.where(s.login == 1, np.where(s.dport == 22, "ssh", "-"), svc), "-")
    opk = np.where(sf, s.up // 1200 + 4, np.where(rej, 1, 2))
    rpk = np.where(sf, s.down // 1400 + 3, np.where(rej, 1, 0))
    dst_ip = pa.array(ip[s.dst].tolist())
    ids = {"uid": s.uid, "id.orig_h": plan.ip, "id.orig_p": strs(s.sport), "id.resp_h": dst_ip,
           "id.resp_p": strs(s.dport)}
    into.setdefault("zeek.conn", []).append(Chunk(s.ts, Z.lines("conn", s.ts, {
        **ids, "proto": "tcp", "service": pa.array(service.tolist()), "duration": Z.interval(s.seconds),
        "orig_bytes": strs(s.up), "resp_bytes": strs(s.down),
        "conn_state": pa.array([STATES[x] for x in s.state.tolist()]), "local_orig": "T", "local_resp": "T",
        "missed_bytes": "0", "history": pa.array([HISTORY[x] for x in s.state.tolist()]), "orig_pkts": strs(opk),
        "orig_ip_bytes": strs(s.up + opk * 52), "resp_pkts": strs(rpk), "resp_ip_bytes": strs(s.down + rpk * 40),
        "tunnel_parents": "(empty)"})))
    x = np.flatnonzero((s.login == 1) & (s.dport == 22))
    if len(x):
        sel = pa.array(x)
        t = s.ts[x] + 90_000
        into.setdefault("zeek.ssh", []).append(Chunk(t, Z.lines("ssh", t, {
            **{k: v.take(sel) if isinstance(v, pa.Array) else v for k, v in ids.items()},
            "version": "2", "auth_success": "F", "auth_attempts": "1", "client": "SSH-2.0-OpenSSH_8.7",
            "server": "SSH-2.0-Cisco-1.25", "cipher_alg": "aes256-ctr", "mac_alg": "hmac-sha2-256",
            "compression_alg": "none", "kex_alg": "diffie-hellman-group14-sha1", "host_key_alg": "ssh-rsa",
            "host_key": host_key.take(pa.array(s.dst[x]))})))


LOGIN_FAILED_AFTER = 1_600_000  # µs after the connection: the router logs the failed login
FAILURE_AFTER = 250_000  # µs after the connection: the server logs the 4625

"""Zeek's side of the organization's administration (network.noise in the scenario file): the administrators'
RDP and SSH sessions of noise/sessions.py (conn with rdp or ssh, the same sessions the routers and the Linux
hosts log), and DCE/RPC to the domain controllers: workstations and servers asking the endpoint mapper, then
lsarpc, samr or netlogon on the controller's dynamic port, and the controllers replicating with each other
(drsuapi DRSBind, DRSGetNCChanges, DRSCrackNames, DRSUnbind with their machine accounts: normal, not DCSync).
Every rdp, ssh and dce_rpc record has its conn record (same uid)."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.formats import zeek as Z
from breachscope.simulate.network import Network
from breachscope.simulate.noise.common import Hosts, choose, ports
from breachscope.simulate.noise.sessions import RDP, SSH_BACKUP, SSH_FAILED, SSH_LINUX, SSH_ROUTER, Plan, Sessions
from breachscope.simulate.rng import rng_for
from breachscope.simulate.streams import Chunk
from breachscope.simulate.text import pick, random_b62, strs, where

DCE_PER_RECORD = 0.02  # DCE/RPC exchanges per noise record of the Zeek group
DRSUAPI_PORT, LSA_PORT, NETLOGON_PORT = 49667, 49668, 49670  # the controllers' dynamic RPC ports
#: (endpoint, port, operations, weight, from): from 0 = workstations and servers, 1 = another controller
EXCHANGES = (
    ("lsarpc", LSA_PORT, ("LsarOpenPolicy2", "LsarLookupNames3", "LsarClose"), 30, 0),
    ("lsarpc", LSA_PORT, ("LsarOpenPolicy2", "LsarLookupSids3", "LsarClose"), 15, 0),
    ("samr", LSA_PORT, ("SamrConnect5", "SamrOpenDomain", "SamrLookupNamesInDomain", "SamrOpenUser",
                        "SamrQueryInformationUser2", "SamrCloseHandle"), 15, 0),
    ("netlogon", NETLOGON_PORT, ("NetrServerReqChallenge", "NetrServerAuthenticate3", "NetrLogonGetDomainInfo"),
     20, 0),
    ("drsuapi", DRSUAPI_PORT, ("DRSBind", "DRSGetNCChanges", "DRSGetNCChanges", "DRSUnbind"), 15, 1),
    ("drsuapi", DRSUAPI_PORT, ("DRSBind", "DRSCrackNames", "DRSUnbind"), 5, 1),
)
CLIENT = {"windows": "SSH-2.0-OpenSSH_for_Windows_8.1", "linux": "SSH-2.0-OpenSSH_8.7"}


class AdminTraffic:
    def __init__(self, net: Network, h: Hosts, seed: int, events: int) -> None:
        noise = net.spec.noise
        self.h = h
        self.seed = seed
        self.plan = Plan(net, seed, events)
        kinds = ([RDP, SSH_ROUTER] if noise.admin_sessions else []) + (
            [SSH_LINUX, SSH_BACKUP, SSH_FAILED] if noise.linux_syslog else [])  # the Linux hosts' sessions
        self.kinds = np.array(kinds, dtype=np.int64)
        self.dce = noise.admin_sessions
        ws_and_servers = np.r_[h.ws, h.servers]
        self.clients = ws_and_servers[~np.isin(ws_and_servers, h.dcs)]
        self.host_key = pa.array([host_key(x.name, x.os) for x in h.list])
        self.client_ver = pa.array([CLIENT.get(x.os, CLIENT["linux"]) for x in h.list])
        self.server_ver = pa.array(["SSH-2.0-Cisco-1.25" if x.os == "ios" else "SSH-2.0-OpenSSH_8.7"
                                    for x in h.list])
        self.is_ios = np.array([x.os == "ios" for x in h.list])

    def chunks(self, n_noise: int, sl: clock.Slice) -> dict[str, list[Chunk]]:
        out: dict[str, list[Chunk]] = {}
        s = self.plan.between(sl.start, sl.end)
        s = s.take(np.flatnonzero(np.isin(s.kind, self.kinds) & (s.start >= sl.start) & (s.start < sl.end)))
        if len(s.kind):
            self._sessions(s, out)
        if self.dce and len(self.h.dcs):
            rng = rng_for(self.seed, "noise", "zeek dce_rpc", sl.index)
            self._dce(rng, int(rng.poisson(n_noise * DCE_PER_RECORD)), sl, out)
        return out

    def ept_map(self, sl: clock.Slice, ts: np.ndarray, ids: dict[str, pa.Array]) -> Chunk:
        """The endpoint mapper's record of the workstations' RPC connections to port 135 (the Zeek group's
        own conn records)."""
        rng = rng_for(self.seed, "noise", "zeek epmapper", sl.index)
        t = ts + 400
        return Chunk(t, Z.lines("dce_rpc", t, {**ids, "rtt": Z.interval(rng.lognormal(np.log(0.0006), 0.7, len(t))),
                                             "named_pipe": "135", "endpoint": "epmapper", "operation": "ept_map"}))

    def _sessions(self, s: Sessions, out: dict[str, list[Chunk]]) -> None:
        h = self.h
        fail = s.kind == SSH_FAILED
        rdp = s.kind == RDP
        src_ip, dst_ip = pick(h.ip, s.src), pick(h.ip, s.dst)
        dur = (s.end - s.start) / clock.US
        ids = {"uid": s.uid, "id.orig_h": src_ip, "id.orig_p": strs(s.sport), "id.resp_h": dst_ip,
               "id.resp_p": where(rdp, "3389", "22")}
        out.setdefault("zeek.conn", []).append(Chunk(s.start, _conn(s.start, ids, where(rdp, "rdp", "ssh"), dur,
                                                                    s.up, s.down)))
        r = np.flatnonzero(rdp)
        if len(r):
            t = s.start[r] + 48_000
            out.setdefault("zeek.rdp", []).append(Chunk(t, Z.lines("rdp", t, {
                **{k: v.take(pa.array(r)) if isinstance(v, pa.Array) else v for k, v in ids.items()},
                "cookie": pick(self.plan.accounts, s.account[r]), "result": "encrypted",
                "security_protocol": "HYBRID", "cert_count": "0"})))
        x = np.flatnonzero(~rdp)
        if len(x):
            t = s.start[x] + 90_000
            ios = self.is_ios[s.dst[x]]
            sel = pa.array(x)
            out.setdefault("zeek.ssh", []).append(Chunk(t, Z.lines("ssh", t, {
                **{k: v.take(sel) if isinstance(v, pa.Array) else v for k, v in ids.items()},
                "version": "2", "auth_success": where(fail[x], "F", "T"),
                "auth_attempts": "1",  # a mistyped password, then the client gives up (the host logs one failure)
                "client": pick(self.client_ver, s.src[x]), "server": pick(self.server_ver, s.dst[x]),
                "cipher_alg": where(ios, "aes256-ctr", "chacha20-poly1305@openssh.com"),
                "mac_alg": where(ios, "hmac-sha2-256", "umac-64-etm@openssh.com"), "compression_alg": "none",
                "kex_alg": where(ios, "diffie-hellman-group14-sha1", "curve25519-sha256"),
                "host_key_alg": where(ios, "ssh-rsa", "ssh-ed25519"), "host_key": pick(self.host_key, s.dst[x])})))

    def _dce(self, rng: np.random.Generator, n: int, sl: clock.Slice, out: dict[str, list[Chunk]]) -> None:
        h = self.h
        weights = [e[3] for e in EXCHANGES]
        if len(h.dcs) < 2:  # one controller replicates with nobody
            weights = [0 if e[4] else w for e, w in zip(EXCHANGES, weights, strict=True)]
        ex = choose(rng, n, weights)
        t = np.sort(sl.start + (rng.random(n) * (sl.end - sl.start)).astype(np.int64))
        dc = h.dcs[rng.integers(0, len(h.dcs), n)]
        repl = np.array([e[4] for e in EXCHANGES])[ex] == 1
        other = h.dcs[(np.searchsorted(h.dcs, dc) + rng.integers(1, max(2, len(h.dcs)), n)) % len(h.dcs)]
        src = np.where(repl, other, self.clients[rng.integers(0, len(self.clients), n)])
        src_ip, dst_ip = pick(h.ip, src), pick(h.ip, dc)
        # the endpoint mapper first (port 135), then the interface on the port it named
        for step in (0, 1):
            uid = random_b62(rng, n, 17, b"C")
            sport = ports(rng, n)
            port = np.where(step == 0, 135, np.array([e[1] for e in EXCHANGES])[ex])
            at = t + step * 30_000
            dur = np.where(step == 0, 0.012, rng.lognormal(np.log(np.where(repl, 1.5, 0.05)), 0.6))
            up = np.where(step == 0, 1_204, (rng.lognormal(np.log(np.where(repl, 9_000, 1_500)), 0.5))).astype(int)
            down = np.where(step == 0, 436, (rng.lognormal(np.log(np.where(repl, 120_000, 900)), 1.0))).astype(int)
            ids = {"uid": uid, "id.orig_h": src_ip, "id.orig_p": strs(sport), "id.resp_h": dst_ip,
                   "id.resp_p": strs(port)}
            out.setdefault("zeek.conn", []).append(Chunk(at, _conn(at, ids, "dce_rpc", dur, up, down)))
            ops = [(0, "epmapper", "ept_map")] if step == 0 else []
            rows, times, endpoint, operation = [], [], [], []
            for i in range(n):
                calls = ops or [(k, EXCHANGES[ex[i]][0], op) for k, op in enumerate(EXCHANGES[ex[i]][2])]
                for k, e, op in calls:
                    rows.append(i)
                    times.append(int(at[i]) + 400 + k * 3_000)
                    endpoint.append(e)
                    operation.append(op)
            if not rows:
                continue
            sel, ts = pa.array(rows, pa.int64()), np.array(times, dtype=np.int64)
            out.setdefault("zeek.dce_rpc", []).append(Chunk(ts, Z.lines("dce_rpc", ts, {
                **{k: v.take(sel) for k, v in ids.items()},
                "rtt": Z.interval(rng.lognormal(np.log(0.0006), 0.7, len(rows))),
                "named_pipe": strs(port[rows]), "endpoint": pa.array(endpoint), "operation": pa.array(operation)})))


def _conn(ts: np.ndarray, ids: dict[str, pa.Array | str], service: pa.Array | str, dur: np.ndarray, up: np.ndarray,
          down: np.ndarray) -> pa.Array:
    opk = up // 1200 + 3
    rpk = down // 1400 + 2
    return Z.lines("conn", ts, {
        **ids, "proto": "tcp", "service": service, "duration": Z.interval(dur), "orig_bytes": strs(up),
        "resp_bytes": strs(down), "conn_state": "SF", "local_orig": "T", "local_resp": "T", "missed_bytes": "0",
        "history": "ShADadFf", "orig_pkts": strs(opk), "orig_ip_bytes": strs(up + opk * 52), "resp_pkts": strs(rpk),
        "resp_ip_bytes": strs(down + rpk * 52), "tunnel_parents": "(empty)"})


def host_key(name: str, os: str) -> str:
    """The host key's MD5 as Zeek prints it (as steps/ssh.py for the Linux hosts)."""
    digest = hashlib.md5(f"{name}#{'rsa' if os == 'ios' else 'ed25519'}".encode()).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def merge(out: dict[str, Chunk], extra: dict[str, list[Chunk]]) -> dict[str, Chunk]:
    """The slice's chunks with the extra records merged in time order."""
    for key, chunks in extra.items():
        parts = ([out[key]] if key in out else []) + chunks
        ts = np.concatenate([c.ts for c in parts])
        order = np.argsort(ts, kind="stable")
        flat = [c.lines.combine_chunks() if isinstance(c.lines, pa.ChunkedArray) else c.lines for c in parts]
        lines = pa.concat_arrays(flat) if len(parts) > 1 else parts[0].lines
        out[key] = Chunk(ts[order], lines.take(pa.array(order)))
    return out

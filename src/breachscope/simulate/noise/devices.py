"""Network devices: Cisco IOS routers (syslog), the Cisco ASA internet firewall (syslog) and the
NetFlow export of the core router (internet-bound traffic, before address translation)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.formats import flows as F
from breachscope.simulate.formats import syslog as S
from breachscope.simulate.noise import partner_ftp as ftp
from breachscope.simulate.noise.common import Hosts, RecordNumbers, audible, choose, ports, zipf_index
from breachscope.simulate.noise.scanner import LOGIN_FAILED_AFTER, ROUTER_USERS, ScanPlan
from breachscope.simulate.noise.sessions import SSH_ROUTER, Plan
from breachscope.simulate.noise.zeek_admin import merge
from breachscope.simulate.streams import Chunk, Context, Injected, Output
from breachscope.simulate.text import fill, ipv4, join, lpad, pick, strs, where

CIPHER = "using crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256'"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _date(day: int) -> str:
    return (clock.FIRST_DAY + timedelta(days=day)).isoformat()


def _daily(prefix: str, suffix: str) -> Callable[[int], str]:
    """day index -> `prefix<date>suffix`, the file of that day."""
    return lambda d: f"{prefix}{_date(d)}{suffix}"


#: (template, weight); {admin}, {src}, {sport}, {port}, {n}, {if}, {at} are filled per line.
ROUTER_LINES = (
    ("SEC-6-IPACCESSLOGP|list MGMT-IN denied tcp {src}({sport}) -> {mgmt}({port}), 1 packet", 34),
    ("SEC-6-IPACCESSLOGRL|access-list logging rate-limited or missed {n} packets", 3),
    ("LINK-3-UPDOWN|Interface GigabitEthernet1/0/{if}, changed state to down", 3),
    ("LINK-3-UPDOWN|Interface GigabitEthernet1/0/{if}, changed state to up", 3),
    ("LINEPROTO-5-UPDOWN|Line protocol on Interface GigabitEthernet1/0/{if}, changed state to down", 3),
    ("LINEPROTO-5-UPDOWN|Line protocol on Interface GigabitEthernet1/0/{if}, changed state to up", 3),
    ("SSH-5-SSH2_SESSION|SSH2 Session request from {jump} (tty = 0) " + CIPHER + " Succeeded", 7),
    ("SSH-5-SSH2_USERAUTH|User '{admin}' authentication for SSH2 Session from {jump} (tty = 0) " + CIPHER +
     " Succeeded", 7),
    ("SEC_LOGIN-5-LOGIN_SUCCESS|Login Success [user: {admin}] [Source: {jump}] [localport: 22] at {at}", 7),
    ("SSH-5-SSH2_CLOSE|SSH2 Session from {jump} (tty = 0) for user '{admin}' " + CIPHER + " closed", 7),
    ("SYS-6-LOGOUT|User {admin} has exited tty session 2({jump})", 7),
    ("SNMP-3-AUTHFAIL|Authentication failure for SNMP request from host {src}", 3),
    ("SEC_LOGIN-4-LOGIN_FAILED|Login failed [user: admin] [Source: {src}] [localport: 22] "
     "[Reason: Login Authentication Failed] at {at}", 2),
    ("OSPF-5-ADJCHG|Process 1, Nbr {nbr} on GigabitEthernet0/0/1 from FULL to DOWN, Neighbor Down: "
     "Dead timer expired", 0.5),
    ("OSPF-5-ADJCHG|Process 1, Nbr {nbr} on GigabitEthernet0/0/1 from LOADING to FULL, Loading Done", 0.5),
)

LOGIN_FAILED = "SEC_LOGIN-4-LOGIN_FAILED"
#: the scanner's login attempts (network.noise.scanner), a template beyond ROUTER_LINES: never drawn
SCAN_LOGIN = ("Login failed [user: {user}] [Source: {scanner}] [localport: {lport}] [Reason: Login Authentication "
              "Failed] at {at}")
SESSION_MNEMONICS = ("SSH-5-SSH2_SESSION", "SSH-5-SSH2_USERAUTH", "SEC_LOGIN-5-LOGIN_SUCCESS", "SSH-5-SSH2_CLOSE",
                     "SYS-6-LOGOUT")
#: a session's lines: µs after its start (>= 0) or after its end (< 0: -µs)
SESSION_LINES = (("SSH-5-SSH2_SESSION", 180_000), ("SSH-5-SSH2_USERAUTH", 820_000),
                 ("SEC_LOGIN-5-LOGIN_SUCCESS", 840_000), ("SSH-5-SSH2_CLOSE", -1), ("SYS-6-LOGOUT", -6_000))


class Routers:
    name = "routers"
    share = 0.01
    profile = "server"

    def __init__(self, ctx: Context) -> None:
        _cfg, net = ctx.cfg, ctx.net
        self.silence = ctx.silence
        self.h = Hosts(net)
        routers = net.with_role("router")
        self.routers = [r.name for r in routers]
        self.mgmt = pa.array([r.ip for r in routers])
        self.names = pa.array(self.routers)
        # Cisco `service sequence-numbers`: each device numbers its messages
        self.seq = RecordNumbers(1000 + np.arange(len(routers)) * 7919)
        self.jump = net.host("jump").ip
        self.neighbor = routers[1 % len(routers)].ip  # the core's OSPF neighbour
        others = net.other_admins
        self.admins = pa.array([net.network_admin, others[-1] if others else net.network_admin])
        mnem, texts = zip(*(t.split("|") for t, _ in ROUTER_LINES), strict=True)
        self.mnemonic = pa.array(list(mnem))
        self.texts = list(texts)
        # with network.noise.admin_sessions the SSH logins are the sessions Zeek sees (noise/sessions.py), not
        # lines drawn one by one
        self.plan = Plan(net, ctx.cfg.seed, ctx.cfg.events) if net.spec.noise.admin_sessions else None
        self.weights = [0.0 if self.plan and t.startswith(SESSION_MNEMONICS) else w for t, w in ROUTER_LINES]
        self.dev_of = {int(i): d for d, i in enumerate(self.h.of(*self.routers))}
        # with network.noise.scanner the failed logins are the scanner's attempts Zeek sees, not drawn lines
        self.scan = ScanPlan(net, ctx.cfg.seed, self.h, ctx.silence) if net.spec.noise.scanner else None
        if self.scan is not None:
            self.weights = [0.0 if t.startswith(LOGIN_FAILED) else w for t, w in zip(
                (t for t, _ in ROUTER_LINES), self.weights, strict=True)]
            self.texts.append(SCAN_LOGIN)
            self.mnemonic = pa.array([*self.mnemonic.to_pylist(), LOGIN_FAILED])

    def expect(self, pending: dict[str, list[Injected]]) -> None:
        for key, recs in pending.items():
            times = [r.ts for r in recs if r.host]
            if times:
                self.seq.expect(self.routers.index(key.removeprefix("ios.")), times)

    def adopt(self, record: Injected) -> Injected:
        """Story lines carry sequence number 0; they take their number in the device's sequence when written."""
        if not record.host:
            return record
        seq = self.seq.take(self.routers.index(record.host))
        old = f" {record.host} 0: {record.host}: "
        return replace(record, text=record.text.replace(old, f" {record.host} {seq}: {record.host}: ", 1))

    def outputs(self) -> list[Output]:
        return [Output(f"ios.{r}", _daily(f"network/{r}/", ".log")) for r in self.routers]

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        dev = zipf_index(rng, len(times), len(self.routers), 0.7)
        keep = audible(times, self.h.of(*self.routers)[dev], self.h, self.silence)
        times, dev = times[keep], dev[keep]
        n = len(times)
        kind = choose(rng, n, self.weights)
        session = np.zeros(n, dtype=np.int64) - 1  # the admin (index in the plan's accounts) of a session line
        if self.plan is not None:
            times, dev, kind, session = self._sessions(times, dev, kind, session, sl)
            n = len(times)
        scan: dict[str, pa.Array] = {}
        if self.scan is not None:  # session: the attempt's user and port (user + 10 for telnet)
            times, dev, kind, session = self._scan_logins(times, dev, kind, session, sl)
            n = len(times)
            attempt = np.where(kind == len(ROUTER_LINES), session, 0)
            scan = {"user": pick(pa.array(ROUTER_USERS), attempt % 10), "lport": where(attempt >= 10, "23", "22"),
                    "scanner": pa.array([self.scan.ip] * n)}
        src = where(rng.random(n) < 0.7, pick(self.h.ip, self.h.ws[rng.integers(0, len(self.h.ws), n)]),
                    ipv4(rng.integers(0xC6120000, 0xC6140000, n)))
        text = fill(self.texts, kind, {
            "src": src, "sport": strs(ports(rng, n)), "mgmt": pick(self.mgmt, dev),
            "port": pick(pa.array(["22", "23", "161", "443"]), choose(rng, n, [5, 2, 2, 1])),
            "n": strs(rng.integers(1, 60, n)), "if": strs(rng.integers(1, 48, n)),
            "admin": self._admins(pick(self.admins, (rng.random(n) < 0.3).astype(int)), session),
            "at": clock.cisco_login_at(times),
        } | {"jump": pa.array([self.jump] * n), "nbr": pa.array([self.neighbor] * n)} | scan)
        seq = self.seq.number(dev, times, sl.end)
        lines = S.ios_lines(times, pick(self.names, dev), seq, pick(self.mnemonic, kind), text,
                            rng.integers(500, 4000, n))
        out = {}
        for i, r in enumerate(self.routers):
            sel = np.flatnonzero(dev == i)
            out[f"ios.{r}"] = Chunk(times[sel], lines.take(pa.array(sel)))
        return out

    def _admins(self, drawn: pa.Array, session: np.ndarray) -> pa.Array:
        if self.plan is None:
            return drawn
        return where(session >= 0, pick(self.plan.accounts, np.maximum(session, 0) % len(self.plan.accounts)), drawn)

    def _scan_logins(self, times: np.ndarray, dev: np.ndarray, kind: np.ndarray, session: np.ndarray,
                     sl: clock.Slice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The scanner's failed logins on the routers in the slice, merged into the drawn lines (time order)."""
        assert self.scan is not None
        s = self.scan.between(sl.start - LOGIN_FAILED_AFTER, sl.end - LOGIN_FAILED_AFTER)
        s = s.take(np.flatnonzero(s.login == 1))
        t = s.ts + LOGIN_FAILED_AFTER
        d = np.array([self.dev_of[int(x)] for x in s.dst], dtype=np.int64)
        attempt = s.user + 10 * (s.dport == 23)
        t, dv, kd, ss = (np.concatenate(c) for c in ((times, t), (dev, d), (kind, np.full(len(t), len(ROUTER_LINES))),
                                                     (session, attempt)))
        keep = audible(t, self.h.of(*self.routers)[dv], self.h, self.silence)
        sel = np.flatnonzero(keep)
        order = sel[np.argsort(t[sel], kind="stable")]
        return t[order], dv[order], kd[order], ss[order]

    def _sessions(self, times: np.ndarray, dev: np.ndarray, kind: np.ndarray, session: np.ndarray,
                  sl: clock.Slice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The slice's lines of the administrators' SSH sessions, merged into the drawn lines (time order)."""
        assert self.plan is not None
        s = self.plan.between(sl.start, sl.end)
        s = s.take(np.flatnonzero(s.kind == SSH_ROUTER))
        d = np.array([self.dev_of[int(x)] for x in s.dst], dtype=np.int64)
        parts = [(times, dev, kind, session)]
        for mnemonic, at in SESSION_LINES:
            k = next(i for i, (t, _) in enumerate(ROUTER_LINES) if t.startswith(mnemonic))
            t = (s.start if at >= 0 else s.end) + abs(at)
            parts.append((t, d, np.full(len(t), k), s.account))
        t, dv, kd, ss = (np.concatenate([p[j] for p in parts]) for j in range(4))
        keep = (t >= sl.start) & (t < sl.end) & audible(t, self.h.of(*self.routers)[dv], self.h, self.silence)
        sel = np.flatnonzero(keep)
        order = sel[np.argsort(t[sel], kind="stable")]
        return t[order], dv[order], kd[order], ss[order]


# ---------------------------------------------------------------------------------------------------------
ASA_BUILT = re.compile(r"%ASA-6-30201[35]: Built \w+ \w+ connection (\d+) ")
ASA_TEARDOWN = re.compile(r"%ASA-6-30201[46]: Teardown \w+ connection (\d+) ")


class Firewall:
    """The edge firewall (Cisco ASA): connection build/teardown of outbound traffic, denied inbound probes,
    translations."""

    name = "firewall"
    share = 0.08
    profile = "office"

    def __init__(self, ctx: Context) -> None:
        _cfg, net = ctx.cfg, ctx.net
        self.silence = ctx.silence
        self.h = Hosts(net)
        sites = net.sites
        self.site_ip = pa.array([s.ips[0] for s in sites])
        self.site_w = np.array([s.weight for s in sites])
        self.conn_ids = RecordNumbers(np.array([180_000_000]))  # one counter: the firewall's connection ids
        self.renamed: dict[str, str] = {}  # a story connection's id -> the id the firewall gave it
        self.fw, self.nat = net.host("firewall").name, net.public_nat
        # network.noise.partner_ftp: the uploads to partners (noise/partner_ftp.py) pass the firewall too
        self.ftp = (ftp.FtpPlan(net, ctx.cfg.seed, ctx.cfg.scenario_spec, self.h.index, ctx.silence)
                    if net.spec.noise.partner_ftp else None)
        self.ftp_ids: dict[str, int] = {}  # an upload connection's uid -> its id, from its build to its teardown

    def outputs(self) -> list[Output]:
        fw = self.fw
        return [Output(f"asa.{fw}", lambda d: f"firewall/{fw}/{_date(d)}.log")]

    def expect(self, pending: dict[str, list[Injected]]) -> None:
        times = [r.ts for recs in pending.values() for r in recs if ASA_BUILT.search(r.text)]
        if times:
            self.conn_ids.expect(0, times)

    def adopt(self, record: Injected) -> Injected:
        """A story connection takes the firewall's next connection id when built; its teardown follows."""
        m = ASA_BUILT.search(record.text)
        if m:
            new = self.renamed[m[1]] = str(self.conn_ids.take(0))
        else:
            m = ASA_TEARDOWN.search(record.text)
            if not m or m[1] not in self.renamed:
                return record
            new = self.renamed.pop(m[1])
        return replace(record, text=record.text.replace(f" connection {m[1]} ", f" connection {new} ", 1))

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        n = len(times)
        kind = choose(rng, n, [40, 8, 10, 4])  # tcp pair, udp pair, deny, translation
        ts_parts: list[np.ndarray] = []
        line_parts: list[pa.Array] = []
        # a pair (build, teardown) takes every other row of its kind: connections spread over the whole slice
        built_at = {k: times[np.flatnonzero(kind == k)[::2][:np.count_nonzero(kind == k) // 2]] for k in (0, 1)}
        all_built = np.concatenate([built_at[0], built_at[1]])
        uploads = [] if self.ftp is None else self.ftp.between(sl.start, sl.end).conns
        ftp_built = [c for c in uploads if c.outside and sl.start <= c.ts < sl.end]
        if self.ftp is not None:
            all_built = np.concatenate([all_built, np.array([c.ts for c in ftp_built], dtype=np.int64)])
        order = np.argsort(all_built, kind="stable")  # the firewall numbers connections as it builds them
        all_ids = np.empty(len(all_built), dtype=np.int64)
        all_ids[order] = self.conn_ids.number(np.zeros(len(order), dtype=np.int64), all_built[order], sl.end)
        n_drawn = len(built_at[0]) + len(built_at[1])
        id_of = {0: all_ids[:len(built_at[0])], 1: all_ids[len(built_at[0]):n_drawn]}
        for k, proto in ((0, "TCP"), (1, "UDP")):
            t, ids = built_at[k], id_of[k]
            m = len(t)
            if not m:
                continue
            inside = pick(self.h.ip, self.h.ws[zipf_index(rng, m, len(self.h.ws), 0.5)])
            dst = pick(self.site_ip, choose(rng, m, self.site_w))
            dport = np.where(rng.random(m) < 0.92, 443, 80) if proto == "TCP" else np.full(m, 443)  # UDP: QUIC
            sport, nport = ports(rng, m), ports(rng, m)
            dur = np.minimum((rng.lognormal(np.log(6), 1.4, m) * clock.US).astype(np.int64), sl.end - 1 - t)
            dur = np.maximum(dur, 0)
            out_side = join("outside:", dst, "/", strs(dport))
            in_side = join("inside:", inside, "/", strs(sport))
            built = join(f"Built outbound {proto} connection ", strs(ids), " for ", out_side, " (", dst, "/",
                         strs(dport), ") to ", in_side, f" ({self.nat}/", strs(nport), ")")
            secs = dur // clock.US
            dtext = join(strs(secs // 3600), ":", lpad(strs(secs // 60 % 60), 2), ":", lpad(strs(secs % 60), 2))
            nbytes = strs((rng.lognormal(np.log(9000), 1.8, m)).astype(np.int64))
            tail = " TCP FINs from inside" if proto == "TCP" else ""
            torn = join(f"Teardown {proto} connection ", strs(ids), " for ", out_side, " to ", in_side, " duration ",
                        dtext, " bytes ", nbytes, tail)
            code_b, code_t = ("6-302013", "6-302014") if proto == "TCP" else ("6-302015", "6-302016")
            ts_parts += [t, t + dur]
            line_parts += [S.asa_lines(t, self.fw, code_b, built), S.asa_lines(t + dur, self.fw, code_t, torn)]
        idx = np.flatnonzero(kind == 2)
        if len(idx):
            t = times[idx]
            m = len(idx)
            scanner = ipv4(rng.integers(0xC6120000, 0xC6140000, m))
            dport = pick(pa.array(["23", "22", "3389", "445", "8080", "5900", "1433"]),
                         choose(rng, m, [4, 3, 3, 2, 2, 1, 1]))
            text = join("Deny tcp src outside:", scanner, "/", strs(ports(rng, m)), f" dst outside:{self.nat}/",
                        dport, ' by access-group "OUTSIDE_IN" [0x0, 0x0]')
            ts_parts.append(t)
            line_parts.append(S.asa_lines(t, self.fw, "4-106023", text))
        idx = np.flatnonzero(kind == 3)
        if len(idx):
            t = times[idx]
            m = len(idx)
            inside = pick(self.h.ip, self.h.ws[zipf_index(rng, m, len(self.h.ws), 0.5)])
            text = join("Built dynamic TCP translation from inside:", inside, "/", strs(ports(rng, m)),
                        f" to outside:{self.nat}/", strs(ports(rng, m)))
            ts_parts.append(t)
            line_parts.append(S.asa_lines(t, self.fw, "6-305011", text))
        if self.ftp is not None:
            rows = self._uploads(ftp_built, all_ids[n_drawn:], uploads, sl)
            if rows:
                c = ftp.asa_chunk(self.fw, rows)
                ts_parts.append(c.ts)
                line_parts.append(c.lines)
        if not ts_parts:
            return {}
        ts = np.concatenate(ts_parts)
        order = np.argsort(ts, kind="stable")
        return {f"asa.{self.fw}": Chunk(ts[order], pa.chunked_array(line_parts).take(pa.array(order)))}

    def _uploads(self, built: list[ftp.Conn], ids: np.ndarray, uploads: list[ftp.Conn],
                 sl: clock.Slice) -> list[tuple[int, str, str]]:
        """The build and teardown lines of the partner uploads' connections in the slice: a connection keeps the
        id it was built with until its teardown (which may fall in a later slice)."""
        rows = []
        for c, cid in zip(built, ids.tolist(), strict=True):
            self.ftp_ids[c.uid] = cid
            rows.append((c.ts, "6-302013", ftp.asa_built(c, cid, self.nat)))
        for c in uploads:
            if c.outside and sl.start <= c.end < sl.end and c.uid in self.ftp_ids:
                rows.append((c.end, "6-302014", ftp.asa_teardown(c, self.ftp_ids.pop(c.uid))))
        return rows


# ---------------------------------------------------------------------------------------------------------
class Flows:
    """NetFlow of the core router towards the internet edge: one record per direction of a connection."""

    name = "flows"
    share = 0.06
    profile = "office"

    def __init__(self, ctx: Context) -> None:
        cfg, net = ctx.cfg, ctx.net
        self.silence = ctx.silence
        self.h = Hosts(net)
        sites = net.sites
        self.site_ip = pa.array([s.ips[0] for s in sites])
        self.site_w = np.array([s.weight for s in sites])
        # the payment platform's edge router exports too when the DDoS episode is simulated
        self.core = net.host("core_router").name
        self.payment_vip = net.spec.payment_address
        self.exporters = [self.core] + ([net.payment_edge_router] if "ddos" in cfg.episodes else [])
        self.ftp = (ftp.FtpPlan(net, cfg.seed, cfg.scenario_spec, self.h.index, ctx.silence)
                    if net.spec.noise.partner_ftp else None)  # the uploads to partners (network.noise)

    def outputs(self) -> list[Output]:
        return [Output(f"flow.{r}", _daily(f"flows/{r}/flows-", ".csv"), header=lambda d: F.HEADER)
                for r in self.exporters]

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        m = max(1, len(times) // 2)
        t = times[::2][:m]  # one row of two: the connections spread over the whole slice (each writes 2 records)
        m = len(t)
        inside = pick(self.h.ip, self.h.ws[zipf_index(rng, m, len(self.h.ws), 0.5)])
        dst = pick(self.site_ip, choose(rng, m, self.site_w))
        udp = rng.random(m) < 0.12
        proto = np.where(udp, 17, 6)
        dport = np.where(udp, 443, np.where(rng.random(m) < 0.92, 443, 80))  # QUIC or HTTPS/HTTP
        sport = ports(rng, m)
        dur = np.minimum((rng.lognormal(np.log(4), 1.5, m) * clock.US).astype(np.int64), sl.end - 1 - t).clip(0)
        up = (rng.lognormal(np.log(1800), 1.3, m)).astype(np.int64) + 120
        down = (rng.lognormal(np.log(25000), 1.9, m)).astype(np.int64) + 120
        up_p = np.maximum(1, up // 900)
        down_p = np.maximum(1, down // 1300)
        flags = np.where(udp, 0, 27)
        a = F.lines(t, t + dur, inside, dst, sport, dport, proto, up, up_p, flags, "3", "1")
        b = F.lines(t + 300, t + dur, dst, inside, dport, sport, proto, down, down_p, flags, "1", "3")
        ts = np.concatenate([t, t + 300])
        order = np.argsort(ts, kind="stable")
        out = {f"flow.{self.core}": Chunk(ts[order], pa.chunked_array([a, b]).take(pa.array(order)))}
        if len(self.exporters) > 1:  # card payments from the internet to the payment VIP
            k = max(1, len(times) // 10)
            tp = np.sort(rng.choice(times, k, replace=False))
            client = ipv4(rng.integers(0xC6120000, 0xC6140000, k))
            cport = ports(rng, k)
            dur = np.minimum((rng.lognormal(np.log(1.5), 0.8, k) * clock.US).astype(np.int64), sl.end - 1 - tp).clip(0)
            up, down = rng.integers(1500, 6000, k), rng.integers(4000, 12000, k)
            vip = self.payment_vip
            p1 = F.lines(tp, tp + dur, client, vip, cport, np.full(k, 443), np.full(k, 6), up, up // 900 + 2,
                         np.full(k, 27), "1", "2")
            p2 = F.lines(tp + 200, tp + dur, vip, client, np.full(k, 443), cport, np.full(k, 6), down,
                         down // 1300 + 2, np.full(k, 27), "2", "1")
            ts = np.concatenate([tp, tp + 200])
            order = np.argsort(ts, kind="stable")
            out[f"flow.{self.exporters[-1]}"] = Chunk(ts[order], pa.chunked_array([p1, p2]).take(pa.array(order)))
        if self.ftp is not None:
            uploads = ftp.flow_chunk(self.ftp.between(sl.start, sl.end), sl)
            if uploads is not None:
                out = merge(out, {f"flow.{self.core}": [uploads]})
        return out

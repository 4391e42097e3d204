"""Windows Security and Sysmon events of the domain controllers, servers and workstations.

Three groups (DC Security, member Security, Sysmon); each writes one file per host role and day.
Field layouts follow the events Windows writes (EventData in schema order); value distributions
are documented in docs/simulator.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.simulate import clock
from breachscope.simulate.formats import winlog as W
from breachscope.simulate.network import Network
from breachscope.simulate.noise.common import Hosts, Options, RecordNumbers, audible, choose, ports, zipf_index
from breachscope.simulate.noise.scanner import FAILURE_AFTER, Scan, ScanPlan
from breachscope.simulate.noise.sessions import RDP, Plan
from breachscope.simulate.rng import rng_for
from breachscope.simulate.streams import Chunk, Context, Injected, Output
from breachscope.simulate.text import (
    Col,
    fill,
    join,
    json_escape,
    json_vocab,
    lpad,
    pick,
    random_guid,
    random_hex,
    strs,
    where,
)

RECORD_PLACEHOLDER = '"record_id":0,'
PRIVS = ("SeSecurityPrivilege\\r\\n\\t\\t\\tSeBackupPrivilege\\r\\n\\t\\t\\tSeRestorePrivilege\\r\\n\\t\\t\\t"
         "SeTakeOwnershipPrivilege\\r\\n\\t\\t\\tSeDebugPrivilege\\r\\n\\t\\t\\tSeSystemEnvironmentPrivilege\\r\\n"
         "\\t\\t\\tSeLoadDriverPrivilege\\r\\n\\t\\t\\tSeImpersonatePrivilege\\r\\n\\t\\t\\tSeDelegateSessionUserImpersonatePrivilege")
SYSTEM_PRIVS = ("SeAssignPrimaryTokenPrivilege\\r\\n\\t\\t\\tSeTcbPrivilege\\r\\n\\t\\t\\tSeSecurityPrivilege\\r\\n"
                "\\t\\t\\tSeTakeOwnershipPrivilege\\r\\n\\t\\t\\tSeLoadDriverPrivilege\\r\\n\\t\\t\\tSeBackupPrivilege"
                "\\r\\n\\t\\t\\tSeRestorePrivilege\\r\\n\\t\\t\\tSeDebugPrivilege\\r\\n\\t\\t\\tSeAuditPrivilege\\r\\n"
                "\\t\\t\\tSeSystemEnvironmentPrivilege\\r\\n\\t\\t\\tSeImpersonatePrivilege\\r\\n\\t\\t\\t"
                "SeDelegateSessionUserImpersonatePrivilege")
SHARE_ACCESS = "".join(f"{code}\\r\\n\\t\\t\\t\\t" for code in ("%%1538", "%%1541", "%%4416", "%%4419", "%%4423"))
DS_REPLICATION = "{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}"
DS_REPLICATION_ALL = "{1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}"
DOMAIN_OBJECT = "{19195a5b-6da0-11d0-afd3-00c04fd930c9}"
DOMAIN_GUID = "{5d2c3b80-86f1-4f5e-9b0a-3c1e6d7a9f10}"


def _date_path(prefix: str) -> Callable[[int], str]:
    return lambda d: f"{prefix}-{(clock.FIRST_DAY + timedelta(days=d)).isoformat()}.ndjson"


class Emitter:
    """Per-host event record numbers and process ids; turns EventData columns into Winlogbeat lines."""

    def __init__(self, hosts: Hosts, seed: int, channel: str) -> None:
        rng = rng_for(seed, "windows-hosts", channel)
        self.hosts = hosts
        self.numbers = RecordNumbers(rng.integers(50_000, 5_000_000, len(hosts.list)))
        pids = rng.integers(500, 1200, len(hosts.list)) // 4 * 4
        self.fragment = pa.array([W.host_fragment(h.fqdn, p) for h, p in zip(hosts.list, pids.tolist(), strict=True)])

    def expect(self, pending: dict[str, list[Injected]]) -> None:
        """The story's events of each host, so that the noise numbers leave room for them."""
        times: dict[int, list[int]] = {}
        for recs in pending.values():
            for r in recs:
                if r.host and RECORD_PLACEHOLDER in r.text:
                    times.setdefault(self.hosts.index[r.host], []).append(r.ts)
        for host, ts in times.items():
            self.numbers.expect(host, ts)

    def adopt(self, record: Injected) -> Injected:
        """Story events carry `"record_id":0`; they get the number their host's log gives them when written."""
        if not record.host or RECORD_PLACEHOLDER not in record.text:
            return record
        rid = self.numbers.take(self.hosts.index[record.host])
        return replace(record, text=record.text.replace(RECORD_PLACEHOLDER, f'"record_id":{rid},', 1))

    def lines(self, rng: np.random.Generator, ts: np.ndarray, host: np.ndarray, event_id: int,
              data: Sequence[W.Field], record_id: np.ndarray, sysmon: bool = False, failure: bool = False
              ) -> pa.Array:
        tid = strs(rng.integers(100, 12000, len(ts)) // 4 * 4)
        return W.lines(ts, event_id, sysmon, pick(self.fragment, host), record_id, tid, data, failure)


@dataclass
class Parts:
    """Events of several ids of one slice, merged back into the slice's order (`pos`: their rows in it)."""

    ts: list[np.ndarray]
    lines: list[pa.Array]
    pos: list[np.ndarray]

    def add(self, ts: np.ndarray, lines: pa.Array, pos: np.ndarray) -> None:
        if len(ts):
            self.ts.append(ts)
            self.lines.append(lines)
            self.pos.append(pos)

    def chunk(self) -> Chunk:
        if not self.ts:
            return Chunk(np.zeros(0, dtype=np.int64), pa.array([], pa.string()))
        order = np.argsort(np.concatenate(self.pos), kind="stable")  # the rows were drawn in time order
        return Chunk(np.concatenate(self.ts)[order], pa.chunked_array(self.lines).take(pa.array(order)))


def new_parts() -> Parts:
    return Parts([], [], [])


def logon_id(rng: np.random.Generator, n: int) -> pa.Array:
    return join("0x", random_hex(rng, n, 7))


class Accounts:
    """Vocabularies of the domain's accounts (JSON-escaped)."""

    def __init__(self, net: Network, hosts: Hosts) -> None:
        people = net.people
        self.domain, self.realm, self.domain_sid = net.domain, net.realm, net.domain_sid
        self.user = json_vocab([u.sam for u in people])
        self.user_sid = pa.array([u.sid for u in people])
        self.user_upn = pa.array([f"{u.sam}@{net.realm}" for u in people])
        self.admins = json_vocab([u.sam for u in net.admins])
        self.admin_sid = pa.array([u.sid for u in net.admins])
        self.machine = json_vocab([f"{h.name}$" for h in hosts.list])
        self.machine_sid = pa.array([f"{net.domain_sid}-{20000 + i}" for i in range(len(hosts.list))])
        self.ws_user = np.arange(len(hosts.ws)) % len(people)  # a workstation's owner


def _sel(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


def _logon_ids(values: np.ndarray) -> pa.Array:
    return pa.array([f"0x{v:x}" for v in values.tolist()])


# ---------------------------------------------------------------------------------------------------------
class DcSecurity:
    """Security log of the domain controllers: Kerberos, NTLM validation, network logons, replication."""

    name = "win_dc"
    share = 0.10
    profile = "office"
    MIX = ((4769, 35), (4624, 25), (4634, 20), (4768, 10), (4776, 4), (4672, 3), (4625, 2), (4662, 1))

    def __init__(self, ctx: Context) -> None:
        cfg, net = ctx.cfg, ctx.net
        self.silence = ctx.silence
        self.h = Hosts(net)
        self.a = Accounts(net, self.h)
        self.emit = Emitter(self.h, cfg.seed, "dc-security")
        self.spn = json_vocab(service_names(net))

    def outputs(self) -> list[Output]:
        return [Output("win.dc.security", _date_path("windows/dc/security"))]

    def expect(self, pending: dict[str, list[Injected]]) -> None:
        self.emit.expect(pending)

    def adopt(self, record: Injected) -> Injected:
        return self.emit.adopt(record)

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        n = len(times)
        ev = np.array([c for c, _ in self.MIX])[choose(rng, n, [w for _, w in self.MIX])]
        dc = self.h.dcs[rng.integers(0, len(self.h.dcs), n)]
        ws_pos = zipf_index(rng, n, len(self.h.ws), 0.5)
        client = self.h.ws[ws_pos]
        user = self.a.ws_user[ws_pos]
        rec = self.emit.numbers.number(dc, times, sl.end)
        parts = new_parts()
        a, h = self.a, self.h
        for code, _ in self.MIX:
            idx = _sel(ev == code)
            k = len(idx)
            if not k:
                continue
            t, host, cl, us = times[idx], dc[idx], client[idx], user[idx]
            ip4 = pick(h.ip, cl)
            ipv6 = join("::ffff:", ip4)
            data: list[W.Field]
            if code == 4769:
                svc = rng.integers(0, len(self.spn), k)
                rc4 = rng.random(k) < 0.01
                data = [("TargetUserName", pick(a.user_upn, us)), ("TargetDomainName", a.realm),
                        ("ServiceName", pick(self.spn, svc)),
                        ("ServiceSid", join(f"{a.domain_sid}-", strs(3000 + svc))),
                        ("TicketOptions", "0x40810000"), ("TicketEncryptionType", where(rc4, "0x17", "0x12")),
                        ("IpAddress", ipv6), ("IpPort", strs(ports(rng, k))), ("Status", "0x0"),
                        ("LogonGuid", random_guid(rng, k)), ("TransmittedServices", "-")]
            elif code == 4768:
                fail = rng.random(k) < 0.03
                data = [("TargetUserName", pick(a.user, us)), ("TargetDomainName", a.domain),
                        ("TargetSid", pick(a.user_sid, us)), ("ServiceName", "krbtgt"),
                        ("ServiceSid", f"{a.domain_sid}-502"), ("TicketOptions", "0x40810010"),
                        ("Status", where(fail, "0x18", "0x0")),
                        ("TicketEncryptionType", where(fail, "0xffffffff", "0x12")),
                        ("PreAuthType", where(fail, "-", "2")), ("IpAddress", ipv6), ("IpPort", strs(ports(rng, k))),
                        ("CertIssuerName", ""), ("CertSerialNumber", ""), ("CertThumbprint", "")]
            elif code == 4624:
                data = _network_logon(rng, k, pick(a.user, us), pick(a.user_sid, us), ip4, pick(h.name, cl),
                                      domain=a.domain)
            elif code == 4634:
                data = [("TargetUserSid", pick(a.user_sid, us)), ("TargetUserName", pick(a.user, us)),
                        ("TargetDomainName", a.domain), ("TargetLogonId", logon_id(rng, k)), ("LogonType", "3")]
            elif code == 4776:
                data = [("PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"), ("TargetUserName", pick(a.user, us)),
                        ("Workstation", pick(h.name, cl)), ("Status", "0x0")]
            elif code == 4672:
                adm = rng.integers(0, len(net_admins(a)), k)
                data = [("SubjectUserSid", pick(a.admin_sid, adm)), ("SubjectUserName", pick(a.admins, adm)),
                        ("SubjectDomainName", a.domain), ("SubjectLogonId", logon_id(rng, k)), ("PrivilegeList", PRIVS)]
            elif code == 4625:
                data = _failed_logon(rng, k, pick(a.user, us), ip4, pick(h.name, cl), a.domain)
            else:  # 4662: the other DC replicating (what DCSync imitates)
                other = np.where(host == h.dcs[0], h.dcs[1], h.dcs[0])
                data = _replication(rng, k, pick(a.machine, other), pick(a.machine_sid, other), a.domain)
            parts.add(t, self.emit.lines(rng, t, host, code, data, rec[idx], failure=code == 4625), idx)
        return {"win.dc.security": parts.chunk()}


def service_names(net: Network) -> list[str]:
    """Services the workstations ask tickets for: file servers, a domain controller, application servers,
    BI, WSUS, the SQL service account, krbtgt, the print server."""
    files, dcs, apps = net.with_role("file"), net.with_role("dc"), net.with_role("app")
    services = net.spec.accounts.services
    sql = next((s for s in services if "sql" in s), services[0])
    return [*(f"{h.name}$" for h in (*files[:2], dcs[0], *apps[:2], net.host("bi"), net.host("wsus"))), sql,
            "krbtgt", f"{net.host('printer').name}$"]


def net_admins(a: Accounts) -> pa.Array:
    return a.admins


def _network_logon(rng: np.random.Generator, k: int, user: Col, sid: Col, ip: Col, ws: Col,
                   ntlm: np.ndarray | None = None, *, domain: str) -> list[W.Field]:
    ntlm = rng.random(k) < 0.06 if ntlm is None else ntlm
    return [("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"),
            ("SubjectLogonId", "0x0"), ("TargetUserSid", sid), ("TargetUserName", user), ("TargetDomainName", domain),
            ("TargetLogonId", logon_id(rng, k)), ("LogonType", "3"),
            ("LogonProcessName", where(ntlm, "NtLmSsp ", "Kerberos")),
            ("AuthenticationPackageName", where(ntlm, "NTLM", "Kerberos")), ("WorkstationName", where(ntlm, ws, "-")),
            ("LogonGuid", where(ntlm, "{00000000-0000-0000-0000-000000000000}", random_guid(rng, k))),
            ("TransmittedServices", "-"), ("LmPackageName", where(ntlm, "NTLM V2", "-")),
            ("KeyLength", where(ntlm, "128", "0")), ("ProcessId", "0x0"), ("ProcessName", "-"), ("IpAddress", ip),
            ("IpPort", strs(ports(rng, k))), ("ImpersonationLevel", "%%1833"), ("RestrictedAdminMode", "-"),
            ("TargetOutboundUserName", "-"), ("TargetOutboundDomainName", "-"), ("VirtualAccount", "%%1843"),
            ("TargetLinkedLogonId", "0x0"), ("ElevatedToken", "%%1842")]


def _failed_logon(rng: np.random.Generator, k: int, user: Col, ip: Col, ws: Col, domain: str) -> list[W.Field]:
    locked = rng.random(k) < 0.05
    return [("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"),
            ("SubjectLogonId", "0x0"), ("TargetUserSid", "S-1-0-0"), ("TargetUserName", user),
            ("TargetDomainName", domain), ("Status", where(locked, "0xc0000234", "0xc000006d")),
            ("FailureReason", where(locked, "%%2307", "%%2313")), ("SubStatus", where(locked, "0x0", "0xc000006a")),
            ("LogonType", "3"), ("LogonProcessName", "NtLmSsp "), ("AuthenticationPackageName", "NTLM"),
            ("WorkstationName", ws), ("TransmittedServices", "-"), ("LmPackageName", "-"), ("KeyLength", "0"),
            ("ProcessId", "0x0"), ("ProcessName", "-"), ("IpAddress", ip), ("IpPort", strs(ports(rng, k)))]


def _replication(rng: np.random.Generator, k: int, account: Col, sid: Col, domain: str,
                 guid: str = DS_REPLICATION_ALL) -> list[W.Field]:
    props = f"%%7688\\r\\n\\t\\t{guid}\\r\\n\\t{DOMAIN_OBJECT}\\r\\n"
    return [("SubjectUserSid", sid), ("SubjectUserName", account), ("SubjectDomainName", domain),
            ("SubjectLogonId", logon_id(rng, k)), ("ObjectServer", "DS"), ("ObjectType", f"%{DOMAIN_OBJECT}"),
            ("ObjectName", f"%{DOMAIN_GUID}"), ("OperationType", "Object Access"), ("HandleId", "0x0"),
            ("AccessList", "%%7688\\r\\n\\t\\t\\t\\t"), ("AccessMask", "0x100"), ("Properties", props),
            ("AdditionalInfo", "-"), ("AdditionalInfo2", "")]


# ---------------------------------------------------------------------------------------------------------
#: member Security events: (role, event id, logon type, weight)
MEMBER_MIX = (
    ("ws", 4624, "2", 3), ("ws", 4624, "7", 6), ("ws", 4624, "11", 1), ("ws", 4624, "3", 6), ("ws", 4624, "5", 9),
    ("ws", 4634, "3", 14), ("ws", 4647, "", 2), ("ws", 4672, "", 9), ("ws", 4625, "3", 1), ("ws", 4648, "", 2),
    ("srv", 4624, "3", 12), ("srv", 4624, "5", 4), ("srv", 4624, "10", 0.5), ("srv", 4634, "3", 12),
    ("srv", 4672, "", 5), ("srv", 4688, "", 6), ("srv", 5140, "", 2), ("srv", 5145, "", 4), ("srv", 4625, "3", 0.5),
)
RDP_LOGON = ("srv", 4624, "10")
#: the member servers' events of the noise settings (network.noise), written for the sessions and scans of
#: noise/sessions.py and noise/scanner.py, never drawn: the RDP sessions' logoff (4634 type 10 and, when the user
#: signs out, 4647 before it) and the scanner's failed logons
EXTRA_MIX = (("srv", 4634, "10", 0), ("srv", 4647, "", 0), ("srv", 4625, "3", 0))
RDP_LOGOFF, RDP_SIGNOUT, SCAN_FAILURE = range(len(MEMBER_MIX), len(MEMBER_MIX) + len(EXTRA_MIX))
SIGNOUT_SHARE = 85  # sessions in 100 whose user signs out (4647); the others are logged off when they end
#: image|command line|parent: services start from services.exe, the rest from the service host that runs them
#: (WAS, DcomLaunch, Schedule), a console host from the console program
SERVER_PROCS = json_vocab([
    "C:\\Windows\\System32\\svchost.exe|C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"
    "|C:\\Windows\\System32\\services.exe",
    "C:\\Windows\\System32\\conhost.exe|\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"
    "|C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\inetsrv\\w3wp.exe|c:\\windows\\system32\\inetsrv\\w3wp.exe -ap \"OrderApp\" -v \"v4.0\""
    "|C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe|C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding"
    "|C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\taskhostw.exe|taskhostw.exe|C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\gpupdate.exe|gpupdate.exe /target:computer|C:\\Windows\\System32\\svchost.exe",
    "C:\\Program Files\\Windows Defender\\MpCmdRun.exe|\"C:\\Program Files\\Windows Defender\\MpCmdRun.exe\" "
    "-SignatureUpdate -ScheduleJob|C:\\Windows\\System32\\svchost.exe",
])


class MemberSecurity:
    """Security log of servers and workstations (one file per role and day)."""

    name = "win_members"
    share = 0.16
    profile = "office"

    def __init__(self, ctx: Context) -> None:
        cfg, net = ctx.cfg, ctx.net
        self.silence = ctx.silence
        self.h = Hosts(net)
        self.a = Accounts(net, self.h)
        jump = net.host("jump")  # administrators' remote logons come from the jump host
        self.jump_ip, self.jump_name = jump.ip, jump.name
        self.emit = Emitter(self.h, cfg.seed, "member-security")
        # the domain controllers' Security log is DcSecurity's: one log per host, numbered once
        self.srv = np.array([i for i in self.h.servers if i not in self.h.dcs])
        # with network.noise.admin_sessions the RDP logons (type 10) on the servers are the administrators'
        # sessions Zeek sees (noise/sessions.py), not drawn one by one for any user
        self.plan = Plan(net, cfg.seed, cfg.events) if net.spec.noise.admin_sessions else None
        self.weights = [0.0 if self.plan and m[:3] == RDP_LOGON else m[3] for m in MEMBER_MIX]
        self.mix = MEMBER_MIX + EXTRA_MIX
        self.scan = ScanPlan(net, cfg.seed, self.h, ctx.silence) if net.spec.noise.scanner else None
        if self.plan is not None:
            sid = {u.sam: u.sid for u in net.users}
            names = self.plan.accounts.to_pylist()
            self.plan_user = json_vocab(names)
            self.plan_sid = pa.array([sid.get(n, "S-1-0-0") for n in names])

    def outputs(self) -> list[Output]:
        return [Output("win.servers.security", _date_path("windows/servers/security")),
                Output("win.workstations.security", _date_path("windows/workstations/security"))]

    def expect(self, pending: dict[str, list[Injected]]) -> None:
        self.emit.expect(pending)

    def adopt(self, record: Injected) -> Injected:
        return self.emit.adopt(record)

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        n = len(times)
        kind = choose(rng, n, self.weights)
        h, a = self.h, self.a
        ws_pos = zipf_index(rng, n, len(h.ws), 0.3)
        srv = self.srv[zipf_index(rng, n, len(self.srv), 0.8)]
        files = h.files[rng.integers(0, len(h.files), n)]
        role_ws = np.array([m[0] == "ws" for m in MEMBER_MIX])[kind]
        share_ev = np.isin(np.array([m[1] for m in MEMBER_MIX])[kind], [5140, 5145])
        host_any = np.where(role_ws, h.ws[ws_pos], np.where(share_ev, files, srv))
        keep = audible(times, host_any, h, self.silence)
        times, kind, ws_pos, srv, files = times[keep], kind[keep], ws_pos[keep], srv[keep], files[keep]
        host_any, admin = host_any[keep], np.zeros(len(times), dtype=np.int64) - 1
        ref = np.zeros(len(times), dtype=np.int64) - 1  # a session's logon id, a probe's row in `scan`
        cols: tuple[np.ndarray, ...] = (times, kind, ws_pos, srv, files, host_any, admin, ref)
        if self.plan is not None:
            cols = self._merge(cols, self._rdp_logons(sl))
        scan = None
        if self.scan is not None:
            scan, extra = self._scan_failures(sl)
            cols = self._merge(cols, extra)
        times, kind, ws_pos, srv, files, host_any, admin, ref = cols
        rec = self.emit.numbers.number(host_any, times, sl.end)
        out = {"ws": new_parts(), "srv": new_parts()}
        for j, (role, code, ltype, _) in enumerate(self.mix):
            idx = _sel(kind == j)
            k = len(idx)
            if not k:
                continue
            t = times[idx]
            wp = ws_pos[idx]
            us = a.ws_user[wp]
            user, sid = pick(a.user, us), pick(a.user_sid, us)
            session = j in (RDP_LOGOFF, RDP_SIGNOUT) or (self.plan is not None and (role, code, ltype) == RDP_LOGON)
            if session:
                user, sid = pick(self.plan_user, admin[idx]), pick(self.plan_sid, admin[idx])
            host = h.ws[wp] if role == "ws" else files[idx] if code in (5140, 5145) else srv[idx]
            if j >= len(MEMBER_MIX):
                data = self._noise_data(j, user, sid, ref[idx], scan)
            else:
                client_ip = pick(h.ip, h.ws[wp])
                data = self._data(rng, code, ltype, k, host, user, sid, client_ip, pick(h.name, h.ws[wp]))
            if session:  # the session's logon id, on its logon and logoff alike
                data = [(f, _logon_ids(ref[idx]) if f == "TargetLogonId" else v) for f, v in data]
            out[role].add(t, self.emit.lines(rng, t, host, code, data, rec[idx], failure=code == 4625), idx)
        return {"win.workstations.security": out["ws"].chunk(), "win.servers.security": out["srv"].chunk()}

    def _merge(self, cols: tuple[np.ndarray, ...], rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                            np.ndarray]) -> tuple[np.ndarray, ...]:
        """Rows (times, kind, host, admin, ref) of a server's own events merged into the drawn rows (time order);
        cols: times, kind, ws_pos, srv, files, host, admin, ref."""
        t, kind, host, admin, ref = rows
        m = len(t)
        extra = (t, kind, np.zeros(m, dtype=np.int64), host, np.full(m, self.h.files[0]), host, admin, ref)
        merged = [np.concatenate([a, b]) for a, b in zip(cols, extra, strict=True)]
        order = np.argsort(merged[0], kind="stable")
        return tuple(c[order] for c in merged)

    def _rdp_logons(self, sl: clock.Slice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The administrators' RDP sessions of the slice on the servers: the logon (type 10), and at the end the
        user's sign-out (4647, most sessions) and the logoff (4634 type 10), all with the session's logon id."""
        assert self.plan is not None
        s = self.plan.between(sl.start, sl.end)
        s = s.take(np.flatnonzero((s.kind == RDP) & np.isin(s.dst, self.srv)))
        logon = s.start + 1_200_000  # NLA done, the session logs on
        signout = np.maximum(s.end - 2_500_000, logon + 500_000)
        logoff = signout + 1_500_000
        signs = s.logon % 100 < SIGNOUT_SHARE
        j = next(i for i, m in enumerate(MEMBER_MIX) if m[:3] == RDP_LOGON)
        parts = [(logon, np.full(len(logon), j), np.ones(len(logon), dtype=bool)),
                 (signout, np.full(len(logon), RDP_SIGNOUT), signs),
                 (logoff, np.full(len(logon), RDP_LOGOFF), np.ones(len(logon), dtype=bool))]
        t, kind, use = (np.concatenate([p[i] for p in parts]) for i in range(3))
        dst, acct, lid = (np.tile(c, len(parts)) for c in (s.dst, s.account, s.logon))
        keep = use & (t >= sl.start) & (t < sl.end) & audible(t, dst, self.h, self.silence)
        sel = np.flatnonzero(keep)
        return t[sel], kind[sel], dst[sel], acct[sel], lid[sel]

    def _scan_failures(self, sl: clock.Slice) -> tuple[Scan, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                                 np.ndarray]]:
        """The scanner's SMB and RDP logons with a random account, failed (4625) on the servers it picked."""
        assert self.scan is not None
        s = self.scan.between(sl.start - FAILURE_AFTER, sl.end - FAILURE_AFTER)
        s = s.take(np.flatnonzero(s.fail4625 & np.isin(s.dst, self.srv)))
        t = s.ts + FAILURE_AFTER
        m = len(t)
        return s, (t, np.full(m, SCAN_FAILURE), s.dst, np.zeros(m, dtype=np.int64), np.arange(m, dtype=np.int64))

    def _noise_data(self, j: int, user: Col, sid: Col, ref: np.ndarray, scan: Scan | None) -> list[W.Field]:
        """EventData of the EXTRA_MIX events (the logon id is set by the caller for the sessions' events)."""
        a = self.a
        if j == RDP_LOGOFF:
            return [("TargetUserSid", sid), ("TargetUserName", user), ("TargetDomainName", a.domain),
                    ("TargetLogonId", ""), ("LogonType", "10")]
        if j == RDP_SIGNOUT:
            return [("TargetUserSid", sid), ("TargetUserName", user), ("TargetDomainName", a.domain),
                    ("TargetLogonId", "")]
        assert scan is not None and self.scan is not None
        rows = pa.array(ref)
        return [("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"),
                ("SubjectLogonId", "0x0"), ("TargetUserSid", "S-1-0-0"), ("TargetUserName", scan.account.take(rows)),
                ("TargetDomainName", self.scan.name), ("Status", "0xc000006d"), ("FailureReason", "%%2313"),
                ("SubStatus", "0xc0000064"), ("LogonType", "3"), ("LogonProcessName", "NtLmSsp "),
                ("AuthenticationPackageName", "NTLM"), ("WorkstationName", self.scan.name),
                ("TransmittedServices", "-"), ("LmPackageName", "-"), ("KeyLength", "0"), ("ProcessId", "0x0"),
                ("ProcessName", "-"), ("IpAddress", self.scan.ip), ("IpPort", strs(scan.sport[ref]))]

    def _data(self, rng: np.random.Generator, code: int, ltype: str, k: int, host: np.ndarray, user: Col, sid: Col,
              client_ip: Col, client_name: Col) -> list[W.Field]:
        h, a = self.h, self.a
        machine, _msid = pick(a.machine, host), pick(a.machine_sid, host)
        if code == 4624 and ltype == "3":
            return _network_logon(rng, k, user, sid, client_ip, client_name, domain=a.domain)
        if code == 4624:
            system = ltype == "5"
            remote = ltype == "10"
            src_ip = self.jump_ip if remote else ("-" if system else "127.0.0.1")
            return [("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", machine), ("SubjectDomainName", a.domain),
                    ("SubjectLogonId", "0x3e7"), ("TargetUserSid", "S-1-5-18" if system else sid),
                    ("TargetUserName", "SYSTEM" if system else user),
                    ("TargetDomainName", "NT AUTHORITY" if system else a.domain), ("TargetLogonId", logon_id(rng, k)),
                    ("LogonType", ltype), ("LogonProcessName", "Advapi  " if system else "User32 "),
                    ("AuthenticationPackageName", "Negotiate"),
                    ("WorkstationName", "-" if system else (self.jump_name if remote else pick(h.name, host))),
                    ("LogonGuid", "{00000000-0000-0000-0000-000000000000}" if system else random_guid(rng, k)),
                    ("TransmittedServices", "-"), ("LmPackageName", "-"), ("KeyLength", "0"),
                    ("ProcessId", "0x2e4" if system else join("0x", random_hex(rng, k, 3))),
                    ("ProcessName", "C:\\\\Windows\\\\System32\\\\services.exe" if system
                     else "C:\\\\Windows\\\\System32\\\\svchost.exe"),
                    ("IpAddress", src_ip), ("IpPort", "-" if system else "0"), ("ImpersonationLevel", "%%1833"),
                    ("RestrictedAdminMode", "%%1843" if remote else "-"), ("TargetOutboundUserName", "-"),
                    ("TargetOutboundDomainName", "-"), ("VirtualAccount", "%%1843"), ("TargetLinkedLogonId", "0x0"),
                    ("ElevatedToken", "%%1842")]
        if code == 4634:
            return [("TargetUserSid", sid), ("TargetUserName", user), ("TargetDomainName", a.domain),
                    ("TargetLogonId", logon_id(rng, k)), ("LogonType", ltype)]
        if code == 4647:
            return [("TargetUserSid", sid), ("TargetUserName", user), ("TargetDomainName", a.domain),
                    ("TargetLogonId", logon_id(rng, k))]
        if code == 4672:
            return [("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", "SYSTEM"),
                    ("SubjectDomainName", "NT AUTHORITY"), ("SubjectLogonId", "0x3e7"), ("PrivilegeList", SYSTEM_PRIVS)]
        if code == 4625:
            return _failed_logon(rng, k, user, client_ip, client_name, a.domain)
        if code == 4648:
            return [("SubjectUserSid", sid), ("SubjectUserName", user), ("SubjectDomainName", a.domain),
                    ("SubjectLogonId", logon_id(rng, k)), ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"),
                    ("TargetUserName", user), ("TargetDomainName", a.domain),
                    ("TargetLogonGuid", "{00000000-0000-0000-0000-000000000000}"),
                    ("TargetServerName", "localhost"), ("TargetInfo", "localhost"), ("ProcessId", "0x1c8"),
                    ("ProcessName", "C:\\\\Windows\\\\System32\\\\taskhostw.exe"), ("IpAddress", "::1"),
                    ("IpPort", "0")]
        if code == 4688:
            p = rng.integers(0, len(SERVER_PROCS), k)
            procs = pick(SERVER_PROCS, p)
            split = pc.split_pattern(procs, "|")
            image = pc.list_element(split, 0)
            cmd = pc.list_element(split, 1)
            parent = pc.list_element(split, 2)
            return [("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", machine), ("SubjectDomainName", a.domain),
                    ("SubjectLogonId", "0x3e7"), ("NewProcessId", join("0x", random_hex(rng, k, 4))),
                    ("NewProcessName", image), ("TokenElevationType", "%%1936"),
                    ("ProcessId", join("0x", random_hex(rng, k, 3))), ("CommandLine", cmd),
                    ("TargetUserSid", "S-1-0-0"), ("TargetUserName", "-"), ("TargetDomainName", "-"),
                    ("TargetLogonId", "0x0"), ("ParentProcessName", parent),
                    ("MandatoryLabel", "S-1-16-16384")]
        # the first file server holds Shared and Users, the second Projects and Scan (the shares Zeek sees)
        files = self.h.files
        second = (host == files[1 % len(files)]) & (len(files) > 1)
        share = pick(json_vocab(["\\\\*\\Shared", "\\\\*\\Users", "\\\\*\\Projects", "\\\\*\\Scan"]),
                     np.where(len(files) > 1, second * 2 + rng.integers(0, 2, k), rng.integers(0, 4, k)))
        local = pc.replace_substring(share, "\\\\\\\\*\\\\", "\\\\??\\\\D:\\\\")
        base = [("SubjectUserSid", sid), ("SubjectUserName", user), ("SubjectDomainName", a.domain),
                ("SubjectLogonId", logon_id(rng, k)), ("ObjectType", "File"), ("IpAddress", client_ip),
                ("IpPort", strs(ports(rng, k))), ("ShareName", share), ("ShareLocalPath", local)]
        if code == 5140:
            return [*base, ("AccessMask", "0x1"), ("AccessList", "%%4416\\r\\n\\t\\t\\t\\t")]
        names = json_vocab(["Sales\\2025\\quote_0142.xlsx", "Ops\\minutes\\meeting_0203.docx", "desktop.ini",
                            "Projects\\order-sys\\spec_v12.pptx", "Finance\\invoices\\inv_0131.pdf",
                            "Scan\\scan0457.pdf"])
        return [*base, ("RelativeTargetName", pick(names, rng.integers(0, 6, k))), ("AccessMask", "0x120089"),
                ("AccessList", SHARE_ACCESS), ("AccessReason", "-")]


# ---------------------------------------------------------------------------------------------------------
#: (image, original file name, description, company, command line, parent image, integrity, runs as user)
PROCESSES = (
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "chrome.exe", "Google Chrome", "Google LLC",
     "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=ja",
     "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "Low", True, 20),
    ("C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "msedge.exe", "Microsoft Edge",
     "Microsoft Corporation", "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=utility",
     "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "Low", True, 14),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "Outlook.exe", "Microsoft Outlook",
     "Microsoft Corporation", "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\"",
     "C:\\Windows\\explorer.exe", "Medium", True, 6),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "Excel.exe", "Microsoft Excel",
     "Microsoft Corporation", "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE\" /dde",
     "C:\\Windows\\explorer.exe", "Medium", True, 6),
    ("C:\\Program Files\\WindowsApps\\MSTeams_24335.206.3314.5946_x64__8wekyb3d8bbwe\\ms-teams.exe", "msteams.exe",
     "Microsoft Teams", "Microsoft Corporation", "\"ms-teams.exe\" msteams:system-initiated",
     "C:\\Windows\\explorer.exe", "Medium", True, 8),
    ("C:\\Windows\\System32\\svchost.exe", "svchost.exe", "Host Process for Windows Services",
     "Microsoft Corporation", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s BITS",
     "C:\\Windows\\System32\\services.exe", "System", False, 14),
    ("C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe", "Host Process for Windows Tasks",
     "Microsoft Corporation", "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
     "C:\\Windows\\System32\\svchost.exe", "System", False, 5),
    ("C:\\Windows\\System32\\RuntimeBroker.exe", "RuntimeBroker.exe", "Runtime Broker", "Microsoft Corporation",
     "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding", "C:\\Windows\\System32\\svchost.exe", "Medium", True, 5),
    ("C:\\Windows\\System32\\conhost.exe", "CONHOST.EXE", "Console Window Host", "Microsoft Corporation",
     "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", "C:\\Windows\\System32\\cmd.exe", "Medium",
     True, 3),
    ("C:\\Windows\\System32\\cmd.exe", "Cmd.Exe", "Windows Command Processor", "Microsoft Corporation",
     "C:\\Windows\\system32\\cmd.exe /c \"\"C:\\ProgramData\\corp\\logon.bat\"\"", "C:\\Windows\\explorer.exe",
     "Medium", True, 2),
    ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "PowerShell.EXE", "Windows PowerShell",
     "Microsoft Corporation", "powershell.exe -NoProfile -ExecutionPolicy Bypass -File "
     "\"C:\\ProgramData\\corp\\inventory.ps1\"", "C:\\Windows\\System32\\svchost.exe", "System", False, 1),
    ("C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe", "OneDrive.exe", "Microsoft OneDrive",
     "Microsoft Corporation", "\"C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe\" /background",
     "C:\\Windows\\explorer.exe", "Medium", True, 4),
    ("C:\\Windows\\System32\\wuauclt.exe", "wuauclt.exe", "Windows Update", "Microsoft Corporation",
     "\"C:\\Windows\\system32\\wuauclt.exe\" /UpdateDeploymentProvider UpdateDeploymentProvider.dll /ClassId "
     "00000000-0000-0000-0000-000000000000 /RunHandlerComServer", "C:\\Windows\\System32\\svchost.exe", "System",
     False, 2),
    ("C:\\Windows\\System32\\SearchProtocolHost.exe", "searchprotocolhost.exe",
     "Microsoft Windows Search Protocol Host", "Microsoft Corporation",
     "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe1",
     "C:\\Windows\\System32\\SearchIndexer.exe", "System", False, 3),
)
SYSMON_MIX = ((1, 15), (3, 30), (5, 14), (11, 12), (13, 9), (22, 20))
FILE_TARGETS = [json_escape(x) for x in (
    "C:\\Users\\{u}\\AppData\\Local\\Temp\\tmp{n}.tmp", "C:\\Users\\{u}\\Downloads\\資料_{n}.pdf",
    "C:\\Users\\{u}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\IE\\{n}.dat",
    "C:\\Windows\\Prefetch\\CHROME.EXE-{n}.pf")]
REG_TARGETS = [json_escape(x) for x in (
    "HKU\\{s}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\MRUListEx",
    "HKLM\\System\\CurrentControlSet\\Services\\bam\\State\\UserSettings\\{s}\\"
    "\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe",
    "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates\\SignaturesLastUpdated")]


class Sysmon:
    """Sysmon operational log of servers and workstations."""

    name = "win_sysmon"
    share = 0.20
    profile = "office"

    def __init__(self, ctx: Context) -> None:
        cfg, net = ctx.cfg, ctx.net
        self.silence = ctx.silence
        self.h = Hosts(net)
        self.a = Accounts(net, self.h)
        self.emit = Emitter(self.h, cfg.seed, "sysmon")
        self.srv = np.array([i for i in self.h.servers])
        p = PROCESSES
        self.image = json_vocab([x[0] for x in p])
        self.as_user = np.array([x[7] for x in p])
        self.pw = [x[8] for x in p]
        # EventData runs that depend on the process only, rendered once
        self.frag_create = pa.array([
            f'"Image":"{json_escape(x[0])}","FileVersion":"10.0.19041.1","Description":"{json_escape(x[2])}",'
            f'"Product":"Microsoft® Windows® Operating System","Company":"{json_escape(x[3])}",'
            f'"OriginalFileName":"{json_escape(x[1])}","CommandLine":"{json_escape(x[4])}",'
            '"CurrentDirectory":"C:\\\\Windows\\\\system32\\\\"' for x in p])
        self.frag_integrity = pa.array([f'"IntegrityLevel":"{x[6]}","Hashes":"SHA256={_fake_hash(x[0])}"' for x in p])
        self.frag_parent = pa.array([f'"ParentImage":"{json_escape(x[5])}","ParentCommandLine":"{json_escape(x[5])}"'
                                     for x in p])
        self.domain_users = json_vocab([f"{net.domain}\\{u.sam}" for u in net.people])
        sites = net.sites
        self.site_name = pa.array([s.domain for s in sites])
        self.site_ip = pa.array([s.ips[0] for s in sites])
        self.site_results = pa.array(["".join(f"::ffff:{ip};" for ip in s.ips) for s in sites])  # every A record
        self.site_w = np.array([s.weight for s in sites])
        self.site_port = pa.array(["80" if s.service == "http" else "443" for s in sites])
        self.site_pname = pa.array([s.service.replace("ssl", "https") for s in sites])
        # who talks to a site: a browser for most, Office, Teams and Windows services for their own; servers run
        # no browser or Office, only the services (update, certificate checks)
        apps = [_site_apps(s.domain) for s in sites]
        self.site_apps = Options(apps)
        self.server_sites = np.array([i for i, x in enumerate(apps) if not any(self.as_user[x])])
        self.system_procs = np.array([i for i, x in enumerate(p) if not x[7]])
        self.is_ws = np.zeros(len(self.h.list), dtype=bool)
        self.is_ws[self.h.ws] = True

    def outputs(self) -> list[Output]:
        return [Output("win.servers.sysmon", _date_path("windows/servers/sysmon")),
                Output("win.workstations.sysmon", _date_path("windows/workstations/sysmon"))]

    def expect(self, pending: dict[str, list[Injected]]) -> None:
        self.emit.expect(pending)

    def adopt(self, record: Injected) -> Injected:
        return self.emit.adopt(record)

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        n = len(times)
        h, a = self.h, self.a
        on_ws = rng.random(n) < 0.8
        ws_pos = zipf_index(rng, n, len(h.ws), 0.3)
        host = np.where(on_ws, h.ws[ws_pos], self.srv[rng.integers(0, len(self.srv), n)])
        ev = np.array([c for c, _ in SYSMON_MIX])[choose(rng, n, [w for _, w in SYSMON_MIX])]
        proc = choose(rng, n, self.pw)
        proc = np.where(on_ws, proc, self.system_procs[choose(rng, n, [self.pw[i] for i in self.system_procs])])
        keep = audible(times, host, h, self.silence)
        times, on_ws, ws_pos, host, ev, proc = times[keep], on_ws[keep], ws_pos[keep], host[keep], ev[keep], proc[keep]
        user_name = where(self.as_user[proc] & on_ws, pick(self.domain_users, a.ws_user[ws_pos]),
                          "NT AUTHORITY\\\\SYSTEM")
        rec = self.emit.numbers.number(host, times, sl.end)
        out = {True: new_parts(), False: new_parts()}
        for code, _ in SYSMON_MIX:
            for ws_side in (True, False):
                idx = _sel((ev == code) & (on_ws == ws_side))
                k = len(idx)
                if not k:
                    continue
                t = times[idx]
                pr = proc[idx]
                base = [("RuleName", "-"), ("UtcTime", clock.sysmon_utc(t)), ("ProcessGuid", random_guid(rng, k)),
                        ("ProcessId", strs(rng.integers(400, 30000, k) // 4 * 4))]
                usr = user_name.take(pa.array(idx))
                data = self._data(rng, code, k, t, pr, base, usr, host[idx])
                out[ws_side].add(t, self.emit.lines(rng, t, host[idx], code, data, rec[idx], sysmon=True), idx)
        return {"win.workstations.sysmon": out[True].chunk(), "win.servers.sysmon": out[False].chunk()}

    def _data(self, rng: np.random.Generator, code: int, k: int, t: np.ndarray, pr: np.ndarray,
              base: Sequence[W.Field], usr: pa.Array, host: np.ndarray) -> list[W.Field]:
        image = pick(self.image, pr)
        if code == 1:
            return [*base, (None, pick(self.frag_create, pr)), ("User", usr),
                    ("LogonGuid", random_guid(rng, k)), ("LogonId", logon_id(rng, k)), ("TerminalSessionId", "1"),
                    (None, pick(self.frag_integrity, pr)), ("ParentProcessGuid", random_guid(rng, k)),
                    ("ParentProcessId", strs(rng.integers(400, 30000, k) // 4 * 4)),
                    (None, pick(self.frag_parent, pr)), ("ParentUser", usr)]
        if code in (3, 22):  # the process is the one that talks to the site
            site, image, usr = self._site_process(rng, k, host)
        if code == 3:
            return [*base, ("Image", image), ("User", usr), ("Protocol", "tcp"), ("Initiated", "true"),
                    ("SourceIsIpv6", "false"), ("SourceIp", pick(self.h.ip, host)),
                    ("SourceHostname", pick(self.h.fqdn, host)), ("SourcePort", strs(ports(rng, k))),
                    ("SourcePortName", "-"), ("DestinationIsIpv6", "false"),
                    ("DestinationIp", pick(self.site_ip, site)), ("DestinationHostname", pick(self.site_name, site)),
                    ("DestinationPort", pick(self.site_port, site)),
                    ("DestinationPortName", pick(self.site_pname, site))]
        if code == 5:
            return [*base, ("Image", image), ("User", usr)]
        if code == 11:
            owner = self.a.ws_user[np.searchsorted(self.h.ws, host).clip(0, len(self.h.ws) - 1)]
            tgt = fill(FILE_TARGETS, rng.integers(0, 4, k), {"u": pick(self.a.user, owner),
                                                             "n": strs(rng.integers(1000, 99999, k))})
            return [*base, ("Image", image), ("TargetFilename", tgt), ("CreationUtcTime", clock.sysmon_utc(t)),
                    ("User", usr)]
        if code == 13:
            owner = self.a.ws_user[np.searchsorted(self.h.ws, host).clip(0, len(self.h.ws) - 1)]
            tgt = fill(REG_TARGETS, rng.integers(0, 3, k), {"s": pick(self.a.user_sid, owner)})
            return [("RuleName", "-"), ("EventType", "SetValue"), *base[1:], ("Image", image),
                    ("TargetObject", tgt), ("Details", "Binary Data"), ("User", usr)]
        return [*base, ("QueryName", pick(self.site_name, site)), ("QueryStatus", "0"),
                ("QueryResults", pick(self.site_results, site)), ("Image", image), ("User", usr)]

    def _site_process(self, rng: np.random.Generator, k: int, host: np.ndarray) -> tuple[np.ndarray, pa.Array,
                                                                                           pa.Array]:
        """Sites of network events, with the process (image, user) that talks to each."""
        on_ws = self.is_ws[host]
        site = np.where(on_ws, choose(rng, k, self.site_w),
                        self.server_sites[rng.integers(0, len(self.server_sites), k)])
        proc = self.site_apps.draw(rng, site)
        owner = self.a.ws_user[np.searchsorted(self.h.ws, host).clip(0, len(self.h.ws) - 1)]
        usr = where(self.as_user[proc] & on_ws, pick(self.domain_users, owner), "NT AUTHORITY\\\\SYSTEM")
        return site, pick(self.image, proc), usr


#: the processes (original file names in PROCESSES) that talk to a site; a browser for the others
SITE_APPS = {
    "login.microsoftonline.com": ("outlook.exe", "msteams.exe", "onedrive.exe", "msedge.exe", "chrome.exe"),
    "outlook.office365.com": ("outlook.exe",), "teams.microsoft.com": ("msteams.exe",),
    "update.googleapis.com": ("chrome.exe",), "edge.microsoft.com": ("msedge.exe",),
    "ctldl.windowsupdate.com": ("svchost.exe",), "www.msftconnecttest.com": ("svchost.exe",),
    "ocsp.digicert.com": ("svchost.exe", "chrome.exe", "msedge.exe"),
    "crl.globalsign.com": ("svchost.exe", "chrome.exe", "msedge.exe"),
}
_PROCESS = {x[1].lower(): i for i, x in enumerate(PROCESSES)}


def _site_apps(domain: str) -> list[int]:
    return [_PROCESS[x] for x in SITE_APPS.get(domain, ("chrome.exe", "msedge.exe"))]


def _fake_hash(s: str) -> str:
    import hashlib

    return hashlib.sha256(s.encode()).hexdigest().upper()


__all__ = ["DcSecurity", "MemberSecurity", "Sysmon", "lpad"]

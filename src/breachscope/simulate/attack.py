"""The attack of a scenario, replayed: its steps (simulate/steps/, listed in the scenario file) write
records in every log that would see them, through the record helpers of `Attack` below.

The built-in scenario is the NTT Communications 2025 breach. Public facts (NTT Com, 2025-03-05):
suspicious communications to "device A" of the Order Information Distribution System, access to device
A's entry point restricted on Feb 5; data probably taken out; unauthorized access involving "device B"
found on Feb 15, B cut off the same day. The reports differ on B: `pivot` (the attacker came in through B
and moved to A) or `destination` (the attacker went from A to B). Everything else (addresses, tools,
times) is invented.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate import steps as steps_catalogue
from breachscope.simulate.attack_file import AttackSpec, Step, jitter_us, local_parts
from breachscope.simulate.attackdb import Query
from breachscope.simulate.network import Host, Network
from breachscope.simulate.story import Story

if TYPE_CHECKING:  # the truth's statement results (the scenario runs them before the story)
    from breachscope.simulate.exposure import StatementResult

WORK_A = "C:\\ProgramData\\Microsoft\\Crypto\\RSA"  # the attacker's working folder on the first host
PUBLIC_B = "C:\\Users\\Public"
IMAGE = {
    "cmd": "C:\\Windows\\System32\\cmd.exe", "ps": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "w3wp": "C:\\Windows\\System32\\inetsrv\\w3wp.exe", "wmi": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
    "explorer": "C:\\Windows\\explorer.exe", "psql": f"{WORK_A}\\psql.exe", "7z": f"{PUBLIC_B}\\7za.exe",
    "curl": "C:\\Windows\\System32\\curl.exe", "rdp": "C:\\Windows\\System32\\rdpclip.exe",
    "backdoor": "C:\\ProgramData\\SoftwareDistribution\\msupd.exe", "svchost": "C:\\Windows\\System32\\svchost.exe",
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
    exfil_paths: list[dict] = field(default_factory=list)  # per exfiltration step: source, bytes, destination
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


@dataclass
class StoryInputs:
    """What the steps read besides the network: the attacker's statements and their results, and the
    output folder (the staged files are written beside the evidence)."""

    queries: list[Query]
    results: Mapping[str, StatementResult]
    export_dir: Path


class Attack:
    """The state of an attack being written and the helpers its steps write records with."""

    def __init__(self, net: Network, story: Story, spec: AttackSpec, rng: np.random.Generator) -> None:
        self.net = net
        self.s = story
        self.jitter = jitter_us(spec.jitter)
        self.spec = spec
        self.rng = rng
        self.out = AttackOutput(story)
        self.pid = 30_000
        self.first: int | None = None  # the initial access
        self.cut: int | None = None  # the last host cut off
        self.jump_ip = net.host("jump").ip  # where the network administrators log in to the routers from
        self.dom, self.fqdn, self.sid, self.nat = net.domain, net.fqdn, net.domain_sid, net.public_nat
        self.admin, self.netadmin = net.stolen_admin, net.network_admin

    def build(self, steps: Sequence[Step], inputs: StoryInputs) -> AttackOutput:
        a, b, dbh, ext = self.host("device_a"), self.host("device_b"), self.host("db"), self.spec.external
        self.out.hosts = {
            "device_a": {"name": a.name, "ip": a.ip, "role": "order system application server"},
            "device_b": {"name": b.name, "ip": b.ip, "role": "maintenance terminal on the internal network"},
            "entry": {},
            "database": {"name": dbh.name, "ip": dbh.ip, "database": self.s.database,
                         "user": self.spec.database_user},
            "external": {"initial_access": ext.initial_access, "later_attempts": ext.later_attempts,
                         "c2_and_exfiltration": ext.c2_address, "c2_name": ext.c2_name},
        }
        for step in steps:
            steps_catalogue.run(self, step, inputs)
        if self.first is None:
            raise ValueError("the attack has no initial access step")
        self._exfiltration_endpoint()
        last = self.cut if self.cut is not None else max(e["ts"] for e in self.out.timeline)
        self.out.window = (self.first, last)
        self.out.timeline.sort(key=lambda e: e["ts"])
        return self.out

    # --- helpers ---------------------------------------------------------------------------------------------
    def host(self, part: str) -> Host:
        return self.net.host(part)

    @property
    def entry_acl(self) -> str:
        """The access list of the defenders' restriction on the entry router."""
        return self.spec.entry_acl or f"{self.host('device_a').name.upper()}-IN"

    def called(self, host: Host) -> str:
        """A host as the timeline names it: its name, and the part it plays when it is one of the story's two
        devices (ORD-AP02 (device A))."""
        parts = [f" (device {p[-1].upper()})" for p in ("device_a", "device_b") if self.net.key.get(p) == host.name]
        part = parts[0] if parts else ""
        return f"{host.name}{part}"

    def entered(self, host: Host, ts: int) -> None:
        """The initial access step's host and time (the truth's entry and the attack window's start)."""
        if self.first is None:
            self.first = ts
            self.out.hosts["entry"] = {"name": host.name, "ip": host.ip}

    def exfiltrated(self, step: str, source: Host, size: int, ip: str | None, name: str | None) -> None:
        """An exfiltration step's bytes and where they went (the truth's exfiltration)."""
        self.out.exfil_bytes += size
        self.out.exfil_paths.append({"step": step, "source": source.name, "bytes": size, "destination_ip": ip,
                                     "destination_name": name})

    def _exfiltration_endpoint(self) -> None:
        """hosts.external's `c2_and_exfiltration` is where the data went: the first exfiltration step's address
        when it is not the C2's (a storage service); the C2, if a step called it, is then kept in `c2`."""
        ext, c2 = self.out.hosts["external"], self.spec.external.c2_address
        to = next((p["destination_ip"] for p in self.out.exfil_paths if p["destination_ip"]), None)
        if to is not None and to != c2:
            ext["c2_and_exfiltration"] = to
            if any(e["stage"] == "c2" for e in self.out.timeline):
                ext["c2"] = c2

    def contained(self, ts: int) -> None:
        self.cut = ts

    def user_of(self, actor: str) -> str:
        """The account an actor's commands run as."""
        return {"web_shell": self.spec.web_shell_user, "vendor": f"{self.dom}\\{self.spec.vendor_account}",
                "admin": f"{self.dom}\\{self.admin}", "system": "NT AUTHORITY\\SYSTEM",
                "it_admin": f"{self.dom}\\{next(iter(self.net.other_admins), self.admin)}",
                "scheduled_task": "NT AUTHORITY\\SYSTEM"}[actor]

    @staticmethod
    def parent_of(actor: str) -> str:
        """The process an actor's commands start from: the web server, the vendor's desktop, WMI, the backdoor."""
        return IMAGE[{"web_shell": "w3wp", "vendor": "explorer", "admin": "wmi", "system": "backdoor",
                      "it_admin": "explorer", "scheduled_task": "svchost"}[actor]]

    def at(self, text: str) -> int:
        """A step's local time with the scenario's jitter (up to 0.9 s by default)."""
        y, mo, d, h, mi, s = local_parts(text)
        return clock.local(y, mo, d, h, mi, s) + int(self.rng.integers(0, self.jitter))

    def at_parts(self, day: date, h: int, m: int) -> int:
        return clock.local(day.year, day.month, day.day, h, m) + int(self.rng.integers(0, self.jitter))

    @staticmethod
    def jst(text: str) -> int:
        """A local time, exactly (the defenders' notes)."""
        y, mo, d, h, mi, s = local_parts(text)
        return clock.local(y, mo, d, h, mi, s)

    def note(self, ts: int, stage: str, text: str, actor: str = "attacker") -> None:
        self.out.timeline.append({"ts": ts, "stage": stage, "actor": actor, "description": text})

    def port(self) -> int:
        return int(self.rng.integers(49152, 65536))

    def proc(self, ts: int, host: str, image: str, cmd: str, parent: str, user: str, tag: str,
             integrity: str = "High") -> int:
        """Sysmon 1 and, on servers (process auditing on), Security 4688; the new process's id."""
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
        if self.net.hosts[host].role == "workstation":  # their noise has no 4688: auditing is off there
            return int(pid)
        self.s.win(ts + 3_000, host, 4688, [
            ("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", f"{host}$"), ("SubjectDomainName", self.dom),
            ("SubjectLogonId", "0x3e7"), ("NewProcessId", "0x" + format(int(pid), "x")), ("NewProcessName", image),
            ("TokenElevationType", "%%1936"), ("ProcessId", "0x1096"), ("CommandLine", cmd),
            ("TargetUserSid", "S-1-0-0"), ("TargetUserName", user.split("\\")[-1]), ("TargetDomainName", self.dom),
            ("TargetLogonId", "0x0"), ("ParentProcessName", parent), ("MandatoryLabel", "S-1-16-12288")], tag)
        return int(pid)

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


def _utc(us: int) -> str:
    return clock.sysmon_utc(np.array([us]))[0].as_py()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def cisco_at(us: int) -> str:
    return str(clock.cisco_login_at(np.array([us]))[0].as_py())

"""The attack of a scenario file: its outside addresses and accounts, and per variant the ordered steps,
each a step of the catalogue (simulate/steps/) with its time and parameters.

Times are local wall-clock times of the simulated organization, `YYYY-MM-DD HH:MM[:SS]`, or relative
(`+1d`, `+2h30m`, `+45m10s`): that long after the time written just before it in the variant, in file
order (wall-clock arithmetic: `+1d` is the same time the next day). A step's `at` gets up to `jitter` (0.9 s) of
jitter from the seed (real steps never start on the second). Hosts are named by the
part they play (`device_a`, `entry_router`: the network's `story_hosts`), so one attack replays in any
network.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from breachscope.model.config import Matching, Strict, Text
from breachscope.simulate import clock

_LOCAL = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?")


def _time_text(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else value


_RELATIVE = re.compile(r"\+(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
#: the steps' fields that hold local times (LocalTime below), in which a relative time may be written
TIME_FIELDS = frozenset({"at", "noticed_at", "sessions", "start", "until", "first_day", "last_day", "not_before"})


def resolve_relative(steps: Any) -> Any:
    """A variant's steps with each relative time made a local time; anything else is left for the models
    to judge (a relative time with no time before it is refused there)."""
    if not isinstance(steps, list | tuple):
        return steps
    last: datetime | None = None
    out = []
    for step in steps:
        if isinstance(step, dict):
            step = dict(step)
            for key, value in step.items():
                if key in TIME_FIELDS:
                    if isinstance(value, list | tuple):
                        resolved = []
                        for item in value:
                            item, last = _resolve(item, last)
                            resolved.append(item)
                        step[key] = resolved
                    else:
                        step[key], last = _resolve(value, last)
        out.append(step)
    return out


def _resolve(value: Any, last: datetime | None) -> tuple[Any, datetime | None]:
    if isinstance(value, datetime):
        return value, value
    if not isinstance(value, str):
        return value, last
    rel = _RELATIVE.fullmatch(value)
    if rel:
        if last is None:
            return value, last
        d, h, m, s = (int(x or 0) for x in rel.groups())
        when = last + timedelta(days=d, hours=h, minutes=m, seconds=s)
        return when.strftime("%Y-%m-%d %H:%M:%S" if when.second or when.microsecond else "%Y-%m-%d %H:%M"), when
    m_abs = _LOCAL.fullmatch(value)
    if not m_abs:
        return value, last
    try:
        y, mo, dd, hh, mi = (int(x) for x in m_abs.groups()[:5])
        return value, datetime(y, mo, dd, hh, mi) + timedelta(seconds=float(m_abs.group(6) or 0))
    except ValueError:  # 2025-02-30: refused by the model
        return value, last


def _of_the_network(account: str, info: ValidationInfo) -> str:
    """An account the scenario's network has (load_scenario passes their names as the validation context)."""
    known = (info.context or {}).get("accounts")
    if known and account not in known:
        raise ValueError(f"{account} is not an account of the network (the database user, a service account or an "
                         f"administrator: {', '.join(sorted(known))})")
    return account


def period_of(info: ValidationInfo) -> clock.Period:
    """The scenario's period (load_scenario reads it first and passes it as the validation context)."""
    context = info.context or {}
    period = context.get("period", clock.PERIOD)
    return period if isinstance(period, clock.Period) else clock.PERIOD


def _valid_time(value: str, info: ValidationInfo) -> str:
    m = _LOCAL.fullmatch(value)
    if not m and _RELATIVE.fullmatch(value):
        raise ValueError(f"a relative time ({value}) needs a time before it in the variant")
    if not m:
        raise ValueError(f"not a local time YYYY-MM-DD HH:MM[:SS] or a relative time (+1d2h30m): {value!r}")
    y, mo, d, h, mi = (int(x) for x in m.groups()[:5])
    day = datetime(y, mo, d, h, mi).date()  # raises on 2025-02-30 or 25:00
    period = period_of(info)
    if not period.first_day <= day <= period.last_day:  # the noise is written there
        raise ValueError(f"{value} is outside the simulated period, {period.first_day} to {period.last_day}")
    return value


LocalTime = Annotated[str, BeforeValidator(_time_text), AfterValidator(_valid_time)]


def local_parts(value: str) -> tuple[int, int, int, int, int, float]:
    """'2025-01-21 01:12' -> (2025, 1, 21, 1, 12, 0.0)."""
    m = _LOCAL.fullmatch(value)
    if not m:
        raise ValueError(value)
    y, mo, d, h, mi = (int(x) for x in m.groups()[:5])
    return y, mo, d, h, mi, float(m.group(6) or 0)


Address = Annotated[str, Matching(r"\d{1,3}(\.\d{1,3}){3}", "an IPv4 address")]
Account = Annotated[str, Matching(r"[A-Za-z][A-Za-z0-9._-]{0,19}", "an account name (20 characters at most)")]
#: the hosts a step may name: the network's story_hosts
Part = Literal["device_a", "device_b", "db", "batch", "bi", "backup", "jump", "entry_router", "core_router",
               "wan_router", "firewall", "payment", "fs", "export_share", "wsus", "printer"]
#: who runs a step's commands: the web shell's application pool, the remote vendor, the stolen administrator
#: or SYSTEM (a backdoor service); for routine steps also an IT administrator at his desktop (the first admin
#: with no part in the story) or a scheduled task; the parent process follows from it
Actor = Literal["web_shell", "vendor", "admin", "system", "it_admin", "scheduled_task"]


class ExposedConsoleExploit(Strict):
    """Initial access: exploit of a console published to the internet, then web-shell commands (firewall,
    Zeek conn/ssl, Sysmon/4688 on the host)."""

    step: Literal["exposed_console_exploit"]
    at: LocalTime
    host: Part = "device_a"


class VpnRdp(Strict):
    """Initial access: VPN login with a stolen maintenance account, then RDP to the host (ASA, Zeek, 4624)."""

    step: Literal["vpn_rdp"]
    at: LocalTime
    host: Part = "device_b"


class Discovery(Strict):
    """whoami, ipconfig, domain admins, DC list, the database's shares; a password search in files."""

    step: Literal["discovery"]
    at: LocalTime
    host: Part
    actor: Actor
    search: Text = Field(description="where the findstr for passwords looks (Windows paths)")


class SmbServiceLateral(Strict):
    """Lateral movement: a backdoor service written over ADMIN$ with the stolen administrator's password."""

    step: Literal["smb_service_lateral"]
    at: LocalTime
    source: Part
    target: Part


class WmiLateral(Strict):
    """Lateral movement over WMI (RPC 135, a network logon, a command under WmiPrvSE)."""

    step: Literal["wmi_lateral"]
    at: LocalTime
    source: Part
    target: Part


class DatabaseSessions(Strict):
    """The attacker's database sessions from a host (psql, or the application's own script), one per
    time in `sessions`; the statements come from the story's plan of the database."""

    step: Literal["database_sessions"]
    host: Part = "device_a"
    actor: Actor
    sessions: tuple[LocalTime, ...] = Field(min_length=1)
    client: Literal["connection_string", "odbc"] = Field(
        default="connection_string", description="how the attacker's script connects: with the application's "
        "own connection string and driver (Npgsql or Connector/NET: the application's name in the log), or over "
        "ODBC (psqlODBC: no application name; PostgreSQL only)")
    page_size: int | None = Field(default=None, ge=10, le=1_000_000, description="rows per page of the script's "
                                  "paging (LIMIT n OFFSET m); default: 5,000 scaled to the target's size")
    probe_limit: int | None = Field(default=None, ge=0, le=1_000_000, description="the LIMIT of the statement "
                                    "without ORDER BY past the last page (its rows are potential, not confirmed); "
                                    "0: no such statement; default: 2,000 scaled to the target's size")


class Staging(Strict):
    """The statements' output files written on the host (Sysmon 11), kept as the staged files."""

    step: Literal["staging"]
    host: Part = "device_a"
    actor: Actor
    found_on: Part = Field(default="device_b", description="the host whose disk the files are found on (the "
                                                           "copies written beside the evidence)")


class SmbTransfer(Strict):
    """The staged files copied over SMB with the stolen administrator's password: pushed from `source` to
    `target`'s C$, or pulled by `target` (as the vendor's session there) from `source`'s C$."""

    step: Literal["smb_transfer"]
    at: LocalTime
    source: Part
    target: Part
    direction: Literal["push", "pull"]


class ArchiveUpload(Strict):
    """7-Zip with a password, then an HTTPS upload with curl to the C2 name (DNS, Sysmon, Zeek, ASA, NetFlow)."""

    step: Literal["archive_upload"]
    at: LocalTime
    host: Part
    actor: Actor
    archive: Annotated[str, Matching(r"[A-Za-z0-9_.-]{1,64}", "a file name")] = "upd_0205.7z"


class AclRestriction(Strict):
    """The defenders restrict access to a host at a router (SSH login, ACL commands, CONFIG_I)."""

    step: Literal["acl_restriction"]
    noticed_at: LocalTime = Field(description="when the defenders notice (a timeline entry, no record)")
    at: LocalTime
    router: Part = "entry_router"
    host: Part = "device_a"
    block: Literal["published_port", "internal_source"]
    source: Part | None = None  # the internal source blocked (internal_source)


class DeniedAttempts(Strict):
    """Later attempts that the restriction denies, a few a day (router ACL log; ASA or Zeek)."""

    step: Literal["denied_attempts"]
    first_day: LocalTime
    last_day: LocalTime
    not_before: LocalTime
    host: Part = "device_a"
    router: Part = "entry_router"
    origin: Literal["internet", "internal_source"]
    source: Part | None = None


class C2Beacons(Strict):
    """Sparse HTTPS calls to the C2 name from a host that keeps a foothold."""

    step: Literal["c2_beacons"]
    start: LocalTime
    until: LocalTime
    host: Part
    every_minutes: tuple[int, int] = Field(default=(90, 300), description="[least, most] between calls")


class PasswordGuessing(Strict):
    """Failed network logons against a server for several admin accounts, then a logon and a share access as
    the stolen administrator."""

    step: Literal["password_guessing"]
    at: LocalTime
    source: Part
    target: Part = "fs"


class IsolateHost(Strict):
    """The defenders shut the host's switch port (the host writes nothing afterwards)."""

    step: Literal["isolate_host"]
    noticed_at: LocalTime
    at: LocalTime
    host: Part
    router: Part = "entry_router"


class Announcement(Strict):
    """The public announcement (a timeline entry)."""

    step: Literal["announcement"]
    at: LocalTime
    text: Text


# --- more of the catalogue: lateral movement, credential access and exfiltration techniques ------------------
FileName = Annotated[str, Matching(r"[A-Za-z0-9_.-]{1,64}", "a file name")]
DnsName = Annotated[str, Matching(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", "a DNS name")]


class RdpLateral(Strict):
    """Lateral movement over RDP with the stolen administrator's password (Zeek, 4648 on the source, 4624
    type 10, the session's rdpclip and explorer on the target)."""

    step: Literal["rdp_lateral"]
    at: LocalTime
    source: Part
    target: Part


class WinrmLateral(Strict):
    """Lateral movement over WinRM (HTTP 5985, POST /wsman), a command under wsmprovhost on the target."""

    step: Literal["winrm_lateral"]
    at: LocalTime
    source: Part
    target: Part
    command: Text = "whoami /all"


class PsexecLateral(Strict):
    """Lateral movement with PsExec: PSEXESVC.exe written to ADMIN$, installed as a service (4697) and
    started by services.exe, the command under it."""

    step: Literal["psexec_lateral"]
    at: LocalTime
    source: Part
    target: Part
    command: Text = "cmd.exe /c ipconfig /all"


class LsassDump(Strict):
    """Credential access: lsass dumped with comsvcs.dll's MiniDump through rundll32 (Sysmon 1, 10, 11)."""

    step: Literal["lsass_dump"]
    at: LocalTime
    host: Part
    actor: Actor
    dump: FileName = "lsass.dmp"


class Kerberoasting(Strict):
    """Credential access: RC4 service tickets requested for the domain's service accounts (4769 0x17 on the
    first domain controller, Zeek kerberos) by the actor's account."""

    step: Literal["kerberoasting"]
    at: LocalTime
    host: Part
    actor: Actor = "admin"


class DnsTunnelExfiltration(Strict):
    """The staged files sent as DNS queries with long base32 labels under an attacker's domain, through the
    first domain controller as resolver (Zeek dns and conn), spread over minutes."""

    step: Literal["dns_tunnel_exfiltration"]
    at: LocalTime
    host: Part
    domain: DnsName
    actor: Actor = "system"


class CloudUpload(Strict):
    """The staged archive uploaded over HTTPS to a cloud storage bucket (rclone or curl; DNS, Sysmon, Zeek
    ssl with the bucket's name, ASA, NetFlow)."""

    step: Literal["cloud_upload"]
    at: LocalTime
    host: Part
    actor: Actor = "system"
    service: Literal["s3", "gcs"]
    bucket: Annotated[str, Matching(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "a bucket name")]
    tool: Literal["rclone", "curl"] = "rclone"
    archive: FileName = "upd_0205.7z"
    address: Address | None = Field(default=None, description="the storage's address (default: one of the "
                                                               "service's own)")


# --- more initial access, credential access, SSH, FTP and account response -------------------------------------
Email = Annotated[str, Matching(r"[A-Za-z0-9._%+-]{1,64}@[a-z0-9]([a-z0-9.-]*[a-z0-9])?", "an e-mail address")]


class Phishing(Strict):
    """Initial access: a phishing mail opened on a workstation (or a terminal server): the attachment in Word
    or the link in the browser starts PowerShell, which fetches the payload over HTTP and runs it; the
    implant calls the C2 name (Sysmon 1/3/11, 4688, DNS, Zeek conn/http/ssl, ASA, NetFlow)."""

    step: Literal["phishing"]
    at: LocalTime
    host: Part | Literal["workstation"] = "workstation"
    workstation: int = Field(default=0, ge=0, description="which workstation (its place in the network's list, "
                                                          "modulo their number) when host is `workstation`")
    user: Account | None = Field(default=None, description="who opens the mail (default: the workstation's "
                                                            "owner; on a server, the vendor account)")
    sender: Email
    lure: Literal["attachment", "link"] = "attachment"
    document: FileName = Field(default="Invoice_0127.docm", description="the attachment (a macro document) or, "
                                                                        "for a link, the downloaded archive")
    payload_host: DnsName = Field(description="the attacker's web server the payload is fetched from")
    payload_address: Address | None = Field(default=None, description="its address (default: initial_access)")
    payload: FileName = "OneDriveStandaloneUpdate.exe"


class UacBypassService(Strict):
    """Privilege escalation and persistence after a phishing foothold: the implant, run by a local administrator
    at medium integrity, points the ms-settings handler at itself and starts fodhelper.exe (auto-elevated:
    a UAC bypass); the high-integrity shell copies it to the backdoor's path and installs it as a LocalSystem
    service, then reg.exe removes the handler (Sysmon 1/11/13, 4688, the Security log's 4697). Later steps with
    actor `system` run under that service."""

    step: Literal["uac_bypass_service"]
    at: LocalTime
    host: Part
    actor: Actor = "vendor"
    implant: FileName = Field(default="OneDriveStandaloneUpdate.exe", description="the phishing payload, in the "
                                                                                  "user's AppData\\Roaming")
    service: Annotated[str, Matching(r"[A-Za-z][A-Za-z0-9_]{0,31}", "a service name")] = "MsUpdSvc"


class RdpBruteForce(Strict):
    """Initial access through RDP published to the internet: a burst of failed logons (4625, unknown names
    then wrong passwords), ASA inbound connections and Zeek conn/rdp per attempt, then the success (4624
    type 3 for NLA, then type 10)."""

    step: Literal["rdp_brute_force"]
    at: LocalTime
    host: Part = "device_b"
    account: Account | None = Field(default=None, description="the account guessed (default: the vendor account)")
    attempts: int = Field(default=60, ge=1, le=5000, description="failed attempts before the success")
    source: Address | None = Field(default=None, description="the attacker's address (default: initial_access)")
    public: Address | None = Field(default=None, description="the published address of the RDP port (default: "
                                                             "published_console)")
    unknown_names: tuple[Account, ...] = Field(default=("admin", "administrator1", "test", "scan", "user1"),
                                               description="names tried first that the domain does not know")
    nla: bool = Field(default=True, description="Network Level Authentication: failures are type 3 (else 10)")


class DcSync(Strict):
    """Credential access: DRSUAPI replication (DCSync) from a host that is no domain controller, as the
    stolen administrator: 4624 type 3 and 4662 with the replication rights on the first domain controller,
    Zeek conn to the endpoint mapper (135) and the DRSUAPI port, dce_rpc DRSBind/DRSGetNCChanges."""

    step: Literal["dcsync"]
    at: LocalTime
    host: Part
    actor: Actor = "admin"
    user: Account | None = Field(default=None, description="the one account asked for (default: all, /all)")


class SshLateral(Strict):
    """SSH from a host to a Linux host (OpenSSH on both ends): the client process on a Windows source (Sysmon
    1/3), Zeek conn and ssh, the target's sshd and systemd-logind syslog lines. The session's commands are not
    written (no auditd or shell history is simulated)."""

    step: Literal["ssh_lateral"]
    at: LocalTime
    source: Part
    target: Part = "db"
    account: Account = Field(description="the Linux account logged in to")
    method: Literal["password", "publickey"] = "password"
    minutes: float = Field(default=14.0, gt=0, le=24 * 60, description="how long the session lasts")
    actor: Actor = "admin"


class FtpFile(Strict):
    name: FileName
    size: int = Field(ge=0)


class FtpExfiltration(Strict):
    """The staged files sent by FTP to an external server, one STOR each on a passive data connection: Zeek
    conn (control 21 and data) and ftp, ASA build/teardown with bytes, NetFlow. As a routine step, the files
    listed in `files` (an upload to a partner) instead of the staged ones."""

    step: Literal["ftp_exfiltration"]
    at: LocalTime
    host: Part
    actor: Actor = "system"
    address: Address | None = Field(default=None, description="the FTP server (default: c2_address)")
    server_name: DnsName | None = Field(default=None, description="its DNS name (default: c2_name)")
    account: Account = "upload"
    files: tuple[FtpFile, ...] = Field(default=(), description="what is sent (default: the staged files)")
    folder: Text = Field(default="C:\\Users\\Public", description="the Windows folder the files are sent from")
    tool: Literal["curl", "winscp"] = Field(default="curl", description="curl with the files on its command line, "
                                                                        "or WinSCP's console with a script")


class DisableAccount(Strict):
    """The defenders disable a domain account on the first domain controller (4725 and 4738, after the
    administrator's network logon from the jump host)."""

    step: Literal["disable_account"]
    noticed_at: LocalTime | None = Field(default=None, description="when the defenders notice (a timeline entry)")
    at: LocalTime
    account: Account
    by: Account | None = Field(default=None, description="the administrator (default: the first of the other "
                                                          "admins)")


# --- a password read in a configuration file, exfiltration to an outside SMB share --------------------------------
WindowsPath = Annotated[str, Matching(r"[A-Za-z]:\\[^\r\n\t\"*?<>|]+", "a Windows path (C:\\...)")]


class ConfigFilePassword(Strict):
    """Credential access: configuration files searched for passwords (findstr, or PowerShell's Select-String)
    and the one that holds a password read (type, Get-Content): Sysmon 1 and 4688, and where the host audits
    reads of the file, a 4663 (ReadData) per read."""

    step: Literal["config_file_password"]
    at: LocalTime
    host: Part = "device_a"
    actor: Actor = "web_shell"
    path: WindowsPath | None = Field(default=None, description="the file read (default: the web.config of the web "
                                                               "shell's application, C:\\inetpub\\<pool>\\web.config)")
    account: Annotated[Account, AfterValidator(_of_the_network)] | None = Field(
        default=None, description="the account whose password the file holds: the database user, a service "
                                  "account or an administrator of the network (default: the database user)")
    tool: Literal["findstr", "powershell"] = "findstr"
    audited: bool = Field(default=False, description="the host audits reads of the file (a SACL and Audit File "
                                                     "System): a 4663 per read; most servers do not")


class SmbExfiltration(Strict):
    """The staged files (or `files`) copied to a share on a server outside (`net use`, then copy or robocopy):
    Sysmon 1/3, 4688, Zeek conn, smb_mapping and smb_files, ASA build/teardown and NetFlow."""

    step: Literal["smb_exfiltration"]
    at: LocalTime
    host: Part
    actor: Actor = "system"
    address: Address | None = Field(default=None, description="the SMB server (default: c2_address)")
    share: Annotated[str, Matching(r"[A-Za-z0-9_.$-]{1,80}", "a share name")] = "transfer"
    account: Account = Field(default="guest", description="the account `net use` gives the server")
    files: tuple[FtpFile, ...] = Field(default=(), description="what is sent (default: the staged files)")
    folder: WindowsPath = Field(default="C:\\Users\\Public", description="the Windows folder the files are sent from")
    tool: Literal["copy", "robocopy"] = "copy"


Step = Annotated[ExposedConsoleExploit | VpnRdp | Discovery | SmbServiceLateral | WmiLateral | DatabaseSessions
                 | Staging | SmbTransfer | ArchiveUpload | AclRestriction | DeniedAttempts | C2Beacons
                 | PasswordGuessing | IsolateHost | Announcement | RdpLateral | WinrmLateral | PsexecLateral
                 | LsassDump | Kerberoasting | DnsTunnelExfiltration | CloudUpload | Phishing | RdpBruteForce
                 | DcSync | SshLateral | FtpExfiltration | DisableAccount | UacBypassService
                 | ConfigFilePassword | SmbExfiltration,
                 Field(discriminator="step")]
INITIAL_ACCESS = ("exposed_console_exploit", "vpn_rdp", "phishing", "rdp_brute_force")
#: the steps the organization's own people also do (routine steps, hard negatives): none of them needs the
#: attack's state (its statements, staged files) or writes files beside the evidence
ROUTINE_STEPS = ("rdp_lateral", "winrm_lateral", "psexec_lateral", "wmi_lateral", "ssh_lateral", "ftp_exfiltration",
                 "disable_account")


class RoutineStep(Strict):
    """A catalogue step done by the organization itself (a hard negative): written like the attack's, its
    records tagged `benign:<name>`, never part of the attack's truth (entry, timeline, exfiltration)."""

    name: Annotated[str, Matching(r"[a-z][a-z0-9_]{0,39}", "a name (lower case, digits, _)")]
    description: Text
    action: Step

    @model_validator(mode="after")
    def _routine(self) -> RoutineStep:
        if self.action.step not in ROUTINE_STEPS:
            raise ValueError(f"{self.action.step} cannot be a routine step; these can: {', '.join(ROUTINE_STEPS)}")
        if isinstance(self.action, FtpExfiltration) and not self.action.files:
            raise ValueError("a routine ftp_exfiltration lists its files (there are no staged files)")
        return self


class External(Strict):
    initial_access: Address
    later_attempts: Address
    c2_address: Address
    c2_name: Annotated[str, Matching(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", "a DNS name")]
    vpn_address: Address = Field(description="the address the VPN gives the attacker (vpn_rdp)")
    published_console: Address = Field(description="public address of the exploited console")
    published_port: int = Field(ge=1, le=65535)


_JITTER = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m)")


def jitter_us(text: str) -> int:
    """'0.9s', '250ms', '2m' -> microseconds."""
    m = _JITTER.fullmatch(text)
    if not m:
        raise ValueError(f"not a duration such as 0.9s, 250ms or 2m: {text!r}")
    return round(float(m.group(1)) * {"ms": 1_000, "s": 1_000_000, "m": 60_000_000}[m.group(2)])


def _jitter(text: str) -> str:
    if not 1 <= jitter_us(text) <= 10 * 60_000_000:
        raise ValueError(f"jitter {text}: between 1ms and 10m")
    return text


class AttackSpec(Strict):
    external: External
    jitter: Annotated[str, AfterValidator(_jitter)] = Field(
        default="0.9s", description="each step time written gets a random delay from 0 up to this (from the seed): "
                                    "0.9s (default), 250ms, 2m (10m at most); a step may then pass the next one "
                                    "if they were written closer than this")
    entry_acl: Annotated[str, Matching(r"[A-Za-z][A-Za-z0-9_-]{0,63}", "an IOS access-list name")] | None = Field(
        default=None, description="the access list the defenders apply on the entry router (acl_restriction) "
                                  "and that logs the later denied attempts (default: device A's name, upper case, "
                                  "and -IN)")
    vendor_account: Account = Field(description="the remote-maintenance account the attacker logs in with")
    database_user: Account
    web_shell_user: Text = Field(description="the account a web shell runs as, e.g. IIS APPPOOL\\OrderMaint")
    variants: dict[Annotated[str, Matching(r"[a-z][a-z0-9-]*", "a variant name")], tuple[Step, ...]]

    @field_validator("variants", mode="before")
    @classmethod
    def _relative_times(cls, variants: Any) -> Any:
        if not isinstance(variants, dict):
            return variants
        return {name: resolve_relative(steps) for name, steps in variants.items()}

    @model_validator(mode="after")
    def _complete(self) -> AttackSpec:
        if not self.variants:
            raise ValueError("variants: at least one")
        for name, steps in self.variants.items():
            kinds = [s.step for s in steps]
            if not any(k in INITIAL_ACCESS for k in kinds):
                raise ValueError(f"variants.{name}: no initial access step ({', '.join(INITIAL_ACCESS)})")
            if "database_sessions" not in kinds:
                raise ValueError(f"variants.{name}: no database_sessions step")
        return self

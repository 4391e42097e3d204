"""Credential access: lsass dumped with comsvcs.dll's MiniDump, and Kerberoasting (RC4 service tickets
for the domain's service accounts, with the records the ad-2020 episode writes)."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.attack import PUBLIC_B, WORK_A, Attack, StoryInputs
from breachscope.simulate.attack_file import Kerberoasting, LsassDump
from breachscope.simulate.episodes.ad2020 import service_principals

RUNDLL32 = "C:\\Windows\\System32\\rundll32.exe"
LSASS = "C:\\Windows\\system32\\lsass.exe"
TAG = "attack:credential_access"
# the stack Sysmon records when MiniDumpWriteDump (dbgcore, called by comsvcs) opens lsass
CALL_TRACE = ("C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|"
              "C:\\Windows\\System32\\comsvcs.dll+2b3a9|C:\\Windows\\System32\\comsvcs.dll+2a52e|"
              "C:\\Windows\\System32\\rundll32.exe+3bc4|C:\\Windows\\System32\\KERNEL32.DLL+17034|"
              "C:\\Windows\\SYSTEM32\\ntdll.dll+52651")


def _guid(w: Attack) -> str:
    return "{" + "-".join(w.rng.bytes(n).hex() for n in (4, 2, 2, 2, 6)) + "}"


def _utc(us: int) -> str:
    return clock.sysmon_utc(np.array([us]))[0].as_py()


def lsass_dump(w: Attack, p: LsassDump, _: StoryInputs) -> None:
    host = w.host(p.host).name
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    t = w.at(p.at)
    lsass_pid = int(w.rng.integers(600, 1100)) // 4 * 4
    path = f"{WORK_A}\\{p.dump}"
    w.proc(t, host, RUNDLL32, f"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump {lsass_pid} {path} full",
           parent, user, TAG)
    ta = t + 180_000
    w.s.win(ta, host, 10, [
        ("RuleName", "-"), ("UtcTime", _utc(ta)), ("SourceProcessGUID", _guid(w)),
        ("SourceProcessId", str(int(w.rng.integers(1000, 20000)) // 4 * 4)),
        ("SourceThreadId", str(int(w.rng.integers(1000, 20000)) // 4 * 4)), ("SourceImage", RUNDLL32),
        ("TargetProcessGUID", _guid(w)), ("TargetProcessId", str(lsass_pid)), ("TargetImage", LSASS),
        ("GrantedAccess", "0x1fffff"), ("CallTrace", CALL_TRACE), ("SourceUser", user),
        ("TargetUser", "NT AUTHORITY\\SYSTEM")], TAG, sysmon=True)
    w.file_created(t + 2 * clock.US, host, RUNDLL32, path, user, TAG)
    w.note(t, "credential_access", f"lsass memory dumped on {host} with comsvcs.dll MiniDump to {path}")


def kerberoasting(w: Attack, p: Kerberoasting, _: StoryInputs) -> None:
    h = w.host(p.host)
    net, realm = w.net, w.net.realm
    dc = net.with_role("dc")[0]
    # a web shell or a service asks with the computer's account, the others with their own
    client = w.user_of(p.actor).split("\\")[-1] if p.actor in ("admin", "vendor") else f"{h.name}$"
    accounts = {u.sam: u for u in net.users}
    spns = service_principals(net)
    t = w.at(p.at)
    w.proc(t - 3 * clock.US, h.name, f"{PUBLIC_B}\\r.exe", "r.exe kerberoast /rc4opsec /nowrap", w.parent_of(p.actor),
           w.user_of(p.actor), TAG)
    for i, (svc, spn) in enumerate(spns):
        ts = t + i * 1_700_000
        sport = w.port()
        w.s.win(ts, dc.name, 4769, [
            ("TargetUserName", f"{client}@{realm}"), ("TargetDomainName", realm), ("ServiceName", svc),
            ("ServiceSid", accounts[svc].sid), ("TicketOptions", "0x40810000"), ("TicketEncryptionType", "0x17"),
            ("IpAddress", f"::ffff:{h.ip}"), ("IpPort", str(sport)), ("Status", "0x0"),
            ("LogonGuid", "{" + w.rng.bytes(16).hex() + "}"), ("TransmittedServices", "-")], TAG)
        uid = w.s.conn(ts - 2_000, h.ip, sport, dc.ip, 88, "tcp", "krb_tcp", 0.01, 1_450, 1_630, tag=TAG)
        w.s.zeek("kerberos", ts, {"uid": uid, "id.orig_h": h.ip, "id.orig_p": str(sport), "id.resp_h": dc.ip,
                                  "id.resp_p": "88", "request_type": "TGS", "client": f"{client}/{realm}",
                                  "service": spn, "success": "T", "error_msg": "-",
                                  "till": clock.epoch_s6(np.array([ts + 10 * clock.HOUR]))[0].as_py(),
                                  "cipher": "rc4-hmac", "forwardable": "T", "renewable": "T"}, TAG)
    w.note(t, "credential_access", f"Kerberoasting from {h.name} as {client}: RC4 service tickets for "
           f"{', '.join(s for s, _ in spns)} from {dc.name}")

"""Credential access: lsass dumped with comsvcs.dll's MiniDump, and Kerberoasting (RC4 service tickets
for the domain's service accounts, with the records the ad-2020 episode writes)."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.attack import PUBLIC_B, WORK_A, Attack, StoryInputs
from breachscope.simulate.attack_file import Kerberoasting, LsassDump
from breachscope.simulate.kerberos import roast

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
    # a web shell or a service asks with the computer's account, the others with their own
    client = w.user_of(p.actor).split("\\")[-1] if p.actor in ("admin", "vendor") else f"{h.name}$"
    t = w.at(p.at)
    w.proc(t - 3 * clock.US, h.name, f"{PUBLIC_B}\\r.exe", "r.exe kerberoast /rc4opsec /nowrap", w.parent_of(p.actor),
           w.user_of(p.actor), TAG)
    roasted = roast(w.s, w.rng, t, h, client, TAG)
    w.note(t, "credential_access", f"Kerberoasting from {h.name} as {client}: RC4 service tickets for "
           f"{', '.join(roasted)} from {w.net.with_role('dc')[0].name}")

"""Privilege escalation and persistence on a phishing foothold. The implant runs as the user who opened the mail,
a local administrator whose token is filtered by UAC (medium integrity). It writes the ms-settings protocol
handler under the user's own registry hive (Sysmon 13) and starts fodhelper.exe, which Windows elevates without a prompt
and which runs that handler: the fodhelper UAC bypass. The high-integrity shell copies the implant to the
backdoor's path and installs it as an auto-start LocalSystem service (the install is the Security log's 4697:
no System channel in the simulated hosts), then deletes the handler. Later steps with actor `system` run
under that service."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, Attack, StoryInputs
from breachscope.simulate.attack_file import UacBypassService
from breachscope.simulate.steps.lateral_tools import sid_of

TAG = "attack:privilege_escalation"
FODHELPER, SC = "C:\\Windows\\System32\\fodhelper.exe", "C:\\Windows\\System32\\sc.exe"
SERVICES = "C:\\Windows\\System32\\services.exe"
REG = "C:\\Windows\\System32\\reg.exe"
HANDLER = "Software\\Classes\\ms-settings\\Shell\\Open\\command"


def _set_value(w: Attack, ts: int, host: str, image: str, target: str, user: str, details: str) -> None:
    """Sysmon 13: a registry value set."""
    utc = clock.sysmon_utc(np.array([ts]))[0].as_py()
    w.s.win(ts, host, 13, [
        ("RuleName", "-"), ("EventType", "SetValue"), ("UtcTime", utc),
        ("ProcessGuid", "{" + w.rng.bytes(16).hex() + "}"), ("ProcessId", str(int(w.rng.integers(1000, 9000)))),
        ("Image", image), ("TargetObject", target), ("Details", details), ("User", user)], TAG, sysmon=True)


def uac_bypass_service(w: Attack, p: UacBypassService, _: StoryInputs) -> None:
    h = w.host(p.host)
    user = w.user_of(p.actor)
    sam = user.split("\\")[-1]
    sid = sid_of(w, sam)
    implant, backdoor = f"C:\\Users\\{sam}\\AppData\\Roaming\\{p.implant}", IMAGE["backdoor"]
    t = w.at(p.at)
    key = f"HKU\\{sid}\\{HANDLER}"
    _set_value(w, t, h.name, implant, f"{key}\\DelegateExecute", user, "(Empty)")
    launch = f"cmd.exe /c start \"\" \"{implant}\" -elevated"
    _set_value(w, t + 60_000, h.name, implant, f"{key}\\(Default)", user, launch)
    w.proc(t + 900_000, h.name, FODHELPER, "fodhelper.exe", implant, user, TAG)  # auto-elevated: High
    w.proc(t + 1_300_000, h.name, IMAGE["cmd"], launch, FODHELPER, user, TAG)
    w.proc(t + 1_600_000, h.name, implant, f"\"{implant}\" -elevated", IMAGE["cmd"], user, TAG)
    copy = f"cmd.exe /c copy /y \"{implant}\" \"{backdoor}\""
    w.proc(t + 4 * clock.US, h.name, IMAGE["cmd"], copy, implant, user, TAG)
    w.file_created(t + 4 * clock.US + 200_000, h.name, IMAGE["cmd"], backdoor, user, TAG)
    create = f"sc.exe create {p.service} binPath= \"{backdoor} -svc\" start= auto obj= LocalSystem"
    w.proc(t + 6 * clock.US, h.name, SC, create, implant, user, TAG)
    w.s.win(t + 6 * clock.US + 150_000, h.name, 4697, [
        ("SubjectUserSid", sid), ("SubjectUserName", sam), ("SubjectDomainName", w.dom),
        ("SubjectLogonId", "0x" + w.rng.bytes(3).hex()), ("ServiceName", p.service),
        ("ServiceFileName", f"{backdoor} -svc"), ("ServiceType", "0x10"), ("ServiceStartType", "2"),
        ("ServiceAccount", "LocalSystem"), ("ClientProcessStartKey", "0"), ("ClientProcessId", "0"),
        ("ParentProcessId", "0")], TAG)
    w.proc(t + 8 * clock.US, h.name, SC, f"sc.exe start {p.service}", implant, user, TAG)
    w.proc(t + 8 * clock.US + 300_000, h.name, backdoor, f"{backdoor} -svc", SERVICES, "NT AUTHORITY\\SYSTEM", TAG,
           "System")
    w.proc(t + 10 * clock.US, h.name, REG, "reg.exe delete HKCU\\Software\\Classes\\ms-settings /f", implant, user,
           TAG)
    w.note(t, "privilege_escalation", f"on {h.name}, the implant run by {sam} bypasses UAC with fodhelper.exe and "
           f"installs itself as the LocalSystem service {p.service} ({backdoor})")

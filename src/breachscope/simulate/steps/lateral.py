"""Lateral movement with the stolen administrator's password: a service over SMB, or WMI."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, WORK_A, Attack, StoryInputs
from breachscope.simulate.attack_file import SmbServiceLateral, WmiLateral


def wmi_lateral(w: Attack, p: WmiLateral, _: StoryInputs) -> None:
    src, dst = w.host(p.source), w.host(p.target)
    t = w.at(p.at)
    tag = "attack:lateral_movement"
    w.s.conn(t, src.ip, w.port(), dst.ip, 135, "tcp", "dce_rpc", 0.4, 1_200, 900, tag=tag)
    w.logon(t + 300_000, dst.name, w.admin, src.ip, "3", tag, workstation=src.name)
    w.proc(t + 2 * clock.US, dst.name, IMAGE["cmd"], f"cmd.exe /q /c mkdir {WORK_A}", IMAGE["wmi"],
           f"{w.dom}\\{w.admin}", tag)
    w.note(t, "lateral_movement", f"from {w.called(src)} to {w.called(dst)} over WMI as {w.admin}")


def smb_service_lateral(w: Attack, p: SmbServiceLateral, _: StoryInputs) -> None:
    src, dst = w.host(p.source), w.host(p.target)
    t = w.at(p.at)
    tag = "attack:lateral_movement"
    sport = w.port()
    uid = w.s.conn(t, src.ip, sport, dst.ip, 445, "tcp", "smb,gssapi", 12.5, 412_000, 9_000, tag=tag)
    w.s.zeek("smb_mapping", t + 200_000, {"uid": uid, "id.orig_h": src.ip, "id.orig_p": str(sport),
                                          "id.resp_h": dst.ip, "id.resp_p": "445",
                                          "path": f"\\\\\\\\{dst.name}\\\\ADMIN$", "service": "-",
                                          "native_file_system": "-", "share_type": "DISK"}, tag)
    w.logon(t + 100_000, dst.name, w.admin, src.ip, "3", tag, workstation=src.name)
    w.share(t + 300_000, dst.name, w.admin, src.ip, "ADMIN$", "SoftwareDistribution\\msupd.exe", True, tag)
    w.file_created(t + 2 * clock.US, dst.name, "System", IMAGE["backdoor"], "NT AUTHORITY\\SYSTEM", tag)
    w.proc(t + 5 * clock.US, dst.name, IMAGE["backdoor"], f"{IMAGE['backdoor']} -svc",
           "C:\\Windows\\System32\\services.exe", "NT AUTHORITY\\SYSTEM", tag, "System")
    w.note(t, "lateral_movement", f"from {w.called(src)} to {w.called(dst)} as {w.admin}: backdoor service")

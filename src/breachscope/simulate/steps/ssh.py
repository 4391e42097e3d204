"""SSH to a Linux host (OpenSSH on both ends): the client on a Windows source (Sysmon 1/3, 4688), the wire
(Zeek conn and ssh) and the target's syslog (sshd and systemd-logind lines as OpenSSH 8.7 and pam 1.5
write them on a RHEL-like server). The commands of the session are not written: no auditd or shell
history is simulated."""

from __future__ import annotations

import base64
import hashlib
import zlib

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.attack import Attack, StoryInputs
from breachscope.simulate.attack_file import SshLateral
from breachscope.simulate.formats import syslog as S
from breachscope.simulate.network import Host

TAG = "attack:lateral_movement"
SSH_EXE = "C:\\Windows\\System32\\OpenSSH\\ssh.exe"
CLIENT = {"windows": "SSH-2.0-OpenSSH_for_Windows_8.1", "linux": "SSH-2.0-OpenSSH_8.7"}
SERVER = "SSH-2.0-OpenSSH_8.7"


def _stable(text: str, low: int, span: int) -> int:
    return low + zlib.crc32(text.encode()) % span


def _line(w: Attack, t: int, host: Host, program: str, pid: int, text: str, tag: str) -> None:
    line = S.linux_lines(np.array([t], dtype=np.int64), host.name.lower(), program, str(pid), text)[0].as_py()
    w.s.add(f"syslog.{host.name}", t, line, tag)


def ssh_lateral(w: Attack, p: SshLateral, _: StoryInputs) -> None:
    src, dst = w.host(p.source), w.host(p.target)
    if dst.os != "linux":
        raise ValueError(f"ssh_lateral: {dst.name} is not a Linux host")
    t = w.at(p.at)
    seconds = p.minutes * 60 + float(w.rng.uniform(0, 30))
    end = t + int(seconds * clock.US)
    sport = w.port()
    if src.os == "windows":
        user = w.user_of(p.actor)
        w.proc(t - 1_500_000, src.name, SSH_EXE, f"ssh.exe {p.account}@{dst.ip}", w.parent_of(p.actor), user, TAG,
               "Medium")
        w.netconn(t - 40_000, src.name, SSH_EXE, user, src.ip, sport, dst.ip, 22, dst.fqdn, TAG)
    up, down = int(w.rng.integers(4_000, 40_000)), int(w.rng.integers(8_000, 400_000))
    uid = w.s.conn(t, src.ip, sport, dst.ip, 22, "tcp", "ssh", seconds, up, down, tag=TAG)
    host_key = hashlib.md5(f"{dst.name}#ed25519".encode()).hexdigest()  # Zeek prints the key's MD5
    w.s.zeek("ssh", t + 90_000, {
        "uid": uid, "id.orig_h": src.ip, "id.orig_p": str(sport), "id.resp_h": dst.ip, "id.resp_p": "22",
        "version": "2", "auth_success": "T", "auth_attempts": "1", "client": CLIENT.get(src.os, CLIENT["linux"]),
        "server": SERVER, "cipher_alg": "chacha20-poly1305@openssh.com", "mac_alg": "umac-64-etm@openssh.com",
        "compression_alg": "none", "kex_alg": "curve25519-sha256", "host_key_alg": "ssh-ed25519",
        "host_key": ":".join(host_key[i:i + 2] for i in range(0, 32, 2))}, TAG)
    pid, logind = int(w.rng.integers(2_000, 400_000)), _stable(dst.name, 700, 300)
    uid_n, session = _stable(p.account, 1001, 900), int(w.rng.integers(30, 4000))
    if p.method == "password":
        accepted = f"Accepted password for {p.account} from {src.ip} port {sport} ssh2"
    else:
        key = base64.b64encode(hashlib.sha256(f"{p.account}@{src.name}".encode()).digest()).decode().rstrip("=")
        accepted = f"Accepted publickey for {p.account} from {src.ip} port {sport} ssh2: ED25519 SHA256:{key}"
    a = t + 310_000
    for dt, program, proc, text in (
            (0, "sshd", pid, accepted),
            (6_000, "sshd", pid, f"pam_unix(sshd:session): session opened for user {p.account}(uid={uid_n}) by "
                                 "(uid=0)"),
            (9_000, "systemd-logind", logind, f"New session {session} of user {p.account}.")):
        _line(w, a + dt, dst, program, proc, text, TAG)
    for dt, program, proc, text in (
            (0, "sshd", pid, f"Received disconnect from {src.ip} port {sport}:11: disconnected by user"),
            (300, "sshd", pid, f"Disconnected from user {p.account} {src.ip} port {sport}"),
            (2_000, "sshd", pid, f"pam_unix(sshd:session): session closed for user {p.account}"),
            (4_000, "systemd-logind", logind, f"Session {session} logged out. Waiting for processes to exit."),
            (9_000, "systemd-logind", logind, f"Removed session {session}.")):
        _line(w, end + dt, dst, program, proc, text, TAG)
    w.note(t, "lateral_movement", f"from {src.name} to {dst.name} over SSH as {p.account} ({p.method}), "
           f"{p.minutes:.0f} minutes")

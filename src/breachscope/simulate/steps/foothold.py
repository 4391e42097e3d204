"""What the attacker does after the restriction: attempts the ACL denies, sparse C2 from the host that keeps
a foothold, password guessing against a server."""

from __future__ import annotations

from datetime import date, timedelta

from breachscope.simulate import clock
from breachscope.simulate.attack import Attack, StoryInputs
from breachscope.simulate.attack_file import C2Beacons, DeniedAttempts, PasswordGuessing, local_parts


def _day(text: str) -> date:
    y, mo, d = local_parts(text)[:3]
    return date(y, mo, d)


def denied_attempts(w: Attack, p: DeniedAttempts, _: StoryInputs) -> None:
    r, a, ext = w.host(p.router).name, w.host(p.host), w.spec.external
    not_before = w.jst(p.not_before)
    day, last = _day(p.first_day), _day(p.last_day)
    while day <= last:
        for _attempt in range(int(w.rng.integers(2, 6))):
            t = w.at_parts(day, int(w.rng.integers(0, 24)), int(w.rng.integers(0, 60)))
            if t < not_before:
                continue
            tag = "attack:denied_attempt"
            sport = w.port()
            if p.origin == "internal_source":
                if p.source is None:
                    raise ValueError("denied_attempts: origin internal_source needs a source")
                b = w.host(p.source)
                dport = int(w.rng.choice([445, 3389, 135]))
                w.s.ios(t, r, "SEC-6-IPACCESSLOGP", f"list {w.entry_acl} denied tcp {b.ip}({sport}) -> "
                        f"{a.ip}({dport}), 1 packet", tag)
                w.s.conn(t - 1_000, b.ip, sport, a.ip, dport, "tcp", "-", 3.0, 0, 0, "S0", tag=tag)
            else:
                src = ext.initial_access if w.rng.random() < 0.5 else ext.later_attempts
                port, public = ext.published_port, ext.published_console
                w.s.ios(t, r, "SEC-6-IPACCESSLOGP", f"list {w.entry_acl} denied tcp {src}({sport}) -> "
                        f"{a.ip}({port}), 1 packet", tag)
                cid = int(w.rng.integers(190_000_000, 199_000_000))
                w.s.asa(t - 2_000, "6-302013", f"Built inbound TCP connection {cid} for outside:{src}/{sport} "
                        f"({src}/{sport}) to dmz:{a.ip}/{port} ({public}/{port})", tag)
                w.s.asa(t + 30 * clock.US, "6-302014", f"Teardown TCP connection {cid} for outside:{src}/"
                        f"{sport} to dmz:{a.ip}/{port} duration 0:00:30 bytes 0 SYN Timeout", tag)
        day += timedelta(days=1)
    w.note(not_before, "denied_attempt",
           f"later attempts to reach {w.called(a)} are denied by {r} ({w.entry_acl})")


def c2_beacons(w: Attack, p: C2Beacons, _: StoryInputs) -> None:
    b, ext = w.host(p.host), w.spec.external
    least, most = p.every_minutes
    t, until = w.jst(p.start), w.jst(p.until)
    while t < until:
        t += int(w.rng.integers(least, most)) * 60 * clock.US
        w.tls(t, b.ip, ext.c2_address, ext.c2_name, int(w.rng.integers(900, 3000)), int(w.rng.integers(400, 9000)),
              float(w.rng.uniform(0.3, 2.5)), "attack:c2")
    w.note(w.jst(p.start), "c2", f"{w.called(b)} keeps calling {ext.c2_name} every few hours")


def password_guessing(w: Attack, p: PasswordGuessing, _: StoryInputs) -> None:
    b, fs = w.host(p.source), w.host(p.target)
    t = w.at(p.at)
    guesses = (*w.net.other_admins[:3], "administrator")  # the admin accounts, and the built-in one
    for i in range(18):
        user = guesses[i % len(guesses)]
        w.s.win(t + i * 4 * clock.US, fs.name, 4625, [
            ("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"),
            ("SubjectLogonId", "0x0"), ("TargetUserSid", "S-1-0-0"), ("TargetUserName", user),
            ("TargetDomainName", w.dom), ("Status", "0xc000006d"), ("FailureReason", "%%2313"),
            ("SubStatus", "0xc000006a"), ("LogonType", "3"), ("LogonProcessName", "NtLmSsp "),
            ("AuthenticationPackageName", "NTLM"), ("WorkstationName", b.name), ("TransmittedServices", "-"),
            ("LmPackageName", "-"), ("KeyLength", "0"), ("ProcessId", "0x0"), ("ProcessName", "-"),
            ("IpAddress", b.ip), ("IpPort", str(w.port()))], "attack:credential_access", failure=True)
    t2 = t + 20 * 60 * clock.US
    w.logon(t2, fs.name, w.admin, b.ip, "3", "attack:lateral_movement", workstation=b.name)
    w.share(t2 + clock.US, fs.name, w.admin, b.ip, "Shared", "Sales\\2025", False, "attack:lateral_movement")
    w.note(t, "credential_access", f"password guessing from {w.called(b)} against {fs.name}, then access as {w.admin}")

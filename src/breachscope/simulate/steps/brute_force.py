"""Initial access through RDP published to the internet: a password-guessing tool's burst of connections,
each failing at Network Level Authentication (names the domain does not know, then wrong passwords for the
account; with NLA the domain controller validates each NTLM response, 4776), until the guess that works and
the interactive session. No 4740: the domain keeps Windows' default lockout threshold (none)."""

from __future__ import annotations

import string

from breachscope.simulate import clock
from breachscope.simulate.attack import Attack, StoryInputs
from breachscope.simulate.attack_file import RdpBruteForce
from breachscope.simulate.steps.edge import flows, inbound
from breachscope.simulate.steps.lateral_tools import sid_of

TAG = "attack:initial_access"
UNKNOWN, BAD_PASSWORD = "0xc0000064", "0xc000006a"


def _rdp(w: Attack, t: int, uid: str, src: str, sport: int, dst: str, cookie: str, nla: bool) -> None:
    w.s.zeek("rdp", t, {"uid": uid, "id.orig_h": src, "id.orig_p": str(sport), "id.resp_h": dst, "id.resp_p": "3389",
                        "cookie": cookie, "result": "encrypted", "security_protocol": "HYBRID" if nla else "SSL",
                        "cert_count": "0"}, TAG)


def _failure(w: Attack, t: int, host: str, name: str, status: str, src: str, client: str, nla: bool) -> None:
    w.s.win(t, host, 4625, [
        ("SubjectUserSid", "S-1-0-0" if nla else "S-1-5-18"), ("SubjectUserName", "-" if nla else f"{host}$"),
        ("SubjectDomainName", "-" if nla else w.dom), ("SubjectLogonId", "0x0" if nla else "0x3e7"),
        ("TargetUserSid", "S-1-0-0"), ("TargetUserName", name), ("TargetDomainName", w.dom if nla else "."),
        ("Status", "0xc000006d"), ("FailureReason", "%%2313"), ("SubStatus", status),
        ("LogonType", "3" if nla else "10"), ("LogonProcessName", "NtLmSsp " if nla else "User32 "),
        ("AuthenticationPackageName", "NTLM" if nla else "Negotiate"), ("WorkstationName", client if nla else host),
        ("TransmittedServices", "-"), ("LmPackageName", "-"), ("KeyLength", "0"),
        ("ProcessId", "0x0" if nla else "0x2b4"), ("ProcessName", "-" if nla else "C:\\Windows\\System32\\svchost.exe"),
        ("IpAddress", src), ("IpPort", str(w.port()) if nla else "0")], TAG, failure=True)


def _validated(w: Attack, t: int, name: str, client: str, status: str) -> None:
    """The domain controller that checks the NTLM response for the member server (4776)."""
    w.s.win(t, w.net.with_role("dc")[0].name, 4776, [
        ("PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"), ("TargetUserName", name), ("Workstation", client),
        ("Status", status)], TAG, failure=status != "0x0")


def rdp_brute_force(w: Attack, p: RdpBruteForce, _: StoryInputs) -> None:
    h, ext = w.host(p.host), w.spec.external
    src, public = p.source or ext.initial_access, p.public or ext.published_console
    account = p.account or w.spec.vendor_account
    letters = string.ascii_uppercase + string.digits
    client = "DESKTOP-" + "".join(letters[int(i)] for i in w.rng.integers(0, len(letters), 7))  # the tool's VM
    t = start = w.at(p.at)
    for i in range(p.attempts):
        name, status = (p.unknown_names[i], UNKNOWN) if i < len(p.unknown_names) else (account, BAD_PASSWORD)
        sport = w.port()
        seconds = float(w.rng.uniform(0.6, 2.2))
        size = int(w.rng.integers(3_900, 5_200))
        inbound(w, t, seconds, src, sport, public, h.ip, 3389, size, "TCP Reset-I from inside", TAG)
        uid = w.s.conn(t + 2_000, src, sport, h.ip, 3389, "tcp", "rdp,ssl", seconds, size // 3, size - size // 3,
                       state="RSTR", tag=TAG, history="ShADadr")
        _rdp(w, t + 40_000, uid, src, sport, h.ip, name, p.nla)
        _failure(w, t + int(seconds * 600_000), h.name, name, status, src, client, p.nla)
        if p.nla:  # NTLM inside CredSSP: the member server asks a domain controller
            _validated(w, t + int(seconds * 580_000), name, client, status)
        flows(w, t, t + int(seconds * clock.US), src, sport, h.ip, 3389, size // 3, size - size // 3, TAG,
              outward=False)
        t += int(seconds * clock.US) + int(w.rng.integers(200_000, 2_500_000))
    sport, seconds = w.port(), float(w.rng.uniform(1500, 4200))
    inbound(w, t, seconds, src, sport, public, h.ip, 3389, 21_500_000, "TCP FINs from outside", TAG)
    uid = w.s.conn(t + 2_000, src, sport, h.ip, 3389, "tcp", "rdp,ssl", seconds, 2_900_000, 18_600_000, tag=TAG)
    _rdp(w, t + 40_000, uid, src, sport, h.ip, account, p.nla)
    flows(w, t, t + int(seconds * clock.US), src, sport, h.ip, 3389, 2_900_000, 18_600_000, TAG, outward=False)
    if p.nla:  # NLA authenticates on the network first (type 3), then the session logs on (type 10)
        _validated(w, t + 690_000, account, client, "0x0")
        w.s.win(t + 700_000, h.name, 4624, [
            ("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"),
            ("SubjectLogonId", "0x0"), ("TargetUserSid", sid_of(w, account)), ("TargetUserName", account),
            ("TargetDomainName", w.dom), ("TargetLogonId", "0x" + w.rng.bytes(3).hex()), ("LogonType", "3"),
            ("LogonProcessName", "NtLmSsp "), ("AuthenticationPackageName", "NTLM"), ("WorkstationName", client),
            ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"), ("TransmittedServices", "-"),
            ("LmPackageName", "NTLM V2"), ("KeyLength", "128"), ("ProcessId", "0x0"), ("ProcessName", "-"),
            ("IpAddress", src), ("IpPort", str(sport)), ("ImpersonationLevel", "%%1833"),
            ("RestrictedAdminMode", "-"), ("TargetOutboundUserName", "-"), ("TargetOutboundDomainName", "-"),
            ("VirtualAccount", "%%1843"), ("TargetLinkedLogonId", "0x0"), ("ElevatedToken", "%%1843")], TAG)
    w.logon(t + 3 * clock.US, h.name, account, src, "10", TAG, ntlm=False, workstation=client)
    w.note(start, "initial_access", f"RDP published on {public}:3389 brute-forced from {src}: {p.attempts} failed "
           f"logons on {h.name}, then {account} logs on")
    w.entered(h, start)

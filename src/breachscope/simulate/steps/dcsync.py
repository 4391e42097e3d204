"""Credential access by DCSync: a host that is no domain controller asks the first domain controller to
replicate secrets (DRSUAPI DRSGetNCChanges) with the stolen administrator's rights, the way mimikatz'
lsadump::dcsync does: a Kerberos service ticket for the controller, the endpoint mapper (135), the DRSUAPI
port, a network logon and the directory's 4662 with the replication rights."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import PUBLIC_B, Attack, StoryInputs
from breachscope.simulate.attack_file import DcSync
from breachscope.simulate.noise.windows import DOMAIN_GUID, DOMAIN_OBJECT, DS_REPLICATION, DS_REPLICATION_ALL
from breachscope.simulate.steps.lateral_tools import sid_of

TAG = "attack:credential_access"
DRSUAPI_PORT = 49667  # the controller's dynamic RPC port for DRSUAPI (the endpoint mapper tells)


def dcsync(w: Attack, p: DcSync, _: StoryInputs) -> None:
    h, dc = w.host(p.host), w.net.with_role("dc")[0]
    if h.role == "dc":
        raise ValueError("dcsync: the host is a domain controller (DCSync imitates one from elsewhere)")
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    admin, sid = w.admin, sid_of(w, w.admin)
    t = w.at(p.at)
    tool = f"{PUBLIC_B}\\mm.exe"
    what = f"/user:{w.dom}\\{p.user}" if p.user else "/all /csv"
    w.proc(t - 2 * clock.US, h.name, tool, f"mm.exe \"lsadump::dcsync /domain:{w.fqdn} {what}\" exit", parent, user,
           TAG)
    w.s.win(t - 600_000, dc.name, 4769, [
        ("TargetUserName", f"{admin}@{w.net.realm}"), ("TargetDomainName", w.net.realm),
        ("ServiceName", f"{dc.name}$"), ("ServiceSid", f"{w.sid}-1000"), ("TicketOptions", "0x40810000"),
        ("TicketEncryptionType", "0x12"), ("IpAddress", f"::ffff:{h.ip}"), ("IpPort", str(w.port())),
        ("Status", "0x0"), ("LogonGuid", "{" + w.rng.bytes(16).hex() + "}"), ("TransmittedServices", "-")], TAG)
    epm = w.port()
    w.netconn(t - 400_000, h.name, tool, user, h.ip, epm, dc.ip, 135, dc.fqdn, TAG)
    uid = w.s.conn(t - 400_000, h.ip, epm, dc.ip, 135, "tcp", "dce_rpc", 0.012, 1_204, 436, tag=TAG)
    w.s.zeek("dce_rpc", t - 390_000, {"uid": uid, "id.orig_h": h.ip, "id.orig_p": str(epm), "id.resp_h": dc.ip,
                                      "id.resp_p": "135", "rtt": "0.000512", "named_pipe": "135",
                                      "endpoint": "epmapper", "operation": "ept_map"}, TAG)
    w.s.win(t, dc.name, 4624, [
        ("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"), ("SubjectLogonId", "0x0"),
        ("TargetUserSid", sid), ("TargetUserName", admin), ("TargetDomainName", w.dom),
        ("TargetLogonId", "0x" + w.rng.bytes(3).hex()), ("LogonType", "3"), ("LogonProcessName", "Kerberos"),
        ("AuthenticationPackageName", "Kerberos"), ("WorkstationName", "-"),
        ("LogonGuid", "{" + w.rng.bytes(16).hex() + "}"), ("TransmittedServices", "-"), ("LmPackageName", "-"),
        ("KeyLength", "0"), ("ProcessId", "0x0"), ("ProcessName", "-"), ("IpAddress", h.ip),
        ("IpPort", str(w.port())), ("ImpersonationLevel", "%%1833"), ("RestrictedAdminMode", "-"),
        ("TargetOutboundUserName", "-"), ("TargetOutboundDomainName", "-"), ("VirtualAccount", "%%1843"),
        ("TargetLinkedLogonId", "0x0"), ("ElevatedToken", "%%1842")], TAG)
    sport = w.port()
    secrets = 9_000_000 if not p.user else 14_000
    w.netconn(t + 50_000, h.name, tool, user, h.ip, sport, dc.ip, DRSUAPI_PORT, dc.fqdn, TAG)
    uid = w.s.conn(t + 50_000, h.ip, sport, dc.ip, DRSUAPI_PORT, "tcp", "dce_rpc", 14.2 if not p.user else 0.4,
                   21_400, secrets, tag=TAG)
    for i, guid in enumerate((DS_REPLICATION, DS_REPLICATION_ALL)):
        w.s.win(t + (i + 1) * 200_000, dc.name, 4662, [
            ("SubjectUserSid", sid), ("SubjectUserName", admin), ("SubjectDomainName", w.dom),
            ("SubjectLogonId", "0x" + w.rng.bytes(3).hex()), ("ObjectServer", "DS"),
            ("ObjectType", f"%{DOMAIN_OBJECT}"), ("ObjectName", f"%{DOMAIN_GUID}"), ("OperationType", "Object Access"),
            ("HandleId", "0x0"), ("AccessList", "%%7688\r\n\t\t\t\t"), ("AccessMask", "0x100"),
            ("Properties", f"%%7688\r\n\t\t{guid}\r\n\t{DOMAIN_OBJECT}\r\n"), ("AdditionalInfo", "-"),
            ("AdditionalInfo2", "")], TAG)
    at = t + 60_000
    for op in ("DRSBind", "DRSCrackNames", "DRSGetNCChanges", "DRSUnbind"):
        at += 110_000
        w.s.zeek("dce_rpc", at, {"uid": uid, "id.orig_h": h.ip, "id.orig_p": str(sport), "id.resp_h": dc.ip,
                                 "id.resp_p": str(DRSUAPI_PORT), "rtt": "0.004210", "named_pipe": str(DRSUAPI_PORT),
                                 "endpoint": "drsuapi", "operation": op}, TAG)
    what_text = f"the secrets of {p.user}" if p.user else "every account's secrets"
    w.note(t, "credential_access", f"DCSync from {h.name} as {admin}: {what_text} replicated from {dc.name}")

"""The defenders disable a domain account: an administrator's network logon on the first domain controller
from the jump host (Active Directory Users and Computers), then 4725 and the 4738 of the change."""

from __future__ import annotations

from breachscope.simulate.attack import Attack, StoryInputs
from breachscope.simulate.attack_file import DisableAccount
from breachscope.simulate.steps.lateral_tools import sid_of

#: 4738's fields besides the subject and target: "-" = not changed
_UNCHANGED = ("SamAccountName", "DisplayName", "UserPrincipalName", "HomeDirectory", "HomePath", "ScriptPath",
              "ProfilePath", "UserWorkstations", "PasswordLastSet", "AccountExpires", "PrimaryGroupId",
              "AllowedToDelegateTo")


def disable_account(w: Attack, p: DisableAccount, _: StoryInputs) -> None:
    dc, jump = w.net.with_role("dc")[0], w.host("jump")
    admin = p.by or next(iter(w.net.other_admins), w.netadmin)
    if p.noticed_at:
        w.note(w.jst(p.noticed_at), "detection", f"the account {p.account} is found in use by the attacker",
               "defender")
    t = w.at(p.at)
    tag = "response:disable_account"
    w.s.win(t - 4_000_000, dc.name, 4624, [
        ("SubjectUserSid", "S-1-0-0"), ("SubjectUserName", "-"), ("SubjectDomainName", "-"), ("SubjectLogonId", "0x0"),
        ("TargetUserSid", sid_of(w, admin)), ("TargetUserName", admin), ("TargetDomainName", w.dom),
        ("TargetLogonId", "0x" + w.rng.bytes(3).hex()), ("LogonType", "3"), ("LogonProcessName", "Kerberos"),
        ("AuthenticationPackageName", "Kerberos"), ("WorkstationName", "-"),
        ("LogonGuid", "{" + w.rng.bytes(16).hex() + "}"), ("TransmittedServices", "-"), ("LmPackageName", "-"),
        ("KeyLength", "0"), ("ProcessId", "0x0"), ("ProcessName", "-"), ("IpAddress", jump.ip),
        ("IpPort", str(w.port())), ("ImpersonationLevel", "%%1833"), ("RestrictedAdminMode", "-"),
        ("TargetOutboundUserName", "-"), ("TargetOutboundDomainName", "-"), ("VirtualAccount", "%%1843"),
        ("TargetLinkedLogonId", "0x0"), ("ElevatedToken", "%%1842")], tag)
    subject = [("SubjectUserSid", sid_of(w, admin)), ("SubjectUserName", admin), ("SubjectDomainName", w.dom),
               ("SubjectLogonId", "0x" + w.rng.bytes(3).hex())]
    target = [("TargetUserName", p.account), ("TargetDomainName", w.dom), ("TargetSid", sid_of(w, p.account))]
    w.s.win(t, dc.name, 4725, [*target, *subject], tag)
    w.s.win(t + 1_000, dc.name, 4738, [
        ("Dummy", "-"), *target, *subject, ("PrivilegeList", "-"), *((k, "-") for k in _UNCHANGED),
        ("OldUacValue", "0x210"), ("NewUacValue", "0x211"), ("UserAccountControl", "\r\n\t\t%%2080"),
        ("UserParameters", "-"), ("SidHistory", "-"), ("LogonHours", "-")], tag)
    if w.cut is None or t > w.cut:  # the attack's window ends with the last containment
        w.contained(t)
    w.note(t, "account_disabled", f"account {p.account} disabled on {dc.name} by {admin}", "defender")

"""Which accounts of the incident a plan disables, which it only resets, and which it leaves to a person.

An account is named as the evidence logged it (`CORP\\jdoe`, `jdoe`, `app_user`); the plan acts
on the account behind the name, once per system (Active Directory for Windows evidence, the database for
database-audit evidence, the host for other logs). Machine accounts (NAME$), Windows' service identities
(NT AUTHORITY\\SYSTEM, IIS APPPOOL\\...) and built-in administrators are never disabled blindly: disabling
them breaks the host, the domain or the database rather than the attacker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from breachscope.model.containment import System
from breachscope.model.incident import EvidenceRef, Incident, IncidentAccount

#: Windows identities that are code running on a host, not a person: nothing to disable
SERVICE_DOMAINS = {"nt authority", "nt service", "iis apppool", "window manager", "font driver host", "builtin",
                   "nt virtual machine"}
SERVICE_NAMES = {"system", "localsystem", "local service", "network service", "anonymous logon", "-"}
#: built-in administrators: disabling them locks the administrators out; their password is reset instead
BUILTIN_ADMINS = {"administrator", "root", "postgres", "sa", "mysql", "sys"}
#: built-ins that are disabled by default, and krbtgt (its own steps)
BUILTIN_OTHER = {"guest", "defaultaccount", "wdagutilityaccount", "krbtgt"}
#: characters Active Directory refuses in a logon name (an apostrophe is allowed: O'Brien), control characters,
#: bidirectional overrides
_BAD_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f"/\\\[\]:;|=,+*?<>@\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]')
DB_KINDS = {"db_session"}


@dataclass(frozen=True)
class AccountAction:
    """An account to act on in one system, with every name it was logged under."""

    system: System
    name: str  # the logon name (no domain)
    logged_as: tuple[str, ...]
    evidence: tuple[EvidenceRef, ...]
    disable: bool  # False: reset only (a built-in administrator, an application's login)
    why_not_disabled: str | None


def logon_name(logged: str) -> str:
    """`DOMAIN\\user` -> `user`; `user@domain` -> `user`."""
    name = logged.rsplit("\\", 1)[-1]
    return name.split("@", 1)[0] if "@" in name else name


def domain(logged: str) -> str:
    return logged.rsplit("\\", 1)[0].lower() if "\\" in logged else ""


def valid_name(name: str) -> bool:
    """A logon name a command line may carry: what directories and databases accept, nothing else."""
    return 0 < len(name) <= 64 and not _BAD_NAME.search(name) and not name.startswith("-")


def systems(account: IncidentAccount) -> list[System]:
    """Where the account acted: Windows evidence -> the directory; database-audit evidence -> the database;
    other logs (syslog, Zeek) -> the host; without evidence rows, from the kinds of its alerts."""
    tables = {e.table for e in account.evidence}
    if not tables:
        kinds = {r.split(":", 1)[0] for r in account.reasons}
        tables = {"db_audit" if k in DB_KINDS else "windows" for k in kinds}
    out: list[System] = []
    if "windows" in tables:
        out.append("directory")
    if "db_audit" in tables:
        out.append("database")
    return out or ["host"]


def application_logins(incident: Incident) -> set[str]:
    """Database users whose sessions came from an application server: the application needs their password."""
    servers = {h.name.lower() for h in incident.hosts if (h.function or "").lower() == "application server"}
    return {(s.user or "").lower() for s in incident.db_sessions
            if s.user and (s.client_host or "").lower() in servers}


def account_actions(incident: Incident, notes: list[str]) -> list[AccountAction]:
    """The accounts to act on, merged by (system, logon name), in the incident's order; notes for the rest."""
    apps = application_logins(incident)
    merged: dict[tuple[System, str], dict[str, list[Any]]] = {}
    for acc in incident.accounts:
        logged, name = acc.name, logon_name(acc.name)
        low = name.lower()
        if domain(logged) in SERVICE_DOMAINS or low in SERVICE_NAMES:
            notes.append(f"account {logged}: a Windows service identity (code running on "
                         f"{', '.join(acc.hosts) or 'the host'}), not disabled: isolating and rebuilding the host "
                         "deals with it")
            continue
        if name.endswith("$"):
            notes.append(f"account {logged}: a machine account, not disabled blindly (the host would lose the "
                         "domain): reset it with the host's rebuild (Reset-ComputerMachinePassword, or rejoin)")
            continue
        if low in BUILTIN_OTHER:
            notes.append(f"account {logged}: a built-in account, not disabled by the plan"
                         + (" (krbtgt has steps of its own when DCSync or a golden ticket is seen)"
                            if low == "krbtgt" else ": check it is still disabled"))
            continue
        if not valid_name(name):
            notes.append(f"account {logged!r}: not a valid logon name, left out of the commands: act on it by hand")
            continue
        for system in systems(acc):
            entry = merged.setdefault((system, low), {"names": [], "evidence": [], "first": [name]})
            entry["names"].append(logged)
            entry["evidence"].extend(acc.evidence)
    out = []
    for (system, low), e in merged.items():
        why = None
        if low in BUILTIN_ADMINS:
            why = "a built-in administrator: disabling it can lock the administrators out; its password is reset"
        elif system == "database" and low in apps:
            why = ("the application's own database login (its sessions come from an application server): "
                   "disabling it stops the application; its password is rotated with the application's configuration")
        if why:
            notes.append(f"account {e['first'][0]} ({system}): not disabled: {why}")
        out.append(AccountAction(system, e["first"][0], tuple(dict.fromkeys(e["names"])),
                                 tuple(dict.fromkeys(e["evidence"])), why is None, why))
    return out

"""The plan as a PowerShell script for Windows and Active Directory: firewall rules on the isolated and the
entry hosts (through Invoke-Command), Disable-ADAccount and Set-ADAccountPassword, the krbtgt reset done twice
with a gate between the two; memory and disk capture as instructions (the tools vary), with a gate before
anything changes on the hosts. Network devices have their own formats (nftables, cisco-ios, cisco-asa).

Every string from the evidence is a single-quoted literal with its quotes doubled; characters outside
printable ASCII are written as [char] codes (Windows PowerShell reads a script without a byte order mark
in the system code page, which would change a name), so the script is plain ASCII. Windows Firewall lets a
block rule win over any allow rule, so isolation is a block of every address except the kept ones.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from breachscope.contain import addresses as ips
from breachscope.contain.formats.base import Format, comment, header, step_comment
from breachscope.model.containment import ContainmentPlan, ContainmentStep

GROUP = "breachscope-containment"
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*")
_ASCII_RUN = re.compile(r"[\x20-\x7e]+")

PRELUDE = """$ErrorActionPreference = 'Stop'

function Wait-BreachscopeConfirmation([string] $Prompt, [string] $Word) {
    # a gate: the next steps must not run before this one is done
    do { $answer = Read-Host -Prompt $Prompt } until ($answer -ceq $Word)
}

function New-BreachscopeSecret {
    # a random password nobody needs to know (krbtgt's keys are derived from it)
    $bytes = [byte[]]::new(32)
    [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($bytes)
    ConvertTo-SecureString -String ([Convert]::ToBase64String($bytes) + 'aA1!') -AsPlainText -Force
}
"""


def literal(value: str) -> str:
    """A PowerShell string literal of `value`: single-quoted with `'` doubled; characters outside printable ASCII
    (curly quotes, which PowerShell also takes for quotes, controls, any script) as [char] codes."""
    if _ASCII_RUN.fullmatch(value):
        return _quote(value)
    parts, pos = ["''"], 0  # a string first: `+` then concatenates
    for m in _ASCII_RUN.finditer(value):
        parts += _chars(value[pos:m.start()])
        parts.append(_quote(m.group()))
        pos = m.end()
    parts += _chars(value[pos:])
    return "(" + " + ".join(parts) + ")"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _chars(text: str) -> list[str]:
    """[char] codes of `text`'s UTF-16 code units (a .NET string's)."""
    data = text.encode("utf-16-le")
    return [f"[char]0x{int.from_bytes(data[i:i + 2], 'little'):04x}" for i in range(0, len(data), 2)]


def array(values: Iterable[str]) -> str:
    return "@(" + ", ".join(literal(v) for v in values) + ")"


def complement(networks: Iterable[str]) -> list[str]:
    """Every address outside `networks`, as Windows Firewall ranges (first-last), IPv4 then IPv6."""
    valid = [ips.network(v) for v in networks]
    nets = [n for n in valid if n is not None]
    out = []
    for whole in (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")):
        inside = sorted(ips.collapsed(n for n in nets if n.version == whole.version))
        start = int(whole.network_address)
        for n in inside:
            if int(n.network_address) > start:
                out.append(_range(whole.version, start, int(n.network_address) - 1))
            start = int(n.broadcast_address) + 1
        if start <= int(whole.broadcast_address):
            out.append(_range(whole.version, start, int(whole.broadcast_address)))
    return out


def _range(version: int, first: int, last: int) -> str:
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return f"{make(first)}-{make(last)}"


def _computer(s: ContainmentStep) -> str | None:
    """Where Invoke-Command goes: the host name when it is a valid one, else its first address."""
    if _HOST.fullmatch(s.target) and len(s.target) <= 253:
        return s.target
    return s.addresses[0] if s.addresses else None


def _firewall(s: ContainmentStep, computer: str, remote: list[str], what: str, both: bool) -> list[str]:
    port = ""
    if s.service:
        proto, number = s.service.split("/")
        port = f" -Protocol {literal(proto.upper())} -LocalPort {int(number)}"
    rules = []
    for direction in ("Inbound", "Outbound") if both else ("Inbound",):
        name, shown = f"breachscope-step-{s.order}-{direction.lower()}", f"breachscope step {s.order}: {what}"
        rules.append(f"    Remove-NetFirewallRule -Name {literal(name)} -ErrorAction SilentlyContinue")  # rerun
        rules.append(f"    New-NetFirewallRule -Name {literal(name)} -DisplayName {literal(shown)} "
                     f"-Group {literal(GROUP)} -Direction {direction} -Action Block{port} -RemoteAddress $Remote "
                     "| Out-Null")
    return [f"Invoke-Command -ComputerName {literal(computer)} -ScriptBlock {{",
            "    param([string[]] $Remote)",
            "    Set-NetFirewallProfile -All -Enabled True  # rules of a disabled firewall do nothing",
            *rules,
            f"}} -ArgumentList (,[string[]]{array(remote)})"]


def _step(s: ContainmentStep, gate_after: bool) -> list[str]:
    lines: list[str]
    if s.action == "capture_memory":
        lines = comment("#", f"by hand on {s.target}: capture memory with your tool (WinPmem, DumpIt, Magnet RAM "
                             "Capture, or the hypervisor's memory snapshot), to external storage; record its sha256 "
                             "(Get-FileHash). Do not reboot or log on interactively with a privileged account first.")
    elif s.action == "capture_disk":
        lines = comment("#", f"by hand on {s.target}: image the disk (a virtual machine snapshot, FTK Imager, or dd "
                             "from a boot medium), to external storage; record its sha256.")
    elif s.action == "block_address":
        lines = comment("#", "on the edge router or firewall: use --format nftables, cisco-ios or cisco-asa")
    elif s.action in ("restrict_service", "isolate_host"):
        computer = _computer(s)
        if computer is None:
            lines = comment("#", f"{s.target}: no valid host name or address: do it by hand")
        elif s.action == "isolate_host":
            remote = complement(s.allowed) if s.allowed else ["Any"]
            lines = [*comment("#", "the session that runs this is cut too unless its address is in --keep-access"),
                     *_firewall(s, computer, remote, "isolate", both=True)]
        else:
            lines = _firewall(s, computer, complement(s.allowed), f"restrict {s.service or 'every service'}", False)
    elif s.system == "directory" and s.action == "disable_account":
        lines = [f"Disable-ADAccount -Identity {literal(s.target)}"]
    elif s.system == "directory" and s.action == "reset_password":
        lines = [f"Set-ADAccountPassword -Identity {literal(s.target)} -Reset -NewPassword "
                 f"(Read-Host -AsSecureString -Prompt {literal('New password for ' + s.target)})"]
    elif s.action == "reset_krbtgt":
        lines = ["Set-ADAccountPassword -Identity 'krbtgt' -Reset -NewPassword (New-BreachscopeSecret)"]
    elif s.action in ("disable_account", "reset_password"):
        how = {"database": "in the database (PostgreSQL: ALTER ROLE name NOLOGIN / ALTER ROLE name PASSWORD ...; "
                           "MySQL: ALTER USER ... ACCOUNT LOCK / IDENTIFIED BY ...)",
               "host": "on the host where it is a local account (Disable-LocalUser / Set-LocalUser, or usermod -L / "
                       "passwd on Linux)"}.get(s.system, "by hand")
        lines = comment("#", f"{s.action.replace('_', ' ')} {s.target} {how}")
    else:
        lines = comment("#", "by hand: " + s.reason)
    if gate_after:
        lines += _gate(s)
    return lines


def _gate(s: ContainmentStep) -> list[str]:
    if s.action == "reset_krbtgt":
        return ["Wait-BreachscopeConfirmation -Prompt 'Type REPLICATED once repadmin /replsummary shows the first "
                "krbtgt reset on every domain controller and the maximum ticket lifetime (10 h by default) has "
                "passed' -Word 'REPLICATED'"]
    return ["Wait-BreachscopeConfirmation -Prompt 'Type CAPTURED once memory and disk of every host above are "
            "captured and hashed' -Word 'CAPTURED'"]


def render(plan: ContainmentPlan) -> str:
    lines = header("#", plan, "PowerShell", (
        "run as a domain administrator from a host in --keep-access (ActiveDirectory module: RSAT); read it first",
        "it stops at two gates: after the captures, and between the two krbtgt resets",
        "roll back: breachscope contain --rollback --format powershell"))
    if any(s.system == "directory" for s in plan.steps):
        lines.insert(0, "#Requires -Modules ActiveDirectory")
    lines += PRELUDE.splitlines()
    preserve = [s for s in plan.steps if s.phase == "preserve"]
    krbtgt = [s for s in plan.steps if s.action == "reset_krbtgt"]
    for s in plan.steps:
        gate = (bool(preserve) and s is preserve[-1]) or (len(krbtgt) == 2 and s is krbtgt[0])
        lines += ["", *step_comment("#", s, "below" if s.system != "network" or s.action != "block_address"
                                    else "nothing here: a network device does it"), *_step(s, gate)]
    return "\n".join([*lines, ""])


def rollback(plan: ContainmentPlan) -> str:
    lines = header("#", plan, "PowerShell rollback", (
        "undoes the plan's firewall rules and account disabling, last step first; resets cannot be undone",
        "the isolated hosts answer only the --keep-access addresses: run it from one of them"))
    lines += ["$ErrorActionPreference = 'Continue'  # undo as much as possible"]
    done: set[str] = set()
    for s in reversed(plan.steps):
        lines.append("")
        lines += comment("#", f"step {s.order} {s.action} {s.target}: {s.rollback}")
        computer = _computer(s)
        if s.action in ("isolate_host", "restrict_service") and computer and computer not in done:
            done.add(computer)
            lines.append(f"Invoke-Command -ComputerName {literal(computer)} -ScriptBlock "
                         f"{{ Remove-NetFirewallRule -Group {literal(GROUP)} }}")
        elif s.system == "directory" and s.action == "disable_account":
            lines.append(f"Enable-ADAccount -Identity {literal(s.target)}")
    return "\n".join([*lines, ""])


FORMAT = Format("powershell", "a PowerShell script (Windows Firewall, Active Directory)", render, rollback)

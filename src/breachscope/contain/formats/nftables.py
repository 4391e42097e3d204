"""The plan as an `nft -f` script: one table `inet breachscope_containment` of its own (nothing else in the
ruleset is touched), named sets of the blocked, isolated, kept and internal addresses, and the same drop rules
on the input, forward and output hooks (a router the traffic crosses, or a Linux host applying it to itself),
each with a counter. Rollback: delete the table.

The script replaces an earlier copy of the table (create, delete, define: `nft -f` applies a file in one
transaction). Our chains accept nothing but the --keep-access traffic of isolated hosts, and an accept in our
table ends only our table's verdict: the rest of the ruleset still applies.
"""

from __future__ import annotations

from collections.abc import Iterable

from breachscope.contain import addresses as ips
from breachscope.contain.formats.base import (
    Format,
    header,
    manual_rollback,
    step_comment,
    step_numbers,
    steps_of,
)
from breachscope.model.containment import ContainmentPlan, ContainmentStep

TABLE = "inet breachscope_containment"
PRIORITY = -10  # before the usual filter chains (priority 0): our drops come first
HOOKS = ("input", "forward", "output")


def _set(name: str, kind: str, values: list[str], interval: bool) -> list[str]:
    flags = " flags interval;" if interval else ""
    elements = f" elements = {{ {', '.join(values)} }};" if values else ""
    return [f"    set {name} {{ type {kind};{flags}{elements} }}"]


def _sets(plan: ContainmentPlan) -> dict[str, list[str]]:
    """Set name -> its elements (validated addresses and networks)."""
    def nets(values: Iterable[str], v: int) -> list[str]:
        valid = [ips.network(a) for a in values]
        return [ips.text(n) for n in ips.collapsed(n for n in valid if n is not None and n.version == v)]

    def of(steps: list[ContainmentStep], v: int) -> list[str]:
        return nets((a for s in steps for a in s.addresses), v)

    blocked, isolated = steps_of(plan, "block_address"), steps_of(plan, "isolate_host")
    return {"blocked_v4": of(blocked, 4), "blocked_v6": of(blocked, 6), "isolated_v4": of(isolated, 4),
            "isolated_v6": of(isolated, 6), "keep_v4": nets(plan.keep_access, 4), "keep_v6": nets(plan.keep_access, 6),
            "internal_v4": nets(plan.internal_networks, 4), "internal_v6": nets(plan.internal_networks, 6)}


def _restrict_rules(s: ContainmentStep) -> list[str]:
    rules = []
    for a in s.addresses:
        fam, v = ("ip", "v4") if ips.version(a) == 4 else ("ip6", "v6")
        port = ""
        if s.service:
            proto, number = s.service.split("/")
            port = f" {proto} dport {int(number)}"
        what = s.service or "every service"
        rules.append(f"{fam} daddr {a}{port} {fam} saddr != @internal_{v} counter drop "
                     f'comment "breachscope step {s.order}: restrict {what} of {a} to the internal networks"')
    return rules


def _chain_rules(plan: ContainmentPlan) -> list[str]:
    blocked, isolated = steps_of(plan, "block_address"), steps_of(plan, "isolate_host")
    b, i = step_numbers(blocked), step_numbers(isolated)
    rules = []
    for fam, v in (("ip", "v4"), ("ip6", "v6")) if blocked else ():
        rules += [f'{fam} saddr @blocked_{v} counter drop comment "breachscope {b}: from blocked addresses"',
                  f'{fam} daddr @blocked_{v} counter drop comment "breachscope {b}: to blocked addresses"']
    for s in steps_of(plan, "restrict_service"):
        rules += _restrict_rules(s)
    for fam, v in (("ip", "v4"), ("ip6", "v6")) if isolated else ():
        rules += [f'{fam} saddr @isolated_{v} {fam} daddr @keep_{v} accept comment "breachscope {i}: kept access"',
                  f'{fam} daddr @isolated_{v} {fam} saddr @keep_{v} accept comment "breachscope {i}: kept access"',
                  f'{fam} saddr @isolated_{v} counter drop comment "breachscope {i}: from isolated hosts"',
                  f'{fam} daddr @isolated_{v} counter drop comment "breachscope {i}: to isolated hosts"']
    return rules


def _here(s: ContainmentStep) -> str:
    if s.action == "block_address":
        return f"{s.addresses[0]} is in set blocked_v{ips.version(s.addresses[0])} (dropped both ways)"
    if s.action == "restrict_service":
        return (f"rules 'breachscope step {s.order}' drop it from outside internal_v4/internal_v6"
                if s.addresses else "nothing: no address known")
    if s.action == "isolate_host":
        return ("its addresses are in isolated_v4/isolated_v6 (dropped both ways, keep_v4/keep_v6 excepted)"
                if s.addresses else "nothing: no address known, isolate it on its switch port or host firewall")
    return "nothing in nftables: do it by hand, in this order"


def render(plan: ContainmentPlan) -> str:
    lines = ["#!/usr/sbin/nft -f", *header("#", plan, "nftables", (
        "apply as root on the router or firewall the traffic crosses (or on a Linux host itself): nft -f FILE",
        "check first: nft -c -f FILE; counters: nft list table inet breachscope_containment",
        "roll back: nft delete table inet breachscope_containment (breachscope contain --rollback)"))]
    for s in plan.steps:
        lines += [*step_comment("#", s, _here(s)), "#"]
    sets = _sets(plan)
    lines += [f"table {TABLE}", f"delete table {TABLE}", f"table {TABLE} {{"]
    for name, values in sets.items():
        lines += _set(name, "ipv4_addr" if name.endswith("v4") else "ipv6_addr", values,
                      interval=name.startswith(("keep", "internal")))
    rules = _chain_rules(plan)
    for hook in HOOKS:
        lines += [f"    chain {hook} {{", f"        type filter hook {hook} priority {PRIORITY}; policy accept;",
                  *(f"        {r}" for r in rules), "    }"]
    return "\n".join([*lines, "}", ""])


def rollback(plan: ContainmentPlan) -> str:
    lines = ["#!/usr/sbin/nft -f", *header("#", plan, "nftables rollback", (
        "removes everything the plan's script added: its table (nothing else in the ruleset is touched)",
        "steps nftables does not undo are listed below with how to undo them, last step first"))]
    lines += [*manual_rollback("#", plan), "#", f"table {TABLE}", f"delete table {TABLE}", ""]
    return "\n".join(lines)


FORMAT = Format("nftables", "an nft -f script (Linux routers, firewalls and hosts)", render, rollback)

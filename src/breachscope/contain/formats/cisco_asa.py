"""The plan as Cisco ASA configuration: network object-groups (blocked, internal, isolated, kept addresses; IPv4
and IPv6 together, as ASA 9 unified ACLs allow) and one extended ACL, BREACHSCOPE-CONTAIN, whose lines match
both directions by source and destination and that ends with `permit ip any any`.

It is meant for the inside interfaces, `in` (traffic from the hosts: to the blocked addresses, from the
isolated hosts) and `out` (traffic to the hosts: from the blocked addresses, to the restricted service and the
isolated hosts). There its final permit changes nothing the ASA would otherwise do: inside-to-outside traffic
is permitted by default, and traffic leaving toward the inside already passed the outside interface's own
list. Never apply it to the outside interface: its final permit would open it. The interface names (nameif)
are not in the evidence: the `access-group` lines are marked placeholders (`!@ `).
"""

from __future__ import annotations

from breachscope.contain import addresses as ips
from breachscope.contain.formats.base import (
    Format,
    comment,
    header,
    manual_rollback,
    step_comment,
    step_numbers,
    steps_of,
)
from breachscope.model.containment import ContainmentPlan, ContainmentStep

ACL = "BREACHSCOPE-CONTAIN"
GROUPS = {"blocked": "BREACHSCOPE-BLOCKED", "internal": "BREACHSCOPE-INTERNAL", "isolated": "BREACHSCOPE-ISOLATED",
          "keep": "BREACHSCOPE-KEEP"}
PLACEHOLDER = "!@ "


def member(value: str) -> str:
    """An object-group member (contain.addresses.cisco)."""
    return ips.cisco(value, wildcard=False)


def _groups(plan: ContainmentPlan) -> dict[str, list[str]]:
    """Group name -> its members (only groups with members exist: an ASA refuses an empty one in an ACL)."""
    restricted = steps_of(plan, "restrict_service")
    members = {
        "blocked": [a for s in steps_of(plan, "block_address") for a in s.addresses],
        "internal": list(plan.internal_networks) if any(s.addresses for s in restricted) else [],
        "isolated": [a for s in steps_of(plan, "isolate_host") for a in s.addresses],
        "keep": list(plan.keep_access) if any(s.addresses for s in steps_of(plan, "isolate_host")) else [],
    }
    return {GROUPS[k]: [member(v) for v in dict.fromkeys(vals)] for k, vals in members.items() if vals}


def _acl(plan: ContainmentPlan, groups: dict[str, list[str]]) -> list[str]:
    line = f"access-list {ACL} extended"
    blocked, isolated = GROUPS["blocked"], GROUPS["isolated"]
    out = []
    if blocked in groups:
        out += [f"access-list {ACL} remark breachscope {step_numbers(steps_of(plan, 'block_address'))}: "
                "blocked addresses, both ways",
                f"{line} deny ip object-group {blocked} any log", f"{line} deny ip any object-group {blocked} log"]
    # isolation before the restricted service: its permits for the inside must not reach an isolated host
    if isolated in groups:
        out.append(f"access-list {ACL} remark breachscope {step_numbers(steps_of(plan, 'isolate_host'))}: "
                   "isolated hosts")
        if GROUPS["keep"] in groups:
            out += [f"{line} permit ip object-group {GROUPS['keep']} object-group {isolated}",
                    f"{line} permit ip object-group {isolated} object-group {GROUPS['keep']}"]
        out += [f"{line} deny ip object-group {isolated} any log", f"{line} deny ip any object-group {isolated} log"]
    for s in steps_of(plan, "restrict_service"):
        proto, port = s.service.split("/") if s.service else ("ip", "")
        eq = f" eq {int(port)}" if port else ""
        for a in s.addresses:
            out += [f"access-list {ACL} remark breachscope step {s.order}: {s.service or 'every service'} of {a} "
                    "from inside only",
                    *([f"{line} permit {proto} object-group {GROUPS['internal']} {member(a)}{eq}"]
                      if GROUPS["internal"] in groups else []),
                    f"{line} deny {proto} any {member(a)}{eq} log"]
    if out:
        out += [f"access-list {ACL} remark breachscope: everything else passes as before", f"{line} permit ip any any"]
    return out


def _apply(negate: bool = False) -> list[str]:
    no = "no " if negate else ""
    return [*comment("!", "PLACEHOLDER: the inside interfaces (nameif) in front of the hosts are not known from the "
                          "evidence: list them with `show nameif` and `show route` (the interface toward each "
                          "host's address); `show running-config access-group` shows the lists already applied: "
                          "`access-group` replaces an interface's list, so add the plan's lines to an existing one "
                          "instead. Repeat the two lines for every inside interface; never the outside one."),
            f"{PLACEHOLDER}{no}access-group {ACL} in interface INSIDE-NAMEIF",
            f"{PLACEHOLDER}{no}access-group {ACL} out interface INSIDE-NAMEIF"]


def _here(s: ContainmentStep) -> str:
    if s.action == "block_address":
        return f"member of object-group {GROUPS['blocked']}, denied both ways in {ACL}"
    if s.action == "restrict_service":
        return f"lines of {ACL} after remark 'breachscope step {s.order}'" if s.addresses else "nothing: no address"
    if s.action == "isolate_host":
        return (f"member of object-group {GROUPS['isolated']}, denied both ways in {ACL} "
                f"({GROUPS['keep']} excepted)" if s.addresses else "nothing: no address known")
    return "nothing on the ASA: do it by hand, in this order"


def render(plan: ContainmentPlan) -> str:
    groups = _groups(plan)
    acl = _acl(plan, groups)
    lines = header("!", plan, "Cisco ASA", (
        "paste in configuration mode (configure terminal); complete the !@ placeholder lines first",
        f"counters: show access-list {ACL}; roll back: breachscope contain --rollback --format cisco-asa"))
    for s in plan.steps:
        lines += [*step_comment("!", s, _here(s)), "!"]
    for name, members in groups.items():
        lines += [f"object-group network {name}", *(f" network-object {m}" for m in members)]
    lines += acl or comment("!", "the plan has nothing for a firewall to do")
    if acl:
        lines += ["!", *_apply()]
    return "\n".join([*lines, ""])


def rollback(plan: ContainmentPlan) -> str:
    groups = _groups(plan)
    lines = header("!", plan, "Cisco ASA rollback", (
        "removes what the plan's configuration added: the list's application, the list, the object-groups",
        "steps a firewall does not undo are listed below with how to undo them, last step first"))
    lines += manual_rollback("!", plan)
    if _acl(plan, groups):
        lines += ["!", *_apply(negate=True), f"clear configure access-list {ACL}"]
    lines += [f"no object-group network {name}" for name in groups]
    return "\n".join([*lines, ""])


FORMAT = Format("cisco-asa", "Cisco ASA configuration (object-groups, an extended ACL)", render, rollback)

"""The plan as Cisco IOS / IOS XE configuration: extended named ACLs with remarks (BREACHSCOPE-EDGE for the
blocked addresses and the restricted service, BREACHSCOPE-ISOLATE for the isolated hosts, and their IPv6
twins), each ending with `permit ... any any` so that only the plan's lines change what passes.

The interfaces are not in the evidence, so the `ip access-group` lines are written as marked placeholders
(`!@ ` lines, inactive as comments): find the interface as the comment says, then remove `!@ ` and put its
name in place of EDGE-INTERFACE / ISOLATE-INTERFACE-n. Nothing is invented.
"""

from __future__ import annotations

from breachscope.contain import addresses as ips
from breachscope.contain.formats.base import Format, comment, header, manual_rollback, step_comment, steps_of
from breachscope.model.containment import ContainmentPlan, ContainmentStep

EDGE, ISOLATE = "BREACHSCOPE-EDGE", "BREACHSCOPE-ISOLATE"
PLACEHOLDER = "!@ "  # an inactive line to complete by hand: remove this mark once the interface is known


def spec(value: str) -> str:
    """An address or network in an IOS ACL (contain.addresses.cisco)."""
    return ips.cisco(value, wildcard=True)


def _acl_lines(plan: ContainmentPlan, v: int) -> tuple[list[str], list[str]]:
    """(edge ACL lines, isolation ACL lines) of one address family."""
    proto_ip = "ip" if v == 4 else "ipv6"
    edge: list[str] = []
    for s in steps_of(plan, "block_address"):
        for a in (x for x in s.addresses if ips.version(x) == v):
            edge += [f" remark breachscope step {s.order}: block {a} both ways",
                     f" deny {proto_ip} {spec(a)} any log", f" deny {proto_ip} any {spec(a)} log"]
    for s in steps_of(plan, "restrict_service"):
        for a in (x for x in s.addresses if ips.version(x) == v):
            proto, port = (s.service.split("/") if s.service else (proto_ip, ""))
            eq = f" eq {int(port)}" if port else ""
            edge.append(f" remark breachscope step {s.order}: {s.service or 'every service'} of {a} from inside only")
            edge += [f" permit {proto} {spec(n)} {spec(a)}{eq}" for n in s.allowed if ips.version(n) == v]
            edge.append(f" deny {proto} any {spec(a)}{eq} log")
    iso: list[str] = []
    for s in steps_of(plan, "isolate_host"):
        for a in (x for x in s.addresses if ips.version(x) == v):
            iso.append(f" remark breachscope step {s.order}: isolate {a}")
            for k in (k for k in s.allowed if ips.version(k) == v):
                iso += [f" permit {proto_ip} {spec(k)} {spec(a)}", f" permit {proto_ip} {spec(a)} {spec(k)}"]
            iso += [f" deny {proto_ip} {spec(a)} any log", f" deny {proto_ip} any {spec(a)} log"]
    return edge, iso


def _acls(plan: ContainmentPlan) -> list[tuple[str, str, list[str]]]:
    """(definition keyword, name, lines) of every ACL the plan needs; lines end with the permit-all."""
    out = []
    for v, kind, suffix in ((4, "ip access-list extended", ""), (6, "ipv6 access-list", "6")):
        edge, iso = _acl_lines(plan, v)
        every = " permit ip any any" if v == 4 else " permit ipv6 any any"
        for name, lines in ((EDGE + suffix, edge), (ISOLATE + suffix, iso)):
            if lines:
                out.append((kind, name, [*lines, " remark breachscope: everything else passes as before", every]))
    return out


def _apply(name: str, v: int, negate: bool = False) -> list[str]:
    no = "no " if negate else ""
    verb = "ip access-group" if v == 4 else "ipv6 traffic-filter"
    return [f"{PLACEHOLDER} {no}{verb} {name} in", f"{PLACEHOLDER} {no}{verb} {name} out"]


def _interfaces(plan: ContainmentPlan, acls: list[tuple[str, str, list[str]]], negate: bool = False) -> list[str]:
    names = {name for _, name, _ in acls}
    lines: list[str] = []
    edge = [(n, v) for n, v in ((EDGE, 4), (EDGE + "6", 6)) if n in names]
    if edge:
        outside = next((a for s in steps_of(plan, "block_address") for a in s.addresses), "0.0.0.0")
        lines += [*comment("!", "PLACEHOLDER: the edge interface (toward the Internet) is not known from the evidence. "
                                f"Find it with `show ip route {outside}` (the outgoing interface toward the outside) "
                                "or `show ip interface brief`. An interface holds "
                                "one ACL per direction: `show ip interface NAME | include access list` first; if it "
                                "has one, add the plan's lines to it instead of replacing it."),
                  f"{PLACEHOLDER}interface EDGE-INTERFACE"]
        for n, v in edge:
            lines += _apply(n, v, negate)
        lines.append("!")
    isolated = [s for s in steps_of(plan, "isolate_host") if s.addresses]
    if any(n.startswith(ISOLATE) for n in names):
        for k, s in enumerate(isolated, 1):
            lines += [*comment("!", f"PLACEHOLDER: the interface in front of isolated host {s.target} (step "
                                    f"{s.order}) is not known from the evidence. Find it on the router of its subnet "
                                    f"with `show ip arp {s.addresses[0]}` (its Interface column), or on its switch "
                                    f"with `show mac address-table address MAC`."),
                      f"{PLACEHOLDER}interface ISOLATE-INTERFACE-{k}"]
            for n, v in ((ISOLATE, 4), (ISOLATE + "6", 6)):
                if n in names and any(ips.version(a) == v for a in s.addresses):
                    lines += _apply(n, v, negate)
            if not negate:  # the switch-port alternative stays a comment: filling the placeholders never runs it
                lines += comment("!", f"Or shut {s.target}'s access switch port instead (after its captures; it also "
                                      "cuts the --keep-access addresses): `interface PORT` then `shutdown` (roll back: "
                                      "`no shutdown`).")
            lines.append("!")
    return lines


def _here(s: ContainmentStep) -> str:
    if s.action in ("block_address", "restrict_service"):
        return f"lines of ACL {EDGE} (IPv6: {EDGE}6) after remark 'breachscope step {s.order}'"
    if s.action == "isolate_host":
        return (f"lines of ACL {ISOLATE} (IPv6: {ISOLATE}6) after remark 'breachscope step {s.order}'"
                if s.addresses else "nothing: no address known, isolate it on its switch port")
    return "nothing on the router: do it by hand, in this order"


def render(plan: ContainmentPlan) -> str:
    acls = _acls(plan)
    lines = header("!", plan, "Cisco IOS / IOS XE", (
        "paste in configuration mode (configure terminal); complete the !@ placeholder lines first",
        "counters: show access-lists BREACHSCOPE-EDGE; roll back: breachscope contain --rollback --format cisco-ios"))
    for s in plan.steps:
        lines += [*step_comment("!", s, _here(s)), "!"]
    for kind, name, body in acls:
        lines += [f"no {kind} {name}", f"{kind} {name}", *body, "!"]
    if not acls:
        lines += comment("!", "the plan has nothing for a router to do")
    lines += _interfaces(plan, acls)
    return "\n".join([*lines, "end", ""])


def rollback(plan: ContainmentPlan) -> str:
    acls = _acls(plan)
    lines = header("!", plan, "Cisco IOS / IOS XE rollback", (
        "removes what the plan's configuration added: the ACLs' application, then the ACLs",
        "steps a router does not undo are listed below with how to undo them, last step first"))
    lines += manual_rollback("!", plan)
    lines += ["!", *_interfaces(plan, acls, negate=True)]
    lines += [f"no {kind} {name}" for kind, name, _ in acls]
    return "\n".join([*lines, "end", ""])


FORMAT = Format("cisco-ios", "Cisco IOS / IOS XE configuration (extended named ACLs)", render, rollback)

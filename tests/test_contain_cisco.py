"""Cisco IOS and ASA plans read back with ciscoconfparse2, line by line: every blocked address is denied both
ways in the named ACL, the restricted service is open to the internal networks only, the isolated hosts are
cut off but for the kept addresses, the ACL is applied once its placeholder is completed (and never to an
invented interface before), and the rollback removes exactly what the plan added. Hostile incidents produce
only lines of the expected grammar."""

from __future__ import annotations

import ipaddress
import re

import pytest
from ciscoconfparse2 import CiscoConfParse

from breachscope.contain.formats import cisco_asa, cisco_ios
from breachscope.contain.plan import build_plan
from breachscope.model.containment import ContainmentPlan
from tests.contain_incidents import DCSYNC, HOSTILE_NAMES, hostile, ntt

PLANS = {"ntt": lambda: build_plan(ntt(dc_rules=(DCSYNC,)), keep_access=("10.9.9.9", "10.8.0.0/16", "fd00::/8")),
         "hostile": lambda: build_plan(hostile(), keep_access=("10.9.9.9",))}
INTERFACES = {"EDGE-INTERFACE": "GigabitEthernet0/0", "INSIDE-NAMEIF": "inside"}


def activated(text: str) -> list[str]:
    """The script as an operator completes it: placeholder lines active, interfaces named."""
    out = []
    for line in text.splitlines():
        if line.startswith("!@ "):
            line = line[3:]
            for placeholder, real in INTERFACES.items():
                line = line.replace(placeholder, real)
            line = re.sub(r"ISOLATE-INTERFACE-(\d+)", r"GigabitEthernet1/\1", line)
        out.append(line)
    return out


def code(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("!")]


def blocked(plan: ContainmentPlan) -> list[str]:
    return [s.addresses[0] for s in plan.steps if s.action == "block_address"]


def ios_spec(value: str) -> str:
    net = ipaddress.ip_network(value)
    if net.num_addresses == 1:
        return f"host {net.network_address}"
    return f"{net.network_address} {net.hostmask}" if net.version == 4 else str(net)


# --- IOS ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PLANS)
def test_ios_acls_deny_every_blocked_address_both_ways_and_are_applied(name: str) -> None:
    plan = PLANS[name]()
    text = cisco_ios.render(plan)
    assert not [line for line in code(text) if line.startswith("interface")], "no interface is invented"
    parse = CiscoConfParse(activated(text), syntax="ios")

    def acl(kind: str, acl_name: str) -> list[str]:
        found = parse.find_objects(rf"^{kind} {acl_name}$")
        assert len(found) <= 1, acl_name
        return [c.text.strip() for c in found[0].children] if found else []

    edge4, edge6 = acl("ip access-list extended", "BREACHSCOPE-EDGE"), acl("ipv6 access-list", "BREACHSCOPE-EDGE6")
    for a in blocked(plan):
        lines, proto = (edge4, "ip") if ":" not in a else (edge6, "ipv6")
        assert f"deny {proto} host {a} any log" in lines and f"deny {proto} any host {a} log" in lines, a
    assert edge4[-1] == "permit ip any any" and (not edge6 or edge6[-1] == "permit ipv6 any any")
    assert bool(edge6) == any(":" in a for a in blocked(plan))
    for s in (s for s in plan.steps if s.action == "restrict_service"):
        proto, port = s.service.split("/") if s.service else ("ip", "")
        eq = f" eq {port}" if port else ""
        for a in s.addresses:
            deny = edge4.index(f"deny {proto} any host {a}{eq} log")
            permits = [edge4.index(f"permit {proto} {ios_spec(n)} host {a}{eq}") for n in s.allowed if ":" not in n]
            assert permits and max(permits) < deny  # the inside first, then everyone else refused
    iso = acl("ip access-list extended", "BREACHSCOPE-ISOLATE")
    for s in (s for s in plan.steps if s.action == "isolate_host"):
        for a in (a for a in s.addresses if ":" not in a):
            deny = iso.index(f"deny ip host {a} any log")
            for k in (k for k in s.allowed if ":" not in k):
                assert iso.index(f"permit ip {ios_spec(k)} host {a}") < deny
                assert iso.index(f"permit ip host {a} {ios_spec(k)}") < deny
            assert f"deny ip any host {a} log" in iso
    assert iso[-1] == "permit ip any any"
    edge_if = parse.find_objects(r"^interface GigabitEthernet0/0$")
    assert [c.text.strip() for c in edge_if[0].children] == [
        "ip access-group BREACHSCOPE-EDGE in", "ip access-group BREACHSCOPE-EDGE out",
        *(["ipv6 traffic-filter BREACHSCOPE-EDGE6 in", "ipv6 traffic-filter BREACHSCOPE-EDGE6 out"] if edge6 else [])]
    isolated = [s for s in plan.steps if s.action == "isolate_host" and s.addresses]
    for k, s in enumerate(isolated, 1):
        applied = [c.text.strip() for c in parse.find_objects(rf"^interface GigabitEthernet1/{k}$")[0].children]
        assert {"ip access-group BREACHSCOPE-ISOLATE in", "ip access-group BREACHSCOPE-ISOLATE out"} <= set(applied)
        assert f"show ip arp {s.addresses[0]}" in text  # how to find the interface


@pytest.mark.parametrize("name", PLANS)
def test_ios_rollback_removes_exactly_what_was_added(name: str) -> None:
    plan = PLANS[name]()
    apply = CiscoConfParse(activated(cisco_ios.render(plan)), syntax="ios")
    undo = CiscoConfParse(activated(cisco_ios.rollback(plan)), syntax="ios")
    defined = {o.text for o in apply.find_objects(r"^(ip|ipv6) access-list ")}
    removed = {o.text[3:] for o in undo.find_objects(r"^no (ip|ipv6) access-list ")}
    assert defined and removed == defined

    def applications(parse: CiscoConfParse, negate: bool) -> set[tuple[str, str]]:
        prefix = "no " if negate else ""
        return {(i.text, c.text.strip()[len(prefix):]) for i in parse.find_objects(r"^interface ")
                for c in i.children}

    assert applications(undo, True) == applications(apply, False)
    assert all(c.text.strip().startswith("no ") for i in undo.find_objects(r"^interface ") for c in i.children)
    others = [line for line in code(cisco_ios.rollback(plan)) if not line.startswith("no ") and line != "end"]
    assert others == []


# --- ASA ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PLANS)
def test_asa_acl_denies_every_blocked_address_both_ways_and_is_applied(name: str) -> None:
    plan = PLANS[name]()
    text = cisco_asa.render(plan)
    assert not [line for line in code(text) if line.startswith("access-group")], "no interface is invented"
    parse = CiscoConfParse(activated(text), syntax="asa")

    def members(group: str) -> list[str]:
        found = parse.find_objects(rf"^object-group network {group}$")
        assert len(found) == 1, group
        return [c.text.strip() for c in found[0].children]

    acl = [o.text for o in parse.find_objects(r"^access-list BREACHSCOPE-CONTAIN extended ")]
    line = "access-list BREACHSCOPE-CONTAIN extended"
    assert f"{line} deny ip object-group BREACHSCOPE-BLOCKED any log" in acl
    assert f"{line} deny ip any object-group BREACHSCOPE-BLOCKED log" in acl
    assert members("BREACHSCOPE-BLOCKED") == [f"network-object host {a}" for a in blocked(plan)]
    isolated = [a for s in plan.steps if s.action == "isolate_host" for a in s.addresses]
    assert members("BREACHSCOPE-ISOLATED") == [f"network-object host {a}" for a in isolated]
    deny_iso = acl.index(f"{line} deny ip object-group BREACHSCOPE-ISOLATED any log")
    assert acl.index(f"{line} permit ip object-group BREACHSCOPE-KEEP object-group BREACHSCOPE-ISOLATED") < deny_iso
    for s in (s for s in plan.steps if s.action == "restrict_service"):
        proto, port = s.service.split("/") if s.service else ("ip", "")
        eq = f" eq {port}" if port else ""
        for a in s.addresses:
            deny = acl.index(f"{line} deny {proto} any host {a}{eq} log")
            permit = acl.index(f"{line} permit {proto} object-group BREACHSCOPE-INTERNAL host {a}{eq}")
            assert deny_iso < permit < deny  # isolation first: the inside's permit never reaches an isolated host
    assert acl[-1] == f"{line} permit ip any any"
    applied = {o.text for o in parse.find_objects(r"^access-group ")}
    assert applied == {"access-group BREACHSCOPE-CONTAIN in interface inside",
                       "access-group BREACHSCOPE-CONTAIN out interface inside"}
    words = " ".join(line.lstrip("!@ ").strip() for line in text.splitlines())
    assert "never the outside one" in words


@pytest.mark.parametrize("name", PLANS)
def test_asa_rollback_removes_exactly_what_was_added(name: str) -> None:
    plan = PLANS[name]()
    apply = CiscoConfParse(activated(cisco_asa.render(plan)), syntax="asa")
    undo = CiscoConfParse(activated(cisco_asa.rollback(plan)), syntax="asa")
    groups = {o.text for o in apply.find_objects(r"^object-group ")}
    assert groups and {o.text[3:] for o in undo.find_objects(r"^no object-group ")} == groups
    acls = {o.text.split()[1] for o in apply.find_objects(r"^access-list ")}
    assert acls == {"BREACHSCOPE-CONTAIN"}
    assert [o.text for o in undo.find_objects(r"^clear configure access-list ")] == [
        "clear configure access-list BREACHSCOPE-CONTAIN"]
    assert {o.text[3:] for o in undo.find_objects(r"^no access-group ")} == \
        {o.text for o in apply.find_objects(r"^access-group ")}
    rest = [line for line in code(cisco_asa.rollback(plan))
            if not line.startswith(("no object-group ", "clear configure access-list "))]
    assert rest == []


# --- hostile values ------------------------------------------------------------------------------------------------
ADDR = r"[0-9a-f.:/]+"
SPEC = rf"(any|host {ADDR}|{ADDR} [0-9.]+|{ADDR})"
IOS_GRAMMAR = [r"no (ip access-list extended|ipv6 access-list) BREACHSCOPE-[A-Z]+6?",
               r"(ip access-list extended|ipv6 access-list) BREACHSCOPE-[A-Z]+6?",
               r" remark breachscope[ -~]*", rf" (permit|deny) (ip|ipv6|tcp|udp) {SPEC} {SPEC}( eq \d+)?( log)?", "end"]
ASA_GRAMMAR = [r"object-group network BREACHSCOPE-[A-Z]+", rf" network-object (host {ADDR}|{ADDR} [0-9.]+|{ADDR})",
               r"access-list BREACHSCOPE-CONTAIN remark breachscope[ -~]*",
               rf"access-list BREACHSCOPE-CONTAIN extended (permit|deny) (ip|tcp|udp) "
               rf"(any|host {ADDR}|object-group BREACHSCOPE-[A-Z]+) (any|host {ADDR}|object-group BREACHSCOPE-[A-Z]+)"
               rf"( eq \d+)?( log)?",
               r"clear configure access-list BREACHSCOPE-CONTAIN", r"no object-group network BREACHSCOPE-[A-Z]+"]


@pytest.mark.parametrize(("render", "grammar"), [(cisco_ios.render, IOS_GRAMMAR), (cisco_ios.rollback, IOS_GRAMMAR),
                                                  (cisco_asa.render, ASA_GRAMMAR), (cisco_asa.rollback, ASA_GRAMMAR)])
def test_hostile_values_never_break_the_syntax(render: object, grammar: list[str]) -> None:
    text = render(PLANS["hostile"]())  # type: ignore[operator]
    assert text.isascii()
    for line in text.splitlines():
        assert all(0x20 <= ord(c) < 0x7F for c in line), line
        if line.startswith("!") or not line:
            continue
        assert any(re.fullmatch(g, line) for g in grammar), line
    for bad in HOSTILE_NAMES:
        assert bad not in "\n".join(code(text))
    assert "a;rm -rf /" in text  # named in the comments, escaped

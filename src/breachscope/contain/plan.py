"""The incident -> its containment plan, in an order that keeps the evidence: capture memory, then disk, of
every host about to be cut off (and of the entry host); block the attacker's outside addresses at the edge,
both ways; restrict the entry host's exposed service to the inside; isolate the hosts the attacker worked
from (pivot, staging, exfiltration source: NTT cut device B off and restricted device A's access); disable the
accounts used and reset their passwords; reset krbtgt twice when DCSync or a golden ticket is seen; verify.

Capture comes first because blocking and isolating warn the attacker (an implant that loses its C2 may wipe
itself) and end the connections that memory still shows. Pure: the same incident gives the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from breachscope.contain import addresses as ips
from breachscope.contain.accounts import account_actions
from breachscope.model.containment import Action, ContainmentPlan, ContainmentStep, Phase, System
from breachscope.model.findings import RULE_LEVEL_RANK
from breachscope.model.incident import Alert, EvidenceRef, Incident, IncidentHost

ISOLATE_ROLES = ("pivot", "staging", "exfiltration_source")
BLOCK_ROLES = {"initial_access": "initial access", "c2": "command and control", "exfiltration": "exfiltration",
               "c2_and_exfiltration": "command and control and exfiltration", "later_attempt": "a later attempt"}
#: signs that the attacker may hold krbtgt's key: rule ids and ATT&CK techniques (by id, never by title)
KRBTGT_RULES = {"analytic:dcsync": "DCSync", "analytic:golden_ticket": "golden ticket"}
KRBTGT_TECHNIQUES = {"T1003.006": "DCSync", "T1558.001": "golden ticket"}
ACT_LEVEL = RULE_LEVEL_RANK["medium"]  # a weaker sign is noted for a person to verify, not acted on
_SERVICE = re.compile(r"(tcp|udp)/(\d{1,5})")
#: the investigation's sigma alert reason (for incidents written before hosts carried their rules)
_SIGMA_REASON = re.compile(r"(?:Analytic|Sigma): (?P<title>.*) \((?P<level>[a-z]+), \d+ event\(s\); "
                           r"fires on \d+ host\(s\)\)", re.S)
_KRBTGT_TITLES = ("dcsync", "golden ticket sign")


@dataclass
class _Steps:
    """The plan being written: steps in order, notes."""

    steps: list[ContainmentStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, phase: Phase, action: Action, system: System, target: str, reason: str,
            evidence: Iterable[EvidenceRef], rollback: str, *, addresses: Sequence[str] = (),
            service: str | None = None, allowed: Sequence[str] = ()) -> None:
        self.steps.append(ContainmentStep(
            order=len(self.steps) + 1, phase=phase, action=action, system=system, target=target,
            addresses=tuple(addresses), service=service, allowed=tuple(allowed), reason=reason,
            evidence=tuple(dict.fromkeys(evidence)), rollback=rollback))


def build_plan(incident: Incident, alerts: Sequence[Alert] | None = None,
               keep_access: Iterable[str] = ()) -> ContainmentPlan:
    """The containment plan of `incident`. `alerts` (alerts.parquet) are read only for DCSync and golden-ticket
    signs in incidents written before hosts carried their rules; `keep_access`: addresses or networks that keep
    reaching the isolated hosts (invalid ones are left out, with a note)."""
    out = _Steps()
    keep = _networks(keep_access, "--keep-access", out.notes)
    internal = _internal(incident, out.notes)
    hosts = [h for h in incident.hosts if not h.role.startswith("external")]
    entry = next((h for h in hosts if "entry" in h.roles), None)
    isolate = [h for h in hosts if set(h.roles) & set(ISOLATE_ROLES)]
    capture = [h for h in hosts if h is entry or h in isolate]
    host_ips = {h.name: _host_addresses(h, out.notes) for h in capture}
    _preserve(out, capture, host_ips, isolate)
    blocked = _block(out, incident, internal)
    _restrict(out, incident, entry, host_ips, internal)
    _isolate(out, isolate, host_ips, keep)
    _accounts(out, incident)
    _krbtgt(out, incident, alerts)
    _verify(out, blocked, isolate)
    _left_alone(out.notes, hosts, capture)
    kept = tuple(ips.text(n) for n in keep)
    for a in blocked:
        ip = ips.address(a)
        if ip is not None and any(ip.version == n.version and ip in n for n in keep):
            out.notes.append(f"{a} is blocked and also in --keep-access: the block wins (blocks come first)")
    return ContainmentPlan(case=incident.case, incident_generated_at=incident.generated_at, steps=tuple(out.steps),
                           keep_access=kept, internal_networks=tuple(ips.text(n) for n in internal),
                           notes=tuple(dict.fromkeys(out.notes)))


def _networks(values: Iterable[str], what: str, notes: list[str]) -> tuple[ips.Network, ...]:
    nets = []
    for v in values:
        n = ips.network(v)
        if n is None:
            notes.append(f"{what}: {v!r} is not an address or a network: left out")
        else:
            nets.append(n)
    return ips.collapsed(nets)


def _internal(incident: Incident, notes: list[str]) -> tuple[ips.Network, ...]:
    if incident.internal_networks:
        return _networks(incident.internal_networks, "internal network of the incident", notes)
    notes.append("the incident does not say which networks are inside (written before it recorded them): the "
                 f"private ranges are assumed ({', '.join(ips.DEFAULT_INTERNAL)}); rerun `breachscope investigate` "
                 "(with --assets for networks of your own) to use the investigation's")
    return _networks(ips.DEFAULT_INTERNAL, "default internal network", notes)


def _host_addresses(h: IncidentHost, notes: list[str]) -> tuple[str, ...]:
    good = []
    for a in h.addresses:
        ip = ips.address(a)
        if ip is None:
            notes.append(f"host {h.name}: {a!r} is not an address: left out of the commands")
        else:
            good.append(str(ip))
    if not good:
        notes.append(f"host {h.name}: no address in the incident: the network formats cannot isolate or restrict "
                     "it; do it on its switch port or with its host firewall (powershell format)")
    return tuple(dict.fromkeys(good))


def _roles(h: IncidentHost) -> str:
    return ", ".join(r.replace("_", " ") for r in h.roles)


def _preserve(out: _Steps, capture: list[IncidentHost], host_ips: dict[str, tuple[str, ...]],
              isolate: list[IncidentHost]) -> None:
    captures: tuple[tuple[Action, str, str], ...] = (
            ("capture_memory", "memory", "memory holds what the disk does not (running implants, their network "
             "connections, keys and passwords typed or decrypted) and is lost at the first reboot or once the "
             "attacker notices the block and cleans up; capture it before anything else changes on the host"),
            ("capture_disk", "disk", "the disk keeps the tools, logs and staged files; image it (or snapshot "
             "the virtual machine) after memory and before the host is cut off or cleaned"))
    for action, what, why in captures:
        for h in capture:
            fate = "isolated" if h in isolate else "restricted"
            out.add("preserve", action, "host", h.name, f"{h.name} ({_roles(h)}) is about to be {fate}: {why}",
                    h.evidence, f"nothing to undo; keep the {what} image with the case, its sha256 recorded",
                    addresses=host_ips[h.name])


def _block(out: _Steps, incident: Incident, internal: tuple[ips.Network, ...]) -> list[str]:
    blocked: list[str] = []
    for e in incident.external:
        if e.role not in BLOCK_ROLES:
            out.notes.append(f"external address {e.ip}: role {e.role}, not blocked (not a C2, exfiltration or "
                             "access address of the attack): review it")
            continue
        ip = ips.address(e.ip)
        if ip is None:
            out.notes.append(f"external address {e.ip!r}: not an address: not blocked (block it by hand if it is "
                             "a name: resolve it first)")
            continue
        if ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_link_local:
            out.notes.append(f"external address {ip}: a special address, not blocked")
            continue
        if any(ip.version == n.version and ip in n for n in internal):
            out.notes.append(f"external address {ip}: inside the internal networks, not blocked at the edge: "
                             "isolate the host behind it instead")
            continue
        if str(ip) in blocked:
            continue
        blocked.append(str(ip))
        name = f" ({e.name})" if e.name else ""
        seen = f", talking with {', '.join(e.internal_hosts)}" if e.internal_hosts else ""
        why = (f"{ip}{name} is the attack's {BLOCK_ROLES[e.role]} address{seen}: drop every packet from it and to it "
               f"at the edge (both ways: the implant calls out, the attacker comes in)"
               + (f"; {e.reasons[0]}" if e.reasons else ""))
        out.add("block", "block_address", "network", str(ip), why, e.evidence,
                f"remove {ip} from the block list (or run the plan's rollback) once every host that talked to it "
                "is clean", addresses=(str(ip),))
    if not blocked:
        out.notes.append("no external address to block: the incident names no C2, exfiltration or initial-access "
                         "address (it needs connection records of traffic with the outside: Zeek, flows, firewall)")
    return blocked


def _restrict(out: _Steps, incident: Incident, entry: IncidentHost | None, host_ips: dict[str, tuple[str, ...]],
              internal: tuple[ips.Network, ...]) -> None:
    if entry is None:
        out.notes.append("no entry host in the incident: no service to restrict")
        return
    if not host_ips[entry.name]:
        return  # noted with its addresses
    inbound = [e for e in incident.external if e.role in ("initial_access", "later_attempt")
               and entry.name.lower() in {h.lower() for h in e.internal_hosts}]
    services: dict[str, list[EvidenceRef]] = {}
    for e in inbound:
        for s in e.services:
            m = _SERVICE.fullmatch(s)
            if m and 0 < int(m.group(2)) < 65536:
                services.setdefault(f"{m.group(1)}/{int(m.group(2))}", []).extend(e.evidence)
            else:
                out.notes.append(f"entry host {entry.name}: service {s!r} reached from outside is not tcp/udp "
                                 "with a port: not restricted by the plan")
    allowed = tuple(ips.text(n) for n in internal)
    undo = ("restore the service's earlier exposure only once the host is rebuilt and the hole the attacker "
            "used is fixed (remove the step's rules, or run the plan's rollback)")
    for svc, ev in sorted(services.items(), key=lambda kv: (kv[0].split("/")[0], int(kv[0].split("/")[1]))):
        out.add("restrict", "restrict_service", "network", entry.name,
                f"{entry.name} is the entry host: the outside reached its {svc} (the way in); allow it from the "
                "internal networks only, so the business inside keeps it and the attacker cannot come back",
                ev, undo, addresses=host_ips[entry.name], service=svc, allowed=allowed)
    if not services:
        out.add("restrict", "restrict_service", "network", entry.name,
                f"{entry.name} is the entry host, but the incident does not say which of its services the outside "
                "reached (no inbound connection in the evidence, or it came from inside): every connection to it "
                "from outside the internal networks is refused, whatever the service (its own connections "
                "to the outside get no answer either)", entry.evidence, undo, addresses=host_ips[entry.name],
                allowed=allowed)


def _isolate(out: _Steps, isolate: list[IncidentHost], host_ips: dict[str, tuple[str, ...]],
             keep: tuple[ips.Network, ...]) -> None:
    kept = tuple(ips.text(n) for n in keep)
    but = f" except {', '.join(kept)} (--keep-access)" if kept else " (no --keep-access: nothing reaches it)"
    for h in isolate:
        out.add("isolate", "isolate_host", "network", h.name,
                f"{h.name} is where the attacker worked ({_roles(h)}): cut it off from every network{but}, as NTT "
                "cut device B off, after its memory and disk were captured", h.evidence,
                f"reconnect {h.name} only once it is rebuilt (or proven clean) and its accounts are reset "
                "(remove the step's rules, or run the plan's rollback)", addresses=host_ips[h.name], allowed=kept)


def _accounts(out: _Steps, incident: Incident) -> None:
    for a in account_actions(incident, out.notes):
        names = ", ".join(a.logged_as)
        where = {"directory": "Active Directory", "database": "the database", "host": "the host"}[a.system]
        if a.disable:
            out.add("accounts", "disable_account", a.system, a.name,
                    f"the attacker used {names} ({where}): disable it so the stolen credentials stop working",
                    a.evidence, "enable it again once its owner is verified and its password was reset")
        out.add("accounts", "reset_password", a.system, a.name,
                f"{names} ({where}) was used by the attacker: its password is known to them; reset it"
                + (f" ({a.why_not_disabled})" if a.why_not_disabled else ""),
                a.evidence, "none: the old password must not come back; give the owner the new one out of band")


def _krbtgt(out: _Steps, incident: Incident, alerts: Sequence[Alert] | None) -> None:
    signs, weak = _krbtgt_signs(incident, alerts)
    for text in weak:
        out.notes.append(f"krbtgt: {text} is a weak sign (below medium): verify it; if it is confirmed, reset krbtgt "
                         "twice as the plan does for a strong one")
    if not signs:
        out.notes.append("krbtgt: no DCSync or golden-ticket sign at medium level or above in the incident "
                         "(analytic:dcsync, analytic:golden_ticket, ATT&CK T1003.006, T1558.001): krbtgt is not reset")
        return
    what = "; ".join(text for text, _ in signs)
    evidence = [e for _, ev in signs for e in ev]
    undo = ("none: a krbtgt reset cannot be undone; Kerberos tickets issued before it stop working (users log on "
            "again, some services need a restart)")
    out.add("accounts", "reset_krbtgt", "directory", "krbtgt",
            f"{what}: the attacker may hold krbtgt's key and forge tickets (golden ticket) whatever other password "
            "is reset. First of two resets: it makes the key the attacker has the previous one", evidence, undo)
    out.add("accounts", "reset_krbtgt", "directory", "krbtgt",
            "second reset: domain controllers still accept tickets made with krbtgt's previous key, so one reset "
            "leaves a forged ticket working. Wait first until the first reset has replicated to every domain "
            "controller (repadmin /replsummary: no failures) and the maximum ticket lifetime (10 h by default) "
            "has passed, then reset again", evidence, undo)


def _krbtgt_signs(incident: Incident, alerts: Sequence[Alert] | None) -> tuple[list[tuple[str, list[EvidenceRef]]],
                                                                                  list[str]]:
    signs: list[tuple[str, list[EvidenceRef]]] = []
    weak: list[str] = []
    for h in incident.hosts:
        for r in h.rules:
            kind = KRBTGT_RULES.get(r.rule_id) or next((KRBTGT_TECHNIQUES[t] for t in r.attack
                                                        if t in KRBTGT_TECHNIQUES), None)
            if kind is None:
                continue
            text = f"{kind} on {h.name} ({r.rule_id}, {r.level})"
            if RULE_LEVEL_RANK.get(r.level, -1) >= ACT_LEVEL:
                signs.append((text, list(r.evidence)))
            else:
                weak.append(text)
    if alerts and not any(h.rules for h in incident.hosts):
        signs += _alert_signs(alerts)
    return signs, weak


def _alert_signs(alerts: Sequence[Alert]) -> list[tuple[str, list[EvidenceRef]]]:
    """Signs in the sigma alerts' reasons, as the investigation writes them (title, then level)."""
    out = []
    for a in alerts:
        m = _SIGMA_REASON.fullmatch(a.reason) if a.kind == "sigma" else None
        if m and m["title"].lower().startswith(_KRBTGT_TITLES) and RULE_LEVEL_RANK.get(m["level"], -1) >= ACT_LEVEL:
            out.append((f"{m['title']} on {a.host} ({m['level']})", list(a.evidence)))
    return out


def _verify(out: _Steps, blocked: list[str], isolate: list[IncidentHost]) -> None:
    what = []
    if blocked:
        what.append("the drop counters of the blocked addresses (a rising counter: a host still calls out, "
                    "find it)")
    if isolate:
        what.append("that the isolated hosts reach nothing but the --keep-access addresses")
    if any(s.action == "disable_account" for s in out.steps):
        what.append("the logs for new logons of the disabled accounts")
    what.append("the evidence sources for new connections with addresses outside that the incident does not name")
    out.add("verify", "verify_containment", "network", "the plan",
            "check " + "; ".join(what) + ": an attacker with another way in shows up here first", (),
            "nothing to undo")


def _left_alone(notes: list[str], hosts: list[IncidentHost], capture: list[IncidentHost]) -> None:
    for h in hosts:
        if h in capture:
            continue
        if h.crown_jewel:
            why = "holds the data at stake: watch it; isolating it stops the business"
        else:
            why = f"role {h.role.replace('_', ' ')}: review it; isolate it by hand if it shows signs of its own"
        notes.append(f"host {h.name}: not isolated ({why})")


def plan_counts(plan: ContainmentPlan) -> dict[str, Any]:
    """Headline numbers: steps per action, notes."""
    counts: dict[str, int] = {}
    for s in plan.steps:
        counts[s.action] = counts.get(s.action, 0) + 1
    return {"steps": len(plan.steps), "actions": counts, "notes": len(plan.notes)}

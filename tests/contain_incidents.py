"""Incidents the containment tests build: the NTT shape (an entry host reached from outside on tcp/8443, a
pivot that stages and sends the data out, a C2, accounts of every kind), with or without DCSync, and one
whose every value an attacker could write is hostile."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from breachscope.model.incident import (
    DbSession,
    EvidenceRef,
    ExternalEndpoint,
    Incident,
    IncidentAccount,
    IncidentHost,
    IncidentSuspects,
    RuleHit,
)

T = datetime(2025, 2, 5, 8, 0, tzinfo=UTC)
C2, ENTRY_FROM, LATER, LEGIT = "203.0.113.80", "198.51.100.45", "2001:db8:bad::46", "192.0.2.10"
ENTRY_IP, PIVOT_IP, STAGING_IP, DB_IP = "10.40.2.12", "10.40.9.15", "10.40.9.16", "10.40.2.30"
HOSTILE_NAMES = ("a;rm -rf /", "x'; Remove-Item C:\\ -Recurse; '", "evil\nreload\nip route 0.0.0.0 0.0.0.0 null0",
                 '"><script>alert(1)</script>', "\u2018curly\u2019 $(calc)", "bidi\u202eexe.txt", "esc\x1b]8;;x\x07")


def ev(name: str, record: int, table: str = "windows") -> EvidenceRef:
    return EvidenceRef(table, f"/evidence/{name}", record)


def host(name: str, addresses: tuple[str, ...], rank: int, roles: tuple[str, ...], *, function: str | None = None,
         crown_jewel: bool = False, rules: tuple[RuleHit, ...] = (),
         evidence: tuple[EvidenceRef, ...] = ()) -> IncidentHost:
    return IncidentHost(name=name, addresses=addresses, rank=rank, score=100.0 - rank, role=roles[0], roles=roles,
                        function=function, crown_jewel=crown_jewel, first_alert=T, last_alert=T, alerts=3,
                        reasons=(f"{roles[0]} signs",), evidence=evidence or (ev(f"{name}.json", rank),), rules=rules)


def external(ip: str, role: str, internal: tuple[str, ...], services: tuple[str, ...] = (),
             record: int = 1) -> ExternalEndpoint:
    return ExternalEndpoint(ip=ip, name=None, role=role, first_seen=T, last_seen=T, connections=3, bytes_out=0,
                            internal_hosts=internal, reasons=(f"{role} of the attack",),
                            evidence=(ev("conn.log", record, "zeek_conn"),), services=services)


def account(name: str, hosts: tuple[str, ...], table: str = "windows", kind: str = "lateral_movement",
            record: int = 7) -> IncidentAccount:
    return IncidentAccount(name=name, score=80.0, hosts=hosts, first_seen=T, reasons=(f"{kind}: used",),
                           evidence=(ev("acc.log", record, table),))


DCSYNC = RuleHit("analytic:dcsync", "high", ("T1003.006",), (ev("dc1-security.json", 4662),))
GOLDEN_SIGMA = RuleHit("0f9a2c1e-golden", "medium", ("T1558.001",), (ev("dc1-security.json", 4769),))
WEAK_DCSYNC = RuleHit("analytic:dcsync", "low", ("T1003.006",), (ev("dc1-security.json", 4663),))


def ntt(*, dc_rules: tuple[RuleHit, ...] = (), internal_networks: tuple[str, ...] = ("10.0.0.0/8",
                                                                                        "192.168.0.0/16", "fc00::/7"),
        generated_at: datetime = T) -> Incident:
    hosts = (
        host("ORD-AP02", (ENTRY_IP,), 1, ("entry", "c2_client"), function="application server"),
        host("ORD-MNT01", (PIVOT_IP,), 2, ("pivot", "exfiltration_source", "c2_client")),
        host("FS02", (STAGING_IP,), 3, ("staging",)),
        host("ORD-DB01", (DB_IP,), 4, ("crown_jewel",), function="database server", crown_jewel=True),
        host("DC1", ("10.0.0.10",), 5, ("involved",), rules=dc_rules),
    )
    ext = (external(ENTRY_FROM, "initial_access", ("ORD-AP02",), ("tcp/8443",), 12),
           external(C2, "c2_and_exfiltration", ("ORD-MNT01",), record=18),
           external(LATER, "later_attempt", ("ORD-AP02",), ("tcp/8443", "udp/500"), 40),
           external("192.0.2.99", "involved", ("FS02",), record=50))
    accounts = (account("CORP\\adm_suzuki", ("ord-ap02", "ord-mnt01")), account("adm_suzuki", ("fs02",), record=9),
                account("app_order", ("ord-ap02",), "db_audit", "db_session", 17),
                account("NT AUTHORITY\\SYSTEM", ("ord-mnt01",), kind="process_tree"),
                account("IIS APPPOOL\\OrderMaint", ("ord-ap02",), kind="process_tree"),
                account("CORP\\ORD-MNT01$", ("ord-mnt01",)), account("Administrator", ("fs02",)),
                account("山田", ("fs02",)), account("o'brien", ("fs02",)))
    sessions = (DbSession(session_id="30464", client=ENTRY_IP, client_host="ORD-AP02", user="app_order",
                          application="psql", database="orders", first_statement=T, last_statement=T, statements=4,
                          score=80.0, suspect=True, reasons=("unusual",), evidence=(ev("pg.log", 17, "db_audit"),)),)
    return Incident(case="/cases/ntt", generated_at=generated_at, since=None, until=None, story=("story",),
                    hosts=hosts, accounts=accounts, external=ext, db_sessions=sessions, data_movements=(),
                    timeline=(), suspects=IncidentSuspects((), (), (), (), None, None), crown_jewels=("ORD-DB01",),
                    coverage=(), internal_networks=internal_networks)


def hostile() -> Incident:
    """Every attacker-writable value hostile: host names, addresses, accounts, evidence file names, reasons."""
    base = ntt(dc_rules=(DCSYNC,))
    bad = HOSTILE_NAMES
    hosts = tuple(replace(h, name=bad[i % len(bad)], reasons=(bad[(i + 1) % len(bad)],),
                          evidence=(EvidenceRef("windows", f"/ev/{bad[(i + 2) % len(bad)]}", 1),))
                  for i, h in enumerate(base.hosts))
    hosts = (*hosts, host("EVIL", ("10.0.0.1; reboot", "fe80::1%eth0", "10.40.9.99\n", "10.40.9.77"), 6,
                          ("staging",)))
    ext = (replace(base.external[0], internal_hosts=(hosts[0].name,), services=("tcp/8443;reboot", "tcp/99999")),
           replace(base.external[1], ip="203.0.113.9\nreload", reasons=(bad[2],)),
           replace(base.external[1], ip="203.0.113.81", name=bad[3], reasons=(bad[0],), internal_hosts=bad[:3]),
           replace(base.external[2], ip="::ffff:203.0.113.82", internal_hosts=(hosts[0].name,)))
    accounts = tuple(account(n, (bad[0],)) for n in ("o'brien", "evil;rm", "bad\nname", "‘quote’", "山田"))
    return replace(base, hosts=hosts, external=ext, accounts=accounts, story=bad,
                   internal_networks=("10.0.0.0/8", "not a network; reboot"))

"""Kerberoasting: RC4-encrypted service tickets for many distinct services, asked for by one client in a
short burst.

A Kerberoasting tool asks the KDC for a ticket of every account that has a service principal name, in
seconds, and asks for RC4 (which cracks fast). A domain controller logs each as 4769 with
TicketEncryptionType 0x17 (or 0x18); Zeek's kerberos log shows the TGS exchange with cipher rc4-hmac. A
legacy application also gets RC4 tickets, but for the same one or two services, day after day: a burst is
counted on the services that are new for the client (asked for on fewer than ROUTINE_DAYS days of the
evidence), so a routine legacy service never makes a burst. Computer accounts (NAME$, random passwords;
in Zeek, the SPN classes Windows gives them) and krbtgt are not roastable and are left out.

Bursts are counted in SQL over fixed windows on two grids shifted by half a window (a burst that straddles
one grid's boundary falls inside the other's window); Python merges the few windows that qualify."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from breachscope.detect.analytics.active_directory import account_sql, in_list, ip_sql, span_text, ts_sql
from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped, clamp
from breachscope.detect.casecontext import CaseContext
from breachscope.detect.casesql import epoch_us_sql
from breachscope.model.sql import quote_literal

WINDOW_S = 600
MIN_SERVICES = 3  # distinct new services in one window
ROUTINE_DAYS = 3  # a service a client gets RC4 tickets for on this many days is routine for it
#: RC4-HMAC (0x17) and RC4-HMAC-EXP (0x18), as Windows renders them and as some exports write them (decimal)
RC4_TYPES = "('0x17', '0x18', '23', '24')"
#: SPN classes Windows registers on computer accounts (random passwords: not roastable); Zeek names services by
#: SPN only, so these stand in for the 4769 test "ServiceName ends with $"
COMPUTER_SPN_CLASSES = ("krbtgt", "kadmin", "host", "cifs", "ldap", "gc", "rpcss", "termsrv", "wsman", "dns",
                        "restrictedkrbhost", "e3514235-4b06-11d1-ab04-00c04fc2dcd2")


@dataclass
class Burst:
    client: str  # an address, or the account when the address is unknown
    first: datetime
    last: datetime
    tickets: int
    services: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)  # "windows", "zeek"
    evidence: list[EvidenceQuery] = field(default_factory=list)
    routine: set[str] = field(default_factory=set)  # the services the client gets routinely

    @property
    def new_services(self) -> set[str]:
        return self.services - self.routine


def _windows_tickets(ctx: CaseContext) -> str | None:
    if not ctx.has("windows", "EventID", "TicketEncryptionType", "ServiceName", "TargetUserName", "IpAddress"):
        return None
    status = "coalesce(Status, '0x0') = '0x0'" if ctx.has("windows", "Status") else "true"
    account = account_sql("TargetUserName")
    return f"""SELECT ts, coalesce({ip_sql('IpAddress')}, {account}) AS client, {account} AS account,
                      lower(ServiceName) AS service, 'windows' AS sensor
               FROM windows
               WHERE EventID = 4769 AND lower(TicketEncryptionType) IN {RC4_TYPES} AND {status}
                 AND ServiceName NOT LIKE '%$' AND lower(ServiceName) NOT LIKE 'krbtgt%' AND {ctx.window()}"""


def _zeek_tickets(ctx: CaseContext) -> str | None:
    if not ctx.has("zeek_kerberos", "id.orig_h", "request_type", "service", "cipher"):
        return None
    ok = ("lower(coalesce(CAST(success AS VARCHAR), 'true')) IN ('true', 't')"
          if ctx.has("zeek_kerberos", "success") else "true")
    account = account_sql("split_part(client, '/', 1)") if ctx.has("zeek_kerberos", "client") else "NULL"
    return f"""SELECT ts, "id.orig_h" AS client, {account} AS account, lower(service) AS service, 'zeek' AS sensor
               FROM zeek_kerberos
               WHERE upper(request_type) = 'TGS' AND lower(cipher) LIKE 'rc4%' AND {ok}
                 AND split_part(lower(service), '/', 1) NOT IN {in_list(set(COMPUTER_SPN_CLASSES))}
                 AND {ctx.window()}"""


def run(ctx: CaseContext) -> list[Hit]:
    parts = [q for q in (_windows_tickets(ctx), _zeek_tickets(ctx)) if q]
    if not parts:
        raise Skipped("needs Kerberos service tickets: Security 4769 of a domain controller (with "
                      "TicketEncryptionType) or a Zeek kerberos log with its cipher; the case has neither")
    tickets = " UNION ALL ".join(f"({q})" for q in parts)
    spans = _spans(_windows(ctx, tickets))
    if not spans:
        if not _any_service_ticket(ctx):
            raise Skipped("no Kerberos service tickets in the evidence (no 4769 in the Security logs, no TGS in "
                          "Zeek's kerberos log): the domain controllers' logs or the sensor's are missing")
        return []
    bursts = _counted(ctx, tickets, spans)
    _mark_routine(ctx, tickets, bursts)
    merged = _across_sensors(bursts)
    hits = [_hit(b) for b in merged if len(b.new_services) >= MIN_SERVICES]
    routine: dict[str, list[Burst]] = {}
    for b in merged:
        if len(b.new_services) < MIN_SERVICES:
            routine.setdefault(b.client, []).append(b)
    return hits + [_routine_hit(client, runs) for client, runs in routine.items()]


def _any_service_ticket(ctx: CaseContext) -> bool:
    probes = []
    if _windows_tickets(ctx):
        probes.append("SELECT 1 AS x FROM windows WHERE EventID = 4769 LIMIT 1")
    if _zeek_tickets(ctx):
        probes.append("SELECT 1 AS x FROM zeek_kerberos WHERE upper(request_type) = 'TGS' LIMIT 1")
    return any(ctx.rows(p) for p in probes)


def _windows(ctx: CaseContext, tickets: str) -> list[dict[str, Any]]:
    """The fixed windows (two grids) in which a client got tickets for MIN_SERVICES distinct services."""
    w = WINDOW_S * 1_000_000
    us = epoch_us_sql("ts")
    return ctx.rows(f"""
    WITH t AS ({tickets}), g AS (
        SELECT client, sensor, ts, service, CAST(floor({us} / {w}) AS BIGINT) AS b0,
               CAST(floor(({us} + {w // 2}) / {w}) AS BIGINT) AS b1 FROM t WHERE client IS NOT NULL
    )
    SELECT client, sensor, min(ts) AS first_ts, max(ts) AS last_ts FROM g GROUP BY client, sensor, b0
        HAVING count(DISTINCT service) >= {MIN_SERVICES}
    UNION ALL
    SELECT client, sensor, min(ts) AS first_ts, max(ts) AS last_ts FROM g GROUP BY client, sensor, b1
        HAVING count(DISTINCT service) >= {MIN_SERVICES}""")


def _spans(windows: list[dict[str, Any]]) -> list[tuple[str, str, datetime, datetime]]:
    """Overlapping or close windows of one client and sensor joined: (client, sensor, first, last)."""
    out: list[tuple[str, str, datetime, datetime]] = []
    for r in sorted(windows, key=lambda x: (x["client"], x["sensor"], x["first_ts"])):
        if out and out[-1][:2] == (r["client"], r["sensor"]) and \
                (r["first_ts"] - out[-1][3]).total_seconds() <= WINDOW_S:
            out[-1] = (*out[-1][:3], max(out[-1][3], r["last_ts"]))
        else:
            out.append((r["client"], r["sensor"], r["first_ts"], r["last_ts"]))
    return out


def _counted(ctx: CaseContext, tickets: str, spans: list[tuple[str, str, datetime, datetime]]) -> list[Burst]:
    """Each span's tickets, services and accounts, counted exactly (the windows overlap)."""
    out: list[Burst] = []
    for part in range(0, len(spans), 200):  # bounded SQL size
        chunk = spans[part:part + 200]
        which = " ".join(f"WHEN client = {quote_literal(c)} AND sensor = {quote_literal(s)} AND ts BETWEEN "
                         f"{ts_sql(a)} AND {ts_sql(b)} THEN {i}" for i, (c, s, a, b) in enumerate(chunk))
        rows = ctx.rows(f"""WITH t AS ({tickets}), m AS (SELECT CASE {which} END AS span, * FROM t)
            SELECT span, count(*) AS n, list(DISTINCT service) AS services, list(DISTINCT account) AS accounts
            FROM m WHERE span IS NOT NULL GROUP BY span""")
        for r in rows:
            c, s, a, b = chunk[r["span"]]
            out.append(Burst(c, a, b, int(r["n"]), set(r["services"] or []) - {None},
                             set(r["accounts"] or []) - {None}, {s}, [_evidence(s, c, a, b)]))
    return out


def _evidence(sensor: str, client: str, first: datetime, last: datetime) -> EvidenceQuery:
    span = f"ts BETWEEN {ts_sql(first)} AND {ts_sql(last)}"
    c = quote_literal(client)
    if sensor == "windows":
        return EvidenceQuery("windows", f"EventID = 4769 AND lower(TicketEncryptionType) IN {RC4_TYPES} AND "
                                        f"(coalesce({ip_sql('IpAddress')}, {account_sql('TargetUserName')}) = {c}) "
                                        f"AND {span}")
    return EvidenceQuery("zeek_kerberos", f"upper(request_type) = 'TGS' AND lower(cipher) LIKE 'rc4%' AND "
                                          f"\"id.orig_h\" = {c} AND {span}")


def _mark_routine(ctx: CaseContext, tickets: str, bursts: list[Burst]) -> None:
    """The services each bursting client gets RC4 tickets for on ROUTINE_DAYS days or more."""
    clients = {b.client for b in bursts}
    rows = ctx.rows(f"""WITH t AS ({tickets})
        SELECT client, sensor, service FROM t WHERE client IN {in_list(clients)} GROUP BY client, sensor, service
        HAVING count(DISTINCT CAST(ts AS DATE)) >= {ROUTINE_DAYS}""")
    routine: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        routine.setdefault((r["client"], r["sensor"]), set()).add(r["service"])
    for b in bursts:
        b.routine = routine.get((b.client, next(iter(b.sources))), set()) & b.services


def _across_sensors(bursts: list[Burst]) -> list[Burst]:
    """The DC's 4769s and Zeek's TGS records of one client at the same time are one burst (the same
    exchanges seen twice: the larger view is kept, each sensor's evidence too)."""
    out: list[Burst] = []
    # sorted fully (the SQL returns rows in no fixed order): the same case gives the same finding every run
    for b in sorted(bursts, key=lambda x: (x.client, x.first, sorted(x.sources))):
        prev = out[-1] if out else None
        if prev is not None and prev.client == b.client and not (b.sources & prev.sources) \
                and (b.first - prev.last).total_seconds() <= WINDOW_S:
            larger = len(b.new_services) > len(prev.new_services)
            same = len(b.new_services) == len(prev.new_services)
            if larger or (same and "windows" in b.sources and "windows" not in prev.sources):  # the DC's names
                prev.services, prev.routine = b.services, b.routine
            prev.first, prev.last = min(prev.first, b.first), max(prev.last, b.last)
            prev.tickets = max(prev.tickets, b.tickets)
            prev.accounts |= b.accounts
            prev.sources |= b.sources
            prev.evidence += b.evidence
        else:
            out.append(b)
    return out


def _who(client: str, accounts: set[str]) -> str:
    users = sorted(accounts)
    if not users or client in users:
        return ""
    return f" ({', '.join(users[:3])}{', ...' if len(users) > 3 else ''})"


def _hit(b: Burst) -> Hit:
    new = b.new_services
    seconds = (b.last - b.first).total_seconds()
    users = sorted(b.accounts)
    seen = " and ".join(sorted({"windows": "domain controller 4769", "zeek": "Zeek kerberos"}[s] for s in b.sources))
    title = (f"Kerberoasting from {b.client}{_who(b.client, b.accounts)}: {b.tickets} RC4 service tickets for "
             f"{len(b.services)} services in {span_text(seconds)}")
    why = (f"{b.client} obtained {b.tickets} RC4-encrypted service tickets for {len(b.services)} distinct "
           f"services ({', '.join(sorted(b.services)[:8])}) within {span_text(seconds)} ({seen}); "
           f"{len(new)} of them it had not been asking for routinely. Kerberoasting tools request every "
           "roastable account at once and crack the RC4 tickets offline for the service passwords.")
    entities: dict[str, Any] = {"client": b.client, "accounts": users, "services": sorted(b.services),
                                "new_services": sorted(new), "routine_services": sorted(b.routine),
                                "tickets": b.tickets, "seconds": round(seconds, 1), "seen_by": sorted(b.sources)}
    return Hit(title=title, why=why, score=clamp(62 + 6 * len(new)), first_ts=b.first, last_ts=b.last,
               key=(b.client, b.first), user=users[0] if users else None,
               src_ip=b.client if b.client not in users else None, event_count=b.tickets, entities=entities,
               evidence=tuple(b.evidence))


def _routine_hit(client: str, runs: list[Burst]) -> Hit:
    """One informational hit for all the bursts of a client whose services are routine for it."""
    services = set().union(*(b.services for b in runs))
    accounts = set().union(*(b.accounts for b in runs))
    days = len({b.first.date() for b in runs})
    tickets = sum(b.tickets for b in runs)
    title = (f"RC4 service tickets from {client}{_who(client, accounts)}: {len(services)} services together on "
             f"{days} day(s), routine for it")
    why = (f"{client} obtained RC4 tickets for {len(services)} services ({', '.join(sorted(services)[:8])}) in "
           f"{len(runs)} burst(s), but gets them on {ROUTINE_DAYS} or more days of the evidence: a legacy client "
           "more likely than Kerberoasting.")
    entities: dict[str, Any] = {"client": client, "accounts": sorted(accounts), "services": sorted(services),
                                "bursts": len(runs), "days": days, "tickets": tickets}
    users = sorted(accounts)
    return Hit(title=title, why=why, score=30.0, first_ts=min(b.first for b in runs),
               last_ts=max(b.last for b in runs), key=("routine", client), user=users[0] if users else None,
               src_ip=client if client not in users else None, event_count=tickets, entities=entities,
               evidence=tuple(e for b in runs[:3] for e in b.evidence))


ANALYTIC = Analytic(
    name="kerberoasting",
    title="Kerberoasting (RC4 service tickets for many services in a burst)",
    about="Security 4769 (RC4, 0x17/0x18) and Zeek kerberos TGS with rc4-hmac: one client obtaining tickets "
          f"for {MIN_SERVICES} or more distinct user services within {WINDOW_S // 60} minutes, counting only the "
          f"services it does not get routinely (on {ROUTINE_DAYS}+ days); computer accounts and krbtgt left out.",
    tables=("windows", "zeek_kerberos"),
    run=run,
    attack=("T1558.003",),
    references=("https://attack.mitre.org/techniques/T1558/003/",
                "https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/"
                "threat-protection/auditing/event-4769"),
)

"""What the Active Directory analytics share: which machines are the domain controllers (learned from the
evidence, never configured), and SQL for the forms Windows writes accounts and addresses in.

A domain controller is known by name when its Security log holds events only a DC writes (Kerberos 4768,
4769, 4771 from its KDC; 4662 directory-service access), and by address when it answers Kerberos (Zeek
kerberos log, or a connection to port 88 with an answer) or directory replication (Zeek dce_rpc drsuapi),
or when its machine account logs on or asks for tickets from that address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from breachscope.detect.casecontext import CaseContext
from breachscope.detect.casesql import host_key_sql
from breachscope.model.sql import quote_literal

#: Security events only a domain controller writes (its KDC, its directory service)
DC_ONLY_EVENTS = (4768, 4769, 4771, 4662)
LOOPBACK = frozenset({"127.0.0.1", "::1"})


def ip_sql(expr: str) -> str:
    """A Windows address field as a plain address: IPv4-mapped IPv6 unwrapped, '-' and '' as NULL."""
    return f"nullif(nullif(regexp_replace(trim({expr}), '^::ffff:', ''), '-'), '')"


def account_sql(expr: str) -> str:
    """An account name comparable across events: lower case, without the realm of `user@REALM` (4769)."""
    return f"nullif(lower(split_part(trim({expr}), '@', 1)), '')"


def ts_sql(t: datetime) -> str:
    return f"TIMESTAMPTZ {quote_literal(t.isoformat())}"


def in_list(values: set[str] | frozenset[str]) -> str:
    """An SQL IN list of text literals (never empty: an empty set matches nothing)."""
    return "(" + ", ".join(quote_literal(v) for v in sorted(values)) + ")" if values else "(NULL)"


def span_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def is_address(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class DomainControllers:
    names: frozenset[str]  # host keys (first label, lower case)
    addresses: frozenset[str]
    learned_from: tuple[str, ...]  # how, for the findings' explanations

    def is_dc_address(self, address: str | None) -> bool:
        return address in self.addresses

    def summary(self) -> str:
        if not self.names and not self.addresses:
            return "no domain controller could be recognised in the evidence"
        return (f"domain controllers known from the evidence: {len(self.names)} by name, "
                f"{len(self.addresses)} by address ({', '.join(self.learned_from)})")


def domain_controllers(ctx: CaseContext) -> DomainControllers:
    names: set[str] = set()
    addresses: set[str] = set()
    how: list[str] = []
    if ctx.has("windows", "EventID", "Computer", "Channel"):
        ids = ", ".join(map(str, DC_ONLY_EVENTS))
        rows = ctx.rows(f"""SELECT DISTINCT {host_key_sql('Computer')} AS k FROM windows
                            WHERE Channel = 'Security' AND EventID IN ({ids})""")
        names = {r["k"] for r in rows if r["k"]}
        if names:
            how.append("Security logs with KDC or directory events")
    if names and ctx.has("windows", "EventID", "TargetUserName", "IpAddress"):
        # a DC's machine account logging on or asking for tickets shows the DC's own address
        rows = ctx.rows(f"""SELECT DISTINCT {ip_sql('IpAddress')} AS ip FROM windows
            WHERE EventID IN (4624, 4768, 4769) AND TargetUserName LIKE '%$%'
              AND {host_key_sql("split_part(TargetUserName, '@', 1)")} IN {in_list(names)}""")
        found = {r["ip"] for r in rows if is_address(r["ip"]) and r["ip"] not in LOOPBACK}
        if found:
            addresses |= found
            how.append("their machine accounts' logons")
    if ctx.has("zeek_kerberos", "id.resp_h"):
        found = {r["a"] for r in ctx.rows('SELECT DISTINCT "id.resp_h" AS a FROM zeek_kerberos') if r["a"]}
        if found:
            addresses |= found
            how.append("Kerberos answers in Zeek")
    if ctx.has("zeek_conn", "id.resp_h", "id.resp_p", "resp_bytes"):
        found = {r["a"] for r in ctx.rows('SELECT DISTINCT "id.resp_h" AS a FROM zeek_conn '
                                          'WHERE "id.resp_p" = 88 AND resp_bytes > 0') if r["a"]}
        if found - addresses:
            how.append("connections answered on port 88")
        addresses |= found
    if ctx.has("zeek_dce_rpc", "id.resp_h", "endpoint"):
        found = {r["a"] for r in ctx.rows('SELECT DISTINCT "id.resp_h" AS a FROM zeek_dce_rpc '
                                          "WHERE lower(endpoint) = 'drsuapi'") if r["a"]}
        if found - addresses:
            how.append("replication (drsuapi) answers in Zeek")
        addresses |= found
    return DomainControllers(frozenset(names), frozenset(addresses), tuple(how))

"""Logon summary (Hayabusa's logon-summary, widened): successful and failed logons per target user,
target and source host, source address and logon type, with counts and first/last seen.

Rows are grouped by result, target user and domain, target host, logon type and source address;
the source host names of a row are listed (the first SOURCE_HOSTS_KEPT) and counted: a password
guessing tool that sends a random workstation name with each try stays one row.

Read from the Security channel: 4624 (logon), 4625 (failed logon), 4648 (logon with explicit
credentials: an attempt seen on the source machine, neither success nor failure), 4768 (Kerberos TGT),
4769 (Kerberos service ticket), 4771 (Kerberos pre-authentication failed) and 4776 (NTLM credential
validation); Kerberos and NTLM events succeed when their status is 0x0. Each event kind's fields are
data (LOGON_EVENTS), compiled to one SQL query over the case's `windows` table. Windows writes `-`
for "none": it counts as empty. Addresses lose the `::ffff:` prefix of IPv4-mapped IPv6.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from breachscope.detect.detail_profiles import LOGON_TYPES, VALUE_NAMES
from breachscope.engines.duckdb_case import Case, DuckDBEngine
from breachscope.model.sql import quote_ident, quote_literal

SUCCESS, FAILURE, EXPLICIT = "success", "failure", "explicit credentials"


@dataclass(frozen=True)
class LogonEvent:
    """Where one event kind keeps each part of a logon (field names; None: the event has none)."""

    name: str
    result: str | None  # success | failure | explicit credentials; None: from `status` (0x0 = success)
    method: str | None  # a fixed method; None: the logon type (LogonType, named)
    target_host: str  # "host" = the machine that logged the event
    source_host: str | None
    source_ip: str | None
    status: tuple[str, ...] = ()  # the failure code: the first non-empty and not 0x0 of these fields
    codes: str = "ntstatus"  # VALUE_NAMES key naming the status codes
    service: str | None = None


LOGON_EVENTS: dict[int, LogonEvent] = {
    4624: LogonEvent("logon", SUCCESS, None, "host", "WorkstationName", "IpAddress"),
    4625: LogonEvent("failed logon", FAILURE, None, "host", "WorkstationName", "IpAddress", ("SubStatus", "Status")),
    4648: LogonEvent("explicit credentials", EXPLICIT, "explicit credentials", "TargetServerName", "host", None),
    4768: LogonEvent("Kerberos TGT", None, "Kerberos TGT", "host", None, "IpAddress", ("Status",), "kerberos"),
    4769: LogonEvent("Kerberos service ticket", None, "Kerberos service ticket", "host", None, "IpAddress",
                     ("Status",), "kerberos", "ServiceName"),
    4771: LogonEvent("Kerberos pre-authentication", FAILURE, "Kerberos pre-authentication", "host", None, "IpAddress",
                     ("Status",), "kerberos"),
    4776: LogonEvent("NTLM validation", None, "NTLM validation", "host", "Workstation", None, ("Status",)),
}
COLUMNS = ("result", "target_user", "target_domain", "target_host", "logon_type", "source_ip", "source_hosts",
           "count", "first_seen", "last_seen", "failure_reasons", "event_ids")
SOURCE_HOSTS_KEPT = 20  # names kept per row (the count is exact): a guessing tool sends a random one each try


@dataclass(frozen=True)
class LogonRow:
    result: str
    target_user: str | None
    target_domain: str | None
    target_host: str | None
    logon_type: str | None
    source_ip: str | None
    source_hosts: tuple[str, ...]  # the first SOURCE_HOSTS_KEPT names, sorted
    source_host_count: int
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    failure_reasons: tuple[str, ...]
    event_ids: tuple[int, ...]


@dataclass(frozen=True)
class LogonSummary:
    rows: tuple[LogonRow, ...]
    events: dict[int, int]  # event id -> events read

    def of(self, result: str) -> list[LogonRow]:
        return [r for r in self.rows if r.result == result]


class NoLogonEvents(Exception):
    """The case holds none of the events; the message says what it holds instead."""


def summarize(engine: DuckDBEngine | Case) -> LogonSummary:
    """The logon summary of a case (its `windows` table)."""
    schemas = engine.schemas()
    columns = set(schemas["windows"].names) if "windows" in schemas else set()
    if not columns:
        raise NoLogonEvents(_what_instead(engine))
    counts = dict(engine.rows(f"SELECT EventID, count(*) FROM windows WHERE Channel = 'Security' AND EventID IN "
                              f"({', '.join(map(str, LOGON_EVENTS))}) GROUP BY 1 ORDER BY 1"))
    if not counts:
        raise NoLogonEvents(_what_instead(engine))
    rows = engine.rows(summary_sql(columns))
    return LogonSummary(tuple(_logon_row(r) for r in rows), {int(k): int(v) for k, v in counts.items()})


def _logon_row(r: tuple[Any, ...]) -> LogonRow:
    """A row of summary_sql (its columns in LogonRow's order; lists as tuples)."""
    return LogonRow(result=r[0], target_user=r[1], target_domain=r[2], target_host=r[3], logon_type=r[4],
                    source_ip=r[5], source_hosts=tuple(r[6] or ()), source_host_count=r[7], count=r[8],
                    first_seen=r[9], last_seen=r[10], failure_reasons=tuple(r[11] or ()),
                    event_ids=tuple(r[12] or ()))


def summary_sql(columns: set[str]) -> str:
    """One query: each event's logon parts (per event id, from LOGON_EVENTS), grouped."""
    def field(name: str | None) -> str:
        if name is None:
            return "NULL"
        if name == "host":
            return "host"
        ref = quote_ident(name) if name in columns else f"extra[{quote_literal(name)}]"
        return f"nullif(nullif(trim({ref}), '-'), '')"

    def per_event(part: str) -> str:
        whens = " ".join(f"WHEN {eid} THEN {part_sql(ev, part, field)}" for eid, ev in LOGON_EVENTS.items())
        return f"CASE EventID {whens} END"

    parts = ("result", "target_host", "logon_type", "source_host", "source_ip", "reason")
    select = ",\n  ".join(f"{per_event(p)} AS {p}" for p in parts)
    return f"""
WITH e AS (
  SELECT ts, EventID, {field("TargetUserName")} AS target_user, {field("TargetDomainName")} AS target_domain,
  {select}
  FROM windows WHERE Channel = 'Security' AND EventID IN ({', '.join(map(str, LOGON_EVENTS))})
)
SELECT result, target_user, target_domain, target_host, logon_type, source_ip,
       list_sort(list_distinct(list(source_host) FILTER (WHERE source_host IS NOT NULL)))[1:{SOURCE_HOSTS_KEPT}],
       count(DISTINCT source_host), count(*) AS n, min(ts), max(ts),
       list_sort(list_distinct(list(reason) FILTER (WHERE reason IS NOT NULL))),
       list_sort(list_distinct(list(EventID)))
FROM e GROUP BY ALL
ORDER BY result, n DESC, target_user NULLS LAST, target_host NULLS LAST, logon_type NULLS LAST,
         source_ip NULLS LAST"""


def part_sql(ev: LogonEvent, part: str, field: Callable[[str | None], str]) -> str:
    code = _code_sql(ev, field)
    if part == "result":
        if ev.result is not None:
            return quote_literal(ev.result)
        return f"CASE WHEN {code} IS NULL THEN {quote_literal(SUCCESS)} ELSE {quote_literal(FAILURE)} END"
    if part == "target_host":
        return field(ev.target_host)
    if part == "logon_type":
        if ev.method is None:
            return _named(field("LogonType"), LOGON_TYPES)
        if ev.service:
            return f"{quote_literal(ev.method)} || coalesce(' (' || {field(ev.service)} || ')', '')"
        return quote_literal(ev.method)
    if part == "source_host":
        return field(ev.source_host)
    if part == "source_ip":
        return "NULL" if ev.source_ip is None else f"regexp_replace({field(ev.source_ip)}, '^::ffff:', '')"
    if part == "reason":
        return _named(code, VALUE_NAMES[ev.codes])
    raise ValueError(part)


def _code_sql(ev: LogonEvent, field: Callable[[str | None], str]) -> str:
    """The first status field that is set and not 0x0 (success), in lower case; NULL when none."""
    if not ev.status:
        return "NULL"
    codes = [f"nullif(lower({field(f)}), '0x0')" for f in ev.status]
    return codes[0] if len(codes) == 1 else f"coalesce({', '.join(codes)})"


def _named(expr: str, names: Mapping[str, str]) -> str:
    whens = " ".join(f"WHEN {quote_literal(k)} THEN {quote_literal(f'{k} - {v}')}" for k, v in sorted(names.items()))
    return f"CASE lower({expr}) {whens} ELSE {expr} END"


def _what_instead(engine: DuckDBEngine | Case) -> str:
    wanted = ", ".join(map(str, LOGON_EVENTS))
    total = engine.count("windows") if "windows" in engine.schemas() else 0
    if not total:
        families = engine.rows("SELECT family, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC")
        held = "it holds " + ", ".join(f"{n:,} {f} events" for f, n in families) if families else "it holds no events"
        return f"no Windows events in this case ({held}); the logon summary reads Security events {wanted}"
    chans = engine.rows("SELECT coalesce(Channel, '(none)'), count(*) FROM windows GROUP BY 1 ORDER BY 2 DESC LIMIT 5")
    held = ", ".join(f"{c} {n:,}" for c, n in chans)
    return (f"no logon events (Security {wanted}) among the case's {total:,} Windows events "
            f"(channels: {held}); was logon auditing on, and the Security log collected?")

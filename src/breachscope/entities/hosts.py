"""Host names to the addresses they held over time, from the evidence of a case.

Audit logs name clients by address; analysts name suspects by host name. This module finds every
piece of evidence in the case that ties a name to an address (Windows logons and machine-account
tickets, Sysmon network events, Zeek DNS answers and PTRs, DHCP leases, Kerberos machine principals,
NTLM and SMB names, DHCP servers' syslog lines, the address a syslog relay wrote for a named device),
and turns them into spans: an address is taken as the name's from the last sighting of its previous
holder to the first sighting of its next one (both inclusive; open when there is none). Every span
keeps the evidence behind it (file and record), so the resolution can be reported and checked.

Names match case-insensitively on the first label (`WEB-3` = `web-3.corp.example.com` =
the machine account `WEB-3$`). Evidence is data: names and addresses are only compared, and an
address must parse as one (loopback and unspecified addresses are ignored).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from breachscope.engines.duckdb_case import Case, DuckDBEngine
from breachscope.model.sql import quote_ident

EVIDENCE_MAX = 5


@dataclass(frozen=True)
class Source:
    """One kind of evidence: a query over one table giving (name, address, ts, src_file, src_record)."""

    kind: str
    table: str
    needs: tuple[str, ...]  # columns the table must have
    sql: str  # the rows, before the name/address filter


def _key(expr: str) -> str:
    """The comparable form of a host name: lower case, first label, no machine-account `$`."""
    return f"rtrim(split_part(lower(trim({expr})), '.', 1), '$')"


SOURCES: tuple[Source, ...] = (
    Source("windows logon (WorkstationName, IpAddress)", "windows", ("EventID", "WorkstationName", "src_ip"),
           "SELECT WorkstationName AS name, src_ip AS address, ts, src_file, src_record FROM windows "
           "WHERE EventID IN (4624, 4625, 4648, 4776) AND WorkstationName NOT IN ('', '-')"),
    Source("windows Kerberos machine account (TargetUserName, IpAddress)", "windows",
           ("EventID", "TargetUserName", "src_ip"),
           "SELECT TargetUserName AS name, src_ip AS address, ts, src_file, src_record FROM windows "
           "WHERE EventID IN (4768, 4769, 4770, 4771) AND TargetUserName LIKE '%$'"),
    Source("windows Sysmon network connection (SourceHostname, SourceIp)", "windows",
           ("EventID", "SourceHostname", "SourceIp"),
           "SELECT SourceHostname AS name, SourceIp AS address, ts, src_file, src_record FROM windows "
           "WHERE EventID = 3 AND SourceHostname NOT IN ('', '-')"),
    Source("windows Sysmon network connection (DestinationHostname, DestinationIp)", "windows",
           ("EventID", "DestinationHostname", "DestinationIp"),
           "SELECT DestinationHostname AS name, DestinationIp AS address, ts, src_file, src_record FROM windows "
           "WHERE EventID = 3 AND DestinationHostname NOT IN ('', '-')"),
    Source("windows event of the host's own outbound connection (Computer, SourceIp)", "windows",
           ("EventID", "Computer", "SourceIp", "Initiated"),
           "SELECT Computer AS name, SourceIp AS address, ts, src_file, src_record FROM windows "
           "WHERE EventID = 3 AND lower(Initiated) = 'true'"),
    Source("zeek dns answer", "zeek_dns", ("query", "answers"),
           "SELECT query AS name, unnest(answers) AS address, ts, src_file, src_record FROM zeek_dns "
           "WHERE query IS NOT NULL AND NOT lower(query) LIKE '%.arpa'"),
    Source("zeek dns reverse lookup (PTR)", "zeek_dns", ("query", "answers"),
           "SELECT unnest(answers) AS name, array_to_string(list_reverse(string_split("
           "regexp_replace(lower(query), '\\.in-addr\\.arpa\\.?$', ''), '.')), '.') AS address, ts, src_file, "
           "src_record FROM zeek_dns WHERE lower(query) LIKE '%.in-addr.arpa%'"),
    Source("zeek dhcp lease (host_name, assigned_addr)", "zeek_dhcp", ("host_name", "assigned_addr"),
           'SELECT host_name AS name, assigned_addr AS address, ts, src_file, src_record FROM zeek_dhcp'),
    Source("zeek dhcp lease (client_fqdn, assigned_addr)", "zeek_dhcp", ("client_fqdn", "assigned_addr"),
           'SELECT client_fqdn AS name, assigned_addr AS address, ts, src_file, src_record FROM zeek_dhcp'),
    Source("zeek kerberos machine principal (client, id.orig_h)", "zeek_kerberos", ("client", "id.orig_h"),
           "SELECT split_part(client, '/', 1) AS name, \"id.orig_h\" AS address, ts, src_file, src_record "
           "FROM zeek_kerberos WHERE split_part(client, '/', 1) LIKE '%$'"),
    Source("zeek ntlm (hostname, id.orig_h)", "zeek_ntlm", ("hostname", "id.orig_h"),
           'SELECT hostname AS name, "id.orig_h" AS address, ts, src_file, src_record FROM zeek_ntlm'),
    Source("zeek smb share path (\\\\NAME\\share, id.resp_h)", "zeek_smb_mapping", ("path", "id.resp_h"),
           "SELECT split_part(ltrim(path, '\\'), '\\', 1) AS name, \"id.resp_h\" AS address, ts, src_file, "
           "src_record FROM zeek_smb_mapping WHERE path LIKE '\\\\%'"),
    Source("syslog DHCP server (dhcpd DHCPACK)", "syslog", ("message",),
           "SELECT regexp_extract(message, 'DHCPACK on (\\S+) to \\S+ \\(([^)]+)\\)', 2) AS name, "
           "regexp_extract(message, 'DHCPACK on (\\S+) to ', 1) AS address, ts, src_file, src_record FROM syslog "
           "WHERE message LIKE '%DHCPACK on %'"),
    Source("syslog DHCP server (dnsmasq DHCPACK)", "syslog", ("message",),
           "SELECT regexp_extract(message, 'DHCPACK\\([^)]*\\) (\\S+) \\S+ (\\S+)', 2) AS name, "
           "regexp_extract(message, 'DHCPACK\\([^)]*\\) (\\S+) ', 1) AS address, ts, src_file, src_record "
           "FROM syslog WHERE message LIKE '%DHCPACK(%'"),
    Source("syslog relay header address of a named device (host, relay_host)", "syslog", ("host", "extra"),
           "SELECT host AS name, extra['relay_host'] AS address, ts, src_file, src_record FROM syslog "
           "WHERE extra['relay_host'] IS NOT NULL"),
)


@dataclass(frozen=True)
class Evidence:
    kind: str
    name: str  # as the evidence wrote it
    src_file: str | None
    src_record: int | None
    ts: datetime | None


@dataclass(frozen=True)
class AddressSpan:
    address: str
    valid_from: datetime | None  # None: no earlier holder of the address was seen
    valid_until: datetime | None  # None: no later holder was seen
    first_seen: datetime | None
    last_seen: datetime | None
    sightings: int
    kinds: tuple[str, ...]
    evidence: tuple[Evidence, ...]  # the first EVIDENCE_MAX, in time order

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "from": _iso(self.valid_from), "until": _iso(self.valid_until),
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen),
                "sightings": self.sightings, "evidence_kinds": list(self.kinds),
                "evidence": [{"kind": e.kind, "name": e.name, "src_file": e.src_file, "src_record": e.src_record,
                              "ts": _iso(e.ts)} for e in self.evidence]}


@dataclass(frozen=True)
class HostResolution:
    name: str
    spans: tuple[AddressSpan, ...]
    looked_in: tuple[str, ...]  # the kinds of evidence the case has

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "addresses": [s.to_dict() for s in self.spans], "looked_in": list(self.looked_in)}


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
        return True
    except ValueError:
        return False


def resolve_hosts(engine: DuckDBEngine | Case, names: list[str]) -> list[HostResolution]:
    """The addresses each name held over time, with the evidence (one resolution per name, in order)."""
    sources = _available(engine)
    keys = sorted({_py_key(n) for n in names})
    mine = _sightings(engine, sources, "name", keys)
    addresses = sorted({s[1] for s in mine})
    everyone = _sightings(engine, sources, "address", addresses) if addresses else []
    looked = tuple(dict.fromkeys(s.kind for s in sources))
    return [HostResolution(n, tuple(_spans(_py_key(n), everyone)), looked) for n in names]


def _available(engine: DuckDBEngine | Case) -> list[Source]:
    cols: dict[str, set[str]] = {}
    out = []
    for src in SOURCES:
        if src.table not in cols:
            try:
                names = engine.con.sql(f"SELECT * FROM {quote_ident(src.table)} LIMIT 0").columns
                cols[src.table] = set(names)
            except Exception:  # the case has no such table
                cols[src.table] = set()
        if all(c in cols[src.table] for c in src.needs):
            out.append(src)
    return out


def _sightings(engine: DuckDBEngine | Case, sources: list[Source], by: str,
               values: list[str]) -> list[tuple[str, str, datetime | None, str, str, str | None, int | None]]:
    """(name key, address, ts, kind, name as written, src_file, src_record) of the sources' rows whose
    name key (by='name') or address (by='address') is among values."""
    out = []
    filt = _key("name") if by == "name" else "address"
    for src in sources:
        sql = (f"SELECT name, address, ts, src_file, src_record FROM ({src.sql}) "
               f"WHERE name IS NOT NULL AND address IS NOT NULL AND {filt} IN (SELECT unnest(?::VARCHAR[]))")
        try:
            rows = engine.con.execute(sql, [values]).fetchall()
        except Exception:  # a column of an unexpected type in this case: that source says nothing
            continue
        for name, address, ts, src_file, src_record in rows:
            addr = _address(str(address))
            if addr is None:
                continue
            out.append((_py_key(str(name)), addr, ts, src.kind, str(name), src_file, src_record))
    return out


def _spans(key: str, sightings: list[tuple]) -> list[AddressSpan]:
    by_addr: dict[str, list[tuple]] = defaultdict(list)
    for s in sightings:
        by_addr[s[1]].append(s)
    spans = []
    for addr in sorted(by_addr):
        rows = by_addr[addr]
        timed = sorted((r for r in rows if r[2] is not None), key=lambda r: (r[2], r[0] != key))
        if not any(r[0] == key for r in rows):
            continue
        if not any(r[0] == key for r in timed):  # only undated evidence: no time limits can be drawn
            mine = [r for r in rows if r[0] == key]
            spans.append(_span(addr, mine, None, None))
            continue
        runs: list[list[tuple]] = []
        for r in timed:
            if runs and runs[-1][0][0] == r[0]:
                runs[-1].append(r)
            else:
                runs.append([r])
        for i, run in enumerate(runs):
            if run[0][0] != key:
                continue
            start = runs[i - 1][-1][2] if i > 0 else None
            end = runs[i + 1][0][2] if i + 1 < len(runs) else None
            spans.append(_span(addr, run, start, end))
    return spans


def _span(addr: str, rows: list[tuple], start: datetime | None, end: datetime | None) -> AddressSpan:
    times = [r[2] for r in rows if r[2] is not None]
    ordered = sorted(rows, key=lambda r: (r[2] is None, r[2] or datetime.min, r[5] or "", r[6] or 0))
    evidence = tuple(Evidence(r[3], r[4], r[5], r[6], r[2]) for r in ordered[:EVIDENCE_MAX])
    return AddressSpan(addr, start, end, min(times) if times else None, max(times) if times else None, len(rows),
                       tuple(sorted({r[3] for r in rows})), evidence)


def _py_key(name: str) -> str:
    return name.strip().lower().split(".", 1)[0].rstrip("$")


def _address(text: str) -> str | None:
    text = text.strip()
    if text.lower().startswith("::ffff:"):
        text = text[7:]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified:
        return None
    return str(ip)


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


def address_names(engine: DuckDBEngine | Case) -> dict[str, str]:
    """Every address of the case to the name most of its evidence gives it (as written: a DNS name for an
    outside address, the computer name for a Windows host). One grouped query per source: the sightings
    are counted in the engine, not read row by row. An address that changed hands is given its most
    frequent holder (resolve_hosts gives the spans over time)."""
    votes: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    for src in _available(engine):
        sql = (f"SELECT name, address, count(*) AS n FROM ({src.sql}) "
               "WHERE name IS NOT NULL AND address IS NOT NULL AND name NOT IN ('', '-') "
               "AND upper(name) <> 'NULL' GROUP BY ALL")  # 4624 writes WorkstationName NULL for anonymous logons
        try:
            rows = engine.con.execute(sql).fetchall()
        except Exception:  # a column of an unexpected type in this case: that source says nothing
            continue
        for name, address, n in rows:
            addr = _address(str(address))
            if addr is None:
                continue
            key = _py_key(str(name))
            count, written = votes[addr].get(key, (0, str(name).strip()))
            votes[addr][key] = (count + int(n), written)
    return {addr: max(names.values(), key=lambda v: (v[0], v[1]))[1] for addr, names in votes.items()}

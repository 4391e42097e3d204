"""Which rows a Sigma logsource means, table by table, and how rule fields are named there.

A logsource becomes one or more *segments*: a table, a constraint on that table's own columns
(Channel, EventID, application...), and a field map for the segment (Security 4688 calls the new
process `NewProcessName`, Sigma calls it `Image`). A rule runs on the union of its segments, so it
never fires on an event of another channel or provider just because an EventID collides. A logsource
no table can serve is answered with the reason, never with an empty result.

Sources: the Sigma taxonomy appendix (Sysmon event ids per category, channels per service, which
pySigma also ships as `windows_logsource_mapping`), and Microsoft's documentation of the Security
events used as second sources (4688 process creation, 5156 WFP connections).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sigma.pipelines.common import windows_logsource_mapping
from sigma.rule import SigmaLogSource

from breachscope.detect.sigma import ir
from breachscope.model.schema import table_family

SYSMON = "Microsoft-Windows-Sysmon/Operational"
PS_OPERATIONAL = ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational")


@dataclass(frozen=True)
class Segment:
    """Rows of `table` that satisfy `where`, with rule fields renamed by `fields`."""

    table: str
    where: ir.Node
    name: str
    fields: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[str, ...] = ()  # Windows channels the segment reads (for category + service)


def _channel_ids(channels: str | tuple[str, ...], ids: tuple[int, ...] = ()) -> ir.Node:
    chans = (channels,) if isinstance(channels, str) else channels
    chan = ir.or_([ir.Str("Channel", ((ir.LIT, c),)) for c in chans])
    if not ids:
        return chan
    return ir.and_([chan, ir.or_([ir.Num("EventID", i) for i in ids])])


def _win(channels: str | tuple[str, ...], ids: tuple[int, ...], name: str,
         fields: Mapping[str, str] | None = None) -> Segment:
    chans = (channels,) if isinstance(channels, str) else channels
    return Segment("windows", _channel_ids(chans, ids), name, fields or {}, chans)


def _sysmon(*ids: int) -> Segment:
    return _win(SYSMON, ids, f"Sysmon {'/'.join(map(str, ids))}")


# Security 4688 (process creation, with command line auditing): its names for Sysmon 1's fields.
SECURITY_4688 = _win(
    "Security", (4688,), "Security 4688",
    {"Image": "NewProcessName", "ParentImage": "ParentProcessName", "ProcessId": "NewProcessId",
     "ParentProcessId": "ProcessId", "User": "SubjectUserName", "LogonId": "SubjectLogonId"},
)
# Security 5156 (Windows Filtering Platform permitted a connection).
SECURITY_5156 = _win(
    "Security", (5156,), "Security 5156",
    {"Image": "Application", "SourceIp": "SourceAddress", "DestinationIp": "DestAddress",
     "DestinationPort": "DestPort", "ProcessId": "ProcessID"},
)

WINDOWS_CATEGORIES: dict[str, list[Segment]] = {
    "process_creation": [_sysmon(1), SECURITY_4688],
    "file_change": [_sysmon(2)],
    "network_connection": [_sysmon(3), SECURITY_5156],
    "sysmon_status": [_sysmon(4, 16)],
    "process_termination": [_sysmon(5)],
    "driver_load": [_sysmon(6)],
    "image_load": [_sysmon(7)],
    "create_remote_thread": [_sysmon(8)],
    "raw_access_thread": [_sysmon(9)],
    "process_access": [_sysmon(10)],
    "file_event": [_sysmon(11)],
    "registry_event": [_sysmon(12, 13, 14)],
    "registry_add": [_sysmon(12)],
    "registry_delete": [_sysmon(12)],
    "registry_set": [_sysmon(13)],
    "registry_rename": [_sysmon(14)],
    "create_stream_hash": [_sysmon(15)],
    "pipe_created": [_sysmon(17, 18)],
    "wmi_event": [_sysmon(19, 20, 21)],
    "dns_query": [_sysmon(22)],
    "file_delete": [_sysmon(23, 26)],
    "clipboard_capture": [_sysmon(24)],
    "process_tampering": [_sysmon(25)],
    "file_delete_detected": [_sysmon(26)],
    "file_block_executable": [_sysmon(27)],
    "file_block_shredding": [_sysmon(28)],
    "file_executable_detected": [_sysmon(29)],
    "sysmon_error": [_sysmon(255)],
    "ps_classic_start": [_win("Windows PowerShell", (400,), "PowerShell 400")],
    "ps_classic_provider_start": [_win("Windows PowerShell", (600,), "PowerShell 600")],
    "ps_classic_script": [_win("Windows PowerShell", (800,), "PowerShell 800")],
    "ps_module": [_win(PS_OPERATIONAL, (4103,), "PowerShell 4103")],
    "ps_script": [_win(PS_OPERATIONAL, (4104,), "PowerShell 4104")],
}
WINDOWS_UNSERVED = {
    "file_access": "needs the Microsoft-Windows-Kernel-File ETW provider, which no supported evidence carries",
    "file_rename": "needs the Microsoft-Windows-Kernel-File ETW provider, which no supported evidence carries",
}

# proxy and webserver rules use W3C/ECS-ish names; Zeek's http.log carries the same facts. Renames
# name event fields (Zeek's), never columns: the table's own map finds the column (`host`: host_header).
HTTP_W3C_FIELDS = {
    "c-uri": "uri", "cs-uri": "uri", "cs-uri-query": "uri", "cs-uri-stem": "uri", "c-useragent": "user_agent",
    "cs-user-agent": "user_agent", "cs-method": "method", "cs-host": "host", "r-dns": "host",
    "sc-status": "status_code", "cs-referrer": "referrer", "cs-referer": "referrer", "c-ip": "id.orig_h",
    "dst_ip": "id.resp_h", "src_ip": "id.orig_h", "dst_port": "id.resp_p", "cs-version": "version",
    "cs-cookie": "cookie", "c-uri-extension": "uri", "c-uri-query": "uri", "sc-bytes": "response_body_len",
    "cs-bytes": "request_body_len",
}

LINUX_SERVICE_APPS: dict[str, tuple[str, ...]] = {
    "sshd": ("sshd",), "sudo": ("sudo",), "cron": ("cron", "CRON", "crond", "anacron"),
    "vsftpd": ("vsftpd",), "clamav": ("clamd", "freshclam", "clamav"), "guacamole": ("guacd", "guacamole"),
    "auth": ("sshd", "sudo", "su", "login", "passwd", "useradd", "usermod", "groupadd", "systemd-logind",
             "polkitd", "pam", "unix_chkpwd"),
}


# Sysmon for Linux writes Sysmon's event ids to this channel (the windows table holds its EVTX/JSON).
LINUX_SYSMON = "Linux-Sysmon/Operational"
LINUX_CATEGORIES: dict[str, list[Segment]] = {
    "process_creation": [_win(LINUX_SYSMON, (1,), "Sysmon for Linux 1")],
    "network_connection": [_win(LINUX_SYSMON, (3,), "Sysmon for Linux 3")],
    "file_event": [_win(LINUX_SYSMON, (11,), "Sysmon for Linux 11")],
}

_ALL = ir.Const(True)
_FLOWS = Segment("flow", _ALL, "flow records")
#: Logsources without a product, by (category, service); service "" = whatever the service.
GENERIC: dict[tuple[str, str], list[Segment]] = {
    ("proxy", ""): [Segment("zeek_http", _ALL, "Zeek http (proxy)", HTTP_W3C_FIELDS)],
    ("webserver", ""): [Segment("zeek_http", _ALL, "Zeek http (webserver)", HTTP_W3C_FIELDS)],
    ("dns", ""): [Segment("zeek_dns", _ALL, "Zeek dns"), _sysmon(22)],
    ("firewall", ""): [_FLOWS, Segment("syslog", ir.Str("cisco_facility", ((ir.LIT, "ASA"),)), "Cisco ASA syslog")],
    ("database", ""): [Segment("db_audit", _ALL, "database audit")],
    ("network", "connection"): [Segment("zeek_conn", _ALL, "Zeek conn"), _FLOWS],
    ("network", "dns"): [Segment("zeek_dns", _ALL, "Zeek dns")],
}


class Unserved(Exception):
    """No table of a case can hold the events this logsource means."""


def segments(ls: SigmaLogSource) -> list[Segment]:
    product = (ls.product or "").lower()
    category = (ls.category or "").lower()
    service = (ls.service or "").lower()
    resolve = PRODUCTS.get(product)
    if resolve is None:
        raise Unserved(f"no table holds {product} events (product {product!r} is not an evidence family "
                       "breachscope ingests)")
    return resolve(category, service)


def _windows(category: str, service: str) -> list[Segment]:
    if category:
        if category in WINDOWS_UNSERVED:
            raise Unserved(WINDOWS_UNSERVED[category])
        if category not in WINDOWS_CATEGORIES:
            raise Unserved(f"unknown Windows category {category!r}")
        segs = WINDOWS_CATEGORIES[category]
        if service:  # a category narrowed by a service (e.g. sysmon): keep the segments of that channel
            chans = set(_service_channels(service))
            segs = [s for s in segs if chans & set(s.channels)]
            if not segs:
                raise Unserved(f"category {category!r} has no events in service {service!r}")
        return segs
    if service:
        return [_win(tuple(_service_channels(service)), (), f"Windows {service}")]
    return [Segment("windows", _ALL, "Windows (any channel)")]


def _service_channels(service: str) -> list[str]:
    chans = windows_logsource_mapping.get(service)
    if chans is None:
        raise Unserved(f"unknown Windows service {service!r} (no event log channel known for it)")
    return [chans] if isinstance(chans, str) else list(chans)


def _zeek(category: str, service: str) -> list[Segment]:
    if category:
        raise Unserved(f"zeek with category {category!r} has no defined Zeek log")
    if not service:
        raise Unserved("zeek logsource without a service (the Zeek log type)")
    return [Segment(f"zeek_{service}", _ALL, f"Zeek {service}")]


def _linux(category: str, service: str) -> list[Segment]:
    if category in LINUX_CATEGORIES:
        return LINUX_CATEGORIES[category]
    if category:
        raise Unserved(f"Linux category {category!r} needs auditd or EDR events, which no table holds")
    if service in ("syslog", ""):
        return [Segment("syslog", _ALL, "syslog")]
    if service in LINUX_SERVICE_APPS:
        apps = LINUX_SERVICE_APPS[service]
        return [Segment("syslog", ir.or_([ir.Str("app_name", ((ir.LIT, a),), cased=True) for a in apps]),
                        f"syslog from {service}")]
    raise Unserved(f"Linux service {service!r} (e.g. auditd) is not a format breachscope reads")


def _cisco(category: str, service: str) -> list[Segment]:
    if service in ("aaa", "bgp", "ldp"):
        # a Cisco message behind a relay's RFC 3164/5424 header is still Cisco: its mnemonic says so
        return [Segment("syslog", ir.Str("cisco_mnemonic", ((ir.ANY, ""),)), f"Cisco syslog ({service})")]
    raise Unserved("no table holds cisco events (product 'cisco' is not an evidence family breachscope ingests)")


def _generic(category: str, service: str) -> list[Segment]:
    segs = GENERIC.get((category, service)) or GENERIC.get((category, ""))
    if segs is None:
        raise Unserved(f"no table holds logsource category={category or '-'} service={service or '-'}")
    return segs


#: Sigma `product` -> the function that maps its category and service to segments ("" = no product).
#: A new evidence family: its segments as data above, its function, and one line here.
PRODUCTS: dict[str, Callable[[str, str], list[Segment]]] = {
    "windows": _windows,
    "zeek": _zeek,
    "linux": _linux,
    "cisco": _cisco,
    "": _generic,
}


def _check_tables() -> None:
    """Every table named above is a table of a case (model/schema.py), checked once at import."""
    tables = {s.table for segs in (*WINDOWS_CATEGORIES.values(), *LINUX_CATEGORIES.values(), *GENERIC.values())
              for s in segs}
    unknown = sorted(t for t in tables if table_family(t) is None)
    if unknown:
        raise RuntimeError(f"logsource segments name tables no case has: {unknown}")


_check_tables()

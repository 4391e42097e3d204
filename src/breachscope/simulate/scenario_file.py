"""Scenario files (`simulate --scenario FILE.yaml`): the simulated organization as data.

Version 1 describes the network (domain, servers, network devices, the workstation ranges, the
accounts, the hosts that play a part in the story) and names the attack story; the built-in
`ntt-2025` is one such file shipped in the package (simulate/scenarios/). Validated by the pydantic
models below: unknown keys and wrong values are refused with the file's line, and
docs/schemas/scenario.schema.json is generated from the same models.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from breachscope.model.config import Matching, Strict, Text, load_yaml, validate
from breachscope.model.errors import UsageError
from breachscope.simulate import clock
from breachscope.simulate.attack_file import AttackSpec, RoutineStep, period_of
from breachscope.simulate.episodes import SPAN as EPISODE_SPAN
from breachscope.simulate.scenarios import shipped

HostName = Annotated[str, Matching(r"[A-Za-z][A-Za-z0-9-]{0,14}", "a host name (letters, digits, '-'; 15 at most: "
                                   "NetBIOS)")]
Account = Annotated[str, Matching(r"[A-Za-z][A-Za-z0-9._-]{0,19}", "an account name (20 characters at most)")]
DnsName = Annotated[str, Matching(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+",
                                  "a lower-case DNS domain name")]
Netbios = Annotated[str, Matching(r"[A-Z][A-Z0-9-]{0,14}", "an upper-case NetBIOS domain name")]
DomainSid = Annotated[str, Matching(r"S-1-5-21-\d+-\d+-\d+", "a domain SID (S-1-5-21-a-b-c)")]
Address = Annotated[str, Matching(r"\d{1,3}(\.\d{1,3}){3}", "an IPv4 address")]
Network4 = Annotated[str, Matching(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", "an IPv4 network (CIDR)")]

#: what a server does (the noise and the story pick hosts by role)
ServerRole = Literal["dc", "file", "app", "batch", "db", "bi", "backup", "jump", "maint", "server"]
DeviceRole = Literal["router", "firewall"]
#: the hosts the story and the scheduled jobs name, and the role each must have
STORY_HOSTS: dict[str, tuple[str, ...]] = {
    "device_a": ("app",), "device_b": ("maint", "jump", "server"), "db": ("db",), "batch": ("batch",),
    "bi": ("bi",), "backup": ("backup",), "jump": ("jump",), "entry_router": ("router",),
    "core_router": ("router",), "wan_router": ("router",), "firewall": ("firewall",), "payment": ("server",),
    "fs": ("file",), "export_share": ("file",), "wsus": ("server",), "printer": ("server",),
}


def _address(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a valid IPv4 address") from None


class Domain(Strict):
    netbios: Netbios
    dns: DnsName
    sid: DomainSid


class Server(Strict):
    name: HostName
    address: Address
    role: ServerRole
    os: Literal["windows", "linux"] = "windows"


class Device(Strict):
    name: HostName
    address: Address
    role: DeviceRole
    os: Literal["ios", "asa"]


class Workstations(Strict):
    """Workstations grow with --events (one per `events_per_workstation`, within min..max), numbered
    from `first_number`, filling each /24 of `network` from host `first_host`, `per_subnet` at most."""

    name: Annotated[str, Matching(r"[A-Za-z][A-Za-z0-9-]*\{number\}[A-Za-z0-9-]*",
                                  "a name pattern with {number}, such as PC{number}")]
    first_number: int = Field(ge=0)
    network: Network4
    first_host: int = Field(default=10, ge=1, le=254)
    per_subnet: int = Field(default=240, ge=1, le=254)
    events_per_workstation: int = Field(default=1500, ge=1)
    min: int = Field(default=40, ge=1)
    max: int = Field(default=4000, ge=1)

    @model_validator(mode="after")
    def _fits(self) -> Workstations:
        net = ipaddress.IPv4Network(self.network, strict=False)
        if self.first_host + self.per_subnet > 255:
            raise ValueError(f"first_host {self.first_host} + per_subnet {self.per_subnet} passes .254")
        if self.min > self.max:
            raise ValueError("min is above max")
        subnets = max(1, net.num_addresses // 256)
        if -(-self.max // self.per_subnet) > subnets:
            raise ValueError(f"{self.max} workstations at {self.per_subnet} per /24 do not fit in {self.network}")
        return self


class Accounts(Strict):
    """Domain accounts besides the people (one per workstation): administrators, then services."""

    admins: tuple[Account, ...] = Field(min_length=1)
    services: tuple[Account, ...] = Field(min_length=1)
    first_rid: int = Field(default=1105, ge=1000)
    stolen_admin: Account = Field(description="the administrator whose password the attacker finds and reuses")
    network_admin: Account = Field(description="the account that configures the routers")

    @model_validator(mode="after")
    def _listed(self) -> Accounts:
        for key in ("stolen_admin", "network_admin"):
            if getattr(self, key) not in self.admins:
                raise ValueError(f"{key} {getattr(self, key)!r} is not one of the admins")
        if len(set(self.admins + self.services)) < len(self.admins) + len(self.services):
            raise ValueError("an account is listed twice")
        return self


class Noise(Strict):
    """Ordinary activity beyond the default noise groups (off by default: a scenario written before keeps its
    output byte for byte). docs/scenarios.md, "Noise"."""

    linux_syslog: bool = Field(default=False, description="the Linux servers' own syslog: cron, systemd units, "
                               "chrony, the administrators' and the backup job's SSH sessions with sudo, failed "
                               "SSH logins")
    admin_sessions: bool = Field(default=False, description="the administrators' RDP to servers and SSH to Linux "
                                 "hosts and routers from the jump host in office hours (Zeek conn, rdp, ssh; the "
                                 "routers' SSH logins become the same sessions) and the DCE/RPC of workstations and "
                                 "domain controllers (epmapper, lsarpc, samr, netlogon, drsuapi replication)")
    partner_ftp: bool = Field(default=False, description="FTP uploads on workdays from the batch host (and one more "
                              "server) to 1-3 partner FTP servers outside (Zeek conn and ftp, passive data "
                              "connections; the firewall's build/teardown and NetFlow of the outside legs)")
    scanner: bool = Field(default=False, description="an inside vulnerability scanner: a weekly night scan of the "
                          "servers, routers and some workstations (Zeek conn REJ/S0/SF), SSH/telnet login attempts on "
                          "the routers (their LOGIN_FAILED lines come from the scanner) and 4625 failures of its "
                          "SMB/RDP probes on some servers")


def _zeek_view(value: str) -> str:
    if value in ("all", "internet"):
        return value
    try:
        ipaddress.IPv4Network(value)
    except ValueError:
        raise ValueError(f"not all, internet or an IPv4 network (CIDR): {value!r}") from None
    return value


HostSource = Literal["windows_security", "sysmon", "router_syslog", "netflow", "firewall", "linux_syslog"]
#: which sources a host of each kind writes (role, os)
_SOURCES_OF_KIND = {"windows": {"windows_security", "sysmon"}, "linux": {"linux_syslog"},
                    "router": {"router_syslog", "netflow"}, "firewall": {"firewall"}}


class LogSources(Strict):
    """What the organization collects (default: everything). A source left out writes no file, neither its
    noise nor the attack's records in it: the investigation must do without, as in a real network where it
    was never forwarded. The database's audit log is always written (the scoping starts from it)."""

    windows_security: tuple[Literal["dc", "servers", "workstations"], ...] = Field(
        default=("dc", "servers", "workstations"), description="whose Security logs are forwarded")
    sysmon: tuple[Literal["servers", "workstations"], ...] = Field(
        default=("servers", "workstations"), description="where Sysmon runs and is forwarded")
    zeek: tuple[Annotated[str, AfterValidator(_zeek_view)], ...] = Field(
        default=("all",), description="what the Zeek sensors see: all (a sensor on every segment), internet "
                                      "(the edge: connections with an outside end), or networks (CIDR: "
                                      "connections with an end in one); [] = no Zeek")
    netflow: bool = Field(default=True, description="the edge routers' NetFlow/IPFIX export")
    firewall: bool = Field(default=True, description="the firewall's syslog")
    router_syslog: bool = Field(default=True, description="the routers' syslog")
    linux_syslog: bool = Field(default=True, description="the Linux servers' syslog")
    not_from: dict[HostName, tuple[HostSource, ...]] = Field(
        default_factory=dict, description="hosts (servers, devices, workstations by name) whose own logs of these "
                                          "sources are not collected, besides the parts left out above: e.g. "
                                          "{CL-OPS: [sysmon]}, {wan-rtr01: [router_syslog, netflow]}")


class NetworkSpec(Strict):
    domain: Domain
    public_address: Address = Field(description="the organization's outbound (NAT) address")
    payment_address: Address = Field(description="the public address of the payment service (DDoS episode)")
    payment_edge_router: HostName | None = Field(
        default=None, description="the payment platform's edge router, whose NetFlow the DDoS episode writes "
                                  "(default: the payment host's name, lower case, and -edge)")
    log_collector: Address = Field(description="syslog and SNMP collector the network devices send to")
    admin_ssh_source: Address = Field(description="second management address allowed to SSH to the devices")
    portal: Annotated[str, Matching(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", "a DNS label")] = Field(
        description="DNS name (in the domain) of the application servers' web portal")
    maintenance_console: Annotated[str, Matching(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", "a DNS label")] = Field(
        description="DNS name (in the domain) of device A's maintenance console, published to the internet")
    servers: tuple[Server, ...] = Field(min_length=1)
    devices: tuple[Device, ...] = Field(min_length=1)
    workstations: Workstations
    accounts: Accounts
    story_hosts: dict[str, str] = Field(description="the part each host plays in the story -> its name")
    database: Literal["postgresql", "mysql", "mariadb"] = Field(
        default="postgresql", description="the order database's engine and its audit log: postgresql (pgAudit "
        "in the server log), mysql (MySQL 8 general query log) or mariadb (MariaDB server_audit plugin)")
    noise: Noise = Field(default_factory=Noise, description="ordinary activity switched on by the scenario")
    log_sources: LogSources = Field(default_factory=LogSources, description="what the organization collects")

    @model_validator(mode="after")
    def _consistent(self) -> NetworkSpec:
        hosts: list[Server | Device] = [*self.servers, *self.devices]
        for h in hosts:
            _address(h.address, h.name)
        for key in ("public_address", "payment_address", "log_collector", "admin_ssh_source"):
            _address(getattr(self, key), key)
        twice = [n for n, c in Counter(h.name.upper() for h in hosts).items() if c > 1]
        if twice:
            raise ValueError(f"host names used twice: {', '.join(twice)}")
        shared = [a for a, c in Counter(h.address for h in hosts).items() if c > 1]
        if shared:
            raise ValueError(f"addresses used by two hosts: {', '.join(shared)}")
        ws = ipaddress.IPv4Network(self.workstations.network, strict=False)
        inside = [h.name for h in hosts if ipaddress.IPv4Address(h.address) in ws]
        if inside:
            raise ValueError(f"inside the workstations' network {ws}: {', '.join(inside)}")
        roles = Counter(h.role for h in hosts)
        for role in ("dc", "app", "file"):
            if not roles[role]:
                raise ValueError(f"no server with role {role}")
        by_name = {h.name: h for h in hosts}
        for key, allowed in STORY_HOSTS.items():
            name = self.story_hosts.get(key)
            if name is None:
                raise ValueError(f"story_hosts: {key} is missing (the story needs: {', '.join(STORY_HOSTS)})")
            host = by_name.get(name)
            if host is None:
                raise ValueError(f"story_hosts: {key}: no host named {name!r}")
            if host.role not in allowed:
                raise ValueError(f"story_hosts: {key}: {name} has role {host.role}, not {' or '.join(allowed)}")
        unknown = sorted(set(self.story_hosts) - set(STORY_HOSTS))
        if unknown:
            raise ValueError(f"story_hosts: unknown part(s) {', '.join(unknown)}; known: {', '.join(STORY_HOSTS)}")
        if len({self.story_hosts['device_a'], self.story_hosts['device_b']}) < 2:
            raise ValueError("story_hosts: device_a and device_b must be two hosts")
        prefix, _, suffix = self.workstations.name.partition("{number}")
        workstation = re.compile(re.escape(prefix) + r"\d+" + re.escape(suffix), re.IGNORECASE)
        for name, sources in self.log_sources.not_from.items():
            host = next((h for h in hosts if h.name.upper() == name.upper()), None)
            if host is None and not workstation.fullmatch(name):
                raise ValueError(f"log_sources.not_from: no server, device or workstation named {name!r}")
            kind = "windows" if host is None else host.os if isinstance(host, Server) else (
                "firewall" if host.role == "firewall" else "router")
            wrong = [x for x in sources if x not in _SOURCES_OF_KIND[kind]]
            if wrong:
                raise ValueError(f"log_sources.not_from: {name} ({kind}) writes no {', '.join(wrong)}; its sources: "
                                 f"{', '.join(sorted(_SOURCES_OF_KIND[kind]))}")
        return self


Clock = Annotated[str, Matching(r"([01]\d|2[0-3]):[0-5]\d", "a time of day HH:MM")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _in_period(value: str, info: ValidationInfo) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date YYYY-MM-DD: {value!r}") from None
    period = period_of(info)
    if not period.first_day <= day <= period.last_day:
        raise ValueError(f"{value} is outside the simulated period, {period.first_day} to {period.last_day}")
    return value


Day = Annotated[str, BeforeValidator(lambda v: v.isoformat() if isinstance(v, date) else v),
                AfterValidator(_in_period)]


class Daily(Strict):
    at: Clock


class Weekly(Strict):
    at: Clock
    weekdays: tuple[Weekday, ...] = Field(min_length=1)


class Nights(Strict):
    at: Clock
    nights: tuple[Day, ...] = Field(min_length=1)


class Routine(Strict):
    """The organization's own jobs that look like an attack and are not (hard negatives, tagged benign: in
    the truth). A job left out does not run."""

    backup: Daily | None = Field(default=None, description="every night: pg_dump of the database and the file "
                                                            "servers' backup to the backup host")
    nightly_export: Daily | None = Field(default=None, description="every night: the batch host exports all "
                                                                   "customers and contracts to the export share")
    bi_report: Daily | None = Field(default=None, description="workdays: the BI host reads every customer")
    offsite_backup: Weekly | None = Field(default=None, description="the backup set uploaded to cloud storage")
    change_window: Weekly | None = Field(default=None, description="routine router configuration changes")
    admin_sweep: Nights | None = Field(default=None, description="patch nights: an administrator logs on to "
                                                                 "every server from the jump host")
    steps: tuple[RoutineStep, ...] = Field(default=(), description="catalogue steps done by the organization "
                                                                   "itself, once each (simulate/benign.py)")

    @model_validator(mode="after")
    def _names(self) -> Routine:
        names = [s.name for s in self.steps]
        clash = sorted({n for n in names if names.count(n) > 1 or n in Routine.model_fields})
        if clash:
            raise ValueError(f"steps: name(s) used twice or by a routine job: {', '.join(clash)}")
        return self


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a time zone of the IANA database (e.g. Asia/Tokyo, Europe/Berlin, UTC): {name!r}") \
            from None
    if name not in available_timezones():  # ZoneInfo also opens paths like ../../etc/localtime
        raise ValueError(f"not a time zone of the IANA database: {name!r}")
    return name


Hours = Annotated[tuple[Annotated[float, Field(ge=0, le=100)], ...], Field(min_length=24, max_length=24)]


class Activity(Strict):
    """How busy one kind of log is in each local hour, relative to its busiest (24 numbers, hour 0 first)."""

    workday: Hours
    day_off: Hours = Field(description="Saturdays, Sundays and holidays")

    @model_validator(mode="after")
    def _some_activity(self) -> Activity:
        if not any(self.workday) or not any(self.day_off):
            raise ValueError("an activity profile needs some activity on workdays and on days off")
        return self


class PeriodSpec(Strict):
    """The days the simulation covers, in the organization's time zone: every log is written in it (the
    local-time formats with the zone's offset or abbreviation of the moment, summer time included), office
    hours and days off follow it, and daily files turn over at its midnight."""

    first_day: date = Field(description="the first simulated day (YYYY-MM-DD)")
    days: int = Field(ge=7, le=366, description="how many days (the episodes need 45 or more)")
    time_zone: Annotated[str, AfterValidator(_zone)] = Field(
        default="UTC", description="IANA time zone of the organization (Asia/Tokyo, Europe/Berlin, America/New_York)")
    holidays: tuple[date, ...] = Field(default=(), description="public holidays in the period (office-hours "
                                                               "activity as on a Sunday)")
    activity: dict[Literal["office", "server", "app"], Activity] = Field(
        default_factory=dict,
        description="the hourly shape of a kind of noise, by local hour: office (Windows Security and Sysmon, "
                    "Zeek, the firewall, NetFlow), server (router and Linux syslog), app (the database's "
                    "application); default: an office day from 8 to 19 with a lunch dip, servers busy around "
                    "the clock, the application mostly in office hours")

    @field_validator("holidays")
    @classmethod
    def _holidays_inside(cls, holidays: tuple[date, ...], info: ValidationInfo) -> tuple[date, ...]:
        first, days = info.data.get("first_day"), info.data.get("days")
        if first is None or days is None:  # reported there
            return holidays
        last = first + timedelta(days=days - 1)
        outside = [d.isoformat() for d in holidays if not first <= d <= last]
        if outside:
            raise ValueError(f"outside the period ({first} to {last}): {', '.join(outside)}")
        return holidays

    def clock_period(self) -> clock.Period:
        return clock.Period(self.first_day, self.days, self.time_zone, frozenset(self.holidays),
                            tuple((name, a.workday, a.day_off) for name, a in sorted(self.activity.items())))


#: a file without `period:` replays the built-in story's weeks in Japan
DEFAULT_PERIOD = PeriodSpec(first_day=clock.DEFAULT.first_day, days=clock.DEFAULT.days,
                            time_zone=clock.DEFAULT.time_zone, holidays=tuple(sorted(clock.DEFAULT.holidays)))


class _PeriodFirst(BaseModel):
    """The period alone, read before the rest of the file (whose dates must fall inside it)."""

    model_config = ConfigDict(extra="ignore")
    period: PeriodSpec = DEFAULT_PERIOD


def _inventory_document(value: object, info: ValidationInfo) -> object:
    """`data.inventory`: a file (relative to the scenario's folder) is read here, with its own lines in errors."""
    if not isinstance(value, str):
        return value
    from breachscope.model.inventory import load_inventory

    folder = (info.context or {}).get("folder") or Path(".")
    path = Path(value) if Path(value).is_absolute() else Path(folder) / value
    if not path.is_file():
        raise ValueError(f"no inventory file {str(path)!r}")
    load_inventory(path)  # validated as `scope` validates it: its errors name its own lines
    doc, _ = load_yaml(path, "inventory")
    return doc


ColumnType = Literal["bigint", "integer", "text", "date", "timestamp"]


class DataSpec(Strict):
    """The database the attack reads, built from a data inventory (docs/scenarios.md, "The data")."""

    inventory: Annotated[dict[str, Any], BeforeValidator(_inventory_document, json_schema_input_type=str | dict)] = \
        Field(description="the data inventory (docs/inventory.md) the database is built from: a file, relative to "
                          "this scenario's folder, or the inventory itself. Its tables, columns and categories make "
                          "the schema; its exclusions get rows to exclude")
    rows: dict[str, Annotated[float, Field(gt=0, le=50)]] = Field(
        default_factory=dict, description="rows of a table per subject of the main kind (organizations, else "
                                          "persons; default 2)")
    types: dict[str, ColumnType] = Field(
        default_factory=dict, description="'table.column' -> SQL type, where the name and the categories do not "
                                          "say it (default: *_id bigint, *_at timestamp, *_date date, amounts "
                                          "integer, else text)")

    @model_validator(mode="after")
    def _buildable(self) -> DataSpec:
        from breachscope.simulate.datamodel import build

        try:
            build(self.inventory, self.rows, self.types, "data.inventory")
        except UsageError as e:
            raise ValueError(str(e)) from None
        return self


class ScenarioFile(Strict):
    """A breachscope scenario (version 1)."""

    version: Literal[1]
    name: Annotated[str, Matching(r"[a-z0-9][a-z0-9._-]{0,63}", "a scenario name (lower case, digits, . _ -)")]
    title: Text
    description: Text = ""
    story: Literal["ntt-2025", "inventory"] = Field(
        description="the data the attack reads: the order database of the NTT story, or a database built from a "
                    "data inventory (`data:`)")
    data: DataSpec | None = Field(default=None, description="with story: inventory, the database and its inventory")
    period: PeriodSpec = Field(default=DEFAULT_PERIOD, description="the simulated days and time zone (default: "
                                                                   "the built-in story's, 2025-01-13 for 54 days in "
                                                                   "Asia/Tokyo)")
    episodes_from: date | None = Field(
        default=None, description="the first day of the optional episodes (--episodes; they take 9 days from it); "
                                  "default: the period's 37th day")
    network: NetworkSpec
    routine: Routine = Field(default_factory=Routine)
    attack: AttackSpec

    @model_validator(mode="after")
    def _data_with_its_story(self) -> ScenarioFile:
        if (self.story == "inventory") != (self.data is not None):
            raise ValueError("story: inventory needs data: (its inventory), and only it does")
        for name, steps in self.attack.variants.items():
            odbc = [s for s in steps if getattr(s, "client", "") == "odbc"]
            if odbc and self.network.database != "postgresql":
                raise ValueError(f"attack.variants.{name}: database_sessions client odbc is simulated for "
                                 f"PostgreSQL only (network.database is {self.network.database})")
        return self

    @field_validator("episodes_from")
    @classmethod
    def _episodes_inside(cls, day: date | None, info: ValidationInfo) -> date | None:
        period = info.data.get("period")
        if day is None or period is None:
            return day
        last = day + timedelta(days=EPISODE_SPAN - 1)
        if not period.first_day <= day or last > period.clock_period().last_day:
            raise ValueError(f"the episodes' {EPISODE_SPAN} days from {day} (to {last}) must fall inside the period, "
                             f"{period.first_day} to {period.clock_period().last_day}")
        return day


def load_scenario(name_or_path: str) -> ScenarioFile:
    """A shipped scenario by name, else a scenario file (a path); ConfigError with the line when invalid."""
    known = shipped()
    path = known.get(name_or_path)
    if path is None:
        path = Path(name_or_path)
        if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
            raise UsageError(f"--scenario {name_or_path!r}: neither a shipped scenario ({', '.join(known)}) nor a "
                             "scenario file (.yaml)")
    data, node = load_yaml(path, "scenario")
    if not isinstance(data, dict):
        data = {}
    period = validate(_PeriodFirst, data, node, path, "scenario").period.clock_period()
    return validate(ScenarioFile, data, node, path, "scenario", context={"period": period, "folder": path.parent,
                                                                         "accounts": _accounts_named(data)})


def _accounts_named(data: dict) -> frozenset[str]:
    """The accounts the file gives the network (read raw, before validation: a wrong one is reported there)."""
    network, attack = data.get("network"), data.get("attack")
    accounts = network.get("accounts") if isinstance(network, dict) else None
    names: list[object] = [attack.get("database_user")] if isinstance(attack, dict) else []
    if isinstance(accounts, dict):
        for key in ("services", "admins"):
            if isinstance(accounts.get(key), list):
                names += accounts[key]
    return frozenset(n for n in names if isinstance(n, str))

"""Realism of the simulator's output (issue 16): on one small simulation per variant (all episodes), every
family's written records (Windows Security/Sysmon JSON, Zeek, Cisco IOS/ASA syslog, NetFlow, pgAudit) are
checked the way an analyst would notice a fake:

1. every IPv4 address is valid, and every internal (10/8) address is a host of the network or a declared range;
2. a host name resolves to one address at a time (DNS answers, Sysmon host names, logon workstation names,
   SMB share paths and TLS/HTTP server names agree with the addresses they come with);
3. record ids (Windows EventRecordID per host and channel, IOS sequence numbers per router, ASA connection
   ids) grow in time order;
4. no SigmaHQ rule of level high or critical fires on a record that is not a story record (attack, response,
   episode or hard negative), apart from the few listed in NOISE_FINDINGS_ALLOWED with the reason.

The checks run on each variant of ntt-2025 and on ntt-2025 with the organization's administration as noise
(`network.noise`: the Linux host's syslog, RDP, SSH and DCE/RPC; SigmaHQ's Linux rules then run too).

Also: the network model's addresses at the largest size, and `simulate` keeping the affected count out of its
output."""

from __future__ import annotations

import csv
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.detect.sigma.hunt import hunt
from breachscope.engines.duckdb_case import open_case
from breachscope.simulate import EPISODES, SimConfig, network, run
from breachscope.simulate.scenario_file import Noise, load_scenario
from tests.conftest import SIGMA, run_ingest

VARIANTS = ("destination", "pivot")
NOISE = "destination+noise"  # the first variant with network.noise on
SIMS = (*VARIANTS, NOISE)
EVENTS, CUSTOMERS = 30_000, 1000
SPEC = load_scenario("ntt-2025")
#: internal addresses that are not hosts of the network, with why they appear (the scenario declares them)
DECLARED_INTERNAL = {
    ipaddress.IPv4Network(f"{SPEC.attack.external.vpn_address}/24", strict=False): "the remote-access VPN pool",
    ipaddress.IPv4Network(SPEC.network.log_collector): "the syslog/SNMP collector the network devices send to",
    ipaddress.IPv4Network(SPEC.network.admin_ssh_source): "the second address allowed to SSH to the devices",
}
#: SigmaHQ rules (level high/critical) allowed to fire on noise: rule id -> why a real network fires it too
NOISE_FINDINGS_ALLOWED: dict[str, str] = {}
#: the rule folders of the families the simulator writes (Windows, network devices and sensors, SQL)
RULE_DIRS = [*sorted(SIGMA.glob("rules*/windows")), *sorted(SIGMA.glob("rules*/network")),
             SIGMA / "rules" / "application" / "sql", SIGMA / "rules-emerging-threats"]
LINUX_RULE_DIRS = sorted(SIGMA.glob("rules*/linux"))  # on the Linux host's syslog (network.noise)
IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w]|\.\d)")
LOOPBACK_OR_UNSET = {"", "-", "::1", "127.0.0.1", "0.0.0.0"}


@dataclass
class Sim:
    out: Path
    net: network.Network
    truth: dict
    files: list[Path] = field(default_factory=list)

    def rel(self, p: Path | str) -> str:
        return Path(p).relative_to(self.out).as_posix()


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sim]:
    out = {}
    noisy = SPEC.model_copy(update={"network": SPEC.network.model_copy(update={
        "noise": Noise(linux_syslog=True, admin_sessions=True)})})
    for name in SIMS:
        folder = tmp_path_factory.mktemp(f"sim-{name}")
        variant = name.split("+")[0]
        cfg = SimConfig(folder, events=EVENTS, customers=CUSTOMERS, variant=variant, episodes=EPISODES,
                        spec=noisy if name == NOISE else None)
        run(cfg)
        files = sorted(p for p in (folder / "evidence").rglob("*") if p.is_file() and _family(p))
        out[name] = Sim(folder, network.build(SPEC.network, cfg.seed, cfg.events),
                           orjson.loads((folder / "truth.json").read_bytes()), files)
    return out


# --- reading the written records ------------------------------------------------------------------------------
def _family(p: Path) -> str:
    parts = p.parts[p.parts.index("evidence") + 1:]
    return {"windows": "winlog", "zeek": "zeek", "network": "ios", "firewall": "asa", "flows": "netflow",
            "db": "pgaudit", "syslog": "linux"}.get(parts[0], "")


@dataclass(frozen=True)
class Rec:
    file: Path
    line: int  # 1-based line where the record starts
    family: str
    fields: dict[str, str]

    def where(self, sim: Sim) -> str:
        return f"{sim.rel(self.file)}:{self.line}"


ASA = re.compile(r"^(\S+) (\S+) %ASA-\d-(\d+): (.*)$")
ASA_CONN = re.compile(r"^(Built|Teardown) .*?connection (\d+) ")
IOS = re.compile(r"^(\S+) (\S+) (\d+): (\S+): (.+?): %([A-Z0-9_]+-\d-[A-Z0-9_]+): (.*)$")


def records(sim: Sim, family: str) -> Iterator[Rec]:
    for p in sim.files:
        if _family(p) != family:
            continue
        if family == "winlog":
            for i, line in enumerate(p.read_bytes().splitlines(), 1):
                ev = orjson.loads(line)
                w = ev["winlog"]
                yield Rec(p, i, family, {**w["event_data"], "@host": w["computer_name"], "@channel": w["channel"],
                                         "@record": str(w["record_id"]), "@event": w["event_id"],
                                         "@ts": ev["@timestamp"]})
        elif family == "zeek":
            names: list[str] = []
            for i, line in enumerate(p.read_text().splitlines(), 1):
                if line.startswith("#fields"):
                    names = line.split("\t")[1:]
                elif not line.startswith("#"):
                    yield Rec(p, i, f"zeek.{p.stem}", dict(zip(names, line.split("\t"), strict=True)))
        elif family == "ios":
            for i, line in enumerate(p.read_text().splitlines(), 1):
                m = IOS.match(line)
                assert m, f"{sim.rel(p)}:{i}: not an IOS line: {line}"
                yield Rec(p, i, family, {"@ts": m[1], "@host": m[2], "@seq": m[3], "@origin": m[4], "@mnemonic": m[6],
                                         "@text": m[7]})
        elif family == "asa":
            for i, line in enumerate(p.read_text().splitlines(), 1):
                m = ASA.match(line)
                assert m, f"{sim.rel(p)}:{i}: not an ASA line: {line}"
                yield Rec(p, i, family, {"@ts": m[1], "@host": m[2], "@id": m[3], "@text": m[4]})
        elif family == "netflow":
            with p.open(newline="") as fh:
                for i, row in enumerate(csv.DictReader(fh), 2):
                    yield Rec(p, i, family, row)


def _address(text: str) -> str:
    return text[7:] if text.startswith("::ffff:") else text


# --- 1. addresses ---------------------------------------------------------------------------------------------
def _bad_address(text: str, hosts: set[str]) -> str | None:
    """Why `text` is not a realistic IPv4 address of this network or the internet (None when it is)."""
    try:
        addr = ipaddress.IPv4Address(text)
    except ValueError:
        return "not a valid IPv4 address"
    if addr in ipaddress.IPv4Network("10.0.0.0/8") and text not in hosts \
            and not any(addr in net for net in DECLARED_INTERNAL):
        return "internal address of no host and no declared range"
    return None


STRUCTURED = {"winlog": ("IpAddress", "SourceIp", "DestinationIp"), "netflow": ("sourceIPv4Address",
                                                                               "destinationIPv4Address")}


@pytest.mark.parametrize("variant", SIMS)
def test_every_address_is_valid_and_internal_ones_belong_to_the_network(sims: dict[str, Sim], variant: str) -> None:
    sim = sims[variant]
    hosts = {h.ip for h in sim.net.hosts.values()}
    bad: list[str] = []
    seen = 0
    for p in sim.files:  # every dotted quad anywhere in any record (command lines, messages, SQL, ...)
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            for m in IPV4.finditer(line):
                seen += 1
                why = _bad_address(m[1], hosts)
                if why:
                    bad.append(f"{sim.rel(p)}:{i}: {m[1]}: {why}")
    for family in ("winlog", "zeek", "netflow"):  # address fields parse strictly (a 10.20.1.1000 is caught too)
        for r in records(sim, family):
            keys = STRUCTURED.get(family, ("id.orig_h", "id.resp_h"))
            for k in keys:
                v = _address(r.fields.get(k, "-"))
                if v not in LOOPBACK_OR_UNSET and (why := _bad_address(v, hosts)):
                    bad.append(f"{r.where(sim)}: {k}={v}: {why}")
    assert seen > 50_000
    assert not bad, f"{len(bad)} bad addresses, e.g.:\n" + "\n".join(bad[:20])


# --- 2. one address per name ----------------------------------------------------------------------------------
SHARE_HOST = re.compile(r"^\\+([^\\]+)\\")


def _name_observations(sim: Sim) -> Iterator[tuple[str, str, str, str]]:
    """(name, address, day, where) of every record that names a host and gives its address; DNS answers
    give several (one per answer)."""
    for r in records(sim, "winlog"):
        f, day = r.fields, _jst_day(r.fields["@ts"])
        ev = f["@event"]
        if ev == "3":
            yield f["SourceHostname"], f["SourceIp"], day, r.where(sim)
            yield f["DestinationHostname"], f["DestinationIp"], day, r.where(sim)
        elif ev == "22" and f.get("QueryStatus") == "0":
            for a in f["QueryResults"].split(";"):
                if a.startswith("::ffff:"):
                    yield f["QueryName"], a, day, r.where(sim)
        elif ev in ("4624", "4625"):
            yield f["WorkstationName"], f["IpAddress"], day, r.where(sim)
    for r in records(sim, "zeek"):
        f = r.fields
        day = _zeek_day(r.file)
        if r.family == "zeek.dns" and f["qtype_name"] == "A" and f["answers"] not in ("-", "(empty)"):
            for a in f["answers"].split(","):
                yield f["query"], a, day, r.where(sim)
        elif r.family == "zeek.ssl":
            yield f["server_name"], f["id.resp_h"], day, r.where(sim)
        elif r.family == "zeek.http":
            yield f["host"], f["id.resp_h"], day, r.where(sim)
        elif r.family in ("zeek.smb_mapping", "zeek.smb_files"):
            m = SHARE_HOST.match(f["path"])
            if m:
                yield m[1], f["id.resp_h"], day, r.where(sim)


def _zeek_day(p: Path) -> str:
    return p.parent.name  # zeek/<JST date>/dns.log


def _jst_day(iso_utc: str) -> str:
    return (datetime.fromisoformat(iso_utc) + timedelta(hours=9)).date().isoformat()


@pytest.mark.parametrize("variant", SIMS)
def test_a_name_has_one_address_at_a_time(sims: dict[str, Sim], variant: str) -> None:
    sim = sims[variant]
    fqdn = f".{sim.net.fqdn}"
    ours = {h.name.lower(): h.ip for h in sim.net.hosts.values()}
    seen: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # (name, day) -> address -> first record
    bad: list[str] = []
    n = 0
    for name, addr, day, where in _name_observations(sim):
        addr = _address(addr)
        if name in LOOPBACK_OR_UNSET or addr in LOOPBACK_OR_UNSET:
            continue
        n += 1
        key = name.lower().removesuffix(fqdn)
        if key in ours and addr != ours[key]:
            bad.append(f"{where}: {name} with {addr}, the address of "
                       f"{next((h for h, ip in ours.items() if ip == addr), 'no host')} ({key} is {ours[key]})")
        seen[(key, day)].setdefault(addr, where)
    dns = _dns_answers(sim)
    ever: dict[str, set[str]] = defaultdict(set)
    for (name, _day), answers in dns.items():
        ever[name] |= answers
    for (name, day), addrs in seen.items():
        answers = dns.get((name, day), ever.get(name))
        if answers is not None:  # a resolved name: only the addresses the resolver gives (that day if asked)
            extra = set(addrs) - answers
            if extra:
                bad.append(f"{addrs[min(extra)]}: {name} with {sorted(extra)}, DNS said {sorted(answers)}")
        elif len(addrs) > 1 and name not in ours:
            bad.append(f"{name} on {day} with {len(addrs)} addresses: {sorted(addrs.items())[:3]}")
    assert n > 5_000
    assert not bad, f"{len(bad)} names with another address, e.g.:\n" + "\n".join(sorted(bad)[:20])


def _dns_answers(sim: Sim) -> dict[tuple[str, str], set[str]]:
    """(name, day) -> the A answers given for it that day (Zeek dns.log); a name has one answer set a day."""
    out: dict[tuple[str, str], set[str]] = {}
    for r in records(sim, "zeek"):
        f = r.fields
        if r.family != "zeek.dns" or f["qtype_name"] != "A" or f["answers"] in ("-", "(empty)"):
            continue
        key = (f["query"].lower().removesuffix(f".{sim.net.fqdn}"), _zeek_day(r.file))
        answers = set(f["answers"].split(","))
        assert out.setdefault(key, answers) == answers, f"{r.where(sim)}: {key} answered {answers} and {out[key]}"
    return out


# --- 3. record ids --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", SIMS)
def test_record_ids_grow_in_time_order(sims: dict[str, Sim], variant: str) -> None:
    """Per Windows host and channel, and per router: one file a day holds its records (a host's log is one
    log), and in file order, day after day, the record ids strictly increase and the times do not go back."""
    sim = sims[variant]
    last: dict[tuple[str, str], tuple[int, str, str]] = {}  # (host, channel) -> (id, time, where)
    file_of: dict[tuple[str, str, str], str] = {}  # (host, channel, day) -> the file holding them
    bad: list[str] = []
    checked = 0
    streams = [(r, (r.fields["@host"], r.fields["@channel"]), int(r.fields["@record"]), r.fields["@ts"])
               for r in records(sim, "winlog")]
    streams += [(r, (r.fields["@host"], "syslog"), int(r.fields["@seq"]), r.fields["@ts"]) for r in records(sim, "ios")]
    for r, key, rid, ts in streams:  # files are read in date order (their names hold the date)
        day = re.search(r"\d{4}-\d{2}-\d{2}", r.file.name)[0]  # type: ignore[index]
        holder = file_of.setdefault((*key, day), sim.rel(r.file))
        if holder != sim.rel(r.file):
            bad.append(f"{r.where(sim)}: {key} also written to {holder}")
        prev = last.get(key)
        if prev is not None and (rid <= prev[0] or ts < prev[1]):
            bad.append(f"{r.where(sim)}: {key} id {rid} at {ts} after id {prev[0]} at {prev[1]} ({prev[2]})")
        last[key] = (rid, ts, r.where(sim))
        checked += 1
    assert checked > 10_000
    assert not bad, f"{len(bad)} records out of order, e.g.:\n" + "\n".join(bad[:20])


@pytest.mark.parametrize("variant", SIMS)
def test_firewall_connection_ids_grow_as_connections_are_built(sims: dict[str, Sim], variant: str) -> None:
    """The ASA numbers its connections as it builds them; a teardown names a connection built before."""
    sim = sims[variant]
    built: dict[str, str] = {}
    last = (0, "")
    bad: list[str] = []
    for r in records(sim, "asa"):
        m = ASA_CONN.match(r.fields["@text"])
        if not m:
            continue
        if m[1] == "Built":
            if int(m[2]) <= last[0]:
                bad.append(f"{r.where(sim)}: connection {m[2]} built after {last[0]} ({last[1]})")
            last = (int(m[2]), r.where(sim))
            built[m[2]] = r.where(sim)
        elif built.pop(m[2], None) is None:
            bad.append(f"{r.where(sim)}: teardown of connection {m[2]}, never built")
    assert last[0]
    assert not bad, f"{len(bad)} connections out of order, e.g.:\n" + "\n".join(bad[:20])


# --- 4. SigmaHQ on the noise ----------------------------------------------------------------------------------
def _story_tags(truth: dict) -> dict[tuple[str, int], str]:
    sections = [truth["evidence"]["records"], truth["hard_negatives"]["records"],
                *(e["records"] for e in truth["episodes"].values())]
    return {(x["file"], x["line"]): x["tag"] for sec in sections for x in sec}


@pytest.mark.parametrize("variant", SIMS)
def test_no_high_sigma_finding_on_noise(sims: dict[str, Sim], variant: str, tmp_path: Path) -> None:
    sim = sims[variant]
    summary = run_ingest([sim.out / "evidence"], tmp_path / "case")
    read = [f for f in summary.files if f.status == "ingested"]
    assert len(read) == len(sim.files)
    rejected = {f.path: f.first_rejects for f in read if f.rejected}
    assert not rejected, rejected
    with open_case(tmp_path / "case") as c:
        result = hunt(c, RULE_DIRS + (LINUX_RULE_DIRS if variant == NOISE else []), "high")
    tags = _story_tags(sim.truth)
    on_noise: dict[str, list[str]] = defaultdict(list)
    on_story = 0
    for row in result.findings.select(["rule_id", "rule_title", "src_file", "src_record", "evidence"]).to_pylist():
        sources = [(row["src_file"], row["src_record"])] if row["src_file"] else \
            [(e["src_file"], e["src_record"]) for e in row["evidence"] or []]
        for src_file, src_record in sources:
            rel = src_file[src_file.index("evidence/"):]
            if (rel, src_record) in tags:
                on_story += 1
            elif row["rule_id"] not in NOISE_FINDINGS_ALLOWED:
                on_noise[f"{row['rule_id']} {row['rule_title']}"].append(f"{rel}:{src_record}")
    assert on_story >= 5  # the story is seen (the rules do run on these records)
    assert not on_noise, "high/critical findings on noise:\n" + "\n".join(
        f"{rule}: {len(where)}, e.g. {where[:3]}" for rule, where in sorted(on_noise.items()))


# --- the network model and the command ------------------------------------------------------------------------
def test_every_host_address_is_valid_and_unique_at_the_largest_network() -> None:
    spec = SPEC.network
    net = network.build(spec, 2025, 10**8)  # the most workstations the simulator makes (4,000)
    assert len(net.workstations) == network.workstation_count(spec, 10**8) == 4000
    seen: dict[str, str] = {}
    for h in net.hosts.values():
        addr = ipaddress.IPv4Address(h.ip)  # raises on 10.20.0.256
        assert h.ip not in seen, f"{h.name} and {seen[h.ip]} share {h.ip}"
        seen[h.ip] = h.name
        if h.role == "workstation":
            subnet = ipaddress.IPv4Network(f"{h.ip.rsplit('.', 1)[0]}.0/24")
            assert addr in subnet and addr not in (subnet.network_address, subnet.broadcast_address)


def test_simulate_keeps_the_affected_count_out_of_its_output(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "sim"), "--events", "2000",
                                   "--customers", "2000"])
    assert res.exit_code == 0, res.output
    assert "affected" not in res.output.lower()
    assert (tmp_path / "sim" / "truth.json").is_file()

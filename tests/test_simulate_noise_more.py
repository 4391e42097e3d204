"""More of the organization's ordinary activity as noise (network.noise; docs/scenarios.md, "Noise"), the
lookalikes of attack steps: the logoffs of the administrators' RDP sessions (4647, 4634 with the logon id of the
session's 4624), FTP uploads to partners (`partner_ftp`: Zeek conn, dns and ftp, the firewall and NetFlow of the
outside legs, as the attack's ftp_exfiltration writes them) and an inside vulnerability scanner (`scanner`: Zeek
conn REJ/S0/SF, the routers' failed logins from its address, 4625 on some servers). Simulated small (logistics-vpn,
phish: its attack uploads by FTP) and ingested with no reject; no SigmaHQ rule of level high or critical fires on
the noise."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from breachscope.detect.packs import packs
from breachscope.detect.sigma.hunt import hunt
from breachscope.simulate.scenario_file import Noise, load_scenario
from breachscope.simulate.scenarios import shipped
from tests.simcase import Sim, simulated
from tests.test_simulate_realism import LINUX_RULE_DIRS, RULE_DIRS

DATA = yaml.safe_load(shipped()["logistics-vpn"].read_text(encoding="utf-8"))
SERVERS = {s["name"]: s for s in DATA["network"]["servers"]}
JUMP = SERVERS[DATA["network"]["story_hosts"]["jump"]]["address"]
ROUTERS = {d["name"]: d["address"] for d in DATA["network"]["devices"] if d["role"] == "router"}
NAMES = {s["address"]: s["name"] for s in SERVERS.values()}
ATTACK_FTP = "192.0.2.206"  # the phish variant's ftp_exfiltration
ALL_ON = Noise(linux_syslog=True, admin_sessions=True, partner_ftp=True, scanner=True)
#: SigmaHQ rules (level high/critical) allowed to fire on this noise: rule id -> why a real network fires it too
ALLOWED: dict[str, str] = {}

rows = Sim.rows


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with simulated(tmp_path_factory.mktemp("noise-more"), "logistics-vpn", variant="phish") as s:
        yield s


def _listed(sim: Sim) -> dict[tuple[str, int], str]:
    """(file, line) -> tag of the story's records (attack, responses, hard negatives, episodes)."""
    t = sim.truth
    sections = [t["evidence"]["records"], t["hard_negatives"]["records"],
                *(e["records"] for e in t.get("episodes", {}).values())]
    return {(x["file"], x["line"]): x["tag"] for sec in sections for x in sec}


def _story(sim: Sim, r: dict[str, Any], listed: dict[tuple[str, int], str]) -> bool:
    return (Path(r["src_file"]).relative_to(sim.out).as_posix(), r["src_record"]) in listed


def test_the_shipped_scenarios_turn_them_on_and_ntt_2025_does_not() -> None:
    assert load_scenario("logistics-vpn").network.noise == ALL_ON
    assert load_scenario("clinic-web").network.noise == ALL_ON
    assert load_scenario("ntt-2025").network.noise == Noise()


# --- the RDP sessions' logoffs ---------------------------------------------------------------------------------
def test_every_rdp_session_logon_has_its_logoff_with_the_same_logon_id(sim: Sim) -> None:
    listed = _listed(sim)
    events = rows(sim, "SELECT ts, EventID, Computer, TargetUserName, TargetLogonId, LogonType, IpAddress, "
                       "src_file, src_record FROM windows WHERE EventID IN (4624, 4634, 4647) "
                       "AND Computer NOT LIKE 'LGPC-%'")
    logons = [r for r in events if r["EventID"] == 4624 and r["LogonType"] == "10" and r["IpAddress"] == JUMP
              and not _story(sim, r, listed)]
    assert len(logons) >= 20
    ends: dict[tuple[str, str, int], list[Any]] = defaultdict(list)
    for r in events:
        if r["EventID"] in (4634, 4647):
            ends[(r["Computer"], r["TargetLogonId"], r["EventID"])].append(r)
    # the period's last day: a session may end after it (its logoff then falls outside the simulated files)
    last = max(r["ts"] for r in events) - timedelta(hours=3)
    missing, signed_out = [], 0
    for r in logons:
        key = (r["Computer"], r["TargetLogonId"])
        off = [x for x in ends[(*key, 4634)] if x["ts"] > r["ts"] and x["LogonType"] == "10"
               and x["TargetUserName"] == r["TargetUserName"]]
        if not off:
            if r["ts"] < last:
                missing.append((r["Computer"], r["ts"], r["TargetLogonId"]))
            continue
        out = [x for x in ends[(*key, 4647)] if r["ts"] < x["ts"] <= off[0]["ts"]]
        signed_out += bool(out)
    assert not missing, missing[:5]
    assert 0.6 * len(logons) <= signed_out < len(logons)  # most sign out; the others are logged off
    ids = Counter((r["Computer"], r["TargetLogonId"]) for r in logons)
    assert max(ids.values()) == 1  # a logon id names one session


# --- FTP uploads to partners ------------------------------------------------------------------------------------
def _ftp(sim: Sim) -> list[dict[str, Any]]:
    return rows(sim, "SELECT ts, uid, \"id.orig_h\" AS src, \"id.orig_p\" AS sport, \"id.resp_h\" AS dst, "
                     "\"id.resp_p\" AS dport, command, arg, file_size, \"data_channel.resp_p\" AS pasv, src_file, "
                     "src_record FROM zeek_ftp ORDER BY ts")


def test_every_ftp_record_has_its_control_and_data_connections(sim: Sim) -> None:
    ftp = _ftp(sim)
    conns = rows(sim, "SELECT uid, \"id.orig_h\" AS src, \"id.orig_p\" AS sport, \"id.resp_h\" AS dst, "
                      "\"id.resp_p\" AS dport, service, orig_bytes, ts FROM zeek_conn WHERE service IN "
                      "('ftp', 'ftp-data', 'dns')")
    by_uid = {c["uid"]: c for c in conns}
    data = defaultdict(list)
    for c in conns:
        if c["service"] == "ftp-data":
            data[(c["src"], c["dst"], c["dport"])].append(c)
    assert len([r for r in ftp if r["command"] == "STOR"]) >= 50
    pasv: dict[str, Any] = {}
    for r in ftp:
        c = by_uid.get(r["uid"])
        assert c and c["service"] == "ftp" and (c["src"], c["sport"], c["dst"], c["dport"]) == (
            r["src"], r["sport"], r["dst"], r["dport"]), r
        if r["command"] == "PASV":
            pasv[r["uid"]] = r
            continue
        assert r["command"] == "STOR" and r["file_size"] > 0, r
        p = pasv.pop(r["uid"])  # the data connection the PASV reply opened carried the file
        sent = [d for d in data[(r["src"], r["dst"], p["pasv"])] if p["ts"] <= d["ts"] <= r["ts"]]
        assert [d["orig_bytes"] for d in sent] == [r["file_size"]], (r, sent)
    names = {r["query"]: r["answers"] for r in rows(sim, "SELECT query, answers FROM zeek_dns "
                                                         "WHERE query LIKE 'ftp.%'")}
    listed = _listed(sim)
    partners = {r["dst"] for r in ftp if not _story(sim, r, listed)}  # not the attack's, not a routine step's
    assert 1 <= len(partners) <= 3 and partners <= {a[0] for a in names.values()}, (partners, names)
    for ip in partners:  # documentation addresses, none the scenario names for anything else
        assert any(ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24"))
        assert ip not in shipped()["logistics-vpn"].read_text(encoding="utf-8")


def test_the_firewall_and_netflow_see_every_upload_connection(sim: Sim) -> None:
    conns = rows(sim, "SELECT ts, \"id.orig_h\" AS src, \"id.orig_p\" AS sport, \"id.resp_h\" AS dst, "
                      "\"id.resp_p\" AS dport, orig_bytes, resp_bytes FROM zeek_conn WHERE service IN "
                      "('ftp', 'ftp-data')")
    asa = rows(sim, "SELECT ts, message FROM syslog WHERE cisco_facility = 'ASA' AND (message LIKE "
                    "'Built outbound TCP%' OR message LIKE 'Teardown TCP%')")
    built, torn = {}, {}
    pat = re.compile(r"(Built|Teardown) (?:outbound )?TCP connection (\d+) for outside:([\d.]+)/(\d+) .*?"
                     r"inside:([\d.]+)/(\d+)(?: duration \S+ bytes (\d+))?")
    for r in asa:
        m = pat.match(r["message"])
        assert m, r["message"]
        key = (m[5], int(m[6]), m[3], int(m[4]))
        (built if m[1] == "Built" else torn)[key] = (m[2], r["ts"], m[7])
    flows = Counter((r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]) for r in rows(
        sim, "SELECT src_ip, src_port, dst_ip, dst_port FROM flow WHERE dst_port = 21 OR src_port = 21 "
             "OR dst_port BETWEEN 40000 AND 50000 OR src_port BETWEEN 40000 AND 50000"))
    assert len(conns) >= 100
    for c in conns:
        key = (c["src"], c["sport"], c["dst"], c["dport"])
        assert key in built and key in torn, c
        assert built[key][0] == torn[key][0] and built[key][1] <= torn[key][1], (built[key], torn[key])
        assert int(torn[key][2]) == c["orig_bytes"] + c["resp_bytes"]
        assert flows[key] == 1 and flows[(c["dst"], c["dport"], c["src"], c["sport"])] == 1, c


def test_the_attacks_ftp_upload_is_no_longer_the_only_one(sim: Sim) -> None:
    listed = _listed(sim)
    ftp = _ftp(sim)
    attack = {r["uid"] for r in ftp if _story(sim, r, listed) and listed[
        (Path(r["src_file"]).relative_to(sim.out).as_posix(), r["src_record"])].startswith("attack:")}
    assert attack and {r["dst"] for r in ftp if r["uid"] in attack} == {ATTACK_FTP}
    noise = {r["uid"] for r in ftp if not _story(sim, r, listed)}
    assert len(noise) >= 10 * len(attack)
    senders = {r["src"] for r in ftp if r["uid"] in noise}
    assert SERVERS[DATA["network"]["story_hosts"]["batch"]]["address"] in senders and len(senders) <= 2


# --- the inside scanner --------------------------------------------------------------------------------------
def _scanner(sim: Sim) -> str:
    top = rows(sim, "SELECT \"id.orig_h\" AS src, count(DISTINCT \"id.resp_h\" || ':' || \"id.resp_p\") AS n "
                    "FROM zeek_conn WHERE conn_state IN ('REJ', 'S0') GROUP BY ALL ORDER BY n DESC LIMIT 1")[0]
    assert top["n"] >= 200, top
    return str(top["src"])


def test_the_scanner_probes_many_ports_of_many_hosts_weekly_at_night(sim: Sim) -> None:
    scanner = _scanner(sim)
    probes = rows(sim, f"SELECT ts, \"id.resp_h\" AS dst, \"id.resp_p\" AS port, conn_state, duration FROM zeek_conn "
                       f"WHERE \"id.orig_h\" = '{scanner}' AND local_resp")  # (the host's own traffic aside)
    states = Counter(r["conn_state"] for r in probes)
    assert {"REJ", "S0", "SF"} <= set(states), states
    assert len({r["dst"] for r in probes}) >= 20 and len({r["port"] for r in probes}) >= 15
    closed = [r for r in probes if r["conn_state"] in ("REJ", "S0")]  # (its own RPC to the DCs aside)
    assert all(r["duration"] < 0.01 for r in closed)
    days = {(r["ts"] + timedelta(hours=9)).date() for r in closed}  # Asia/Tokyo
    assert len({d.weekday() for d in days}) == 1 and len(days) >= 6, days  # one night a week
    assert all(1 <= (r["ts"] + timedelta(hours=9)).hour < 6 for r in closed)


def test_each_router_login_failure_comes_from_a_session_zeek_saw(sim: Sim) -> None:
    scanner = _scanner(sim)
    listed = _listed(sim)
    failed = [r for r in rows(sim, "SELECT ts, host, message, src_file, src_record FROM syslog "
                                   "WHERE cisco_mnemonic = 'LOGIN_FAILED'") if not _story(sim, r, listed)]
    routers = ", ".join(repr(a) for a in ROUTERS.values())
    conns = rows(sim, "SELECT ts, \"id.orig_h\" AS src, \"id.resp_h\" AS dst, \"id.resp_p\" AS port FROM zeek_conn "
                      f"WHERE \"id.resp_p\" IN (22, 23) AND \"id.resp_h\" IN ({routers})")
    assert len(failed) >= 20
    pat = re.compile(r"\[Source: ([\d.]+)\] \[localport: (\d+)\]")
    for r in failed:
        m = pat.search(r["message"])
        assert m and m[1] == scanner, r["message"]
        seen = [c for c in conns if c["src"] == m[1] and c["dst"] == ROUTERS[r["host"]] and c["port"] == int(m[2])
                and timedelta(0) <= r["ts"] - c["ts"] <= timedelta(seconds=5)]
        assert seen, r["message"]


def test_the_scanners_smb_and_rdp_probes_fail_to_log_on(sim: Sim) -> None:
    scanner = _scanner(sim)
    fails = rows(sim, f"SELECT ts, Computer, TargetUserName, Status FROM windows WHERE EventID = 4625 "
                      f"AND IpAddress = '{scanner}'")
    probes = rows(sim, f"SELECT ts, \"id.resp_h\" AS dst FROM zeek_conn WHERE \"id.orig_h\" = '{scanner}' "
                       "AND \"id.resp_p\" IN (445, 3389) AND conn_state = 'SF'")
    assert len({r["Computer"] for r in fails}) >= 2
    for r in fails:
        host = r["Computer"].split(".")[0]
        assert r["Status"] == "0xc000006d"
        assert any(NAMES.get(p["dst"]) == host and timedelta(0) <= r["ts"] - p["ts"] <= timedelta(seconds=1)
                   for p in probes), r


# --- SigmaHQ ---------------------------------------------------------------------------------------------------
def test_no_high_sigma_finding_on_the_noise(sim: Sim) -> None:
    result = hunt(sim.case, RULE_DIRS + LINUX_RULE_DIRS, "high")
    listed = _listed(sim)
    on_noise: dict[str, list[str]] = defaultdict(list)
    for row in result.findings.select(["rule_id", "rule_title", "src_file", "src_record", "evidence"]).to_pylist():
        sources = [(row["src_file"], row["src_record"])] if row["src_file"] else \
            [(e["src_file"], e["src_record"]) for e in row["evidence"] or []]
        for src_file, src_record in sources:
            if not _story(sim, {"src_file": src_file, "src_record": src_record}, listed) \
                    and row["rule_id"] not in ALLOWED:
                on_noise[f"{row['rule_id']} {row['rule_title']}"].append(f"{src_file}:{src_record}")
    assert not on_noise, "high/critical findings on noise:\n" + "\n".join(
        f"{rule}: {len(where)}, e.g. {where[:3]}" for rule, where in sorted(on_noise.items()))


#: the package's own rules (level high/critical) that fire on this noise, as they do on a real network
BUILT_IN_ALLOWED = {
    "500460ef-fd36-41f1-9ea8-58532d62fe44": "password spraying: the scanner's SMB and RDP probes log on with a "
                                             "random account per host (as Nessus's SMB login check does), a dozen "
                                             "accounts from one address in minutes; a scanner is the textbook false "
                                             "positive of this correlation, and the investigation is not misled",
}


def test_the_built_in_rules_on_the_noise(sim: Sim) -> None:
    """The package's own packs: no rule of level high fires on a noise record, and the only correlation grouped
    on the scanner's address is the listed one."""
    scanner = _scanner(sim)
    result = hunt(sim.case, list(packs().values()), "high")
    listed = _listed(sim)
    on_noise: dict[str, list[str]] = defaultdict(list)
    for row in result.findings.select(["rule_id", "rule_title", "src_file", "src_record", "group_key",
                                       "evidence"]).to_pylist():
        rule = f"{row['rule_id']} {row['rule_title']}"
        if row["group_key"]:  # a correlation: its group is the source
            if scanner in json.loads(row["group_key"]).values() and row["rule_id"] not in BUILT_IN_ALLOWED:
                on_noise[rule].append(row["group_key"])
            continue
        sources = [(row["src_file"], row["src_record"])] if row["src_file"] else \
            [(e["src_file"], e["src_record"]) for e in row["evidence"] or []]
        on_noise[rule] += [f"{f}:{n}" for f, n in sources if not _story(sim, {"src_file": f, "src_record": n},
                                                                          listed)]
    assert not {rule: where for rule, where in on_noise.items() if where}, on_noise

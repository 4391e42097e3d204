"""The organization's own administration as noise (network.noise in the scenario file; docs/scenarios.md,
"Noise"): logistics-vpn turns it on. Simulated small and ingested: the Linux host's syslog (cron, systemd,
sudo, the administrators' and the backup job's SSH sessions) and Zeek's rdp, ssh and dce_rpc read with no
reject; every rdp, ssh and dce_rpc record has its conn record; the attacker's SSH session is not the only one
on the database host; the routers' SSH logins are sessions Zeek sees; the domain controllers' replication
does not fire the DCSync rule or analytic; and ntt-2025 (the setting off) is unchanged by it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from breachscope.detect.analytics import ANALYTICS
from breachscope.detect.analytics.runner import run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.detect.packs import packs
from breachscope.detect.sigma.hunt import hunt
from breachscope.simulate.scenario_file import Noise, load_scenario
from breachscope.simulate.scenarios import shipped
from tests.simcase import Sim, simulated

DATA = yaml.safe_load(shipped()["logistics-vpn"].read_text(encoding="utf-8"))
SERVERS = {s["name"]: s for s in DATA["network"]["servers"]}
DB = DATA["network"]["story_hosts"]["db"]
JUMP = SERVERS[DATA["network"]["story_hosts"]["jump"]]["address"]
DCS = {s["address"] for s in SERVERS.values() if s["role"] == "dc"}
ROUTERS = {d["address"]: d["name"] for d in DATA["network"]["devices"] if d["role"] == "router"}




@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with simulated(tmp_path_factory.mktemp("admin-noise"), "logistics-vpn") as s:
        yield s


rows = Sim.rows


def test_the_shipped_scenarios_turn_it_on_and_ntt_2025_does_not() -> None:
    for name in ("logistics-vpn", "clinic-web"):  # (and the partner FTP and the scanner: test_simulate_noise_more)
        noise = load_scenario(name).network.noise
        assert noise.linux_syslog and noise.admin_sessions, name
    assert load_scenario("ntt-2025").network.noise == Noise()


def test_the_linux_host_logs_its_day(sim: Sim) -> None:
    apps = {r["app_name"]: r["n"] for r in rows(sim, f"SELECT app_name, count(*) AS n FROM syslog "
                                                     f"WHERE host = '{DB.lower()}' GROUP BY ALL")}
    assert {"CROND", "systemd", "sshd", "systemd-logind", "sudo"} <= set(apps), apps
    msgs = [r["message"] for r in rows(sim, f"SELECT message FROM syslog WHERE host = '{DB.lower()}'")]
    assert any(m.startswith("(root) CMD (run-parts /etc/cron.hourly)") for m in msgs)
    assert any(" : TTY=pts/0 ; PWD=/home/" in m and "; USER=root ; COMMAND=/usr/bin/" in m for m in msgs)
    assert any(m.startswith("Failed password for ") for m in msgs)
    assert any(m.startswith("Finished logrotate.service") for m in msgs)


def test_the_attackers_ssh_session_is_not_the_only_one_on_the_database_host(sim: Sim) -> None:
    accepted = rows(sim, f"SELECT ts, src_file, src_record, message FROM syslog WHERE host = '{DB.lower()}' "
                         "AND message LIKE 'Accepted %'")
    listed = {(r["file"], r["line"]): r["tag"] for r in sim.truth["evidence"]["records"]}
    tags = [listed.get((Path(r["src_file"]).relative_to(sim.out).as_posix(), r["src_record"])) for r in accepted]
    assert tags.count(None) >= 10 * max(1, len(tags) - tags.count(None)), tags
    users = {r["message"].split()[3] for r in accepted}
    assert "backup" in users and len(users) >= 3, users
    # each session on the host is an SSH session the sensor saw (same client address and port)
    ssh = {(r["id.orig_h"], r["id.orig_p"]) for r in rows(
        sim, f"SELECT \"id.orig_h\", \"id.orig_p\" FROM zeek_ssh WHERE \"id.resp_h\" = '{SERVERS[DB]['address']}'")}
    for r in accepted:
        words = r["message"].split()
        assert (words[5], int(words[7])) in ssh, r["message"]


def test_every_rdp_ssh_and_dce_rpc_record_has_its_conn_record(sim: Sim) -> None:
    for log, service in (("rdp", "rdp"), ("ssh", "ssh"), ("dce_rpc", "dce_rpc")):
        n = rows(sim, f"SELECT count(*) AS n FROM zeek_{log}")[0]["n"]
        orphans = rows(sim, f"SELECT l.uid FROM zeek_{log} l LEFT JOIN zeek_conn c ON c.uid = l.uid AND "
                            "c.\"id.orig_h\" = l.\"id.orig_h\" AND c.\"id.resp_h\" = l.\"id.resp_h\" AND "
                            f"c.\"id.resp_p\" = l.\"id.resp_p\" AND c.service = '{service}' WHERE c.uid IS NULL")
        assert n >= 20 and not orphans, (log, n, orphans[:5])
    rdp = rows(sim, "SELECT \"id.orig_h\" AS src, cookie FROM zeek_rdp")
    assert sum(r["src"] == JUMP for r in rdp) >= len(rdp) - 40  # the attack's brute force aside
    ops = {r["operation"] for r in rows(sim, "SELECT DISTINCT operation FROM zeek_dce_rpc")}
    assert {"ept_map", "DRSBind", "DRSGetNCChanges", "LsarLookupNames3", "SamrConnect5",
            "NetrServerAuthenticate3"} <= ops


def test_the_routers_ssh_logins_are_sessions_zeek_sees(sim: Sim) -> None:
    logins = rows(sim, "SELECT host, ts, message FROM syslog WHERE message LIKE 'Login Success [user: %' "
                       "AND message LIKE '%[localport: 22]%'")
    listed = {(r["file"], r["line"]) for r in (*sim.truth["evidence"]["records"],
                                               *sim.truth["hard_negatives"]["records"])}
    noise = [r for r in rows(sim, "SELECT host, ts, src_file, src_record, message FROM syslog WHERE message "
                                  "LIKE 'Login Success [user: %'")
             if (Path(r["src_file"]).relative_to(sim.out).as_posix(), r["src_record"]) not in listed]
    assert logins and noise
    ssh = rows(sim, f"SELECT ts, \"id.resp_h\" AS dst FROM zeek_ssh WHERE \"id.orig_h\" = '{JUMP}'")
    seen = {(ROUTERS[r["dst"]], r["ts"].replace(microsecond=0)) for r in ssh if r["dst"] in ROUTERS}
    for r in noise:  # the login (a second after the session began) of a session Zeek logged
        t = r["ts"]
        near = {(name, ts) for name, ts in seen if name == r["host"] and abs((t - ts).total_seconds()) <= 2}
        assert near, r["message"]


def test_replication_between_domain_controllers_is_not_dcsync(sim: Sim) -> None:
    repl = rows(sim, "SELECT \"id.orig_h\" AS src, \"id.resp_h\" AS dst FROM zeek_dce_rpc "
                     "WHERE operation = 'DRSGetNCChanges'")
    between = [r for r in repl if r["src"] in DCS and r["dst"] in DCS]
    assert len(between) >= 5
    result = hunt(sim.case, [packs()["windows_ad"]], None)
    assert not [r for r in result.findings.to_pylist() if "DCSync" in r["rule_title"]]
    found = run_analytics(CaseContext(sim.case, table_columns(sim.case)), [ANALYTICS["dcsync"]])
    assert found.runs[0].status == "ran"
    hits = [f for f in found.findings.to_pylist() if f["src_ip"] in DCS]
    assert not hits, hits


def test_the_servers_rdp_logons_are_the_administrators_sessions(sim: Sim) -> None:
    rdp = rows(sim, f"SELECT ts, \"id.resp_h\" AS dst, cookie FROM zeek_rdp WHERE \"id.orig_h\" = '{JUMP}'")
    logons = rows(sim, "SELECT ts, Computer, TargetUserName, IpAddress FROM windows WHERE EventID = 4624 "
                       "AND LogonType = '10'")
    admins = set(DATA["network"]["accounts"]["admins"])
    names = {s["address"]: s["name"] for s in SERVERS.values()}
    assert rdp and logons
    noise = [r for r in logons if r["IpAddress"] == JUMP]
    assert {r["TargetUserName"] for r in noise} <= admins
    seen = {(names[r["dst"]], r["cookie"]) for r in rdp}
    matched = sum((r["Computer"].split(".")[0], r["TargetUserName"]) in seen for r in noise)
    sweep = {(Path(r["file"]).name, r["line"]) for r in sim.truth["hard_negatives"]["records"]
             if r["tag"] == "benign:admin_sweep"}
    assert matched >= len(noise) - len(sweep), (matched, len(noise))  # the patch nights' sweep has no Zeek rdp

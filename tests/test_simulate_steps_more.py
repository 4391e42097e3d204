"""More of the catalogue (issue 16): RDP brute force and phishing (initial access), DCSync, SSH to the Linux
database host, FTP exfiltration and an account disabled, plus the routine steps (hard negatives). An attack
built from logistics-vpn.yaml that uses them all is simulated small and ingested with no reject; each step's
records are found in every family it claims (Windows, Sysmon, Zeek, ASA, NetFlow, Linux syslog) and listed in
the truth under its tag; the package's rules and analytics see the DCSync and the brute force; the routine
steps are written the same way but tagged benign, outside the attack's truth, and fire no high SigmaHQ rule."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from breachscope.detect.analytics import ANALYTICS
from breachscope.detect.analytics.runner import run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.detect.packs import packs
from breachscope.detect.sigma.hunt import hunt
from breachscope.investigate.pipeline import InvestigateRequest, run_detectors
from breachscope.model.errors import ConfigError
from breachscope.simulate import SimConfig, run
from breachscope.simulate.scenario_file import load_scenario
from breachscope.simulate.scenarios import shipped
from tests.conftest import SIGMA
from tests.simcase import Sim, field, simulated

BRUTE_FROM, PAYLOAD_IP, FTP_IP = "192.0.2.77", "192.0.2.78", "192.0.2.79"
FTP_NAME, PAYLOAD_HOST = "ftp.drop.example.org", "files.example-cdn.net"
ATTEMPTS, UNKNOWN = 25, ("admin", "administrator1", "test", "scan", "user1")
DATA = yaml.safe_load(shipped()["logistics-vpn"].read_text(encoding="utf-8"))
NAMES = {part: name for part, name in DATA["network"]["story_hosts"].items()}
IPS = {s["name"]: s["address"] for s in DATA["network"]["servers"]}
A, B, DB, JUMP, BATCH = (NAMES[p] for p in ("device_a", "device_b", "db", "jump", "batch"))
DC = next(s["name"] for s in DATA["network"]["servers"] if s["role"] == "dc")
VENDOR, ADMIN = DATA["attack"]["vendor_account"], DATA["network"]["accounts"]["stolen_admin"]




def _variant() -> dict[str, Any]:
    data = json.loads(json.dumps(DATA))
    phish = {s["step"]: s for s in data["attack"]["variants"]["phish"]}
    steps = [
        {"step": "rdp_brute_force", "at": "2025-01-27 03:10", "host": "device_b", "attempts": ATTEMPTS,
         "source": BRUTE_FROM},
        {"step": "phishing", "at": "2025-01-27 10:05", "workstation": 3, "lure": "link", "sender": "hr@example.net",
         "document": "Scan_0127.zip", "payload_host": PAYLOAD_HOST, "payload_address": PAYLOAD_IP},
        {"step": "dcsync", "at": "2025-01-29 02:05", "host": "device_b", "actor": "vendor", "user": "krbtgt"},
        phish["rdp_lateral"],
        {"step": "ssh_lateral", "at": "2025-02-02 23:40", "source": "device_b", "target": "db", "account": "dbadmin",
         "method": "publickey", "actor": "vendor"},
        phish["database_sessions"], phish["staging"], phish["smb_transfer"],
        {"step": "ftp_exfiltration", "at": "2025-02-08 02:50", "host": "device_b", "actor": "vendor",
         "address": FTP_IP, "server_name": FTP_NAME},
        {"step": "disable_account", "noticed_at": "2025-02-12 09:00", "at": "2025-02-12 09:40", "account": VENDOR}]
    data["attack"]["variants"] = {"more": steps}
    return data


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with simulated(tmp_path_factory.mktemp("steps-more"), _variant(), "more") as s:
        yield s


rows = Sim.rows
tags_of = Sim.tags_of
in_truth = Sim.in_truth
timeline = Sim.timeline










def test_rdp_brute_force(sim: Sim) -> None:
    failed = rows(sim, f"SELECT * FROM windows WHERE EventID = 4625 AND Computer LIKE '{B}.%' "
                       f"AND IpAddress = '{BRUTE_FROM}'")
    assert len(failed) == ATTEMPTS and {r["LogonType"] for r in failed} == {"3"}
    statuses = Counter((r["TargetUserName"], field(r, "SubStatus")) for r in failed)
    assert statuses == {**{(u, "0xc0000064"): 1 for u in UNKNOWN}, (VENDOR, "0xc000006a"): ATTEMPTS - len(UNKNOWN)}
    rdp = rows(sim, f"SELECT * FROM zeek_rdp WHERE \"id.orig_h\" = '{BRUTE_FROM}'")
    assert len(rdp) == ATTEMPTS + 1 and {r["security_protocol"] for r in rdp} == {"HYBRID"}
    conn = rows(sim, f"SELECT * FROM zeek_conn WHERE \"id.orig_h\" = '{BRUTE_FROM}' AND \"id.resp_p\" = 3389")
    asa = rows(sim, f"SELECT * FROM syslog WHERE message LIKE 'Built inbound TCP connection % for outside:"
                    f"{BRUTE_FROM}/% to inside:{IPS[B]}/3389 %'")
    flows = rows(sim, f"SELECT * FROM flow WHERE src_ip = '{BRUTE_FROM}'")
    success = rows(sim, f"SELECT * FROM windows WHERE EventID = 4624 AND Computer LIKE '{B}.%' "
                        f"AND IpAddress = '{BRUTE_FROM}' AND TargetUserName = '{VENDOR}'")
    assert len(conn) == len(asa) == len(flows) == ATTEMPTS + 1
    checked = [r for r in rows(sim, f"SELECT * FROM windows WHERE EventID = 4776 AND Computer LIKE '{DC}.%'")
               if field(r, "Workstation") == failed[0]["WorkstationName"]]
    assert Counter(field(r, "Status") for r in checked) == {"0xc0000064": len(UNKNOWN), "0x0": 1,
                                                             "0xc000006a": ATTEMPTS - len(UNKNOWN)}
    assert sorted(r["LogonType"] for r in success) == ["10", "3"]  # NLA on the network, then the session
    for found in (failed, rdp, conn, asa, flows, success, checked):
        in_truth(sim, found, "attack:initial_access")
    entry = timeline(sim, "brute-forced")
    assert sim.truth["hosts"]["entry"]["name"] == B and sim.truth["timeline"][0] == entry  # the first access
    # the investigation's logons detector sees the burst and the success after it (one account: no spraying)
    _, alerts = run_detectors(sim.case, sim.case, InvestigateRequest(sim.out))
    guessing = [a for a in alerts if a.kind == "password_guessing" and a.src_ip == BRUTE_FROM]
    assert guessing and all(a.dst_host == B.lower() for a in guessing)
    assert any("then a successful logon from it" in a.reason for a in guessing), [a.reason for a in guessing]


def test_phishing_by_a_link_on_a_workstation(sim: Sim) -> None:
    script = rows(sim, "SELECT * FROM windows WHERE EventID = 1 AND Image LIKE '%\\wscript.exe' "
                       "AND CommandLine LIKE '%Scan_0127%.js%'")
    assert len(script) == 1
    ws = script[0]["host"].split(".")[0]
    assert ws.startswith("LGPC-")
    ps = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND host LIKE '{ws}.%' "
                   "AND CommandLine LIKE '%iwr http://" + PAYLOAD_HOST + "/%'")
    http = rows(sim, f"SELECT * FROM zeek_http WHERE host_header = '{PAYLOAD_HOST}' AND method = 'GET'")
    tls = rows(sim, f"SELECT * FROM zeek_ssl WHERE server_name = '{PAYLOAD_HOST}'")  # the link's download
    dns = rows(sim, f"SELECT * FROM zeek_dns WHERE query = '{PAYLOAD_HOST}'")
    dropped = rows(sim, f"SELECT * FROM windows WHERE EventID = 11 AND host LIKE '{ws}.%' "
                        "AND TargetFilename LIKE '%\\AppData\\Roaming\\OneDriveStandaloneUpdate.exe'")
    started = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND host LIKE '{ws}.%' "
                        "AND Image LIKE '%\\AppData\\Roaming\\OneDriveStandaloneUpdate.exe'")
    asa = rows(sim, f"SELECT * FROM syslog WHERE message LIKE 'Built outbound TCP connection % for outside:"
                    f"{PAYLOAD_IP}/80 %'")
    audit = rows(sim, f"SELECT * FROM windows WHERE EventID = 4688 AND host LIKE '{ws}.%'")
    assert not audit  # process auditing is off on the workstations (none in their noise either)
    assert len(ps) == 1 and len(http) == 1 and len(tls) == 1 and len(dns) == 2 and len(dropped) == 1
    assert len(started) == 1 and len(asa) == 1
    assert "WindowsPowerShell" in http[0]["user_agent"] and http[0]["resp_mime_types"] == ["application/x-dosexec"]
    callback = rows(sim, f"SELECT * FROM windows WHERE EventID = 3 AND host LIKE '{ws}.%' "
                         "AND Image LIKE '%OneDriveStandaloneUpdate.exe'")
    assert len(callback) == 1 and callback[0]["DestinationIp"] == DATA["attack"]["external"]["c2_address"]
    for found in (script, ps, http, tls, dns, dropped, started, asa, callback):
        in_truth(sim, found, "attack:initial_access")
    timeline(sim, "phishing mail from hr@example.net")


def test_dcsync(sim: Sim) -> None:
    rights = rows(sim, f"SELECT * FROM windows WHERE EventID = 4662 AND Computer LIKE '{DC}.%' "
                       f"AND SubjectUserName = '{ADMIN}'")
    assert {field(r, "Properties").split("\r\n")[1].strip() for r in rights} == {
        "{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}", "{1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}"}
    logon = rows(sim, f"SELECT * FROM windows WHERE EventID = 4624 AND Computer LIKE '{DC}.%' "
                      f"AND TargetUserName = '{ADMIN}' AND IpAddress = '{IPS[B]}' AND LogonType = '3'")
    rpc = rows(sim, f"SELECT * FROM zeek_dce_rpc WHERE \"id.orig_h\" = '{IPS[B]}'")
    assert len(logon) == 1 and [r["operation"] for r in rpc] == ["ept_map", "DRSBind", "DRSCrackNames",
                                                                 "DRSGetNCChanges", "DRSUnbind"]
    conn = rows(sim, f"SELECT * FROM zeek_conn WHERE \"id.orig_h\" = '{IPS[B]}' AND \"id.resp_h\" = '{IPS[DC]}' "
                     "AND service = 'dce_rpc'")
    assert sorted(r["id.resp_p"] for r in conn) == [135, 49667]
    for found in (rights, logon, rpc, conn):
        in_truth(sim, found, "attack:credential_access")
    timeline(sim, "DCSync from")
    # the package's DCSync rule and the dcsync analytic (which knows the DCs from the evidence) see it
    result = hunt(sim.case, [packs()["windows_ad"]], None)
    assert {r["rule_title"] for r in result.findings.to_pylist()} >= {
        "DCSync - Directory Replication Rights Used by a Non-Machine Account"}
    found = run_analytics(CaseContext(sim.case, table_columns(sim.case)), [ANALYTICS["dcsync"]])
    assert found.runs[0].status == "ran"
    hits = [f for f in found.findings.to_pylist() if f["src_ip"] == IPS[B]]
    assert hits and hits[0]["level"] in ("high", "critical"), found.findings.to_pylist()


def test_ssh_to_the_database_host(sim: Sim) -> None:
    sshd = rows(sim, f"SELECT * FROM syslog WHERE host = '{DB.lower()}' ORDER BY ts, src_record")
    attack = [r for r in sshd if tags_of(sim, [r]) == {"attack:lateral_movement"}]
    assert [r["app_name"] for r in attack] == ["sshd", "sshd", "systemd-logind", "sshd", "sshd", "sshd",
                                               "systemd-logind", "systemd-logind"]
    assert attack[0]["message"].startswith(f"Accepted publickey for dbadmin from {IPS[B]} port ")
    assert attack[0]["message"].split(" ssh2: ")[1].startswith("ED25519 SHA256:")
    assert "session opened for user dbadmin(uid=" in attack[1]["message"]
    ssh = rows(sim, f"SELECT * FROM zeek_ssh WHERE \"id.orig_h\" = '{IPS[B]}' AND \"id.resp_h\" = '{IPS[DB]}'")
    conn = rows(sim, f"SELECT * FROM zeek_conn WHERE uid = '{ssh[0]['uid']}' AND service = 'ssh'")
    client = rows(sim, f"SELECT * FROM windows WHERE EventID IN (1, 3, 4688) AND Computer LIKE '{B}.%' "
                       "AND (Image LIKE '%\\OpenSSH\\ssh.exe' OR CommandLine = 'ssh.exe dbadmin@" + IPS[DB] + "')")
    assert len(ssh) == 1 and ssh[0]["auth_success"] and len(conn) == 1 and len(client) == 3
    for found in (ssh, conn, client):
        in_truth(sim, found, "attack:lateral_movement")
    timeline(sim, f"to {DB} over SSH as dbadmin")


def test_ftp_exfiltration(sim: Sim) -> None:
    staged = {f["name"]: f["size"] for f in sim.truth["evidence"]["staged_files"]}
    stor = rows(sim, f"SELECT * FROM zeek_ftp WHERE \"id.resp_h\" = '{FTP_IP}' AND command = 'STOR'")
    pasv = rows(sim, f"SELECT * FROM zeek_ftp WHERE \"id.resp_h\" = '{FTP_IP}' AND command = 'PASV'")
    assert {r["arg"].rsplit("/", 1)[1]: r["file_size"] for r in stor} == staged
    assert {r["reply_code"] for r in stor} == {226} and {r["password"] for r in stor} == {"<hidden>"}
    data = rows(sim, f"SELECT * FROM zeek_conn WHERE \"id.resp_h\" = '{FTP_IP}' AND service = 'ftp-data'")
    assert sorted(r["id.resp_p"] for r in data) == sorted(r["data_channel.resp_p"] for r in pasv)
    assert sorted(r["orig_bytes"] for r in data) == sorted(staged.values())
    control = rows(sim, f"SELECT * FROM zeek_conn WHERE \"id.resp_h\" = '{FTP_IP}' AND \"id.resp_p\" = 21")
    asa = rows(sim, f"SELECT * FROM syslog WHERE message LIKE '% outside:{FTP_IP}/%'")
    flows = rows(sim, f"SELECT * FROM flow WHERE dst_ip = '{FTP_IP}' OR src_ip = '{FTP_IP}'")
    assert len(control) == 1 and len(asa) == 2 * (1 + len(staged)) and len(flows) == 2 * (1 + len(staged))
    for found in (stor, pasv, data, control, asa, flows):
        in_truth(sim, found, "attack:exfiltration")
    out = sim.truth["exfiltration"]
    assert out["destination_ip"] == FTP_IP and out["destination_name"] == FTP_NAME
    assert out["bytes"] > sum(staged.values())
    timeline(sim, f"by FTP to {FTP_NAME}")


def test_disable_account(sim: Sim) -> None:
    disabled = rows(sim, f"SELECT * FROM windows WHERE EventID = 4725 AND Computer LIKE '{DC}.%' "
                         f"AND TargetUserName = '{VENDOR}'")
    changed = rows(sim, f"SELECT * FROM windows WHERE EventID = 4738 AND Computer LIKE '{DC}.%' "
                        f"AND TargetUserName = '{VENDOR}'")
    assert len(disabled) == 1 and len(changed) == 1 and disabled[0]["SubjectUserName"] != ADMIN
    in_truth(sim, disabled + changed, "response:disable_account")
    entry = timeline(sim, f"account {VENDOR} disabled")
    assert entry["actor"] == "defender" and sim.truth["investigation_inputs"]["time_window"]["end"] == entry["ts"]


def test_routine_steps_are_hard_negatives_outside_the_attack(sim: Sim) -> None:
    negatives = sim.truth["hard_negatives"]
    names = {s["name"] for s in DATA["routine"]["steps"]}
    assert names <= {t.removeprefix("benign:") for t in negatives["counts_by_tag"]}
    assert {f"benign:{n}" for n in names} <= set(negatives["descriptions"])
    # written like the attack's steps: the DBA's SSH session, the partner upload
    ssh = rows(sim, f"SELECT * FROM syslog WHERE host = '{DB.lower()}' AND message LIKE 'Accepted password for "
                    f"dbadmin from {IPS[JUMP]} %'")
    ftp = rows(sim, "SELECT * FROM zeek_ftp WHERE command = 'STOR' AND arg LIKE '%manifest_20250206.csv'")
    rdp = rows(sim, f"SELECT * FROM windows WHERE EventID = 4624 AND LogonType = '10' AND Computer LIKE '{A}.%' "
                    f"AND IpAddress = '{IPS[JUMP]}' AND ts BETWEEN '2025-02-04 10:00' AND '2025-02-04 11:00'")
    assert tags_of(sim, ssh) == {"benign:dba_ssh"} and tags_of(sim, ftp) == {"benign:partner_ftp"}
    assert tags_of(sim, rdp) == {"benign:admin_rdp"}
    # and never in the attack's truth: no attack tag, no timeline entry, not the exfiltration
    assert not any(r["tag"].startswith("benign:") for r in sim.truth["evidence"]["records"])
    assert not any(JUMP in e["description"] or BATCH in e["description"] for e in sim.truth["timeline"])
    assert all(p["destination_ip"] != "203.0.113.45" for p in sim.truth["exfiltration"].get("paths", []))
    # ordinary administration: no SigmaHQ rule of level high or critical fires on it
    result = hunt(sim.case, [*sorted(SIGMA.glob("rules*/windows")), *sorted(SIGMA.glob("rules*/network")),
                             *sorted(SIGMA.glob("rules*/linux"))], "high")
    fired = [r for r in result.findings.select(["rule_title", "src_file", "src_record"]).to_pylist()
             if r["src_file"] and any(t and t.startswith("benign:") for t in tags_of(sim, [r]))]
    assert not fired, fired


def test_a_routine_step_must_be_one_the_organization_does(tmp_path: Path) -> None:
    data = json.loads(json.dumps(DATA))
    data["routine"]["steps"] = [{"name": "oops", "description": "x",
                                 "action": {"step": "dcsync", "at": "2025-02-01 10:00", "host": "device_b"}}]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError, match="dcsync cannot be a routine step"):
        load_scenario(str(bad))
    data["routine"]["steps"] = [{"name": "backup", "description": "x", "action": {
        "step": "disable_account", "at": "2025-02-01 10:00", "account": "svc.scan"}}]
    bad.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError, match="used twice or by a routine job: backup"):
        load_scenario(str(bad))


def test_routine_steps_leave_the_attack_as_it_was(tmp_path: Path) -> None:
    """The routine steps draw from a random stream of their own: without them the attack's truth (timeline,
    statements, staged files, exfiltration, records per tag) is the same, and only their records go."""
    truths = []
    for with_steps in (True, False):
        data = json.loads(json.dumps(DATA))
        if not with_steps:
            del data["routine"]["steps"]
        scenario = tmp_path / f"s{int(with_steps)}.yaml"
        scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        out = tmp_path / f"sim{int(with_steps)}"
        run(SimConfig(out=out, scenario=str(scenario), events=2_000, customers=1_000, seed=3, variant="phish",
                      jobs=1).validate())
        truths.append(json.loads((out / "truth.json").read_text(encoding="utf-8")))
    with_steps, without = truths
    for key in ("timeline", "hosts", "exfiltration", "investigation_inputs"):
        assert with_steps[key] == without[key], key
    assert with_steps["evidence"]["counts_by_tag"] == without["evidence"]["counts_by_tag"]
    assert with_steps["evidence"]["staged_files"] == without["evidence"]["staged_files"]
    assert [s["sql"] for s in with_steps["database"]["statements"]] == \
        [s["sql"] for s in without["database"]["statements"]]
    gone = set(with_steps["hard_negatives"]["counts_by_tag"]) - set(without["hard_negatives"]["counts_by_tag"])
    assert gone == {f"benign:{s['name']}" for s in DATA["routine"]["steps"]}


def test_a_routine_step_tags_batched_records_benign_too() -> None:
    import numpy as np
    import pyarrow as pa

    from breachscope.simulate.benign import _Tagged
    from breachscope.simulate.story import Story

    story = Story(None, np.random.default_rng(1))  # type: ignore[arg-type]  # no record here needs the network
    _Tagged(story, "benign:x", np.random.default_rng(2)).add_many(
        "zeek.conn", np.array([5, 6]), pa.array(["a\n", "b\n"]), "attack:y")
    got = [(r.ts, r.text, r.tag) for r in story.records["zeek.conn"]]
    assert got == [(5, "a\n", "benign:x"), (6, "b\n", "benign:x")]

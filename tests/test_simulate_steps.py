"""The catalogue's lateral movement, credential access and exfiltration steps (issue 16): an attack built
from ntt-2025.yaml that uses them all is simulated small and ingested with no reject; each step's records are
in the case (found by what an investigator would query) and in the truth (its timeline entry, and its
records listed under its tag), and SigmaHQ's Windows rules detect the lsass dump and the PsExec service."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from breachscope.detect.sigma.hunt import hunt
from breachscope.simulate.scenarios import shipped
from breachscope.simulate.steps.lateral_tools import image_of
from tests.conftest import SIGMA
from tests.simcase import Sim, simulated

TUNNEL = "t.exfil-ns.example.com"
BUCKET = "ord-sync-7f3a"
SNI = f"{BUCKET}.s3.ap-northeast-1.amazonaws.com"
A, B, BI, BKP, DC = "ORD-AP02", "ORD-MNT01", "BI01", "BKP01", "DC01"  # device_a, device_b, bi, backup, dc
A_IP = "10.40.2.12"




def _variant() -> dict[str, Any]:
    data = yaml.safe_load(shipped()["ntt-2025"].read_text(encoding="utf-8"))
    dest = {s["step"]: s for s in data["attack"]["variants"]["destination"]}
    steps = [
        dest["exposed_console_exploit"], dest["discovery"],
        {"step": "rdp_lateral", "at": "2025-01-23 01:10", "source": "device_a", "target": "device_b"},
        {"step": "lsass_dump", "at": "2025-01-23 01:30", "host": "device_b", "actor": "admin"},
        {"step": "kerberoasting", "at": "2025-01-24 02:00", "host": "device_b"},
        {"step": "winrm_lateral", "at": "2025-01-25 01:00", "source": "device_b", "target": "bi"},
        {"step": "psexec_lateral", "at": "2025-01-26 01:30", "source": "device_b", "target": "backup"},
        dest["database_sessions"], dest["staging"], dest["smb_transfer"], dest["archive_upload"],
        {"step": "dns_tunnel_exfiltration", "at": "2025-02-06 02:00", "host": "device_b", "domain": TUNNEL},
        {"step": "cloud_upload", "at": "2025-02-07 02:00", "host": "device_b", "service": "s3", "bucket": BUCKET},
        dest["isolate_host"]]
    data["attack"]["variants"] = {"tools": steps}
    return data


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with simulated(tmp_path_factory.mktemp("steps"), _variant(), "tools") as s:
        yield s


rows = Sim.rows
in_truth = Sim.in_truth
timeline = Sim.timeline






def test_rdp_lateral(sim: Sim) -> None:
    logon = rows(sim, f"SELECT * FROM windows WHERE EventID = 4624 AND LogonType = '10' AND Computer LIKE '{B}.%' "
                      f"AND TargetUserName = 'adm_suzuki' AND IpAddress = '{A_IP}'")
    explicit = rows(sim, f"SELECT * FROM windows WHERE EventID = 4648 AND Computer LIKE '{A}.%' "
                         f"AND TargetUserName = 'adm_suzuki'")
    conn = rows(sim, f"SELECT * FROM zeek_conn WHERE \"id.orig_h\" = '{A_IP}' AND \"id.resp_p\" = 3389 "
                     "AND service = 'ssl'")
    procs = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND Computer LIKE '{B}.%' "
                      "AND (Image LIKE '%\\rdpclip.exe' OR Image LIKE '%\\explorer.exe') AND user LIKE '%adm_suzuki'")
    assert len(logon) == 1 and len(explicit) == 1 and len(conn) == 1 and len(procs) == 2
    assert explicit[0]["IpAddress"] == "10.40.9.15" and explicit[0]["ProcessName"].endswith("\\mstsc.exe")
    for found in (logon, explicit, conn, procs):
        in_truth(sim, found, "attack:lateral_movement")
    assert timeline(sim, "over RDP")["stage"] == "lateral_movement"


def test_winrm_lateral(sim: Sim) -> None:
    http = rows(sim, f"SELECT * FROM zeek_http WHERE method = 'POST' AND uri = '/wsman' "
                     f"AND host_header = '{BI.lower()}:5985'")
    assert sorted(r["status_code"] for r in http) == [200, 401]
    conn = rows(sim, "SELECT * FROM zeek_conn WHERE \"id.resp_p\" = 5985 AND service = 'http'")
    child = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND Computer LIKE '{BI}.%' "
                      "AND ParentImage LIKE '%\\wsmprovhost.exe'")
    audit = rows(sim, f"SELECT * FROM windows WHERE EventID = 4688 AND Computer LIKE '{BI}.%' "
                      "AND CommandLine = 'whoami /all'")
    assert len(conn) == 1 and len(child) == 1 and len(audit) == 1
    assert child[0]["Image"] == "C:\\Windows\\System32\\whoami.exe"
    assert ("ParentProcessName", "C:\\Windows\\System32\\wsmprovhost.exe") in audit[0]["extra"]
    for found in (http, conn, child, audit):
        in_truth(sim, found, "attack:lateral_movement")
    timeline(sim, "over WinRM")


def test_psexec_lateral(sim: Sim) -> None:
    smb = rows(sim, f"SELECT * FROM zeek_smb_files WHERE name = 'PSEXESVC.exe' AND path LIKE '%{BKP}%ADMIN$'")
    share = rows(sim, f"SELECT * FROM windows WHERE EventID = 5145 AND Computer LIKE '{BKP}.%' "
                      "AND RelativeTargetName = 'PSEXESVC.exe'")
    install = rows(sim, f"SELECT * FROM windows WHERE EventID = 4697 AND Computer LIKE '{BKP}.%' "
                        "AND ServiceName = 'PSEXESVC'")
    service = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND Computer LIKE '{BKP}.%' "
                        "AND Image = 'C:\\Windows\\PSEXESVC.exe' AND ParentImage LIKE '%\\services.exe'")
    command = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND Computer LIKE '{BKP}.%' "
                        "AND ParentImage = 'C:\\Windows\\PSEXESVC.exe'")
    assert all(len(x) == 1 for x in (smb, share, install, service, command))
    assert command[0]["CommandLine"] == "cmd.exe /c ipconfig /all"
    for found in (smb, share, install, service, command):
        in_truth(sim, found, "attack:lateral_movement")
    timeline(sim, "with PsExec")


def test_lsass_dump(sim: Sim) -> None:
    access = rows(sim, f"SELECT * FROM windows WHERE EventID = 10 AND Computer LIKE '{B}.%' "
                       "AND TargetImage LIKE '%\\lsass.exe' AND GrantedAccess = '0x1fffff'")
    create = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND Computer LIKE '{B}.%' "
                       "AND Image LIKE '%\\rundll32.exe' AND CommandLine LIKE '%comsvcs.dll, MiniDump %full'")
    dump = rows(sim, f"SELECT * FROM windows WHERE EventID = 11 AND Computer LIKE '{B}.%' "
                     "AND TargetFilename LIKE '%\\lsass.dmp'")
    assert len(access) == 1 and len(create) == 1 and len(dump) == 1
    assert access[0]["SourceImage"].endswith("\\rundll32.exe") and "comsvcs.dll" in access[0]["CallTrace"]
    for found in (access, create, dump):
        in_truth(sim, found, "attack:credential_access")
    timeline(sim, "lsass memory dumped")


def test_kerberoasting(sim: Sim) -> None:
    tickets = rows(sim, f"SELECT * FROM windows WHERE EventID = 4769 AND Computer LIKE '{DC}.%' "
                        "AND TicketEncryptionType = '0x17' AND TargetUserName LIKE 'adm_suzuki@%'")
    zeek = rows(sim, "SELECT * FROM zeek_kerberos WHERE request_type = 'TGS' AND cipher = 'rc4-hmac' "
                     "AND client LIKE 'adm_suzuki/%'")
    services = {r["ServiceName"] for r in tickets}
    assert services == {"svc_sql", "svc_backup", "svc_bi", "svc_scan", "svc_wsus"} and len(zeek) == 5
    for found in (tickets, zeek):
        in_truth(sim, found, "attack:credential_access")
    timeline(sim, "Kerberoasting")


def test_dns_tunnel_exfiltration(sim: Sim) -> None:
    queries = rows(sim, f"SELECT * FROM zeek_dns WHERE query LIKE '%.{TUNNEL}' ORDER BY ts")
    asked = [r for r in queries if r["id.resp_h"] == "10.10.0.10"]  # the host asks the first DC
    assert len(asked) > 100 and min(len(r["query"]) for r in asked[:-1]) > 150
    assert {r["qtype_name"] for r in queries} == {"TXT"}
    assert (queries[-1]["ts"] - queries[0]["ts"]).total_seconds() > 60  # spread over minutes
    # the DC forwards every new name to the domain's name server, the attacker's: where the data goes
    ns = next(p for p in sim.truth["exfiltration"]["paths"] if p["step"] == "dns_tunnel_exfiltration")["destination_ip"]
    forwarded = [r for r in queries if r not in asked]
    assert {(r["id.orig_h"], r["id.resp_h"]) for r in forwarded} == {("10.10.0.10", ns)}
    assert [r["query"] for r in forwarded] == [r["query"] for r in asked]
    conn = rows(sim, f"SELECT c.* FROM zeek_conn c JOIN zeek_dns d USING (uid) WHERE d.query LIKE '%.{TUNNEL}' "
                     "AND c.proto = 'udp' AND c.\"id.resp_p\" = 53")
    assert len(conn) == len(queries)
    edge = rows(sim, f"SELECT * FROM syslog WHERE message LIKE '%Teardown UDP connection % for outside:{ns}/53 %'")
    flows = rows(sim, f"SELECT * FROM flow WHERE dst_ip = '{ns}' AND dst_port = 53")
    assert len(edge) == len(flows) == len(asked)
    # the query names carry the staged files, in order
    text = "".join("".join(r["query"].split(".")[:-5]) for r in asked).upper()
    data = base64.b32decode(text + "=" * (-len(text) % 8))
    staged = b"".join((sim.out / f["path"]).read_bytes() for f in sim.truth["evidence"]["staged_files"])
    assert data == staged
    for found in (queries, conn, edge, flows):
        in_truth(sim, found, "attack:exfiltration")
    timeline(sim, f"DNS queries under {TUNNEL}")
    assert sim.truth["exfiltration"]["bytes"] > len(staged)  # with the HTTPS upload and the cloud upload


def test_cloud_upload(sim: Sim) -> None:
    ssl = rows(sim, f"SELECT * FROM zeek_ssl WHERE server_name = '{SNI}'")
    assert len(ssl) == 1
    ip = ssl[0]["id.resp_h"]
    asa = rows(sim, f"SELECT * FROM syslog WHERE message LIKE '%Built outbound TCP connection % for outside:{ip}/443%'")
    flow = rows(sim, f"SELECT * FROM flow WHERE dst_ip = '{ip}'")
    dns = rows(sim, f"SELECT * FROM zeek_dns WHERE query = '{SNI}'")
    proc = rows(sim, f"SELECT * FROM windows WHERE EventID = 1 AND Image LIKE '%\\rclone.exe' "
                     f"AND CommandLine LIKE '%s3:{BUCKET}/%'")
    assert len(asa) == 1 and len(flow) == 1 and len(dns) == 1 and len(proc) == 1
    for found in (ssl, asa, flow, dns, proc):
        in_truth(sim, found, "attack:exfiltration")
    timeline(sim, f"uploaded from {B} to {SNI}")


def test_sigma_rules_detect_the_lsass_dump_and_the_psexec_service(sim: Sim) -> None:
    result = hunt(sim.case, [SIGMA / "rules" / "windows"], None)
    assert not result.problems, result.problems
    found = {(r["rule_path"].rsplit("/", 1)[-1], r["host"].split(".")[0])
             for r in result.findings.select(["rule_path", "host"]).to_pylist()}
    lsass = {"proc_access_win_lsass_dump_comsvcs_dll.yml", "proc_creation_win_rundll32_process_dump_via_comsvcs.yml"}
    psexec = {"proc_creation_win_sysinternals_psexesvc.yml", "file_event_win_sysinternals_psexec_service.yml"}
    assert lsass <= {rule for rule, host in found if host == B}, found
    assert psexec <= {rule for rule, host in found if host == BKP}, found


def test_a_bare_command_starts_its_system32_executable() -> None:
    assert image_of("whoami /all") == "C:\\Windows\\System32\\whoami.exe"
    assert image_of("cmd.exe /c dir") == "C:\\Windows\\System32\\cmd.exe"
    assert image_of('"C:\\Tools\\x.exe" -a') == "C:\\Tools\\x.exe"

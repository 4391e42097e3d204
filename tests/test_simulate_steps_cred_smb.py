"""Two more catalogue steps: a password read in a configuration file (credential access) and the staged files
copied to an SMB share outside (exfiltration). ntt-2025's `destination` variant with both (the web shell finds
the database user's password in the application's web.config with findstr, the file's reads audited, then a
service account's in a tool's .config with PowerShell, not audited; device B copies the staged files to an
outside share instead of the HTTPS upload) is simulated small and ingested with no reject; each step's records
are found in every family it claims and listed in the truth under its tag; the 4663s carry Microsoft's fields
in order, and only for the audited file; the truth's exfiltrated bytes are the smb_files sizes; the
investigation reports the share's address as the exfiltration; SigmaHQ's findstr password rule fires."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from breachscope.detect.sigma.hunt import hunt
from breachscope.investigate.pipeline import InvestigateRequest, run_detectors
from breachscope.simulate.attack_file import ConfigFilePassword
from breachscope.simulate.scenarios import shipped
from breachscope.simulate.steps.config_password import config_file_password, virtual_sid
from tests.conftest import SIGMA
from tests.simcase import Sim, field, simulated

DATA = yaml.safe_load(shipped()["ntt-2025"].read_text(encoding="utf-8"))
NAMES = dict(DATA["network"]["story_hosts"])
IPS = {s["name"]: s["address"] for s in DATA["network"]["servers"]}
A, B = NAMES["device_a"], NAMES["device_b"]
POOL = DATA["attack"]["web_shell_user"].split("\\")[-1]
WEB_CONFIG = f"C:\\inetpub\\{POOL}\\web.config"
TOOL_CONFIG = "C:\\inetpub\\OrderApp\\Tools\\sync.config"
DB_USER, SERVICE = DATA["attack"]["database_user"], DATA["network"]["accounts"]["services"][1]
SMB_IP, SHARE = "192.0.2.91", "transfer"
#: 4663's EventData, in the order Microsoft documents and the real event carries it (OTRF's ntdsutil sample)
FIELDS_4663 = ["SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "ObjectServer",
               "ObjectType", "ObjectName", "HandleId", "AccessList", "AccessMask", "ProcessId", "ProcessName",
               "ResourceAttributes"]


def _variant() -> dict[str, Any]:
    data = json.loads(json.dumps(DATA))
    steps = [s for s in data["attack"]["variants"]["destination"] if s["step"] != "archive_upload"]
    at = next(i for i, s in enumerate(steps) if s["step"] == "discovery") + 1
    steps[at:at] = [
        {"step": "config_file_password", "at": "2025-01-22 00:52", "host": "device_a", "audited": True},
        {"step": "config_file_password", "at": "2025-01-23 01:30", "host": "device_a", "tool": "powershell",
         "path": TOOL_CONFIG, "account": SERVICE}]
    at = next(i for i, s in enumerate(steps) if s["step"] == "smb_transfer") + 1
    steps.insert(at, {"step": "smb_exfiltration", "at": "2025-02-05 03:31", "host": "device_b", "address": SMB_IP})
    data["attack"]["variants"] = {"cred-smb": steps}
    return data


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with simulated(tmp_path_factory.mktemp("steps-cred-smb"), _variant(), "cred-smb") as s:
        yield s


rows = Sim.rows
tags_of = Sim.tags_of
in_truth = Sim.in_truth
timeline = Sim.timeline










def raw(sim: Sim, row: dict[str, Any]) -> dict[str, Any]:
    """The event as written (Winlogbeat's JSON line)."""
    with Path(row["src_file"]).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if n == row["src_record"]:
                return json.loads(line)
    raise AssertionError(row["src_record"])


def test_config_file_password_commands(sim: Sim) -> None:
    search = rows(sim, f"SELECT * FROM windows WHERE EventID IN (1, 4688) AND host LIKE '{A}.%' "
                       "AND CommandLine LIKE '%findstr /si /m \"password\" C:\\inetpub\\*.config'")
    read = rows(sim, f"SELECT * FROM windows WHERE EventID IN (1, 4688) AND host LIKE '{A}.%' "
                     f"AND CommandLine = 'cmd.exe /c type \"{WEB_CONFIG}\"'")
    ps = rows(sim, f"SELECT * FROM windows WHERE EventID IN (1, 4688) AND host LIKE '{A}.%' "
                   "AND CommandLine LIKE 'powershell.exe -nop -c %' AND (CommandLine LIKE '%Select-String%' "
                   f"OR CommandLine LIKE '%Get-Content ''{TOOL_CONFIG}''%')")
    # cmd.exe and findstr.exe, each in Sysmon and the Security log; the type; the two PowerShell commands
    assert sorted(r["EventID"] for r in search) == [1, 1, 4688, 4688]
    assert {r["Image"] for r in search if r["EventID"] == 1} == {"C:\\Windows\\System32\\cmd.exe",
                                                                  "C:\\Windows\\System32\\findstr.exe"}
    assert sorted(r["EventID"] for r in read) == [1, 4688] and sorted(r["EventID"] for r in ps) == [1, 1, 4688, 4688]
    assert {field(r, "ParentImage") for r in read + ps if r["EventID"] == 1} == {
        "C:\\Windows\\System32\\inetsrv\\w3wp.exe"}
    for found in (search, read, ps):
        in_truth(sim, found, "attack:credential_access")
    # SigmaHQ's threat-hunting rule for a password search with findstr sees it
    rule = SIGMA / "rules-threat-hunting/windows/process_creation/proc_creation_win_findstr_password_recon.yml"
    fired = hunt(sim.case, [rule], None).findings.select(["src_file", "src_record"]).to_pylist()
    assert fired and tags_of(sim, fired) == {"attack:credential_access"}
    timeline(sim, f"the password of {DB_USER} read in {WEB_CONFIG}")
    timeline(sim, f"the password of {SERVICE} read in {TOOL_CONFIG}")


def test_4663_in_order_and_only_where_audited(sim: Sim) -> None:
    access = rows(sim, "SELECT * FROM windows WHERE EventID = 4663 ORDER BY ts")
    assert [field(r, "ObjectName") for r in access] == [WEB_CONFIG, WEB_CONFIG]  # none for the unaudited file
    created = {field(r, "NewProcessId"): field(r, "NewProcessName")
               for r in rows(sim, f"SELECT * FROM windows WHERE EventID = 4688 AND host LIKE '{A}.%'")}
    readers = []
    for row in access:
        data = raw(sim, row)["winlog"]["event_data"]
        assert list(data) == FIELDS_4663
        assert (data["ObjectServer"], data["ObjectType"], data["AccessMask"]) == ("Security", "File", "0x1")
        assert data["AccessList"].startswith("%%4416")  # ReadData (or ListDirectory)
        assert (data["SubjectDomainName"], data["SubjectUserName"]) == ("IIS APPPOOL", POOL)
        assert data["SubjectUserSid"] == virtual_sid(POOL)
        assert created[data["ProcessId"]] == data["ProcessName"]  # the reader is the process the 4688 created
        readers.append(data["ProcessName"].rsplit("\\", 1)[-1])
    assert readers == ["findstr.exe", "cmd.exe"]
    in_truth(sim, access, "attack:credential_access")


def test_an_application_pool_sid_is_the_one_iis_gives() -> None:
    assert virtual_sid("DefaultAppPool") == "S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415"


def test_the_account_found_must_be_one_of_the_network() -> None:
    accounts = SimpleNamespace(services=["svc_a"], admins=["adm_b"])
    w = SimpleNamespace(host=lambda part: None, net=SimpleNamespace(spec=SimpleNamespace(accounts=accounts)),
                        spec=SimpleNamespace(database_user="app_user"))
    step = ConfigFilePassword(step="config_file_password", at="2025-01-22 00:52", account="someone")
    with pytest.raises(ValueError, match=r"someone is not an account of the network .*app_user, svc_a, adm_b"):
        config_file_password(w, step, None)  # type: ignore[arg-type]  # the check comes before any record


def test_smb_exfiltration(sim: Sim) -> None:
    staged = {f["name"]: f["size"] for f in sim.truth["evidence"]["staged_files"]}
    files = rows(sim, f"SELECT * FROM zeek_smb_files WHERE \"id.resp_h\" = '{SMB_IP}'")
    assert {r["name"]: r["size"] for r in files} == staged and {r["action"] for r in files} == {"SMB::FILE_WRITE"}
    mapping = rows(sim, f"SELECT * FROM zeek_smb_mapping WHERE \"id.resp_h\" = '{SMB_IP}'")
    # as Zeek's ASCII writer has it (backslashes doubled), like the noise's mappings
    assert len(mapping) == 1 and mapping[0]["path"] == f"\\\\\\\\{SMB_IP}\\\\{SHARE}"
    assert (mapping[0]["service"], mapping[0]["share_type"]) == ("A:", "DISK")
    conn = rows(sim, f"SELECT * FROM zeek_conn WHERE \"id.resp_h\" = '{SMB_IP}'")
    assert len(conn) == 1 and conn[0]["id.resp_p"] == 445 and conn[0]["service"] == "smb,gssapi"
    assert conn[0]["id.orig_h"] == IPS[B] and conn[0]["orig_bytes"] > sum(staged.values())
    assert {r["uid"] for r in files + mapping} == {conn[0]["uid"]}
    sysmon3 = rows(sim, f"SELECT * FROM windows WHERE EventID = 3 AND DestinationIp = '{SMB_IP}'")
    assert len(sysmon3) == 1 and sysmon3[0]["Image"] == "System" and field(sysmon3[0], "DestinationPort") == "445"
    unc = f"\\\\{SMB_IP}\\{SHARE}"
    commands = rows(sim, f"SELECT * FROM windows WHERE EventID IN (1, 4688) AND host LIKE '{B}.%' "
                         f"AND CommandLine LIKE '%{unc}%'")
    lines = sorted({r["CommandLine"] for r in commands})
    assert len(commands) == 2 * (2 + len(staged))  # net use, a copy per file, net use /delete
    assert [c for c in lines if c.startswith("net.exe use")] == [f"net.exe use {unc} /delete /y",
                                                                  *(c for c in lines if "/user:guest" in c)]
    assert {c.split('"')[1].rsplit("\\", 1)[1] for c in lines if c.startswith("cmd.exe /c copy")} == set(staged)
    asa = rows(sim, f"SELECT * FROM syslog WHERE message LIKE '% outside:{SMB_IP}/445 %'")
    assert sorted(r["message"].split(" ")[0] for r in asa) == ["Built", "Teardown"]
    flows = rows(sim, f"SELECT * FROM flow WHERE dst_ip = '{SMB_IP}' OR src_ip = '{SMB_IP}'")
    assert len(flows) == 2
    for found in (files, mapping, conn, sysmon3, commands, asa, flows):
        in_truth(sim, found, "attack:exfiltration")
    out = sim.truth["exfiltration"]  # the only exfiltration step here
    assert out["destination_ip"] == SMB_IP and out["source"] == B
    assert out["bytes"] == sum(r["size"] for r in files)
    timeline(sim, f"over SMB to the share {unc} outside")


def test_the_investigation_reports_the_outside_share(sim: Sim) -> None:
    """The upload is one SMB connection to an address only device B reached: `external`'s single-upload rule
    makes it the exfiltration (the conn's bytes; the file names stay in smb_files, which the investigation
    reads for transfers between inside hosts only)."""
    incident, _ = run_detectors(sim.case, sim.case, InvestigateRequest(sim.out))
    conn = rows(sim, f"SELECT * FROM zeek_conn WHERE \"id.resp_h\" = '{SMB_IP}'")
    moved = [m for m in incident.data_movements if m.dst_ip == SMB_IP]
    assert [(m.kind, m.src_ip, m.bytes) for m in moved] == [("exfiltration", IPS[B], conn[0]["orig_bytes"])]
    assert [e.role for e in incident.external if e.ip == SMB_IP] == ["exfiltration"]

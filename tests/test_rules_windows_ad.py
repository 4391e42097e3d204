"""The package's Active Directory rule pack (detect/rules/windows_ad): every rule is well formed and loads,
each fires on the attack it names and stays quiet on its hard negatives (events the test builds), and on
real samples (EVTX-ATTACK-SAMPLES, DeepBlueCLI, OTRF) the expected rules fire."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from breachscope.detect.packs import RULES_DIR, packs
from breachscope.detect.sigma.hunt import hunt
from breachscope.engines.duckdb_case import open_case
from tests.ad_events import DC1, DC2, LEGACY, ROASTABLE, Evidence, at
from tests.conftest import run_ingest

PACK = RULES_DIR / "windows_ad"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SYSMON = ("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon")

KERBEROASTING = "Kerberoasting - RC4 Service Tickets for Many Services Requested from One Client"
KERBEROASTING_ZEEK = "Kerberoasting - RC4 Service Tickets for Many Services Seen by Zeek from One Client"
ASREP = "AS-REP Roasting - TGT Issued without Kerberos Pre-Authentication"
ASREP_MANY = "AS-REP Roasting - TGTs without Pre-Authentication for Several Accounts from One Client"
DCSYNC = "DCSync - Directory Replication Rights Used by a Non-Machine Account"
SPRAY = "Password Spraying - Failed Authentications for Many Accounts from One Source"
DOMAIN_ADMINS = "New Member of a Domain Administrative Group"
ADMINISTRATORS = "New Member of a Built-in Administrators or Operators Group"
NTDS_CMD = "NTDS.dit Copy - Process Command Line"
NTDS_ACCESS = "NTDS.dit Copy - File Access Outside the Directory Service"
NTDS_FILE = "NTDS.dit Copy - Database File Written Outside the NTDS Folder"
NTDS_ESENT = "NTDS.dit Copy - New Database Created by ESENT"


def docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in sorted(PACK.glob("*.yml")) for d in yaml.safe_load_all(p.read_text()) if d]


def run_pack(case: Path) -> list[dict[str, Any]]:
    with open_case(case) as c:
        result = hunt(c, [PACK])
    assert not result.problems, result.problems
    return list(result.findings.to_pylist())


def titles(found: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(f["rule_title"]) for f in found)


# --- the pack itself -----------------------------------------------------------------------------------------
def test_pack_is_packaged_and_every_rule_is_well_formed() -> None:
    assert packs()["windows_ad"] == PACK
    seen_ids = set()
    for path, d in docs():
        where = f"{path.name}: {d.get('title')}"
        assert str(uuid.UUID(d["id"])) == d["id"] and d["id"] not in seen_ids, where
        seen_ids.add(d["id"])
        assert d["status"] == "experimental" and d["author"] == "breachscope", where
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(d["date"])) and d["references"] and d["falsepositives"], where
        assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in d["tags"]), where
        assert d["level"] in ("informational", "low", "medium", "high", "critical") and d["description"], where
        assert ("correlation" in d) != ("detection" in d), where
        if "detection" in d:
            assert d["logsource"]["product"] in ("windows", "zeek"), where
    kinds = Counter("correlation" if "correlation" in d else "rule" for _, d in docs())
    assert kinds == {"rule": 12, "correlation": 4}


def test_pack_loads_without_problems_on_an_empty_case(tmp_path: Path) -> None:
    ev = Evidence()
    ev.logon(at(0), DC1[0], "user01", "10.0.2.11", "0x1")
    assert run_pack(ev.case(tmp_path)) == []


# --- behaviour on built events -------------------------------------------------------------------------------
def test_kerberoasting_correlations(tmp_path: Path) -> None:
    ev = Evidence()
    for k, svc in enumerate(ROASTABLE):  # a burst: 5 user services, RC4, 8 s apart
        ev.tgs(at(60) + timedelta(seconds=8 * k), DC1, "alice", "10.0.2.17", svc, enc="0x17")
    for k in range(40):  # a legacy application: one RC4 service, all day (hard negative)
        ev.tgs(at(k * 20), DC2, "appsvc", LEGACY, "svc_legacy1", enc="0x17")
    for k, svc in enumerate(["FS01$", "DC1$", "krbtgt", "WEB01$"]):  # not roastable (hard negative)
        ev.tgs(at(200) + timedelta(seconds=k), DC1, "bob", "10.0.2.18", svc, enc="0x17")
    for k, svc in enumerate(ROASTABLE):  # AES tickets for the same services (hard negative)
        ev.tgs(at(300) + timedelta(seconds=k), DC2, "carol", "10.0.2.19", svc)
    found = run_pack(ev.case(tmp_path))
    assert titles(found) == {KERBEROASTING: 1, KERBEROASTING_ZEEK: 1}
    assert {f["group_key"] for f in found} == {'{"IpAddress": "::ffff:10.0.2.17"}', '{"id.orig_h": "10.0.2.17"}'}
    assert {f["level"] for f in found} == {"high"}


def test_asrep_roasting(tmp_path: Path) -> None:
    ev = Evidence()
    for k, user in enumerate(["svc_unix", "olduser"]):  # no pre-authentication, both asked from one host
        ev.tgt(at(10) + timedelta(seconds=k), DC1, user, "10.0.2.17", preauth="0", enc="0x17")
    ev.tgt(at(30), DC2, "alice", "10.0.2.11")  # ordinary TGT (PreAuthType 2)
    ev.tgt(at(31), DC2, "bob", "10.0.2.12", status="0x18", preauth="-")  # wrong password
    found = run_pack(ev.case(tmp_path))
    assert titles(found) == {ASREP: 2, ASREP_MANY: 1}
    assert {f["level"] for f in found if f["rule_title"] == ASREP} == {"medium"}


def test_dcsync_rule(tmp_path: Path) -> None:
    ev = Evidence()
    ev.replication(at(5), DC1, "svc_backup", "0x10")
    ev.replication(at(6), DC1, "DC2$", "0x11")  # DC replication (hard negative)
    ev.replication(at(7), DC2, "MSOL_0123abcd", "0x12")  # Entra Connect's connector account (hard negative)
    ev.win(at(8), 4662, DC1[0], SubjectUserName="alice", SubjectLogonId="0x13", AccessMask="0x100",
           Properties="%%7688\r\n\t\t{bf967a86-0de6-11d0-a285-00aa003049e2}\r\n")  # another right
    found = run_pack(ev.case(tmp_path))
    assert titles(found) == {DCSYNC: 2} and {f["user"] for f in found} == {"svc_backup"}


def test_password_spraying(tmp_path: Path) -> None:
    ev = Evidence()
    for k in range(10):  # one source, ten accounts, one password, within 10 minutes
        ev.win(at(60 + k), 4625, "FS01", TargetUserName=f"user{k:02d}", Status="0xc000006d",
               SubStatus="0xc000006a", LogonType="3", IpAddress="10.0.9.9", IpPort="4444")
    for k in range(4):  # and Kerberos pre-authentication failures from the same source
        ev.win(at(65 + k), 4771, DC1[0], TargetUserName=f"admin{k}", Status="0x18", IpAddress="10.0.9.9")
    for k in range(30):  # one user mistyping again and again (hard negative: brute force is not spraying)
        ev.win(at(120 + k / 10), 4625, "FS01", TargetUserName="alice", Status="0xc000006d",
               SubStatus="0xc000006a", LogonType="3", IpAddress="10.0.2.11", IpPort="4445")
    for k in range(12):  # failures typed at the console of many machines (no source address: hard negative)
        ev.win(at(200 + k), 4625, f"WS{k:02d}", TargetUserName=f"user{k:02d}", Status="0xc000006a",
               LogonType="2", IpAddress="-")
    found = run_pack(ev.case(tmp_path))
    assert titles(found) == {SPRAY: 1}
    assert found[0]["group_key"] == '{"IpAddress": "10.0.9.9"}' and found[0]["level"] == "high"


def test_admin_group_members(tmp_path: Path) -> None:
    ev = Evidence()
    sid = "S-1-5-21-1111-2222-3333"
    ev.win(at(1), 4728, DC1[0], MemberSid=f"{sid}-1105", TargetUserName="Domänen-Admins", TargetSid=f"{sid}-512",
           SubjectUserName="mallory")  # localised name: recognised by its SID
    ev.win(at(2), 4756, DC1[0], MemberSid=f"{sid}-1106", TargetUserName="Enterprise Admins",
           TargetSid=f"{sid}-519", SubjectUserName="mallory")
    ev.win(at(3), 4732, "WS01", MemberSid=f"{sid}-1107", TargetUserName="Administrators",
           TargetSid="S-1-5-32-544", SubjectUserName="mallory")
    ev.win(at(4), 4732, "WS01", MemberSid=f"{sid}-1108", TargetUserName="Remote Desktop Users",
           TargetSid="S-1-5-32-555", SubjectUserName="helpdesk")  # not an administrative group
    ev.win(at(5), 4728, DC1[0], MemberSid=f"{sid}-1109", TargetUserName="Sales", TargetSid=f"{sid}-1512",
           SubjectUserName="helpdesk")  # RID 1512 is not Domain Admins (-512)
    found = run_pack(ev.case(tmp_path))
    got = sorted((f["rule_title"], f["level"], f["host"]) for f in found)
    assert got == [(ADMINISTRATORS, "medium", "WS01"), (DOMAIN_ADMINS, "high", DC1[0]),
                   (DOMAIN_ADMINS, "high", DC1[0])]


def test_ntds_dit_copies(tmp_path: Path) -> None:
    ev = Evidence()
    dc = DC1[0]
    ev.win(at(1), 1, dc, *SYSMON, Image="C:\\Windows\\System32\\ntdsutil.exe", CommandLine=(
        'ntdsutil  "ac i ntds" "ifm" "create full C:\\Windows\\Temp\\x" q q'), User="CORP\\admin")
    ev.win(at(2), 4688, dc, NewProcessName="C:\\Windows\\System32\\cmd.exe", CommandLine=(
        "cmd /c copy \\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1\\Windows\\NTDS\\ntds.dit C:\\t\\n.dit"))
    ev.win(at(3), 4663, dc, ObjectName="\\Device\\HarddiskVolumeShadowCopy1\\Windows\\NTDS\\ntds.dit",
           ProcessName="C:\\Windows\\System32\\cmd.exe", AccessMask="0x1", SubjectUserName="admin")
    ev.win(at(4), 11, dc, *SYSMON, Image="C:\\Windows\\System32\\ntdsutil.exe",
           TargetFilename="C:\\Windows\\Temp\\x\\Active Directory\\ntds.dit")
    ev.win(at(5), 325, dc, "Application", "ESENT",
           Data="NTDS\n2772\n\n2\nC:\\Windows\\Temp\\x\\Active Directory\\ntds.dit\n0")
    # the directory service at work (hard negatives)
    ev.win(at(10), 4663, dc, ObjectName="C:\\Windows\\NTDS\\ntds.dit", ProcessName="C:\\Windows\\System32\\lsass.exe",
           AccessMask="0x1", SubjectUserName="DC1$")
    ev.win(at(11), 11, dc, *SYSMON, Image="C:\\Windows\\System32\\lsass.exe",
           TargetFilename="C:\\Windows\\NTDS\\ntds.dit")
    ev.win(at(12), 1, dc, *SYSMON, Image="C:\\Windows\\System32\\ntdsutil.exe",
           CommandLine='ntdsutil "metadata cleanup" q', User="CORP\\admin")
    found = run_pack(ev.case(tmp_path))
    assert titles(found) == {NTDS_CMD: 2, NTDS_ACCESS: 1, NTDS_FILE: 1, NTDS_ESENT: 1}
    assert max(f["ts"] for f in found) < at(10)


# --- real samples -------------------------------------------------------------------------------------------
EVTX = DATASETS / "evtx-attack-samples"
DEEPBLUE = DATASETS / "deepbluecli-evtx" / "evtx"
OTRF = DATASETS / "otrf-security-datasets" / "datasets" / "atomic" / "windows" / "credential_access" / "host"
#: sample -> the rules that fire on its events (correlations: their group instead, below)
SAMPLES = {
    EVTX / "Credential Access" / "CA_DCSync_4662.evtx": {DCSYNC: 3},
    EVTX / "Credential Access" / "kerberos_pwd_spray_4771.evtx": {},
    EVTX / "Credential Access" / "dc_applog_ntdsutil_dfir_325_326_327.evtx": {NTDS_ESENT: 1},
    EVTX / "Persistence" / "Network_Service_Guest_added_to_admins_4732.evtx": {ADMINISTRATORS: 2},
    DEEPBLUE / "password-spray.evtx": {},
    DEEPBLUE / "new-user-security.evtx": {ADMINISTRATORS: 1},
    OTRF / "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip": {DCSYNC: 3},
    OTRF / "cmd_dumping_ntds_dit_file_ntdsutil.zip": {NTDS_CMD: 2, NTDS_ACCESS: 43, NTDS_FILE: 1},
}
#: correlations by their group: Kerberos pre-authentication spray (4768 0x6 + 4771 0x18) and an SMB spray (4648)
CORRELATIONS = {
    (SPRAY, '{"IpAddress": "172.16.66.1"}'): EVTX / "Credential Access" / "kerberos_pwd_spray_4771.evtx",
    (SPRAY, '{"IpAddress": "172.16.144.128"}'): DEEPBLUE / "password-spray.evtx",
}


@pytest.fixture(scope="module")
def samples_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    present = [p for p in SAMPLES if p.exists()]
    if not present:
        pytest.skip(f"shared datasets not present under {DATASETS}")
    case = tmp_path_factory.mktemp("ad_samples") / "case"
    run_ingest(present, case)
    return case


def test_real_samples_fire_the_expected_rules(samples_case: Path) -> None:
    found = run_pack(samples_case)
    by_sample: dict[str, Counter[str]] = {}
    for f in found:
        if f["kind"] == "sigma":
            by_sample.setdefault(str(f["src_file"]).split("!")[0], Counter())[f["rule_title"]] += 1
    for path, expected in SAMPLES.items():
        if path.exists():
            assert by_sample.pop(str(path), Counter()) == expected, path.name
    assert not by_sample  # nothing else fired
    groups = {(f["rule_title"], f["group_key"]) for f in found if f["kind"] == "sigma_correlation"}
    assert groups == {k for k, path in CORRELATIONS.items() if path.exists()}

"""Lateral movement on real captures (../shared/datasets): each file on its own small case, investigated,
and the lateral_movement alert checked for the source and the target the logs name. Run with -s for the
per-file report. Single-host captures of under 3 days: the logon edge is kept for what followed it on the
target (admin share from the same source, a remote task/service/WMI host), see detectors/logons.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from breachscope.investigate.pipeline import InvestigateRequest, find_incident
from tests.conftest import DATASETS, run_ingest

EVTX_LM = DATASETS / "evtx-attack-samples" / "Lateral Movement"
OTRF_LM = DATASETS / "otrf-security-datasets" / "datasets" / "atomic" / "windows" / "lateral_movement" / "host"

# file -> (source address, source name or None, target host key, account), as the logs hold them
EXPECTED: dict[Path, tuple[str, str | None, str, str]] = {
    EVTX_LM / "LM_ScheduledTask_ATSVC_target_host.evtx": ("10.0.2.17", None, "win-77ltaphiq1r", "Administrator"),
    EVTX_LM / "LM_WMI_4624_4688_TargetHost.evtx": ("10.0.2.17", "pc01", "win-77ltaphiq1r", "Administrator"),
    EVTX_LM / "remote task update 4624 4702 same logonid.evtx":
        ("172.16.66.142", "04246w-win10", "01566s-win16-ir", "a-jbrown"),
    # remote execution over SMB seen only from the target's 5145 (no logon event in the capture)
    EVTX_LM / "LM_REMCOM_5145_TargetHost.evtx": ("10.0.2.16", None, "pc01", "IEUser"),
    EVTX_LM / "LM_renamed_psexecsvc_5145.evtx": ("10.0.2.16", None, "iewin7", "IEUser"),
    EVTX_LM / "LM_Remote_Service01_5145_svcctl.evtx": ("10.0.2.17", None, "win-77ltaphiq1r", "Administrator"),
    EVTX_LM / "LM_5145_Remote_FileCopy.evtx": ("10.0.2.15", None, "pc01", "Administrator"),
    OTRF_LM / "empire_psexec_dcerpc_tcp_svcctl.zip": ("172.18.39.5", "workstation5", "workstation6", "pgustavo"),
    OTRF_LM / "empire_smbexec_dcerpc_smb_svcctl.zip": ("172.18.39.5", "workstation5", "workstation6", "pgustavo"),
    OTRF_LM / "empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod.zip":
        ("172.18.39.5", "workstation5", "workstation6", "pgustavo"),
    OTRF_LM / "covenant_sharpwmi_create_dcerpc_wmi.zip": ("172.18.39.5", "workstation5", "workstation6", "pgustavo"),
    OTRF_LM / "covenant_sharpsc_create_dcerpc_smb_svcctl.zip":
        ("172.18.39.5", "workstation5", "workstation6", "pgustavo"),
    OTRF_LM / "schtask_create.zip": ("172.18.39.5", "workstation5", "workstation6", "pgustavo"),
}

# captures of one host with no remote logon (4624 type 3/10 with a source address) and no program or
# service-control pipe reached over SMB from elsewhere: nothing to call an edge
NO_EDGE = [
    EVTX_LM / "spoolsample_5145.evtx",  # the print spooler pipe from elsewhere: coercion, not execution
    EVTX_LM / "LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx",  # type 9 from ::1 (the source side)
    EVTX_LM / "ImpersonateUser-via local Pass The Hash Sysmon and Security.evtx",  # type 3 from 127.0.0.1
    EVTX_LM / "LM_sysmon_psexec_smb_meterpreter.evtx",  # Sysmon only
]


def _investigate(path: Path, case: Path) -> list:
    if not path.exists():
        pytest.skip(f"{path} not in the shared datasets")
    run_ingest([path], case)
    return find_incident(InvestigateRequest(case))[1]


@pytest.fixture(scope="module")
def report() -> object:
    rows: list[tuple[str, str, str, str]] = []
    yield rows
    print("\nlateral movement on real captures (file -> recognised, source, target)")
    for name, seen, src, dst in rows:
        print(f"  {name:60} {seen:4} {src:28} {dst}")


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_lateral_movement_recognised(path: Path, tmp_path: Path, report: list) -> None:
    src_ip, src_name, dst, user = EXPECTED[path]
    lm = [a for a in _investigate(path, tmp_path / "case") if a.kind == "lateral_movement"]
    report.append((path.name, "yes" if lm else "no",
                   ", ".join(sorted({f"{a.host} ({a.src_ip})" for a in lm})) or "-",
                   ", ".join(sorted({str(a.dst_host) for a in lm})) or "-"))
    hit = [a for a in lm if a.src_ip == src_ip and a.dst_host == dst and a.user == user]
    assert hit, f"no lateral movement {src_ip} -> {dst} as {user}: {[(a.src_ip, a.dst_host, a.user) for a in lm]}"
    a = hit[0]
    assert a.stage == "lateral_movement" and a.score >= 40 and a.evidence
    assert a.host == (src_name or src_ip), "the source is named as the logs name it, else by its address"
    assert "too short to judge rarity" in a.reason  # every capture here spans less than 3 days


@pytest.mark.parametrize("path", NO_EDGE, ids=lambda p: p.name)
def test_no_edge_no_lateral_movement(path: Path, tmp_path: Path, report: list) -> None:
    lm = [a for a in _investigate(path, tmp_path / "case") if a.kind == "lateral_movement"]
    report.append((path.name, "yes" if lm else "no", "-", "-"))
    assert not lm

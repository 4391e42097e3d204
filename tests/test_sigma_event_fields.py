"""Rules read the event's own fields, never a core column of the same name ignoring case (issue 10):
Sysmon's `User` and `ProcessId`, Security 5156's `ProcessID`, replayed on real EVTX with SigmaHQ rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from breachscope.detect.sigma.hunt import HuntResult, hunt
from breachscope.engines.duckdb_case import open_case
from tests.conftest import DATASETS, SIGMA, run_ingest

EVTX = DATASETS / "evtx-attack-samples"
AS_SYSTEM = EVTX / "Execution" / "sysmon_exec_from_vss_persistence.evtx"  # schtasks /create run as SYSTEM
AS_USER = EVTX / "Execution" / "exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx"  # as IEWIN7\IEUser
WFP = EVTX / "Command and Control" / "DE_RDP_Tunnel_5156.evtx"  # Security 5156, logged by pid 4
PROC = SIGMA / "rules" / "windows" / "process_creation"
SCHTASKS = PROC / "proc_creation_win_schtasks_creation.yml"  # filter: User|contains AUTHORI / AUTORI
WHOAMI = PROC / "proc_creation_win_whoami_execution_from_high_priv_process.yml"  # selection: User|contains
SYSTEM_USER = PROC / "proc_creation_win_susp_system_user_anomaly.yml"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fields") / "case"
    run_ingest([AS_SYSTEM, AS_USER, WFP], path)
    return path


def _hunt(case: Path, *rules: Path) -> HuntResult:
    with open_case(case) as c:
        result = hunt(c, list(rules))
    assert not result.problems, result.problems
    return result


def _rows(result: HuntResult, rule_file: Path) -> list[dict[str, object]]:
    return [f for f in result.findings.to_pylist() if f["rule_path"] == str(rule_file)]


def test_user_filter_excludes_schtasks_run_as_system(case: Path) -> None:
    found = _rows(_hunt(case, SCHTASKS), SCHTASKS)
    # the SYSTEM run is filtered out; the user's run is reported
    assert [(Path(str(f["src_file"])).name, json.loads(str(f["event"]))["User"]) for f in found] == [
        (AS_USER.name, "IEWIN7\\IEUser")]


def test_user_contains_selection_fires(case: Path) -> None:
    found = _rows(_hunt(case, WHOAMI, SYSTEM_USER), WHOAMI)
    assert len(found) == 1
    event = json.loads(str(found[0]["event"]))
    assert event["User"] == "NT AUTHORITY\\SYSTEM" and event["Image"].endswith("whoami.exe")
    assert "EventData_User" not in event  # the event's field under its own name


def _rule(tmp: Path, name: str, category: str, detection: str) -> Path:
    path = tmp / f"{name}.yml"
    path.write_text(f"title: {name}\nid: 30000000-0000-0000-0000-{abs(hash(name)) % 10**12:012d}\nstatus: test\n"
                    f"level: low\nlogsource: {{product: windows, category: {category}}}\ndetection:\n{detection}")
    return path


def test_process_id_is_the_events_not_the_logging_process(case: Path, tmp_path: Path) -> None:
    # Sysmon 1's EventData ProcessId (its System ProcessID is Sysmon's own pid, 980 here)
    sysmon = _rule(tmp_path, "pid_sysmon", "process_creation",
                   "  sel: {ProcessId: 1168}\n  condition: sel\n")
    logger = _rule(tmp_path, "pid_logger", "process_creation",
                   "  sel: {ProcessId: 980, Image|endswith: '\\whoami.exe'}\n  condition: sel\n")
    # Security 5156 names it ProcessID (network_connection maps Sigma's ProcessId to it); pid 4 logged them all
    wfp = _rule(tmp_path, "pid_wfp", "network_connection", "  sel: {ProcessId: 3324}\n  condition: sel\n")
    wfp_logger = _rule(tmp_path, "pid_wfp_logger", "network_connection", "  sel: {ProcessId: 4}\n  condition: sel\n")
    result = _hunt(case, sysmon, logger, wfp, wfp_logger)
    images = [json.loads(str(f["event"]))["Image"] for f in _rows(result, sysmon)]
    assert images == ["C:\\Windows\\System32\\whoami.exe"]
    assert _rows(result, logger) == []
    assert len(_rows(result, wfp)) == 3
    assert len(_rows(result, wfp_logger)) == 9  # the events whose own ProcessID is 4, not all 5156 events


def test_correlation_groups_by_the_user_field(case: Path, tmp_path: Path) -> None:
    base = _rule(tmp_path, "cmd", "process_creation", "  sel: {Image|endswith: '\\cmd.exe'}\n  condition: sel\n")
    corr = tmp_path / "corr.yml"
    corr.write_text(base.read_text().replace("title: cmd", "title: cmd\nname: cmd_runs") + "\n---\n"
                    "title: many cmd per user\nid: 30000000-0000-0000-0000-000000000099\nlevel: high\n"
                    "correlation:\n  type: event_count\n  rules: [cmd_runs]\n  group-by: [User]\n  timespan: 1d\n"
                    "  condition: {gte: 2}\n")
    found = [f for f in _hunt(case, corr).findings.to_pylist() if f["kind"] == "sigma_correlation"]
    assert {json.loads(str(f["group_key"]))["User"] for f in found} == {"NT AUTHORITY\\SYSTEM"}


def test_zeek_fields_named_like_core_columns(tmp_path: Path) -> None:
    """Zeek's http `host` is stored as host_header beside the core host; rules still name it `host`."""
    http = DATASETS / "stratosphere-slips-dataset" / "dataset" / "test9-mixed-zeek-dir" / "http.log"
    run_ingest([http], tmp_path / "case")
    zeek = tmp_path / "zeek.yml"
    zeek.write_text("title: zeek host\nid: 30000000-0000-0000-0000-000000000101\nlevel: low\n"
                    "logsource: {product: zeek, service: http}\ndetection:\n  sel: {host: www.bing.com}\n"
                    "  condition: sel\n")
    proxy = tmp_path / "proxy.yml"
    proxy.write_text("title: proxy host\nid: 30000000-0000-0000-0000-000000000102\nlevel: low\n"
                     "logsource: {category: proxy}\ndetection:\n  sel: {cs-host: www.bing.com}\n  condition: sel\n")
    result = _hunt(tmp_path / "case", zeek, proxy)
    for rule in (zeek, proxy):
        found = _rows(result, rule)
        assert len(found) == 26  # 26 requests to www.bing.com in this log
        assert {json.loads(str(f["event"]))["host"] for f in found} == {"www.bing.com"}

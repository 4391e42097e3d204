"""Sigma engine behaviour on data the tests build: correlations (sliding windows), filters, bad rules,
hostile values, and the hunt command's outputs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from breachscope.detect.sigma.hunt import hunt
from breachscope.detect.sigma.ruleset import load_ruleset
from breachscope.engines.duckdb_case import open_case
from tests.conftest import run_ingest

T0 = datetime(2025, 2, 5, 1, 0, tzinfo=UTC)


def logon(minute: float, eid: int, user: str, ip: str = "10.0.0.9", **extra: str) -> str:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return json.dumps({"@timestamp": ts, "winlog": {
        "channel": "Security", "event_id": eid, "provider_name": "Microsoft-Windows-Security-Auditing",
        "computer_name": "DC1", "record_id": int(minute * 100),
        "event_data": {"TargetUserName": user, "IpAddress": ip, "LogonType": "3", **extra}}})


FAILED = """
title: Failed logon
name: failed_logon
id: 10000000-0000-0000-0000-000000000001
status: test
author: breachscope tests
level: low
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
"""
SUCCESS = """
title: Successful logon
name: successful_logon
id: 10000000-0000-0000-0000-000000000002
status: test
author: breachscope tests
level: informational
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624}
  condition: sel
"""


def correlation(body: str, title: str = "corr") -> str:
    return f"title: {title}\nid: 20000000-0000-0000-0000-{abs(hash(title)) % 10**12:012d}\nlevel: high\n" \
           f"author: breachscope tests\ncorrelation:\n{body}"


@pytest.fixture
def case_with(tmp_path: Path):  # type: ignore[no-untyped-def]
    def build(lines: list[str]) -> Path:
        ev = tmp_path / "ev.json"
        ev.write_text("\n".join(lines) + "\n")
        run_ingest([ev], tmp_path / "case")
        return tmp_path / "case"
    return build


def run_rules(case: Path, tmp_path: Path, *docs: str, name: str = "rules.yml") -> list[dict[str, object]]:
    rules = tmp_path / name
    rules.write_text("\n---\n".join(docs))
    with open_case(case) as c:
        result = hunt(c, [rules])
    assert not result.problems, result.problems
    return result.findings.to_pylist()


def test_event_count_is_a_sliding_window(case_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # alice: failures at 8, 12, 16 min: no fixed 10-minute bucket holds 3, the sliding window does
    # bob: failures every 30 minutes: never 3 within 10 minutes
    lines = [logon(m, 4625, "alice") for m in (8, 12, 16)] + [logon(m, 4625, "bob") for m in (0, 30, 60, 90)]
    case = case_with(lines)
    body = ("  type: event_count\n  rules: [failed_logon]\n  group-by: [TargetUserName]\n  timespan: 10m\n"
            "  condition: {gte: 3}\n")
    found = run_rules(case, tmp_path, FAILED, correlation(body, "brute force"))
    corr = [f for f in found if f["kind"] == "sigma_correlation"]
    assert len(corr) == 1 and json.loads(corr[0]["group_key"]) == {"TargetUserName": "alice"}
    assert corr[0]["event_count"] == 3 and corr[0]["first_ts"] == T0 + timedelta(minutes=8)
    assert len(corr[0]["related"]) == 3
    # generate defaults to false: the referenced rule reports only through the correlation
    assert not [f for f in found if f["kind"] == "sigma"]


def test_value_count_temporal_ordered_and_generate(case_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spray = [logon(i, 4625, u, ip="10.9.9.9") for i, u in enumerate(["u1", "u2", "u3", "u4"])]
    order = [logon(30, 4625, "alice"), logon(31, 4624, "alice"),  # fail then success: the ordered pattern
             logon(40, 4624, "carol"), logon(41, 4625, "carol")]  # success then fail: not in order
    case = case_with(spray + order)
    vc = ("  type: value_count\n  rules: [failed_logon]\n  group-by: [IpAddress]\n  timespan: 10m\n"
          "  condition: {field: TargetUserName, gte: 4}\n")
    to = ("  type: temporal_ordered\n  rules: [failed_logon, successful_logon]\n  group-by: [TargetUserName]\n"
          "  timespan: 5m\n  generate: true\n")
    found = run_rules(case, tmp_path, FAILED, SUCCESS, correlation(vc, "spray"), correlation(to, "fail then success"))
    by_title: dict[str, list[dict[str, object]]] = {}
    for f in found:
        by_title.setdefault(str(f["rule_title"]), []).append(f)
    assert [json.loads(str(f["group_key"])) for f in by_title["spray"]] == [{"IpAddress": "10.9.9.9"}]
    assert [json.loads(str(f["group_key"])) for f in by_title["fail then success"]] == [{"TargetUserName": "alice"}]
    # generate: true on the ordered correlation makes both referenced rules report on their own too
    assert len(by_title["Failed logon"]) == 6 and len(by_title["Successful logon"]) == 2


def test_value_sum_with_alias(case_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lines = [logon(i, 4624, "svc", ip="10.1.1.1", TransferBytes=str(400)) for i in range(3)]
    case = case_with(lines)
    body = ("  type: value_sum\n  rules: [successful_logon]\n  group-by: [src]\n  timespan: 1h\n"
            "  aliases:\n    src:\n      successful_logon: IpAddress\n"
            "  condition: {field: TransferBytes, gt: 1000}\n")
    found = run_rules(case, tmp_path, SUCCESS, correlation(body, "volume"))
    corr = [f for f in found if f["kind"] == "sigma_correlation"]
    assert len(corr) == 1 and json.loads(str(corr[0]["event"]))["value"] == 1200.0
    assert json.loads(str(corr[0]["group_key"])) == {"src": "10.1.1.1"}


def test_sigma_filter_removes_matches(case_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = case_with([logon(1, 4624, "adm_jane"), logon(2, 4624, "bob")])
    filt = """
title: Admins are expected
logsource: {product: windows, service: security}
filter:
  rules: [successful_logon]
  selection: {TargetUserName|startswith: adm_}
  condition: selection
"""
    found = run_rules(case, tmp_path, SUCCESS, filt)
    assert [f["user"] for f in found] == ["bob"]


def test_bad_rules_are_reported_and_the_rest_run(case_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = case_with([logon(1, 4624, "bob")])
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(SUCCESS)
    (rules / "not_yaml.yml").write_text("title: x\ndetection: [unclosed\n  condition: sel\n")
    (rules / "bad_modifier.yml").write_text(SUCCESS.replace("EventID: 4624", "EventID|nosuchmod: 4624")
                                            .replace("10000000-0000-0000-0000-000000000002",
                                                     "10000000-0000-0000-0000-000000000003"))
    (rules / "re2.yml").write_text(SUCCESS.replace("EventID: 4624", "TargetUserName|re: '(?=bob)b'")
                                   .replace("10000000-0000-0000-0000-000000000002",
                                            "10000000-0000-0000-0000-000000000004"))
    (rules / "hang.yml").write_text(SUCCESS.replace("EventID: 4624", "TargetUserName|re: '(a+)+$'")
                                    .replace("10000000-0000-0000-0000-000000000002",
                                             "10000000-0000-0000-0000-000000000005"))
    rs = load_ruleset([rules], use_cache=False)
    problems = {Path(p.path).name: p for p in rs.problems}
    assert set(problems) == {"not_yaml.yml", "bad_modifier.yml", "re2.yml"}
    assert problems["not_yaml.yml"].line == 3 and "YAML" in problems["not_yaml.yml"].reason
    assert problems["bad_modifier.yml"].line is not None and "nosuchmod" in problems["bad_modifier.yml"].reason
    assert "(?=bob)b" in problems["re2.yml"].reason  # lookahead: not linear-time, refused
    with open_case(case) as c:
        result = hunt(c, [rules], ruleset=rs)
    # the good rule ran; the catastrophic-backtracking regex ran in linear time (RE2) and found nothing
    assert [f["rule_title"] for f in result.findings.to_pylist()] == ["Successful logon"]


def test_values_from_rules_and_events_stay_data(case_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil_user = "x'); DROP TABLE windows; --\\\x1b[31m"
    case = case_with([logon(1, 4624, evil_user), logon(2, 4624, "o'brien")])
    rule = SUCCESS.replace("sel: {EventID: 4624}", "sel: {TargetUserName: \"o'brien\"}")
    found = run_rules(case, tmp_path, rule)
    assert [f["user"] for f in found] == ["o'brien"]
    rule2 = SUCCESS.replace("sel: {EventID: 4624}", "sel: {TargetUserName|contains: \"DROP TABLE windows; --\\\\\"}")
    found2 = run_rules(case, tmp_path, rule2, name="r2.yml")
    assert [f["user"] for f in found2] == [evil_user]
    assert json.loads(str(found2[0]["event"]))["TargetUserName"] == evil_user


def test_hunt_command_outputs(tmp_path: Path) -> None:
    ev = tmp_path / "ev.json"
    ev.write_text("\n".join([logon(1, 4624, "=cmd|' /C calc'!A0"), logon(2, 4624, "bob")]) + "\n")
    rules = tmp_path / "r.yml"
    rules.write_text(SUCCESS)
    case = tmp_path / "case"

    def bs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True,
                              text=True, timeout=300)

    r = bs("hunt", str(ev), "--rules", str(rules), "--case", str(case), "--format", "timesketch",
           "--out", str(tmp_path / "ts.jsonl"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["findings"] == 2
    lines = [json.loads(x) for x in (tmp_path / "ts.jsonl").read_text().splitlines()]
    assert all({"message", "datetime", "timestamp_desc"} <= set(x) for x in lines)
    assert lines[0]["author"] == "breachscope tests" and lines[0]["datetime"].startswith("2025-02-05T01:01")
    first = pq.read_table(case / "findings.parquet").column("finding_id").to_pylist()
    r2 = bs("hunt", str(case), "--rules", str(rules), "--format", "csv", "--out", str(tmp_path / "f.csv"))
    assert r2.returncode == 0, r2.stderr
    assert pq.read_table(case / "findings.parquet").column("finding_id").to_pylist() == first  # idempotent
    rows = list(csv.DictReader((tmp_path / "f.csv").open()))
    assert rows[0]["user"] == "'=cmd|' /C calc'!A0"  # neutralized for spreadsheets
    bad = bs("hunt", str(case), "--rules", str(rules), "--min-level", "severe")
    assert bad.returncode == 2 and "min-level" in bad.stderr


def win(minute: float, channel: str, eid: int, provider: str, **data: str) -> str:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return json.dumps({"@timestamp": ts, "winlog": {"channel": channel, "event_id": eid, "provider_name": provider,
                                                    "computer_name": "WS1", "record_id": int(minute * 10),
                                                    "event_data": data}})


def test_logsources_map_channels_and_fields(case_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    case = case_with([
        win(1, sysmon, 1, "Microsoft-Windows-Sysmon", Image="C:\\Windows\\System32\\whoami.exe"),
        # Security 4688 names the image NewProcessName: process_creation rules must see it as Image
        win(2, "Security", 4688, "Microsoft-Windows-Security-Auditing",
            NewProcessName="C:\\Windows\\System32\\whoami.exe", ParentProcessName="C:\\Windows\\cmd.exe"),
        # EventID 1 of another channel and provider: not a process creation, whatever its fields say
        win(3, "Microsoft-Windows-Foo/Operational", 1, "Foo", Image="C:\\Windows\\System32\\whoami.exe"),
        win(4, "System", 4688, "Other", Image="C:\\Windows\\System32\\whoami.exe"),
    ])
    rule = """
title: Whoami
id: 30000000-0000-0000-0000-000000000001
level: medium
author: breachscope tests
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\\\\whoami.exe'}
  condition: sel
"""
    found = run_rules(case, tmp_path, rule)
    assert sorted((f["segment"], f["src_record"]) for f in found) == [("Security 4688", 2), ("Sysmon 1", 1)]
    skipped = """
title: Needs ETW
id: 30000000-0000-0000-0000-000000000002
logsource: {product: windows, category: file_access}
detection:
  sel: {TargetFilename|endswith: '.txt'}
  condition: sel
"""
    rules = tmp_path / "skip.yml"
    rules.write_text(skipped)
    with open_case(case) as c:
        result = hunt(c, [rules])
    assert [s.rule.title for s in result.plan.skipped] == ["Needs ETW"]
    assert "Kernel-File" in result.plan.skipped[0].reason

"""Hunt output an analyst can read: the details column per event kind (real EVTX, Zeek, Cisco syslog,
pgAudit and Argus samples from ../shared), findings per rule and per host, every rule accounted for,
CSV/JSONL/Timesketch files with hostile values, and the logon summary."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from breachscope.cli import findings_out
from breachscope.cli.output import neutralize
from breachscope.detect.details import details_column, event_details, finding_details, profile_table
from breachscope.detect.hunt_summary import account, by_host, by_rule
from breachscope.detect.logons import NoLogonEvents, summarize
from breachscope.detect.sigma.hunt import HuntResult, hunt
from breachscope.engines.duckdb_case import open_case
from breachscope.model.errors import BreachscopeError
from breachscope.model.findings import FINDINGS_SCHEMA
from tests.conftest import DATASETS, run_ingest

EAS = DATASETS / "evtx-attack-samples"
SLIPS = DATASETS / "stratosphere-slips-dataset" / "dataset"
CISCO = DATASETS / "cisco-ios-syslog-samples" / "elastic-integrations" / "packages" / "cisco_ios" / "data_stream" \
    / "log" / "_dev" / "test" / "pipeline"
T0 = datetime(2025, 2, 5, 1, 0, tzinfo=UTC)

SIGMA_ONLY = ("--no-builtin-rules", "--analytics", "none")  # these tests are about the Sigma output


def rule(title: str, logsource: str, detection: str, level: str = "medium") -> str:
    rid = f"40000000-0000-0000-0000-{abs(hash(title)) % 10**12:012d}"
    return (f"title: {title}\nid: {rid}\nstatus: test\nauthor: breachscope tests\nlevel: {level}\n"
            f"logsource: {logsource}\ndetection:\n  sel: {detection}\n  condition: sel\n")


def run_hunt(case: Path, tmp_path: Path, *docs: str, min_level: str | None = None) -> HuntResult:
    rules = tmp_path / "rules.yml"
    rules.write_text("\n---\n".join(docs))
    with open_case(case) as c:
        result = hunt(c, [rules], min_level)
    assert not result.problems, result.problems
    return result


def details_by_record(result: HuntResult) -> dict[tuple[str, int], str]:
    rows = result.findings.select(["src_file", "src_record"]).to_pylist()
    return {(Path(r["src_file"]).name, r["src_record"]): d
            for r, d in zip(rows, details_column(result.findings).to_pylist(), strict=True)}


@pytest.fixture(scope="module")
def windows_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("win") / "case"
    run_ingest([EAS / "Credential Access" / "CA_4624_4625_LogonType2_LogonProc_chrome.evtx",
                EAS / "Lateral Movement" / "LM_Remote_Service02_7045.evtx",
                EAS / "Command and Control" / "DE_sysmon-3-rdp-tun.evtx",
                EAS / "Defense Evasion" / "sysmon_13_rdp_settings_tampering.evtx"], case)
    return case


def test_details_of_real_windows_events(windows_case: Path, tmp_path: Path) -> None:
    result = run_hunt(
        windows_case, tmp_path,
        rule("Logons", "{product: windows, service: security}", "{EventID: [4624, 4625]}"),
        rule("Service installed", "{product: windows, service: system}", "{EventID: 7045}"),
        rule("Plink", "{product: windows, category: process_creation}", "{Image|endswith: '\\plink.exe'}"),
        rule("RDP tunnel", "{product: windows, category: network_connection}", "{DestinationPort: 3389}"),
        rule("RDP settings", "{product: windows, category: registry_set}", "{EventType: SetValue}"))
    d = details_by_record(result)
    chrome, svc = "CA_4624_4625_LogonType2_LogonProc_chrome.evtx", "LM_Remote_Service02_7045.evtx"
    # 4625: the sub-status says why (Status 0xc000006d only says "bad user name or password")
    assert d[(chrome, 1)].startswith("Type: 2 - INTERACTIVE ¦ TgtUser: IEUser ¦ SrcComp: MSEDGEWIN10 ¦ SrcIP: - ¦ "
                                     "Status: 0xc000006a - wrong password ¦ AuthPkg: ")
    assert d[(chrome, 2)].startswith("Type: 5 - SERVICE ¦ TgtUser: SYSTEM ¦ SrcComp: - ¦ SrcIP: - ¦ LID: ")
    assert d[(svc, 1)].startswith("Svc: spoolfool ¦ Path: cmd.exe ¦ ")
    plink = d[("DE_sysmon-3-rdp-tun.evtx", 3)]
    assert plink.startswith("Cmdline: plink.exe  10.0.2.18 -P 80 -C -R 127.0.0.3:4444:127.0.0.2:3389 -l test -pw test"
                            " ¦ Proc: C:\\Users\\IEUser\\Desktop\\plink.exe ¦ ")
    assert "ParentCmdline: \"C:\\Windows\\system32\\cmd.exe\" ¦ LID: 0x26656 ¦ Integrity: High" in plink
    tunnel = d[("DE_sysmon-3-rdp-tun.evtx", 5)]
    assert "TgtIP: 127.0.0.2 ¦ TgtPort: 3389" in tunnel and tunnel.startswith("Proto: tcp ¦ SrcIP: 127.0.0.1 ¦ ")
    reg = [v for (f, _), v in d.items() if f == "sysmon_13_rdp_settings_tampering.evtx"]
    assert reg and all(v.startswith("EventType: SetValue ¦ TgtObj: HK") and "Proc: " in v for v in reg)
    # the same text whichever way it is asked for (a whole table, or one finding)
    for f in result.findings.to_pylist():
        assert finding_details(f) == d[(Path(f["src_file"]).name, f["src_record"])]


def test_details_of_zeek_syslog_db_audit_and_flows(tmp_path: Path) -> None:
    case = tmp_path / "case"
    run_ingest([SLIPS / "test9-mixed-zeek-dir" / "conn.log", SLIPS / "test9-mixed-zeek-dir" / "dns.log",
                SLIPS / "test9-mixed-zeek-dir" / "http.log", CISCO / "test-badauth.log",
                DATASETS / "db-audit-samples" / "pgaudit" / "expected" / "pgaudit.out",
                SLIPS / "test11-portscan.binetflow"], case)
    result = run_hunt(
        case, tmp_path,
        rule("conn", "{product: zeek, service: conn}", "{conn_state: SF, id.resp_p: 80}"),
        rule("dns", "{product: zeek, service: dns}", "{query: www.msftncsi.com}"),
        rule("http", "{product: zeek, service: http}", "{uri: /Mozi.m}"),
        rule("badauth", "{product: linux, service: syslog}", "{cisco_mnemonic: BADAUTH}"),
        rule("prepared insert", "{category: database}", "{statement|startswith: 'PREPARE testinsert'}"),
        rule("portscan", "{category: firewall}", "{dst_port: 999}"))
    by_table: dict[str, list[str]] = {}
    for f, d in zip(result.findings.to_pylist(), details_column(result.findings).to_pylist(), strict=True):
        by_table.setdefault(f["table_name"], []).append(d)

    def shown(table: str, text: str, start: bool = False) -> bool:
        return any(d.startswith(text) if start else text in d for d in by_table[table])

    assert shown("zeek_conn", "Proto: tcp ¦ Svc: http ¦ SrcIP: 10.0.2.15 ¦ SrcPort: 49158 ¦ TgtIP: 195.113.232.73 ¦ "
                              "TgtPort: 80 ¦ State: SF ¦ Dur: ", start=True)
    assert not any("Dur: 5.012582999" in d for d in by_table["zeek_conn"])  # a double shown as its value
    assert any("Dur: 5.012583 ¦ OrigBytes: 82 ¦ RespBytes: 925 ¦ History: ShADadfF ¦ UID: C" in d
               for d in by_table["zeek_conn"])
    assert shown("zeek_dns", "Query: www.msftncsi.com ¦ Type: A ¦ Answers: www.msftncsi.com.edgesuite.net, "
                             "a1961.g2.akamai.net, 195.113.232.73, 195.113.232.75 ¦ RCode: NOERROR ¦ SrcIP: 10.0.2.15")
    assert shown("zeek_http", "Method: GET ¦ Host: 103.41.26.58 ¦ URI: /Mozi.m ¦ Status: 200 ¦ UA: Microsoft NCSI ¦ "
                              "SrcIP: ", start=True)
    assert ("Mnemonic: BADAUTH ¦ SrcIP: 192.168.0.1 ¦ SrcPort: 64999 ¦ TgtIP: 224.0.0.18 ¦ TgtPort: 15448 ¦ "
            "Msg: No MD5 digest from 192.168.0.1(64999) to 224.0.0.18(15448) (RST) tableid - 0") in by_table["syslog"]
    # a statement over several lines stays one line; the bound parameters are listed
    assert shown("db_audit", "Stmt: PREPARE testinsert(int, text) AS INSERT INTO test4 VALUES($1, $2) ¦ "
                             "Params: 1, <long param suppressed>")
    assert shown("flow", "Proto: tcp ¦ SrcIP: 10.8.0.69 ¦ SrcPort: 56101 ¦ TgtIP: 14.1.11.113 ¦ TgtPort: 999 ¦ "
                         "Dir: -> ¦ State: S0 ¦ Bytes: 8764 ¦ Pkts: 31 ¦ Dur: 63.82283", start=True)


def test_details_without_a_profile_and_of_correlations() -> None:
    # an event kind no profile knows shows its own fields, in order, at most 10
    event = {"ts": "2025-02-05T01:00:00+00:00", "host": "h", "EventID": 999, "Channel": "Vendor/Operational",
             **{f"F{i}": f"v{i}" for i in range(12)}}
    assert event_details("windows", event) == " ¦ ".join(f"F{i}: v{i}" for i in range(10)) + " ¦ (+2 more fields)"
    assert event_details("zeek_reporter", {"message": "only a message", "src_file": "f"}) == "only a message"
    corr = {"kind": "sigma_correlation", "event_count": 12,
            "event": json.dumps({"value": 12, "group": {"user": "bob"}})}
    assert finding_details(corr) == "Events: 12 ¦ Value: 12 ¦ user: bob"
    assert finding_details({"kind": "sigma", "table_name": "windows", "event": "{not json"}).startswith("(event not")


def finding(i: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {c: None for c in FINDINGS_SCHEMA.names}
    base.update(finding_id=f"f{i}", kind="sigma", rule_id="r1", rule_title="Rule one", rule_path="/r/1.yml",
                level="high", ts=T0 + timedelta(minutes=i), host="WS1", user="bob", table_name="windows",
                event=json.dumps({"EventID": 4688, "Channel": "Security", "CommandLine": "whoami /all"}))
    base.update(over)
    return base


def test_per_rule_and_per_host_counts() -> None:
    rows = [finding(0), finding(1, host="WS2"), finding(2, host="WS2", ts=T0 - timedelta(hours=1)),
            finding(3, rule_id="r2", rule_path="/r/2.yml", rule_title="Rule two", level="critical", host="WS2"),
            finding(4, rule_id="r3", rule_path="/r/3.yml", rule_title="Net", level="low", host=None)]
    table = pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)
    rules = by_rule(table)
    assert [(r.title, r.findings, r.hosts) for r in rules] == [("Rule two", 1, 1), ("Rule one", 3, 2), ("Net", 1, 0)]
    assert rules[1].first == T0 - timedelta(hours=1) and rules[1].last == T0 + timedelta(minutes=1)
    hosts = by_host(table)
    assert [(h.host, h.findings, h.rules, h.by_level) for h in hosts] == [
        ("WS2", 3, 2, {"critical": 1, "high": 2}), ("WS1", 1, 1, {"high": 1}), (None, 1, 1, {"low": 1})]


def test_every_rule_is_accounted_for(windows_case: Path, tmp_path: Path) -> None:
    result = run_hunt(
        windows_case, tmp_path,
        rule("Logons", "{product: windows, service: security}", "{EventID: 4624}", "high"),
        rule("Never", "{product: windows, service: security}", "{EventID: 1}", "high"),
        rule("Zeek http", "{product: zeek, service: http}", "{method: POST}", "high"),
        rule("Kernel file", "{product: windows, category: file_access}", "{TargetFilename|endswith: '.txt'}", "high"),
        rule("Low one", "{product: windows, service: system}", "{EventID: 7045}", "low"),
        min_level="medium")
    acc = account(result)
    assert (acc.loaded, acc.run, acc.matched) == (5, 2, 1)
    assert acc.not_run == {"no zeek_http events in the case": 1, "level below --min-level": 1,
                           "no table serves its logsource: needs the Microsoft-Windows-Kernel-File ETW provider, "
                           "which no supported evidence carries": 1}
    assert acc.run + acc.not_run_total == acc.detection == acc.loaded
    # a rule file that does not compile is counted too, with its reason
    (tmp_path / "broken.yml").write_text("title: broken\ndetection: [unclosed\n")
    with open_case(windows_case) as c:
        mixed = hunt(c, [tmp_path / "rules.yml", tmp_path / "broken.yml"], "medium")
    acc2 = account(mixed)
    assert len(mixed.problems) == 1 and acc2.not_run["could not be compiled (see the rule problems)"] == 1
    assert acc2.run + acc2.not_run_total == acc2.detection + len(mixed.problems)


def test_docs_list_every_details_profile() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "hunt_output.md").read_text(encoding="utf-8")
    missing = [row for row in profile_table() if row not in doc]
    assert not missing, f"docs/hunt_output.md lacks (regenerate with details.profile_table()): {missing[:3]}"


HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\t=x", "\r=x", " =1+1", "\uff1d1+1", "a\nb", "x\x1b[31my",
           "\u202eevil", "plain", '"quoted", comma', "{\"k\": 1}", "", "C:\\Windows\\cmd.exe", "ｗｉｄｅ", "a ¦ b",
           "¦=x", "a\u2028b", "x\x85y"]


def test_csv_cells_are_what_neutralize_makes_of_them() -> None:
    # the CSV writer skips neutralize() for cells that cannot change: hold it to the helper's result
    rows = [finding(i, user=v, host=v, event=json.dumps({"EventID": 4688, "Channel": "Security", "CommandLine": v}))
            for i, v in enumerate(HOSTILE)]
    out = io.BytesIO()
    pacsv.write_csv(findings_out.csv_table(pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)), out)
    back = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8"), newline="")))
    assert len(back) == len(HOSTILE)
    for r, v in zip(back, HOSTILE, strict=True):
        assert r["user"] == neutralize(v) and r["host"] == neutralize(v)
        assert r["details"] == neutralize(event_details("windows", {"EventID": 4688, "Channel": "Security",
                                                                     "CommandLine": v}))
        assert json.loads(r["event"])["CommandLine"] == v  # JSON inside the cell survives the CSV quoting
        assert r["ts"].endswith("Z") and r["attack"] == ""


def winlogbeat(minute: int, eid: int, channel: str, **data: str) -> str:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return json.dumps({"@timestamp": ts, "winlog": {
        "channel": channel, "event_id": eid, "provider_name": "Microsoft-Windows-Security-Auditing",
        "computer_name": "WS1", "record_id": minute, "event_data": data}})


def bs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "250"})


def test_hunt_outputs_with_hostile_values(tmp_path: Path) -> None:
    evil_cmd = "cmd /c \"=HYPERLINK(1)\"\n\x1b[2Jpart two\u202e"
    ev = tmp_path / "ev.json"
    ev.write_text("\n".join([
        winlogbeat(1, 4688, "Security", NewProcessName="C:\\Windows\\System32\\cmd.exe", CommandLine=evil_cmd,
                   SubjectUserName="=evil", **{"timestamp": "forged", "__ts_timeline_id": "9", "a.b": "dotted"}),
        winlogbeat(2, 4688, "Security", NewProcessName="C:\\Windows\\System32\\whoami.exe", CommandLine="whoami",
                   SubjectUserName="bob"),
    ]) + "\n")
    rules = tmp_path / "r.yml"
    rules.write_text(rule("Process", "{product: windows, category: process_creation}", "{Image|endswith: '.exe'}")
                     + "---\n" + rule("Zeek", "{product: zeek, service: http}", "{method: POST}"))
    case = tmp_path / "case"
    table = bs("hunt", str(ev), "--rules", str(rules), "--case", str(case), *SIGMA_ONLY)
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "\\x1b[2J" in table.stdout  # shown, not obeyed
    assert "Cmdline: cmd /c \"=HYPERLINK(1)\" \\x1b[2Jpart two" in table.stdout  # one line
    # after the findings: per rule, per host, the rules not run and why
    assert table.stdout.index("Findings per rule") > table.stdout.index("Cmdline:")
    assert "Findings per host" in table.stdout and "no zeek_http events in the case" in table.stdout
    assert "Rules: 2 loaded; 1 run, 1 matched; 1 not run:" in table.stdout

    piped = bs("hunt", str(case), "--rules", str(rules), "--format", "csv", *SIGMA_ONLY)
    assert piped.returncode == 0, piped.stderr
    rows = list(csv.DictReader(io.StringIO(piped.stdout, newline="")))  # stdout is only the CSV
    assert len(rows) == 2 and "Findings per rule" in piped.stderr
    evil = next(r for r in rows if "HYPERLINK" in r["details"])
    assert evil["user"] == neutralize("=evil")
    assert evil["details"].startswith("Cmdline: cmd /c \"=HYPERLINK(1)\" ")  # newline collapsed inside details
    assert json.loads(evil["event"])["CommandLine"] == evil_cmd  # the event keeps it as it was

    ts_file = tmp_path / "ts.jsonl"
    r = bs("hunt", str(case), "--rules", str(rules), "--format", "timesketch", "--out", str(ts_file), "--json",
           *SIGMA_ONLY)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["rules"]["matched"] == 1 and summary["rules"]["not_run"] == 1
    assert summary["not_run"] == {"no zeek_http events in the case": 1}
    assert [(x["title"], x["findings"], x["hosts"]) for x in summary["by_rule"]] == [("Process", 2, 1)]
    assert [(x["host"], x["findings"]) for x in summary["by_host"]] == [("WS1", 2)]
    events = [json.loads(x) for x in ts_file.read_text().splitlines()]
    first = next(e for e in events if e.get("CommandLine") == evil_cmd)
    assert {"message", "datetime", "timestamp", "timestamp_desc"} <= set(first)
    assert first["datetime"].startswith("2025-02-05T01:01") and first["timestamp"] == 1738717260000000
    assert first["NewProcessName"] == "C:\\Windows\\System32\\cmd.exe" and first["EventID"] == 4688
    assert first["event_timestamp"] == "forged" and first["ts_timeline_id"] == "9" and first["a_b"] == "dotted"
    assert first["details"].startswith("Cmdline: ") and "Cmdline: " in first["message"]
    assert "event" not in first and first["rule_title"] == "Process" and first["host"] == "WS1"


def test_out_file_is_replaced_whole_and_jsonl_has_details(windows_case: Path, tmp_path: Path) -> None:
    result = run_hunt(windows_case, tmp_path, rule("Logons", "{product: windows, service: security}",
                                                   "{EventID: [4624, 4625]}"))
    out = tmp_path / "f.jsonl"
    out.write_text("old content that must go\n" * 1000)
    findings_out.write(result.findings, "jsonl", out)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == result.findings.num_rows and all(x["details"].startswith("Type: ") for x in lines)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".f.jsonl")] == []  # no temporary left
    with pytest.raises(BreachscopeError, match=r"cannot write .*no-such-folder"):
        findings_out.write(result.findings, "csv", tmp_path / "no-such-folder" / "f.csv")


def test_summary_logons_real_evtx(tmp_path: Path) -> None:
    case = tmp_path / "case"
    run_ingest([DATASETS / "deepbluecli-evtx" / "evtx" / "smb-password-guessing-security.evtx",
                EAS / "Credential Access" / "CA_4624_4625_LogonType2_LogonProc_chrome.evtx",
                EAS / "Lateral Movement" / "LM_ScheduledTask_ATSVC_target_host.evtx"], case)
    r = bs("summary", "logons", "--case", str(case), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["events"] == {"4624": 9, "4625": 3562, "4776": 4}
    failed = [x for x in out["rows"] if x["result"] == "failure"]
    guess = failed[0]  # the most events first
    assert (guess["target_user"], guess["target_host"], guess["logon_type"], guess["source_ip"], guess["count"]) == (
        "Administrator", "DESKTOP-M5SN04R", "3 - NETWORK", "192.168.198.149", 3559)
    assert guess["source_host_count"] == 3559 and len(guess["source_hosts"]) == 20  # random names: one row
    assert guess["failure_reasons"] == ["0xc000006a - wrong password", "0xc0000072 - account disabled"]
    assert guess["first_seen"].startswith("2016-09-19T16:50") and guess["last_seen"].startswith("2016-09-19T16:52")
    chrome = next(x for x in failed if x["target_user"] == "IEUser")
    assert (chrome["logon_type"], chrome["source_hosts"], chrome["failure_reasons"], chrome["count"]) == (
        "2 - INTERACTIVE", ["MSEDGEWIN10"], ["0xc000006a - wrong password"], 1)
    ok = [x for x in out["rows"] if x["result"] == "success"]
    assert any(x["target_user"] == "IEUser" and x["logon_type"] == "2 - INTERACTIVE" and x["count"] == 2 for x in ok)
    ntlm = [x for x in out["rows"] if x["logon_type"] == "NTLM validation"]
    assert ntlm and all(x["event_ids"] == [4776] for x in ntlm)
    assert sum(x["count"] for x in out["rows"]) == sum(out["events"].values())
    table = bs("summary", "logons", "--case", str(case))
    assert table.returncode == 0 and "Failed logons: 3,562 events, 4 combinations" in table.stdout
    assert "3,559 names: " in table.stdout


def test_summary_logons_hostile_names_and_cases_without_logons(tmp_path: Path) -> None:
    ev = tmp_path / "ev.json"
    ev.write_text("\n".join([
        winlogbeat(1, 4625, "Security", TargetUserName="=HYPERLINK(\"x\")", TargetDomainName="D", LogonType="3",
                   IpAddress="::ffff:10.0.0.9", WorkstationName="WS\x1b[31m9", Status="0xC000006D",
                   SubStatus="0xC0000064"),
        winlogbeat(2, 4776, "Security", TargetUserName="alice", Workstation="WS7", Status="0x0"),
        winlogbeat(3, 4776, "Security", TargetUserName="alice", Workstation="WS7", Status="0xc000006a"),
    ]) + "\n")
    case = tmp_path / "case"
    run_ingest([ev], case)
    r = bs("summary", "logons", "--case", str(case), "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
    evil = next(x for x in rows if "HYPERLINK" in x["target_user"])
    assert evil["target_user"] == neutralize("=HYPERLINK(\"x\")") and evil["source_ip"] == "10.0.0.9"
    assert evil["failure_reasons"] == "0xc0000064 - unknown user"  # the sub-status, named whatever its case
    ntlm = sorted((x["result"], x["failure_reasons"]) for x in rows if x["target_user"] == "alice")
    assert ntlm == [("failure", "0xc000006a - wrong password"), ("success", "")]
    table = bs("summary", "logons", "--case", str(case))
    assert "\x1b" not in table.stdout and "WS\\x1b[31m9" in table.stdout

    sysmon_only = tmp_path / "sysmon"
    run_ingest([EAS / "Command and Control" / "DE_sysmon-3-rdp-tun.evtx"], sysmon_only)
    r = bs("summary", "logons", "--case", str(sysmon_only))
    assert r.returncode == 1 and "no logon events" in r.stderr and "Microsoft-Windows-Sysmon/Operational" in r.stderr
    zeek_only = tmp_path / "zeek"
    run_ingest([SLIPS / "test9-mixed-zeek-dir" / "dns.log"], zeek_only)
    with open_case(zeek_only) as c, pytest.raises(NoLogonEvents, match=r"no Windows events in this case \(it holds "
                                                                        r"239 zeek events\)"):
        summarize(c)


def test_output_formats_are_one_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--format's choices are the registry's entries; a new entry is written like the others, atomically."""
    assert findings_out.FORMATS == ("table", "csv", "jsonl", "timesketch")
    rows = pa.Table.from_pylist([{"finding_id": "f1", "kind": "sigma", "rule_title": "T"}], schema=FINDINGS_SCHEMA)
    counted = findings_out.OutputFormat(stream=lambda t, fh: fh.write(f"{t.num_rows} finding(s)\n".encode()))
    monkeypatch.setitem(findings_out.FORMAT_REGISTRY, "count", counted)
    out = tmp_path / "n.txt"
    findings_out.write(rows, "count", out)
    assert out.read_text() == "1 finding(s)\n" and [p.name for p in tmp_path.iterdir()] == ["n.txt"]
    with pytest.raises(ValueError, match="not both or neither"):
        findings_out.OutputFormat()

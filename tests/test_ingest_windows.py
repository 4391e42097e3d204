"""Windows evidence: every EVTX record the parser yields, the OTRF archives, Winlogbeat and Splunk JSON."""

from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from evtx import PyEvtxParser

from breachscope.engines.duckdb_case import open_case
from breachscope.model.case import DUPLICATE, INGESTED
from tests.conftest import DATASETS, run_ingest

EVTX_FOLDERS = ("evtx-attack-samples", "deepbluecli-evtx", "evtx-parser-samples")


def _parser_yield(path: Path) -> int:
    """Records the evtx parser yields when driven past bad records and chunks (the reference)."""
    n = 0
    try:
        it = PyEvtxParser(str(path)).records_json()
    except (RuntimeError, OSError):
        return 0
    while True:
        try:
            next(it)
        except StopIteration:
            return n
        except RuntimeError:
            continue
        n += 1


@pytest.fixture(scope="module")
def evtx_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    case = tmp_path_factory.mktemp("evtx") / "case"
    summary = run_ingest([DATASETS / f for f in EVTX_FOLDERS], case, jobs=2)
    return summary, case


def test_every_evtx_record_is_stored_once(evtx_case: tuple[object, Path]) -> None:
    summary, case = evtx_case
    files = sorted(p for f in EVTX_FOLDERS for p in (DATASETS / f).rglob("*.evtx"))
    by_sha: dict[str, int] = {}
    total = 0
    for p in files:
        n = _parser_yield(p)
        total += n
        by_sha[hashlib.sha256(p.read_bytes()).hexdigest()] = n
    assert total == 34_747  # what the issue counts: every record of every file, duplicates included
    with open_case(case) as c:
        stored = c.count("windows")
        per_file = dict(c.rows("SELECT src_sha256, count(*) FROM windows GROUP BY 1"))
        dup_rows = c.one("SELECT count(*) FROM (SELECT src_sha256, src_record, count(*) n FROM windows "
                         "GROUP BY 1, 2 HAVING n > 1)")
    assert stored == sum(by_sha.values())  # identical files are stored once
    assert {k: v for k, v in by_sha.items() if v} == per_file
    assert dup_rows == (0,)
    dups = [f for f in summary.files if f.status == DUPLICATE and f.path.endswith(".evtx")]  # type: ignore[attr-defined]
    assert any(f.path.endswith("new-user-security.evtx") for f in dups)


def test_corrupt_evtx_are_reported_not_fatal(evtx_case: tuple[object, Path]) -> None:
    summary, _case = evtx_case
    entries = {Path(f.path).name: f for f in summary.files}  # type: ignore[attr-defined]
    bad_chunk = entries["sample_with_a_bad_chunk_magic.evtx"]
    assert bad_chunk.status == INGESTED and bad_chunk.records > 0
    assert bad_chunk.rejected == 2
    assert [r["location"] for r in bad_chunk.first_rejects] == ["chunk 6", "chunk 10"]
    assert entries["sysmon.evtx"].rejected == 8
    assert sum(f.rejected for f in summary.files) == 17  # type: ignore[attr-defined]


def test_evtx_fields_follow_sigma_names(evtx_case: tuple[object, Path]) -> None:
    _summary, case = evtx_case
    with open_case(case) as c:
        row = c.one("""SELECT Image, CommandLine, ParentImage, Provider_Name, Channel, host, "user"
                       FROM windows WHERE EventID = 1 AND Channel = 'Microsoft-Windows-Sysmon/Operational'
                       AND CommandLine IS NOT NULL LIMIT 1""")
        assert row is not None and all(v is not None for v in row[:5])
        logon = c.one("""SELECT TargetUserName, "user", IpAddress, src_ip, src_port, LogonType
                         FROM windows WHERE EventID = 4624 AND Channel = 'Security'
                         AND IpAddress NOT IN ('-', '') AND IpPort NOT IN ('-', '0') LIMIT 1""")
        assert logon is not None
        assert logon[0] == logon[1] and logon[2].removeprefix("::ffff:") == logon[3]
        assert isinstance(logon[4], int) and logon[5].isdigit()
        # fields that are not promoted to columns are kept in `extra`
        kept = c.one("""SELECT count(*) FROM windows WHERE EventID = 4624
                        AND extra['ElevatedToken'] IS NOT NULL""")
        assert kept is not None and kept[0] > 0
        # the event time is the System TimeCreated, in UTC (Sysmon UtcTime is the act, seconds earlier)
        # (a zone error would put every event hours off; 3 real samples have broken clocks)
        off, total = c.one("""SELECT count(*) FILTER (abs(epoch(ts) - epoch(CAST(UtcTime AS TIMESTAMP))) > 600),
                              count(*) FROM windows WHERE EventID = 1 AND UtcTime IS NOT NULL""")
        assert total > 1000 and off <= 3


# --- JSON lines ----------------------------------------------------------------------------------
OTRF = DATASETS / "otrf-security-datasets" / "datasets" / "atomic" / "windows"


def _json_lines_in_archive(path: Path) -> int:
    n = 0
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith(".json") and "__MACOSX" not in name:
                    n += sum(1 for line in z.open(name) if line.strip())
    else:
        with tarfile.open(path) as t:
            for m in t:
                f = t.extractfile(m) if m.isfile() else None
                if f is not None and m.name.endswith(".json"):
                    n += sum(1 for line in f if line.strip())
    return n


def test_otrf_archives_store_every_json_line(tmp_path: Path) -> None:
    picks = [OTRF / "lateral_movement" / "host" / "covenant_sharpsc_create_dcerpc_smb_svcctl.zip",
             OTRF / "defense_evasion" / "host" / "empire_enable_rdp.tar.gz",  # Winlogbeat 6, truncated gzip
             OTRF / "credential_access" / "host" / "empire_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip"]
    summary = run_ingest(picks, tmp_path / "case")
    assert summary.rejected == 0
    with open_case(tmp_path / "case") as c:
        for p in picks:
            got = c.one("SELECT count(*) FROM windows WHERE src_file LIKE ? || '!%'", [str(p)])
            assert got == (_json_lines_in_archive(p),), p.name
        # NXLog EventTime is local; ts must equal Sysmon's own UtcTime (zone offset inferred per file)
        skew = c.one("""SELECT max(abs(epoch(ts) - epoch(CAST(UtcTime AS TIMESTAMP)))) FROM windows
                        WHERE source_format = 'nxlog' AND EventID = 1 AND UtcTime IS NOT NULL""")
        assert skew is not None and skew[0] is not None and skew[0] < 600  # a zone error is hours
        assert c.one("SELECT count(*) FROM windows WHERE Channel = 'security'") == (0,)
        w6 = c.one("""SELECT count(*), count(EventID), count(Channel), count(Image) FROM windows
                      WHERE source_format = 'winlogbeat'""")
        assert w6 is not None and w6[0] > 0 and w6[0] == w6[1] == w6[2] and w6[3] > 0


def test_winlogbeat_ecs_and_splunk_exports(tmp_path: Path) -> None:
    ecs = {"@timestamp": "2025-02-05T01:02:03.456Z", "host": {"name": "ws01"},
           "winlog": {"channel": "security", "event_id": "4624", "provider_name": "Microsoft-Windows-Security-Auditing",
                      "computer_name": "WS01.corp.local", "record_id": 77, "keywords": ["Audit Success"],
                      "event_data": {"TargetUserName": "alice", "IpAddress": "::ffff:10.0.0.5", "IpPort": "50123",
                                     "LogonType": "3", "ElevatedToken": "%%1842"}},
           "message": "An account was successfully logged on."}
    dotted = {"@timestamp": "2025-02-05T01:02:04Z", "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
              "winlog.event_id": 1, "winlog.computer_name": "WS01", "winlog.event_data.Image": "C:\\x.exe",
              "winlog.event_data.CommandLine": "x.exe -a"}
    xml = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
           "<Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625}'/><EventID>4688</EventID>"
           "<Level>0</Level><TimeCreated SystemTime='2025-02-05T01:02:05.000000Z'/><EventRecordID>9</EventRecordID>"
           "<Execution ProcessID='4' ThreadID='8'/><Channel>Security</Channel><Computer>DC1</Computer></System>"
           "<EventData><Data Name='NewProcessName'>C:\\Windows\\cmd.exe</Data>"
           "<Data Name='CommandLine'>cmd /c whoami</Data></EventData></Event>")
    splunk = {"preview": False, "result": {"_time": "2025-02-05T10:02:05.000+09:00", "_raw": xml, "host": "DC1"}}
    f = tmp_path / "export.json"
    f.write_text("\n".join(json.dumps(x) for x in (ecs, dotted, splunk)) + "\n", encoding="utf-8")
    summary = run_ingest([f], tmp_path / "case")
    assert summary.records == 3 and summary.rejected == 0
    with open_case(tmp_path / "case") as c:
        rows = c.rows("""SELECT source_format, EventID, Channel, host, "user", src_ip, src_port, Image,
                               CommandLine, extra['NewProcessName'], extra['ElevatedToken'], src_record,
                               strftime(ts, '%Y-%m-%dT%H:%M:%S')
                        FROM windows ORDER BY src_record""")
    assert rows[0][:7] == ("winlogbeat", 4624, "Security", "WS01.corp.local", "alice", "10.0.0.5", 50123)
    assert rows[0][10] == "%%1842" and rows[0][12] == "2025-02-05T01:02:03"
    assert rows[1][1:3] == (1, "Microsoft-Windows-Sysmon/Operational") and rows[1][7:9] == ("C:\\x.exe", "x.exe -a")
    assert rows[2][0] == "splunk_xml" and rows[2][1] == 4688 and rows[2][8] == "cmd /c whoami"
    assert rows[2][9] == "C:\\Windows\\cmd.exe" and rows[2][12] == "2025-02-05T01:02:05"
    assert [r[11] for r in rows] == [1, 2, 3]

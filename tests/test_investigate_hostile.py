"""Evidence is written by attackers: host names, accounts and command lines that carry SQL, markup and
terminal escapes go through `investigate` as data (never SQL, never markup, never raw controls on the
terminal), and a case with nothing to find says so and why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from breachscope.model.case import CaseLayout
from breachscope.model.incident import Incident
from breachscope.model.text import CONTROL_POINTS
from tests.conftest import run_ingest

ESC, BEL = "\x1b", "\x07"
HOST = "WEB1'); DROP TABLE windows; --"
USER = f"<script>alert(1)</script>{ESC}]8;;http://evil.example/{BEL}x{ESC}]8;;{BEL}"
COMMAND = f"cmd.exe /c whoami \"><img src=x onerror=alert(1)> {ESC}[2J javascript:alert(1)"


def bs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def _event(n: int, **fields: object) -> str:
    return json.dumps({"Channel": "Security", "SourceName": "Microsoft-Windows-Security-Auditing",
                       "RecordNumber": n, **fields}) + "\n"


def test_hostile_values_stay_data(tmp_path: Path) -> None:
    ev = tmp_path / "security.json"
    ev.write_text(_event(1, EventID=4688, Hostname=HOST, **{"@timestamp": "2025-02-05T01:00:00.000Z"},
                         ParentImage="C:\\Windows\\System32\\inetsrv\\w3wp.exe",
                         Image="C:\\Windows\\System32\\cmd.exe", CommandLine=COMMAND, SubjectUserName=USER)
                  + _event(2, EventID=4688, Hostname="WS2", **{"@timestamp": "2025-02-05T02:00:00.000Z"},
                           ParentImage="C:\\Windows\\explorer.exe", Image="C:\\Windows\\System32\\notepad.exe"))
    run_ingest([ev], tmp_path / "case")
    done = bs("investigate", "--case", str(tmp_path / "case"))
    assert done.returncode == 0, done.stderr
    assert not [c for c in done.stdout if ord(c) in CONTROL_POINTS and c not in "\n"]
    assert "\\x1b[2J" in done.stdout  # the terminal escape is shown as text
    inc = Incident.read(CaseLayout(tmp_path / "case").incident)
    top = inc.hosts[0]
    assert top.name == HOST.split(".")[0] and top.role == "entry"  # the name is data, compared and kept as written
    assert any(COMMAND in r for r in top.reasons)  # the JSON document keeps the value unchanged
    # the evidence table is still there: nothing of the name was run as SQL
    count = bs("query", "--case", str(tmp_path / "case"), "--format", "csv", "SELECT count(*) FROM windows")
    assert count.returncode == 0 and count.stdout.splitlines()[-1] == "2"


def test_a_case_with_nothing_to_find_says_why(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n")
    run_ingest([log], tmp_path / "case")
    done = bs("investigate", "--case", str(tmp_path / "case"), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["hosts"] == [] and doc["suspects"]["sessions"] == []
    assert doc["story"][0].startswith("No host reached the suspicion threshold")
    coverage = {c["detector"]: c for c in doc["coverage"]}
    assert coverage["db_sessions"]["status"] == "skipped" and "db_audit" in coverage["db_sessions"]["note"]
    assert coverage["sigma"]["status"] == "skipped" and "hunt" in coverage["sigma"]["note"]


def test_a_case_with_alerts_from_an_earlier_format_still_opens(tmp_path: Path) -> None:
    """An artifact column added later (here `files`) is NULL for files written before it, not an error."""
    import pyarrow.parquet as pq

    from breachscope.engines.duckdb_case import open_case

    ev = tmp_path / "security.json"
    ev.write_text(_event(1, EventID=4688, Hostname="WEB1", **{"@timestamp": "2025-02-05T01:00:00.000Z"},
                         ParentImage="C:\\Windows\\System32\\inetsrv\\w3wp.exe",
                         Image="C:\\Windows\\System32\\cmd.exe", CommandLine="cmd.exe /c whoami"))
    run_ingest([ev], tmp_path / "case")
    assert bs("investigate", "--case", str(tmp_path / "case")).returncode == 0
    layout = CaseLayout(tmp_path / "case")
    for path in [layout.alerts, *layout.runs.glob("*/investigation/alerts.parquet")]:
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["files"]), path)
    with open_case(tmp_path / "case") as case:
        assert case.rows("SELECT kind, files FROM alerts") == [("process_tree", None)]


def test_a_document_program_starting_a_shell_marks_the_entry(tmp_path: Path) -> None:
    """Phishing: a mail or office program that starts a shell is the way in, whatever the host is called."""
    ev = tmp_path / "security.json"
    ev.write_text(_event(1, EventID=4688, Hostname="LAPTOP-7", **{"@timestamp": "2025-03-01T09:00:00.000Z"},
                         ParentImage="C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
                         Image="C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                         CommandLine="powershell -enc SQBFAFgA", SubjectUserName="j.doe")
                  + _event(2, EventID=4688, Hostname="LAPTOP-8", **{"@timestamp": "2025-03-01T09:05:00.000Z"},
                           ParentImage="C:\\Windows\\explorer.exe",
                           Image="C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"))
    run_ingest([ev], tmp_path / "case")
    done = bs("investigate", "--case", str(tmp_path / "case"), "--json")
    assert done.returncode == 0, done.stderr
    hosts = json.loads(done.stdout)["hosts"]
    assert [(h["name"], h["role"]) for h in hosts] == [("LAPTOP-7", "entry")]
    assert "WINWORD.EXE".lower() in hosts[0]["reasons"][0].lower()

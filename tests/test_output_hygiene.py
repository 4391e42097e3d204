"""Output hygiene (issue 9 item 6): evidence text can neither drive the terminal nor a spreadsheet.

Hostile values are ingested from evidence and come back out through the real commands (query and
hunt in every format, ingest's notes on stderr); the neutralization itself (breachscope.model.text)
is checked against the cases of the issue and, in Python and in DuckDB SQL, against random text.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breachscope.model import text as T
from tests.conftest import run_ingest

ESC, BEL, CSI, RLO = "\x1b", "\x07", "\x9b", "\u202e"
HOSTILE = {
    "Image": f"{ESC}]8;;http://evil.example/{BEL}click{ESC}]8;;{BEL}{ESC}[2J",  # OSC 8 link, clear screen
    "CommandLine": f"cmd /c {RLO}txt.exe{CSI}31m",  # bidi override, C1 CSI
    "ParentImage": " =1+1",  # leading space
    "TargetUserName": "\uff1d1+1",  # full-width equals
    "SubjectUserName": "note\n=1+1",  # formula after an embedded newline
    "ParentCommandLine": "\t@SUM(A1)",
}
#: Raw characters that must never reach an output (TAB and LF are allowed where a format keeps them).
FORBIDDEN = [chr(c) for c in T.CONTROL_POINTS]
RULE = """
title: Process creation
id: 20000000-0000-0000-0000-000000000001
status: test
level: high
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4688}
  condition: sel
"""


def bs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


def raw_controls(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if c in FORBIDDEN})


def unsafe_cells(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet could run: a formula start on any line, without the leading apostrophe."""
    return [c for r in rows for c in r if not c.startswith("'") and T._FORMULA.search(c)]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    ev = root / "ev.json"
    ev.write_text(json.dumps({"EventID": 4688, "Channel": "Security", "Hostname": "WS1",
                              "SourceName": "Microsoft-Windows-Security-Auditing",
                              "@timestamp": "2025-02-05T01:00:00.000Z", "RecordNumber": 1, **HOSTILE}) + "\n")
    rules = root / "rule.yml"
    rules.write_text(RULE)
    run_ingest([ev], root / "case")
    return {"case": root / "case", "rules": rules, "root": root}


def test_query_csv_neutralizes_controls_and_formulas(hostile: dict[str, Path]) -> None:
    cols = ", ".join(HOSTILE)
    r = bs("query", "--case", str(hostile["case"]), f"SELECT {cols} FROM windows", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert raw_controls(r.stdout) == [] and BEL not in r.stdout and ESC not in r.stdout
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == list(HOSTILE) and unsafe_cells(rows) == []
    cell = dict(zip(rows[0], rows[1], strict=True))
    assert cell["Image"] == "\\x1b]8;;http://evil.example/\\x07click\\x1b]8;;\\x07\\x1b[2J"
    assert cell["CommandLine"] == "cmd /c \\u202etxt.exe\\x9b31m"
    assert cell["ParentImage"] == "' =1+1" and cell["TargetUserName"] == "'\uff1d1+1"
    assert cell["SubjectUserName"] == "'note\n=1+1" and cell["ParentCommandLine"] == "'\t@SUM(A1)"


def test_query_table_and_json(hostile: dict[str, Path]) -> None:
    cols = ", ".join(HOSTILE)
    table = bs("query", "--case", str(hostile["case"]), f"SELECT {cols} FROM windows")
    assert table.returncode == 0 and raw_controls(table.stdout.replace("\n", "")) == []
    assert "\\u202e" in table.stdout and "\\x9b" in table.stdout
    js = bs("query", "--case", str(hostile["case"]), f"SELECT {cols} FROM windows", "--json")
    assert js.returncode == 0 and raw_controls(js.stdout.replace("\n", "")) == []
    assert "\\u202e" in js.stdout and "\\u009b" in js.stdout
    assert json.loads(js.stdout) == [HOSTILE]  # escaped in the text, unchanged as data


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "timesketch", "table"])
def test_hunt_outputs(hostile: dict[str, Path], fmt: str) -> None:
    r = bs("hunt", str(hostile["case"]), "--rules", str(hostile["rules"]), "--format", fmt)
    assert r.returncode == 0, r.stderr
    text = r.stdout if fmt == "csv" else r.stdout.replace("\n", "")
    assert raw_controls(text) == [] and raw_controls(r.stderr.replace("\n", "")) == []
    if fmt == "csv":
        assert unsafe_cells(list(csv.reader(io.StringIO(r.stdout)))) == []
    elif fmt != "table":
        events = [json.loads(line) for line in r.stdout.splitlines()]
        assert len(events) == 1 and RLO in json.dumps(events[0], ensure_ascii=False)  # the data is intact


def test_error_messages_quoting_evidence_cannot_forge_lines(hostile: dict[str, Path]) -> None:
    for col in ("SubjectUserName", "CommandLine", "Image"):  # DuckDB's error quotes the value
        r = bs("query", "--case", str(hostile["case"]), f"SELECT {col}::INT FROM windows")
        assert r.returncode == 1 and r.stderr.startswith("error: query failed: Conversion Error"), r.stderr
        assert all(line.startswith("  ") for line in r.stderr.splitlines()[1:]), r.stderr  # no line of its own
        assert raw_controls(r.stderr.replace("\n", "")) == []


def test_file_names_are_quoted_on_stderr(tmp_path: Path) -> None:
    folder = tmp_path / "ev"
    folder.mkdir()
    forged = "x.bin\nerror: everything is fine"
    (folder / forged).write_bytes(bytes(range(256)) * 4)  # found in a folder, no reader: listed on stderr
    bad = "bad\rnote: forged.json"
    (folder / bad).write_text(json.dumps({"EventID": 1, "Channel": "Security", "Hostname": "WS1",
                                          "@timestamp": "2025-02-05T01:00:00Z", "RecordNumber": 1}) + "\n{broken\n")
    r = bs("ingest", str(folder), "--case", str(tmp_path / "case"))
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert not any(line.startswith(("error: everything", "note: forged")) for line in lines)
    assert "x.bin\\nerror: everything is fine'" in r.stderr and "bad\\rnote: forged.json'" in r.stderr
    assert raw_controls(r.stderr.replace("\n", "")) == []


@pytest.mark.parametrize(("cell", "expected"), [
    (" =1+1", "' =1+1"), ("\uff1d1+1", "'\uff1d1+1"), ("\n=1+1", "'\n=1+1"), ("a\n=1", "'a\n=1"),
    ("\u3000\uff0bx", "'\u3000\uff0bx"), ("\uff20x", "'\uff20x"), ("\uff0d1", "'\uff0d1"), ("-1", "'-1"),
    ("\t@x", "'\t@x"), ("x\r+1", "x\\r+1"), ("x\r\n+1", "'x\\r\n+1"), ("plain", "plain"), ("a=b", "a=b"), ("", ""),
    (f"{ESC}[31m", "\\x1b[31m"), (f"a{RLO}b", "a\\u202eb"), ("\u2066x\u2069", "\\u2066x\\u2069"),
])
def test_csv_text_cases(cell: str, expected: str) -> None:
    assert T.csv_text(cell) == expected


def test_one_line_quoted_and_json() -> None:
    assert T.one_line("a\nb\tc\x85") == "a\\nb\\tc\\x85"
    assert T.quoted("it's\\\n") == "'it\\'s\\\\\\n'"
    text = T.json_text({"k": f"{CSI}{RLO}\x7f\u2028日本{ESC}"})
    assert raw_controls(text) == [] and json.loads(text) == {"k": f"{CSI}{RLO}\x7f\u2028日本{ESC}"}
    assert "日本" in text  # readable, not \\u-escaped


_con = duckdb.connect()
_con.execute(T.CSV_MACROS_SQL)
ALPHABET = st.sampled_from([*"ab =+-@\t\n\r'\"", *map(chr, [0, 0x1B, 0x7F, 0x85, 0x9F, 0x200E, 0x202E, 0x2066,
                                                           0x2028, 0x3000, 0xFF1D, 0xFF0B, 0x00A0]), "日"])


@settings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, max_size=12))
def test_sql_neutralization_equals_python(value: str) -> None:
    """CSV written by DuckDB (query --format csv) is neutralized exactly like CSV written by Python."""
    assert _con.execute(f"SELECT {T.csv_sql('?')}", [value]).fetchone()[0] == T.csv_text(value)

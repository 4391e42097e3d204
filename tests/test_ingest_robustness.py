"""Hostile and damaged input: nothing lost, nothing doubled, never a traceback."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from breachscope.engines.duckdb_case import open_case
from breachscope.model.case import EMPTY, EXPANDED, INGESTED, UNRECOGNIZED
from tests.conftest import run_ingest


def event(i: int, **data: str) -> dict[str, object]:
    return {"EventID": 4688, "Channel": "Security", "Hostname": "WS1",
            "SourceName": "Microsoft-Windows-Security-Auditing",
            "@timestamp": f"2025-02-05T01:00:{i % 60:02d}.000Z", "RecordNumber": i, **data}


def lines(n: int, **data: str) -> list[str]:
    return [json.dumps(event(i, **data)) for i in range(1, n + 1)]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_encodings_line_endings_and_bad_lines(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "bom.json").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines(3)).encode())
    (ev / "crlf.json").write_bytes("\r\n".join(lines(4)).encode() + b"\r\n")
    (ev / "utf16.json").write_bytes("\n".join(lines(5, CommandLine="ｃｍｄ 日本語")).encode("utf-16"))
    bad_utf8 = lines(2)
    bad = json.dumps(event(3, CommandLine="PLACEHOLDER")).encode().replace(b"PLACEHOLDER", b"caf\xe9 \xff")
    (ev / "badutf8.json").write_bytes("\n".join(bad_utf8).encode() + b"\n" + bad + b"\n")
    mixed = [*lines(2), "{not json at all", "", "[1, 2, 3]", *lines(2)]
    (ev / "mixed.json").write_text("\n".join(mixed) + "\n")
    (ev / "empty.json").write_bytes(b"")
    (ev / "blank.json").write_bytes(b"\n\n  \n")
    summary = run_ingest([ev], tmp_path / "case")
    by_name = {Path(f.path).name: f for f in summary.files}
    assert {n: (f.status, f.records, f.rejected) for n, f in by_name.items()} == {
        "bom.json": (INGESTED, 3, 0), "crlf.json": (INGESTED, 4, 0), "utf16.json": (INGESTED, 5, 0),
        "badutf8.json": (INGESTED, 3, 0), "mixed.json": (INGESTED, 4, 2), "empty.json": (EMPTY, 0, 0),
        "blank.json": (EMPTY, 0, 0),
    }
    assert [r["location"] for r in by_name["mixed.json"].first_rejects] == ["line 3", "line 5"]
    assert any("U+FFFD" in w for w in by_name["badutf8.json"].warnings)
    with open_case(tmp_path / "case") as c:
        assert c.scalar("SELECT CommandLine FROM windows WHERE src_file LIKE '%utf16.json' LIMIT 1") == "ｃｍｄ 日本語"
        assert c.scalar("SELECT CommandLine FROM windows WHERE src_file LIKE '%badutf8.json' AND src_record = 3") \
            == "caf\ufffd \ufffd"
        assert c.rows("SELECT src_record FROM windows WHERE src_file LIKE '%mixed.json' ORDER BY 1") == [
            (1,), (2,), (6,), (7,)]
        assert c.scalar("SELECT count(*) FROM rejects") == 2


def test_huge_line_and_truncated_gzip(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    big = "A" * (10 * 1024 * 1024)
    (ev / "big.json").write_text(json.dumps(event(1, CommandLine=big)) + "\n")
    payload = ("\n".join(lines(2000)) + "\n").encode()
    gz = gzip.compress(payload)
    (ev / "cut.json.gz").write_bytes(gz[: len(gz) // 2])
    summary = run_ingest([ev], tmp_path / "case")
    by_name = {Path(f.path).name: f for f in summary.files}
    assert by_name["big.json"].records == 1
    cut = by_name["cut.json.gz!cut.json"]
    assert cut.status == INGESTED and 0 < cut.records < 2000
    reasons = " ".join(cut.rejects_by_reason)
    assert "truncated" in reasons  # the damage itself is reported, with the bytes recovered
    with open_case(tmp_path / "case") as c:
        assert c.scalar("SELECT length(CommandLine) FROM windows WHERE src_file LIKE '%big.json'") == len(big)
        # every record before the cut is there, in order, and none twice
        recs = [r[0] for r in c.rows("SELECT src_record FROM windows WHERE src_file LIKE '%cut.json' ORDER BY 1")]
        assert recs == list(range(1, len(recs) + 1))


def test_archive_member_names_are_never_paths(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../escaped.json", "\n".join(lines(2)))
        z.writestr("/abs/evil.json", "\n".join(lines(1)))
        z.writestr("nested.zip", _zip_bytes({"inner.json": "\n".join(lines(3))}))
    (tmp_path / "in.zip").write_bytes(buf.getvalue())
    summary = run_ingest([tmp_path / "in.zip"], tmp_path / "case")
    assert summary.records == 6
    assert not (tmp_path.parent / "escaped.json").exists() and not Path("/abs/evil.json").exists()
    names = sorted(f.path.split("!", 1)[1] for f in summary.files if f.status == INGESTED)
    assert names == ["../../escaped.json", "/abs/evil.json", "nested.zip!inner.json"]
    archives = sorted((f.path.removeprefix(str(tmp_path)), f.status) for f in summary.files if f.status != INGESTED)
    assert archives == [("/in.zip", EXPANDED), ("/in.zip!nested.zip", EXPANDED)]


def _zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


def test_reingest_is_a_noop_and_identical_files_are_stored_once(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "a.json").write_text("\n".join(lines(10)))
    (ev / "copy_of_a.json").write_text("\n".join(lines(10)))
    first = run_ingest([ev], tmp_path / "case", jobs=2)
    assert first.records == 10
    manifest = (tmp_path / "case" / "manifest.jsonl").read_bytes()
    second = run_ingest([ev, ev / "a.json"], tmp_path / "case", jobs=2)
    assert second.records == 0 and second.files == [] and len(second.skipped_known) == 2
    assert (tmp_path / "case" / "manifest.jsonl").read_bytes() == manifest
    with open_case(tmp_path / "case") as c:
        assert c.count("windows") == 10


def test_cli_exit_codes_and_messages(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text("\n".join(lines(2)) + "\n{broken\n")
    unknown = tmp_path / "notes.bin"
    unknown.write_bytes(bytes(range(256)) * 10)
    case = tmp_path / "case"
    ok = cli("ingest", str(good), "--case", str(case), "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["records"] == 2 and report["rejected"] == 1 and "Traceback" not in ok.stderr
    bad = cli("ingest", str(unknown), "--case", str(case))
    assert bad.returncode == 1 and "unknown format" in bad.stderr and "notes.bin" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = cli("ingest", str(tmp_path / "nope"), "--case", str(case))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    usage = cli("ingest", str(good), "--case", str(case), "--tz", "Mars/Olympus")
    assert usage.returncode == 2 and "time zone" in usage.stderr
    q = cli("query", "--case", str(case), "SELECT count(*) AS n FROM events", "--format", "json")
    assert q.returncode == 0 and json.loads(q.stdout) == [{"n": 2}]
    badsql = cli("query", "--case", str(case), "SELEC nonsense")
    assert badsql.returncode == 1 and "query failed" in badsql.stderr and "Traceback" not in badsql.stderr
    notcase = cli("query", "--case", str(tmp_path), "SELECT 1")
    assert notcase.returncode == 2 and "not a breachscope case" in notcase.stderr  # usage: a bad path


def test_hostile_content_stays_data(tmp_path: Path) -> None:
    evil = {"CommandLine": "x'; DROP TABLE windows; --", "Image": "\x1b[2J\x1b[31mred[bold]markup[/bold]",
            "TargetUserName": "=HYPERLINK(\"http://evil\")"}
    f = tmp_path / "evil.json"
    f.write_text(json.dumps(event(1, **evil)) + "\n")
    case = tmp_path / "case"
    assert cli("ingest", str(f), "--case", str(case)).returncode == 0
    table = cli("query", "--case", str(case), "SELECT Image, CommandLine FROM windows")
    assert "\x1b" not in table.stdout and "\\x1b[2J" in table.stdout and "[bold]markup" in table.stdout
    csv_out = cli("query", "--case", str(case), "SELECT TargetUserName, CommandLine FROM windows", "--format", "csv")
    assert "'=HYPERLINK" in csv_out.stdout  # neutralized for spreadsheets
    with open_case(case) as c:
        assert c.scalar("SELECT CommandLine FROM windows") == evil["CommandLine"]
        assert c.count("windows") == 1


def test_unknown_format_inside_folder_is_listed_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.json").write_text("\n".join(lines(1)))
    (tmp_path / "ev" / "README.md").write_text("# notes\nnot evidence\n")
    summary = run_ingest([tmp_path / "ev"], tmp_path / "case")
    assert [f.status for f in sorted(summary.files, key=lambda f: f.path)] == [UNRECOGNIZED, INGESTED]

"""Undoing a bad ingest (issue 10): `ingest --force`, `case forget`, a forced reader that reads
nothing, the same content under two paths, unrecognised evidence named on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from breachscope.engines.duckdb_case import open_case
from breachscope.ingest import forget as forget_module
from breachscope.ingest.forget import forget, resolve_targets
from breachscope.ingest.store import CaseWriter
from breachscope.model.case import DUPLICATE, EXPANDED, FAILED, FORGOTTEN, INGESTED, read_commits
from tests.conftest import run_ingest
from tests.test_ingest_archives import syslog, zip_bytes
from tests.test_ingest_robustness import cli, lines


def _parts(case: Path) -> set[str]:
    return {p.relative_to(case).as_posix() for top in ("events", "rejects") for p in (case / top).rglob("*")
            if p.is_file()}


def test_forced_format_that_reads_nothing_is_an_error_and_not_done(tmp_path: Path) -> None:
    """`ingest --format evtx` on syslog files stored 0 records and 8 rejects, exit 0, and the files
    were then "already in the case" forever."""
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(2):
        (ev / f"router{i}.log").write_bytes(syslog(4, f"r{i}"))
    case = tmp_path / "case"
    wrong = cli("ingest", str(ev), "--case", str(case), "--format", "evtx", "--json")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    report = json.loads(wrong.stdout)
    assert report["records"] == 0 and report["rejected"] == 0  # nothing of them kept, rejects included
    assert len(report["files_failed"]) == 2
    assert all("--format evtx cannot read this file" in f["error"] for f in report["files_failed"])
    with open_case(case) as c:
        assert c.scalar("SELECT count(*) FROM rejects") == 0
        assert {r[0] for r in c.rows("SELECT status FROM manifest")} == {FAILED}
    right = run_ingest([ev], case)  # not "already in the case": read again, by the right reader
    assert right.records == 8 and not right.skipped_known
    with open_case(case) as c:
        assert c.rows("SELECT status, format, count(*) FROM manifest GROUP BY ALL") == [(INGESTED, "syslog", 2)]


def test_ingest_force_reads_a_file_again(tmp_path: Path) -> None:
    log = tmp_path / "fw.log"
    log.write_bytes(syslog(6))
    case = tmp_path / "case"
    first = run_ingest([log], case, year=2019)
    assert first.records == 6
    assert run_ingest([log], case).skipped_known == [str(log)]
    forced = cli("ingest", str(log), "--case", str(case), "--force", "--year", "2025", "--json")
    assert forced.returncode == 0, forced.stderr
    report = json.loads(forced.stdout)
    assert report["forced"] == {"forgotten": [str(log)], "rows_removed": {"syslog": 6},
                                "parts_rewritten": 0, "parts_removed": 1}
    assert report["records"] == 6
    with open_case(case) as c:  # the rows of the second reading only, nothing doubled
        assert c.rows("SELECT year(ts), count(*) FROM syslog GROUP BY 1") == [(2025, 6)]
        assert c.rows("SELECT status FROM manifest") == [(INGESTED,)]  # the current entry
    kinds = [(cm.kind, [f.status for f in cm.files]) for cm in read_commits(case / "manifest.jsonl")]
    assert kinds == [("ingest", [INGESTED]), ("forget", [FORGOTTEN]), ("ingest", [INGESTED])]
    commits = list(read_commits(case / "manifest.jsonl"))
    named = {q.path for cm in commits for q in cm.parts} - {r for cm in commits for r in cm.removed_parts}
    assert _parts(case) == named  # on disk: exactly the parts the commits leave in the case


def test_case_forget_takes_rows_out_of_shared_parts(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(3):  # small files: one job, one part per table for all three
        (ev / f"f{i}.json").write_text("\n".join(lines(5 + i, Hostname=f"h{i}")) + "\n{broken\n")
    case = tmp_path / "case"
    run_ingest([ev], case)
    with open_case(case) as c:
        assert len(c.tables["windows"]) == 1 and c.count("windows") == 18
    out = cli("case", "forget", str(ev / "f1.json"), "--case", str(case), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"forgotten": [str(ev / "f1.json")],
                                      "rows_removed": {"rejects": 1, "windows": 6},
                                      "parts_rewritten": 2, "parts_removed": 0}
    with open_case(case) as c:
        assert c.rows("SELECT host, count(*) FROM windows GROUP BY 1 ORDER BY 1") == [("h0", 5), ("h2", 7)]
        assert c.rows("SELECT src_file FROM rejects ORDER BY 1") == [(str(ev / "f0.json"),), (str(ev / "f2.json"),)]
        row = c.one("SELECT status, records, note FROM manifest WHERE path LIKE '%f1.json'")
        assert row[:2] == (FORGOTTEN, 0) and "rows removed: rejects 1, windows 6" in row[2]
        committed = {Path(f).relative_to(case).as_posix() for fs in c.tables.values() for f in fs}
    assert _parts(case) == committed  # the replaced parts are gone from disk
    again = run_ingest([ev], case)  # the forgotten file is read again; the others are done
    assert again.records == 6 and sorted(again.skipped_known) == [str(ev / "f0.json"), str(ev / "f2.json")]
    with open_case(case) as c:
        assert c.count("windows") == 18 and c.scalar("SELECT count(*) FROM rejects") == 3
    writer = CaseWriter(case)
    try:  # a folder names the files under it
        assert resolve_targets(writer.state.files, [str(ev)]) == (
            [str(ev / f"f{i}.json") for i in range(3)], [])
    finally:
        writer.close()
    missing = cli("case", "forget", str(tmp_path / "nope.json"), "--case", str(case))
    assert missing.returncode == 1 and "not in the case" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("kill_at", ["before-commit", "after-commit"])
def test_forget_killed_midway_is_completed_or_undone(tmp_path: Path, kill_at: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(2):
        (ev / f"f{i}.json").write_text("\n".join(lines(4, Hostname=f"h{i}")) + "\n")
    case = tmp_path / "case"
    run_ingest([ev], case)
    before = (case / "manifest.jsonl").read_bytes()

    class Killed(BaseException):
        pass

    def die(*_a: object, **_k: object) -> None:
        raise Killed

    if kill_at == "before-commit":
        monkeypatch.setattr(CaseWriter, "commit", die)
    else:
        real_unlink = Path.unlink
        monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: die() if "events" in self.parts
                            else real_unlink(self, missing_ok=missing_ok))
    writer = CaseWriter(case)
    with pytest.raises(Killed):
        forget(writer, [str(ev / "f0.json")], "run-x", "test")
    writer._lock.close()  # the process "dies": its lock goes with it, nothing else is cleaned
    from breachscope.ingest import store
    store._HELD.clear()
    monkeypatch.undo()
    with open_case(case) as c:  # the next command sweeps what the killed one left
        hosts = c.rows("SELECT DISTINCT host FROM windows ORDER BY 1")
        committed = {Path(f).relative_to(case).as_posix() for fs in c.tables.values() for f in fs}
    assert _parts(case) == committed
    if kill_at == "before-commit":
        assert hosts == [("h0",), ("h1",)] and (case / "manifest.jsonl").read_bytes() == before
    else:
        assert hosts == [("h1",)]
    writer = CaseWriter(case)  # forgetting again: done, or nothing left to do
    result = forget(writer, [str(ev / "f0.json")], "run-y", "test")
    writer.close()
    assert len(result.forgotten) == (1 if kill_at == "before-commit" else 0)
    with open_case(case) as c:
        assert c.rows("SELECT DISTINCT host FROM windows") == [("h1",)]


def test_forget_a_member_or_an_archive(tmp_path: Path) -> None:
    archive = tmp_path / "logs.zip"
    archive.write_bytes(zip_bytes({"a.log": syslog(2, "a"), "b.log": syslog(3, "b")}))
    case = tmp_path / "case"
    run_ingest([archive], case)
    writer = CaseWriter(case)
    try:
        targets, missing = resolve_targets(writer.state.files, [f"{archive}!a.log"])
        assert (targets, missing) == ([f"{archive}!a.log"], [])
        result = forget(writer, targets, "r1", "test")
    finally:
        writer.close()
    assert sorted(f.path for f in result.forgotten) == [str(archive), f"{archive}!a.log"]  # the archive too
    again = run_ingest([archive], case)  # expanded again: a.log read, b.log done
    assert again.records == 2 and again.skipped_known == [f"{archive}!b.log"]
    with open_case(case) as c:
        assert c.rows("SELECT host, count(*) FROM syslog GROUP BY 1 ORDER BY 1") == [("a", 2), ("b", 3)]
        assert c.scalar("SELECT status FROM manifest WHERE path = ?", [str(archive)]) == EXPANDED
    out = cli("case", "forget", str(archive), "--case", str(case), "--json")
    assert sorted(json.loads(out.stdout)["forgotten"]) == [str(archive), f"{archive}!a.log", f"{archive}!b.log"]
    with open_case(case) as c:
        assert c.count("syslog") == 0


def test_same_content_under_two_paths_keeps_both(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "fw.log").write_bytes(syslog(3))
    (tmp_path / "b" / "copy.log").write_bytes(syslog(3))
    case = tmp_path / "case"
    run_ingest([tmp_path / "a"], case)
    later = run_ingest([tmp_path / "b"], case)  # a later run meets the same content under another name
    assert [(f.path, f.status, f.duplicate_of) for f in later.files] == [
        (str(tmp_path / "b" / "copy.log"), DUPLICATE, str(tmp_path / "a" / "fw.log"))]
    with open_case(case) as c:
        assert c.rows("SELECT path, status FROM manifest ORDER BY 1") == [
            (str(tmp_path / "a" / "fw.log"), INGESTED), (str(tmp_path / "b" / "copy.log"), DUPLICATE)]
        assert c.count("syslog") == 3
    assert run_ingest([tmp_path / "b"], case).files == []  # and that is recorded once
    # forgetting the file that holds the rows forgets its duplicates too: nothing of it is left
    writer = CaseWriter(case)
    try:
        result = forget(writer, [str(tmp_path / "a" / "fw.log")], "r", "test")
    finally:
        writer.close()
    assert sorted(f.path for f in result.forgotten) == [str(tmp_path / "a" / "fw.log"),
                                                         str(tmp_path / "b" / "copy.log")]
    assert forget_module.select(result.forgotten, [str(tmp_path / "a")], True) == []


def test_unrecognised_evidence_named_on_the_command_line_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.bin").write_bytes(bytes(range(256)) * 4)
    out = cli("ingest", str(tmp_path / "docs"), "--case", str(tmp_path / "case"))
    assert out.returncode == 1 and f"nothing could be read from '{tmp_path / 'docs'}'" in out.stderr

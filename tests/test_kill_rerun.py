"""kill -9 at any moment leaves a readable case; the next run completes it with nothing lost or doubled."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from breachscope.engines.duckdb_case import open_case
from breachscope.model.case import INGESTED, CaseLayout, read_commits
from tests.conftest import run_ingest


def _evidence(folder: Path, files: int = 24, events: int = 4000) -> None:
    folder.mkdir()
    for f in range(files):
        rows = (json.dumps({"EventID": 4624, "Channel": "Security", "Hostname": f"ws{f:02d}",
                            "@timestamp": f"2025-02-05T01:{i // 60 % 60:02d}:{i % 60:02d}Z", "RecordNumber": i,
                            "TargetUserName": f"user{i % 97}", "IpAddress": f"10.0.{f}.{i % 250}",
                            "CommandLine": "x" * (i % 300)})
                for i in range(events))
        # each file is its own job (archives are), so commits land one by one while we kill
        (folder / f"f{f:02d}.json.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode(), 1))


def _snapshot(case: Path) -> tuple[int, int, int]:
    with open_case(case) as c:
        rows = c.count("windows")
        distinct = c.scalar("SELECT count(*) FROM (SELECT DISTINCT src_file, src_record FROM windows)")
        files = c.scalar("SELECT count(*) FROM manifest WHERE status = 'ingested'")
    return rows, distinct, files


def _start(evidence: Path, case: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "breachscope.cli.main", "ingest", str(evidence),
                             "--case", str(case), "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _ingested(case: Path) -> int:
    """Files the manifest's complete commit lines hold (a line being written is not a commit)."""
    return sum(1 for c in read_commits(CaseLayout(case).manifest) for f in c.files if f.status == INGESTED)


def _writing_parts(case: Path) -> bool:
    try:
        return any(p.name.endswith(".parquet.tmp") for p in (case / "events").rglob("*"))
    except FileNotFoundError:  # a part renamed while we looked
        return False


def _wait_for(event: Callable[[], bool], proc: subprocess.Popen[bytes]) -> bool:
    """Poll until the event happens (True) or the run ends first (False); no assumption on speed."""
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while proc.poll() is None:
        if event():
            return True
        assert time.monotonic() < deadline, "the ingest neither progressed nor ended"
        time.sleep(0.005)
    return False


def _group_alive(pgid: int) -> bool:
    """A process of the group still runs (zombies do not count: they write nothing)."""
    for p in psutil.process_iter(["status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def _wait_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while _group_alive(pgid):
        assert time.monotonic() < deadline, f"processes of the killed run {pgid} never ended"
        time.sleep(0.05)


def _kill_point(case: Path, target: int | None) -> Callable[[], bool]:
    if target is not None:
        return lambda: _ingested(case) >= target
    before = _ingested(case)
    return lambda: _writing_parts(case) and _ingested(case) == before


# Kill points, as events of the run: its workers writing Parquet parts before any commit, then once the
# manifest holds so many ingested files (each run goes on from where the last one was killed).
KILL_AT: tuple[int | None, ...] = (None, 1, 4, 9, 15, 21)
EVENT_TIMEOUT_S = 300


@pytest.mark.parametrize("whole_group", [True, False], ids=["kill-all-processes", "kill-main-process-only"])
def test_kill_midway_then_rerun(tmp_path: Path, whole_group: bool) -> None:
    evidence = tmp_path / "ev"
    _evidence(evidence)
    reference = run_ingest([evidence], tmp_path / "reference", jobs=2)
    expected = (reference.records, reference.records, 24)
    assert reference.records == 24 * 4000

    case = tmp_path / "case"
    killed: list[int] = []
    partial = 0
    for target in KILL_AT:
        event = _kill_point(case, target)
        proc = _start(evidence, case)
        if _wait_for(event, proc):
            os.killpg(proc.pid, signal.SIGKILL) if whole_group else os.kill(proc.pid, signal.SIGKILL)
            killed.append(proc.pid)
        proc.wait(timeout=EVENT_TIMEOUT_S)
        if (case / "case.json").exists():
            rows, distinct, files = _snapshot(case)  # readable after every kill, never doubled
            assert rows == distinct and files <= 24
            partial += 0 < files < 24
    assert len(killed) >= 3 and partial >= 1  # runs were killed midway, after some commits
    # workers orphaned by a main-process-only kill may still write a part: let them end, so that what
    # the next run finds on disk is all a killed run can leave
    for pgid in killed:
        _wait_group_gone(pgid)
    done = _start(evidence, case)
    assert done.wait(timeout=EVENT_TIMEOUT_S) == 0
    assert _snapshot(case) == expected
    # no stray file survives: every Parquet file of the case is named by a commit
    with open_case(case) as c:
        committed = {str(Path(f)) for files in c.tables.values() for f in files}
    on_disk = {str(p) for top in ("events", "rejects") for p in (case / top).rglob("*") if p.is_file()}
    assert on_disk == committed
    rerun = _start(evidence, case)
    assert rerun.wait(timeout=EVENT_TIMEOUT_S) == 0
    assert _snapshot(case) == expected
    assert {str(p) for top in ("events", "rejects") for p in (case / top).rglob("*") if p.is_file()} == committed

"""kill -9 at any moment leaves a readable case; the next run completes it with nothing lost or doubled."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from breachscope.engines.duckdb_case import open_case
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


@pytest.mark.parametrize("whole_group", [True, False], ids=["kill-all-processes", "kill-main-process-only"])
def test_kill_midway_then_rerun(tmp_path: Path, whole_group: bool) -> None:
    evidence = tmp_path / "ev"
    _evidence(evidence)
    reference = run_ingest([evidence], tmp_path / "reference", jobs=2)
    expected = (reference.records, reference.records, 24)
    assert reference.records == 24 * 4000

    case = tmp_path / "case"
    kills = 0
    partial = 0
    for delay in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        proc = _start(evidence, case)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL) if whole_group else os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        if (case / "case.json").exists():
            rows, distinct, files = _snapshot(case)  # readable after every kill, never doubled
            assert rows == distinct and files <= 24
            partial += 0 < files < 24
    assert kills >= 1 and partial >= 1  # at least one run was killed midway, after some commits
    done = _start(evidence, case)
    assert done.wait(timeout=300) == 0
    assert _snapshot(case) == expected
    # no stray file survives: every Parquet file of the case is named by a commit
    with open_case(case) as c:
        committed = {str(Path(f)) for files in c.tables.values() for f in files}
    on_disk = {str(p) for p in (case / "events").rglob("*") if p.is_file()}
    on_disk |= {str(p) for p in (case / "rejects").rglob("*") if p.is_file()}
    time.sleep(0.5)  # orphaned workers of the main-process-only kill may still be finishing
    assert on_disk <= committed | {str(p) for p in (case / "events").rglob("*") if p.is_file()}
    rerun = _start(evidence, case)
    assert rerun.wait(timeout=120) == 0
    assert _snapshot(case) == expected
    leftover = {str(p) for p in (case / "events").rglob("*") if p.is_file()} - committed
    assert not leftover

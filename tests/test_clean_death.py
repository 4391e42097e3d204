"""Clean death (issue 9 item 5): workers die with the run, the next command removes what a killed
run left (never while a live run holds the case), a read-only case gives a clear error.

No fixed sleeps: each wait is for the event it is about (a process, a file, a line on a pipe),
with a deadline only so that a regression fails instead of hanging.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from breachscope.engines.duckdb_case import open_case
from tests.conftest import run_ingest
from tests.test_ingest_archives import syslog
from tests.test_ingest_robustness import cli, event

CLI = [sys.executable, "-m", "breachscope.cli.main"]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _evidence(folder: Path, files: int = 8, events: int = 20_000) -> None:
    folder.mkdir()
    for f in range(files):  # archives: each is a job of its own, expanded into the case's scratch
        rows = (json.dumps(event(i, CommandLine="x" * (i % 200), TargetUserName=f"u{f}")) for i in range(events))
        (folder / f"f{f}.json.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode(), 1))


def _scratch(case: Path) -> list[Path]:
    return [p for p in (case / "tmp").rglob("*") if p.is_file()] if (case / "tmp").is_dir() else []


def _uncommitted(case: Path) -> set[str]:
    with open_case(case) as c:
        committed = {str(Path(f)) for fs in c.tables.values() for f in fs}
    return {str(p) for top in ("events", "rejects") for p in (case / top).rglob("*") if p.is_file()} - committed


@contextmanager
def _lock_held(case: Path) -> Iterator[None]:
    """Another live process holding the case's lock, as a running ingest does."""
    code = ("import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.lockf(f, fcntl.LOCK_EX); "
            "print('locked', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(case / ".lock")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_kill_9_leaves_no_worker_and_the_next_command_cleans_up(tmp_path: Path) -> None:
    """kill -9 of `ingest --jobs 2` once left its workers running with parent 1, blocked forever,
    and its scratch behind."""
    evidence, case = tmp_path / "ev", tmp_path / "case"
    _evidence(evidence)
    proc = subprocess.Popen([*CLI, "ingest", str(evidence), "--case", str(case), "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    main = psutil.Process(proc.pid)
    workers: list[psutil.Process] = []
    try:
        def busy() -> bool:  # both workers started and expanding an archive into the scratch folder
            workers[:] = main.children()
            return len(workers) == 2 and len(_scratch(case)) > 0

        wait_for("two workers at work", busy)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as a crash or the OOM killer would
        proc.wait(timeout=60)
        _gone, alive = psutil.wait_procs(workers, timeout=60)
        assert alive == [], f"workers outlived the run: {alive}"
    finally:
        for p in [*workers, main]:
            if p.is_running():
                p.kill()
    assert _scratch(case)  # the killed run's scratch is still there
    with _lock_held(case):  # a live run holds the case: nothing of it may be touched
        left = _scratch(case)
        out = cli("query", "--case", str(case), "SELECT count(*) FROM manifest")
        assert out.returncode == 0, out.stderr
        assert _scratch(case) == left
    out = cli("query", "--case", str(case), "SELECT count(*) FROM manifest")  # any command will do
    assert out.returncode == 0, out.stderr
    assert _scratch(case) == [] and _uncommitted(case) == set()
    with open_case(case) as c:  # and what was committed is whole: nothing half-written, nothing twice
        rows = c.count("windows")
        assert rows == c.scalar("SELECT count(*) FROM (SELECT DISTINCT src_file, src_record FROM windows)")
        assert rows == 20_000 * c.scalar("SELECT count(*) FROM manifest WHERE status = 'ingested'")


def _read_only(case: Path) -> Callable[[list[str]], subprocess.CompletedProcess[str]]:
    """A runner of the CLI that sees `case` on a read-only file system (root ignores permission
    bits: a read-only bind mount in a private mount namespace), or with the write bits removed."""
    if os.geteuid() != 0:
        for p in [case, *case.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        return lambda args: cli(*args)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) (util-linux) to make a read-only mount as root")

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        inner = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        return subprocess.run(["unshare", "-m", "sh", "-c", inner, str(case), *CLI, *args],
                              capture_output=True, text=True, timeout=300)

    return run


def test_read_only_case_gives_a_clear_error(tmp_path: Path) -> None:
    """A read-only case once gave `internal error: OSError`."""
    case = tmp_path / "case"
    (tmp_path / "a.log").write_bytes(syslog(3))
    (tmp_path / "b.log").write_bytes(syslog(4, "b"))
    run_ingest([tmp_path / "a.log"], case)
    run = _read_only(case)
    query = run(["query", "--case", str(case), "SELECT count(*) AS n FROM syslog", "--format", "json"])
    if query.returncode != 0 and "mount" in query.stderr:
        pytest.skip(f"no read-only bind mount here: {query.stderr.strip()}")
    assert query.returncode == 0 and json.loads(query.stdout) == [{"n": 3}]  # reading needs no writing
    for args in (["ingest", str(tmp_path / "b.log"), "--case", str(case)],
                 ["case", "forget", str(tmp_path / "a.log"), "--case", str(case)]):
        out = run(args)
        assert out.returncode == 1, out.stderr
        assert f"case {case} is read-only" in out.stderr and "internal error" not in out.stderr
        assert "Traceback" not in out.stderr

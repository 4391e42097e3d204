"""A hung Spark test fails with the stacks that show where, instead of stalling the whole run.

Spark's local mode has hung a test twice in this project (once in CI, which then ran out of time with no
output): the driver waited in py4j for a JVM thread that never finished. pytest-timeout cannot end that:
its exception lands in the Python frame, whose `finally` calls into the JVM again and waits forever. So a
watchdog thread, past the limit, prints the Python stacks and the JVM's threads (jstack), then kills the
JVM: every py4j call fails at once, the test fails with the dump above it, and the run goes on (later
tests start a new JVM).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

#: per test, setup and teardown included; the slowest Spark test takes a few minutes on 2 loaded cores
LIMIT_SECONDS = float(os.environ.get("BREACHSCOPE_SPARK_TEST_LIMIT", "1200"))
#: the JVM threads worth printing (the whole dump is long, and CI shows only part of the output)
_THREADS = re.compile(r'^"(dag-scheduler|serve|Executor task|py4j|main|task-result|Thread-)', re.MULTILINE)


def _java_children() -> list[int]:
    import psutil

    pids = []
    for child in psutil.Process().children(recursive=True):
        try:
            argv = child.cmdline()
            if child.name() == "java" or (argv and argv[0].endswith("java")):
                pids.append(child.pid)
        except psutil.Error:  # gone meanwhile
            pass
    return pids


def _jvm_threads(pid: int) -> str:
    try:
        dump = subprocess.run(["jstack", str(pid)], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"(jstack {pid} failed: {exc})"
    blocks = dump.split("\n\n")
    return "\n\n".join(b for b in blocks if _THREADS.search(b)) or dump


def _on_hang(name: str, fired: threading.Event) -> None:
    fired.set()
    err = sys.__stderr__ or sys.stderr
    print(f"\n=== {name}: still running after {LIMIT_SECONDS:.0f} s; Python stacks, JVM threads, then the JVM "
          "is killed ===", file=err, flush=True)
    faulthandler.dump_traceback(file=err, all_threads=True)
    for pid in _java_children():
        print(f"--- JVM {pid} ---\n{_jvm_threads(pid)}", file=err, flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _forget_dead_spark() -> None:
    """After the JVM was killed: pyspark's globals still point at it; later tests must start a new one."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    SparkContext._active_spark_context = None
    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    module = getattr(item, "module", None)
    if module is None or "spark" not in module.__name__:
        yield
        return
    fired = threading.Event()
    timer = threading.Timer(LIMIT_SECONDS, _on_hang, (item.nodeid, fired))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if fired.is_set():
            _forget_dead_spark()

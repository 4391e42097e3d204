"""Shared test fixtures: the read-only datasets beside the project, and ingest helpers."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from breachscope.engines.duckdb_case import Case, open_case
from breachscope.ingest.context import IngestOptions
from breachscope.ingest.pipeline import IngestSummary, ingest

pytest_plugins = ["tests.spark_watchdog"]  # a hung Spark test fails with its stacks instead of stalling the run

SHARED = (Path(__file__).resolve().parents[1].parent / "shared").resolve()  # ingest records resolved paths
DATASETS = SHARED / "datasets"
SIGMA = SHARED / "sigma"

# Tests never depend on the wall clock: no per-example deadline, no "too slow" health check (2 shared cores)
settings.register_profile("breachscope", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("breachscope")


def pytest_configure(config: pytest.Config) -> None:
    """The caches of compiled rules and of ingested cases (`hunt EVIDENCE`) in a folder of this session: no
    test reuses a case that an earlier session, another test run or the user's own hunts left (subprocesses
    inherit the variable). Tests of the caches point them at their own tmp_path."""
    os.environ["BREACHSCOPE_CACHE_DIR"] = tempfile.mkdtemp(prefix="breachscope-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ.get("BREACHSCOPE_CACHE_DIR", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.fail(f"shared datasets not found at {DATASETS}")
    return DATASETS


def run_ingest(paths: list[Path | str], case: Path, jobs: int = 1, **options: object) -> IngestSummary:
    """Ingest in-process (jobs=1) unless a test asks for the worker pool."""
    return ingest([str(p) for p in paths], case, IngestOptions(**options), jobs=jobs)  # type: ignore[arg-type]


@pytest.fixture
def ingest_case(tmp_path: Path) -> Iterator[object]:
    """ingest_case(paths, **options) -> (summary, Case); the case is closed after the test."""
    opened: list[Case] = []

    def _run(paths: list[Path | str], jobs: int = 1, **options: object) -> tuple[IngestSummary, Case]:
        case_dir = tmp_path / f"case{len(opened)}"
        summary = run_ingest(paths, case_dir, jobs=jobs, **options)
        c = open_case(case_dir)
        opened.append(c)
        return summary, c

    yield _run
    for c in opened:
        c.close()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real PostgreSQL server with pgAudit, for the whole test session (see tests/pgserver.py).
    Missing, it fails the tests that need it (never a silent skip) and says how to install it."""
    from tests import pgserver

    if pgserver.find_pg()[0] is None:
        pytest.fail(f"PostgreSQL with pgAudit is needed: {pgserver.find_pg()[1]}. "
                    f"Install it {pgserver.INSTALL_HINT}", pytrace=False)
    yield from pgserver.start(tmp_path_factory.mktemp("pg"))


@functools.cache
def _java_problem_once() -> str | None:
    from tests.sysdeps import java_problem

    return java_problem()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Every Spark test starts a JVM (Java 17+): fail it, not skip it, naming the command that installs Java."""
    module = getattr(item, "module", None)
    if module is not None and "spark" in module.__name__ and _java_problem_once():
        pytest.fail(f"Java 17+ is needed for the Spark tests: {_java_problem_once()}. Install it as root: "
                    "`make test` or `.ci/system-deps test` (Debian: openjdk-17-jre-headless)", pytrace=False)

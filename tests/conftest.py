"""Shared test fixtures: the read-only datasets beside the project, and ingest helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from breachscope.engines.duckdb_case import Case, open_case
from breachscope.ingest.context import IngestOptions
from breachscope.ingest.pipeline import IngestSummary, ingest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATASETS = SHARED / "datasets"
SIGMA = SHARED / "sigma"


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
    """A real PostgreSQL server with pgAudit, for the whole test session (see tests/pgserver.py)."""
    from tests import pgserver

    yield from pgserver.start(tmp_path_factory.mktemp("pg"))

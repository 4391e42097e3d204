"""Progress bars on stderr for anything that can take more than a second."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from breachscope.cli.output import stderr


@contextmanager
def byte_progress(label: str, enabled: bool = True) -> Iterator[object]:
    """Yields a callback (done, total) that drives a bytes progress bar."""
    if not enabled:
        yield lambda done, total: None
        return
    progress = Progress(
        TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=stderr, transient=True,
    )
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            progress.start()
            task = progress.add_task(label, total=total)
        progress.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        progress.stop()

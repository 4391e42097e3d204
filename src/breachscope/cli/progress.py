"""Progress bars on stderr for anything that can take more than a second: on a terminal only.

`show_progress(json_out)` says whether to draw (stderr is a terminal and no --json). `steps()` draws
the steps that stages report through breachscope.model.progress (a bar when the size is known, a
spinner otherwise); `byte_progress()` draws ingest's bytes. Rich is imported only when drawing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from breachscope.cli.output import stderr
from breachscope.model.progress import reporting


def show_progress(json_out: bool = False) -> bool:
    """Bars on a terminal; none when stderr is piped or redirected, with --json, or BREACHSCOPE_NO_PROGRESS."""
    return sys.stderr.isatty() and not json_out and not os.environ.get("BREACHSCOPE_NO_PROGRESS")


def _progress(*columns: Any) -> Any:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), *columns, TimeElapsedColumn(),
                    console=stderr.console, transient=True)


@contextmanager
def steps(enabled: bool) -> Iterator[None]:
    """Show the steps reported by the stages while the block runs (nothing when not enabled)."""
    if not enabled:
        yield
        return
    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    progress = _progress(MofNCompleteColumn(), TimeRemainingColumn())
    tasks: dict[str, Any] = {}

    def sink(step: str, done: int, total: int | None) -> None:
        if step not in tasks:
            for other in tasks.values():  # a new step: the earlier ones are finished
                t = progress.tasks[other]
                progress.update(other, total=t.total or max(t.completed, 1), completed=t.total or max(t.completed, 1))
            tasks[step] = progress.add_task(step, total=total)
        progress.update(tasks[step], completed=done, total=total)

    progress.start()
    try:
        with reporting(sink):
            yield
    finally:
        progress.stop()


@contextmanager
def byte_progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Yields a callback (done, total) that drives a bytes progress bar."""
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import DownloadColumn, TimeRemainingColumn, TransferSpeedColumn

    progress = _progress(DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
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

"""What the benchmarks measure of a child process: the resident memory of it and all its children."""

from __future__ import annotations

import contextlib

import psutil


def tree_rss(process: psutil.Process) -> int:
    """Bytes resident in `process` and its children now (0 for what has already exited)."""
    with contextlib.suppress(psutil.Error):
        return int(process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True)))
    return 0

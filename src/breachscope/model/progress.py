"""Progress of long steps, reported by any layer and shown (or not) by the command line.

A stage calls `report("replaying statements", done, total)` from its loop; nothing happens unless
the command line installed a sink (`reporting`), which it does on a terminal only: piped output and
`--json` stay free of progress. Calls from other processes (workers forked after the sink was
installed) and from other threads are ignored: only the process and thread that installed it draw.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: sink(step, done, total): total None for a step whose size is unknown (shown as a spinner).
Sink = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class _Installed:
    """The sink and the process and thread that installed it (None: no sink)."""

    sink: Sink | None = None
    pid: int | None = None
    thread: int | None = None


_state = _Installed()


def report(step: str, done: int = 0, total: int | None = None) -> None:
    """Step `step` has done `done` of `total` units (total None: size unknown)."""
    state = _state
    if state.sink is None or state.pid != os.getpid() or state.thread != threading.get_ident():
        return
    state.sink(step, done, total)


@contextmanager
def reporting(sink: Sink | None) -> Iterator[None]:
    """Send every report() of this process's current thread to `sink` while the block runs."""
    global _state
    saved = _state
    _state = _Installed(sink, os.getpid(), threading.get_ident())
    try:
        yield
    finally:
        _state = saved

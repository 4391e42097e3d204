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

#: sink(step, done, total): total None for a step whose size is unknown (shown as a spinner).
Sink = Callable[[str, int, int | None], None]

_state: dict[str, object] = {"sink": None, "pid": None, "thread": None}


def report(step: str, done: int = 0, total: int | None = None) -> None:
    """Step `step` has done `done` of `total` units (total None: size unknown)."""
    sink = _state["sink"]
    if sink is None or _state["pid"] != os.getpid() or _state["thread"] != threading.get_ident():
        return
    sink(step, done, total)  # type: ignore[operator]


@contextmanager
def reporting(sink: Sink | None) -> Iterator[None]:
    """Send every report() of this process's current thread to `sink` while the block runs."""
    saved = dict(_state)
    _state.update(sink=sink, pid=os.getpid(), thread=threading.get_ident())
    try:
        yield
    finally:
        _state.clear()
        _state.update(saved)

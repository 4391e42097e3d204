"""The case's writer lock and the cleaning of what killed runs left (scratch, parts no commit names, a
torn manifest line): shared by the writer (ingest/store.py), which cleans under its lock, and by every
reader that opens the case (engines), which sweeps only when no live run holds it."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import TextIO

from breachscope.model.case import CaseLayout, CaseState, committed_length, load_state

#: Cases whose writer this process holds: a POSIX lock is per process, so this process must not take
#: (and by closing, release) it a second time, nor clean a case its own writer is using.
HELD: set[Path] = set()


def try_lock(layout: CaseLayout) -> TextIO | None:
    """The case's lock file, locked; None if another live process holds the lock."""
    fh = layout.lock.open("a")
    try:
        # a POSIX record lock belongs to this process only: worker processes forked from it do not
        # hold it, so a killed run never leaves the case locked by its orphaned workers
        fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def remove_leftovers(layout: CaseLayout, state: CaseState) -> None:
    """Delete parts no commit names (a run killed before its commit, a forget's replaced parts)
    and the scratch folder. Only ever called with the case lock held."""
    committed = {p.path for p in state.parts}
    for top in (layout.events, layout.rejects):
        for f in top.rglob("*"):
            if f.is_file() and f.relative_to(layout.root).as_posix() not in committed:
                f.unlink()
    shutil.rmtree(layout.tmp, ignore_errors=True)
    layout.tmp.mkdir(exist_ok=True)


def repair_manifest(layout: CaseLayout) -> None:
    """Cut a manifest line that a crash left unfinished: it never committed anything."""
    m = layout.manifest
    if m.is_file():
        keep = committed_length(m)
        if keep != m.stat().st_size:
            with m.open("r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())


def sweep_leftovers(root: str | Path) -> bool:
    """What killed runs left (scratch, uncommitted parts, a torn manifest line) removed, by any
    command that opens the case. Never while a live run holds the case (it is using them), and
    silently not on a read-only case. True if the case was swept."""
    layout = CaseLayout(root)
    if layout.root.resolve() in HELD or not layout.exists():
        return False
    leftovers = layout.tmp.is_dir() and any(layout.tmp.iterdir())
    committed = None
    if not leftovers:  # cheap check first: parts on disk that no commit names
        committed = {p.path for p in load_state(layout).parts}
        leftovers = any(f.is_file() and f.relative_to(layout.root).as_posix() not in committed
                        for top in (layout.events, layout.rejects) for f in top.rglob("*"))
    if not leftovers:
        return False
    try:
        fh = try_lock(layout)
    except OSError:
        return False  # read-only: nothing can be cleaned, and nothing needs to be for reading
    if fh is None:
        return False
    try:
        repair_manifest(layout)
        remove_leftovers(layout, load_state(layout))
    except OSError:
        return False
    finally:
        fcntl.lockf(fh, fcntl.LOCK_UN)
        fh.close()
    return True

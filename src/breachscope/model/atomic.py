"""Atomic file writes: one helper for every file breachscope puts in place.

A file is written under a temporary name beside its target (same folder, so the rename cannot cross a
file system) and renamed onto the target with `os.replace`: a reader, or a run killed half-way, sees
the old file or the new one, never half of one. `durable=True` also fsyncs the file before the rename
and the folder after it, for files whose loss after a power cut would lose evidence (case parts).
A failed write removes its temporary file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_path(path: Path) -> Path:
    """The temporary name a write of `path` uses: hidden, and unique to this process."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_into_place(tmp: Path, path: Path, *, durable: bool = False) -> None:
    """Rename a completely written `tmp` onto `path` (fsynced first and the folder after when `durable`)."""
    if durable:
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


@contextmanager
def atomic_path(path: Path, *, durable: bool = False, tmp: Path | None = None) -> Iterator[Path]:
    """A temporary path to write `path`'s content to (by any writer: Parquet, a copy...); renamed onto
    `path` when the block ends without an error, removed when it raises."""
    tmp = tmp or temp_path(path)
    try:
        yield tmp
        move_into_place(tmp, path, durable=durable)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes | str, *, durable: bool = False) -> None:
    """`data` (text as UTF-8, newlines untranslated) as the whole new content of `path`."""
    with atomic_path(path, durable=durable) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8", newline="")
        else:
            tmp.write_bytes(data)

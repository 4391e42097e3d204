"""Output folders: a command writes into a folder only if the folder is new, empty, or its own.

`demo --out DIR` used to delete DIR whatever it held; a user's file in it was lost. Now a command that
writes a folder creates it with a marker file naming the command; a later run of the same command
may reuse (and clean) it, and a non-empty folder without that marker is refused, nothing touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from breachscope.model.atomic import atomic_write
from breachscope.model.errors import UsageError

MARKER = ".breachscope-output"


def owner_of(folder: Path) -> str | None:
    """The command that created the folder (its marker), or None."""
    try:
        doc = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc.get("created_by") if isinstance(doc, dict) else None


def claim_folder(folder: Path, owner: str, option: str = "--out",
                 also_ours: Callable[[Path], bool] | None = None) -> bool:
    """Create `folder` (marked as `owner`'s) or accept it when it is empty or `owner` created it.

    `also_ours` recognises folders written before markers existed (e.g. an earlier simulation's
    truth.json). Returns True when the folder holds an earlier run of `owner` (the caller may remove
    what that run wrote); raises UsageError for a file or a non-empty folder that is not ours.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder} exists and is not a folder")
    earlier = False
    if folder.is_dir() and any(folder.iterdir()):
        earlier = owner_of(folder) == owner or (also_ours is not None and also_ours(folder))
        if not earlier:
            raise UsageError(f"{option} {folder} is not empty and was not created by `breachscope {owner}`: "
                             "nothing was changed; choose a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / MARKER, json.dumps({"created_by": owner}) + "\n")
    return earlier

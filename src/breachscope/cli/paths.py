"""Paths named on the command line, checked before any work starts: a bad one is a usage error (exit 2)
with the option named, never a traceback or an internal error after minutes of work."""

from __future__ import annotations

from pathlib import Path

from breachscope.model.case import CaseLayout
from breachscope.model.errors import MissingCaseError, UsageError
from breachscope.model.text import quoted


def existing_case(path: Path) -> Path:
    """A case folder that must exist (query, scope, notify...): MissingCaseError (exit 2) otherwise."""
    CaseLayout(path).require()
    return path


def case_folder(path: Path) -> Path:
    """A folder holding a case's outputs (notify reads CASE/exposure): it must exist (exit 2 otherwise)."""
    if not path.is_dir():
        raise MissingCaseError(f"case folder not found: {path}")
    return path


def case_to_write(path: Path, option: str = "--case") -> Path:
    """A case folder a command may create or add to: new, empty, or already a case (never a user's folder)."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {quoted(path)} is a file, not a case folder")
    if path.is_dir() and not CaseLayout(path).exists() and any(path.iterdir()):
        raise UsageError(f"{option} {quoted(path)} is not empty and is not a breachscope case: nothing was "
                         "written; choose a new or empty folder")
    return path


def input_file(path: Path, option: str) -> Path:
    """A file the command reads (inventory, placeholders...)."""
    if not path.exists():
        raise UsageError(f"{option} {quoted(path)}: no such file")
    if not path.is_file():
        raise UsageError(f"{option} {quoted(path)} is not a file")
    return path


def output_file(path: Path, option: str = "--out") -> Path:
    """A file the command writes: its folder must exist and it must not be a folder."""
    if path.is_dir():
        raise UsageError(f"{option} {quoted(path)} is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option} {quoted(path)}: the folder {quoted(parent)} does not exist")
    return path

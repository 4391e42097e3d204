"""The scenario files shipped in the package (YAML beside this file; `--scenario NAME`)."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent


def shipped() -> dict[str, Path]:
    """Name -> file of every shipped scenario (no parsing: `--help` lists them without loading pydantic)."""
    return {p.stem: p for p in sorted(FOLDER.glob("*.yaml"))}

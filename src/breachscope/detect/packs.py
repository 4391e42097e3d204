"""The package's own Sigma rule packs (detect/rules/<pack>/*.yml: router tampering, Active Directory
attacks): loaded by default in `hunt` and `investigate`, beside any rules the user gives."""

from __future__ import annotations

from pathlib import Path

RULES_DIR = Path(__file__).parent / "rules"


def packs() -> dict[str, Path]:
    """pack name -> its folder (only folders that hold rules)."""
    if not RULES_DIR.is_dir():
        return {}
    return {d.name: d for d in sorted(RULES_DIR.iterdir())
            if d.is_dir() and any(f.suffix in (".yml", ".yaml") for f in d.iterdir())}


def packaged_rule_paths() -> list[str]:
    return [str(p) for p in packs().values()]

"""Renderings of a containment plan, one module per format. A new format: its module (render, rollback,
FORMAT) and one line below."""

from __future__ import annotations

from breachscope.contain.formats import cisco_asa, cisco_ios, jsonplan, nftables, powershell
from breachscope.contain.formats.base import Format

FORMATS: dict[str, Format] = {
    "nftables": nftables.FORMAT,
    "cisco-ios": cisco_ios.FORMAT,
    "cisco-asa": cisco_asa.FORMAT,
    "powershell": powershell.FORMAT,
    "json": jsonplan.FORMAT,
}

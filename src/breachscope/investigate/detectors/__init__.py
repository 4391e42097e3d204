"""The investigation's detectors: one module each, one line here. A detector declares the tables and
columns it needs (it is skipped, with the reason in the incident's coverage, when the case lacks them)
and turns the case into alerts (detectors/base.py)."""

from __future__ import annotations

from breachscope.investigate.detectors import (
    db_sessions,
    exfil_channels,
    external,
    logons,
    process_tree,
    sigma,
    smb_exec,
    transfers,
)
from breachscope.investigate.detectors.base import Detector

DETECTORS: tuple[Detector, ...] = (
    process_tree.DETECTOR,
    db_sessions.DETECTOR,
    logons.DETECTOR,
    smb_exec.DETECTOR,
    transfers.DETECTOR,
    external.DETECTOR,
    exfil_channels.DETECTOR,
    sigma.DETECTOR,
)

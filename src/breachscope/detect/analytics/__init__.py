"""Analytics: detections that are statistics over time or sequences (beaconing, exfiltration, DDoS, ...),
beside the Sigma rules. One module per analytic, one line here (base.py: the contract)."""

from __future__ import annotations

from breachscope.detect.analytics import (
    beaconing,
    dcsync,
    ddos,
    device_changes,
    dns_tunnelling,
    exfiltration,
    golden_ticket,
    kerberoasting,
    long_connections,
    port_scans,
)
from breachscope.detect.analytics.base import Analytic

#: every analytic, in the order they run: one line each
_ALL: list[Analytic] = [
    beaconing.ANALYTIC,
    long_connections.ANALYTIC,
    exfiltration.ANALYTIC,
    dns_tunnelling.ANALYTIC,
    kerberoasting.ANALYTIC,
    dcsync.ANALYTIC,
    golden_ticket.ANALYTIC,
    ddos.ANALYTIC,
    device_changes.ANALYTIC,
    port_scans.ANALYTIC,
]
ANALYTICS: dict[str, Analytic] = {a.name: a for a in _ALL}


def select(spec: str) -> list[Analytic]:
    """`all`, `none`, or a comma-separated list of analytic names (unknown names: ValueError)."""
    spec = spec.strip()
    if spec in ("", "all"):
        return list(ANALYTICS.values())
    if spec == "none":
        return []
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in ANALYTICS]
    if unknown:
        raise ValueError(f"unknown analytic(s) {', '.join(unknown)}; known: {', '.join(ANALYTICS)}")
    return [ANALYTICS[n] for n in names]

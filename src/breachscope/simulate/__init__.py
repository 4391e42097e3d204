"""Scenario simulator: a corporate network that replays a breach in the formats real systems write.

`run(config)` writes DIR/evidence (logs), DIR/snapshot (the order database), DIR/inventory.yaml and
DIR/truth.json. Nothing else in breachscope imports this package (only the CLI command does); it
imports only `breachscope.model` and libraries. See docs/simulator.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from breachscope.simulate.config import EPISODES, SCENARIOS, SimConfig

if TYPE_CHECKING:
    from breachscope.simulate.scenario import SimSummary, run

__all__ = ["EPISODES", "SCENARIOS", "SimConfig", "SimSummary", "run"]


def __getattr__(name: str) -> Any:
    """The generator (numpy, pyarrow, the network model) loads on first use: `--help` stays fast."""
    if name in ("SimSummary", "run"):
        from breachscope.simulate import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module 'breachscope.simulate' has no attribute {name!r}")

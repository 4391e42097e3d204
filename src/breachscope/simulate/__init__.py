"""Scenario simulator: a corporate network that replays a breach in the formats real systems write.

`run(config)` writes DIR/evidence (logs), DIR/snapshot (the order database), DIR/inventory.yaml and
DIR/truth.json. Nothing else in breachscope imports this package (only the CLI command does); it
imports only `breachscope.model` and libraries. See docs/simulator.md.
"""

from __future__ import annotations

from breachscope.simulate.config import EPISODES, SCENARIOS, SimConfig
from breachscope.simulate.scenario import SimSummary, run

__all__ = ["EPISODES", "SCENARIOS", "SimConfig", "SimSummary", "run"]

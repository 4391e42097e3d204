"""Routine steps: catalogue steps the organization's own people do (an administrator's RDP session, a DBA's
SSH login to the database host, an IT upload to a partner's FTP server, an account disabled when someone
leaves). They are written by the same step functions as the attack's, so detectors face exact lookalikes,
but every record is tagged `benign:<name>` (the truth's hard negatives) and nothing reaches the attack's
truth: each step runs on an attack of its own, thrown away (its entry, timeline, exfiltration, containment),
over a view of the story that tags what it adds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from breachscope.simulate import steps as catalogue
from breachscope.simulate.attack import Attack, StoryInputs
from breachscope.simulate.attack_file import AttackSpec, RoutineStep
from breachscope.simulate.network import Network
from breachscope.simulate.story import Story


class _Tagged(Story):
    """The story, every record added through it tagged `benign:<name>`."""

    def __init__(self, story: Story, tag: str, rng: np.random.Generator) -> None:
        super().__init__(story.net, rng)
        self.records = story.records
        self.pending = story.pending  # rendered with the story's own records
        self.tag = tag

    def add(self, key: str, ts: int, text: str, tag: str = "", ref: str = "", host: str = "") -> None:
        super().add(key, ts, text, self.tag, ref, host)

    def add_many(self, key: str, ts: np.ndarray, lines: pa.Array, tag: str = "") -> None:
        super().add_many(key, ts, lines, self.tag)


def add(story: Story, net: Network, spec: AttackSpec, routine: Sequence[RoutineStep], inputs: StoryInputs,
        rng: np.random.Generator) -> None:
    """Write the routine steps (their own random stream: the attack's and the noise's stay as they were)."""
    for r in routine:
        tagged = _Tagged(story, f"benign:{r.name}", rng)
        catalogue.run(Attack(net, tagged, spec, rng), r.action, inputs)

"""Optional episodes (--episodes): further incidents in the same network, each with its own truth."""

from __future__ import annotations

from collections.abc import Callable

from breachscope.simulate.episodes import ad2020, beacon, ddos, salt_typhoon

#: name -> build(story, net, cfg, rng) -> truth section
BUILDERS: dict[str, Callable] = {
    "ad-2020": ad2020.build,
    "ddos": ddos.build,
    "salt-typhoon": salt_typhoon.build,
    "beacon": beacon.build,
}

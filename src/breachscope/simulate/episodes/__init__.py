"""Optional episodes (--episodes): further incidents in the same network, each with its own truth.

An episode is one module here with `build(story, net, cfg, rng) -> truth section`, and optionally
`silenced(section) -> [(host, from_us, to_us)]`: hosts that log nothing for a while (their noise is
held back then too). A new episode: its module and one line in REGISTRY. Modules are imported only
when their episode runs (the command line lists the names without loading the simulator).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from breachscope.simulate.config import SimConfig

#: --episodes name -> its module under simulate/episodes/, in the order `all` runs them
REGISTRY: dict[str, str] = {
    "ad-2020": "ad2020",
    "ddos": "ddos",
    "salt-typhoon": "salt_typhoon",
    "beacon": "beacon",
}

Silenced = list[tuple[str, int, int]]
#: the days of the period the episodes use by default (0 = its first day): after the main breach of the
#: built-in story; a scenario's `episodes_from` moves them. They span SPAN days.
FIRST_DAY, LAST_DAY = 36, 44
SPAN = LAST_DAY - FIRST_DAY + 1


def first_day(cfg: SimConfig) -> int:
    """The period's day (0 = its first) on which the episodes begin."""
    spec = cfg.scenario_spec
    if spec.episodes_from is None:
        return FIRST_DAY
    return (spec.episodes_from - spec.period.first_day).days


def at(cfg: SimConfig, day: int, h: int = 0, mi: int = 0, s: float = 0.0) -> int:
    """A local time on the episodes' day `day` (0 = the first of their SPAN days)."""
    from breachscope.simulate import clock  # numpy: not for the command line's --help (config.py imports this)

    return clock.on_day(first_day(cfg) + day, h, mi, s)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{REGISTRY[name]}")


def builder(name: str) -> Callable[..., dict[str, Any]]:
    """The episode's build(story, net, cfg, rng) -> its truth section."""
    build: Callable[..., dict[str, Any]] = _module(name).build
    return build


def silenced(name: str, section: dict[str, Any]) -> Silenced:
    """Hosts the episode keeps quiet, and when (none for most episodes)."""
    hook: Callable[[dict[str, Any]], Silenced] | None = getattr(_module(name), "silenced", None)
    return hook(section) if hook is not None else []

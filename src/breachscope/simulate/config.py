"""Options of a simulation run and the scenario presets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from breachscope.model.errors import UsageError
from breachscope.simulate.episodes import FIRST_DAY as EPISODE_FIRST_DAY
from breachscope.simulate.episodes import LAST_DAY as EPISODE_LAST_DAY
from breachscope.simulate.episodes import REGISTRY as EPISODE_REGISTRY
from breachscope.simulate.scenarios import shipped

if TYPE_CHECKING:
    from breachscope.simulate.scenario_file import ScenarioFile

SCENARIOS = tuple(shipped())
EPISODES = tuple(EPISODE_REGISTRY)  # simulate/episodes/__init__.py: one line per episode

#: The public figure the default run must reproduce exactly.
NTT_TARGET_ORGANIZATIONS = 17_891
DEFAULT_CUSTOMERS = 60_000
DEFAULT_EVENTS = 200_000
MAX_EVENTS = 10**10


@dataclass(frozen=True)
class SimConfig:
    out: Path
    scenario: str = "ntt-2025"
    seed: int = 2025
    events: int = DEFAULT_EVENTS
    customers: int = DEFAULT_CUSTOMERS
    variant: str = ""  # "": the scenario's first variant
    episodes: tuple[str, ...] = field(default_factory=tuple)
    jobs: int = 1
    spec: ScenarioFile | None = None  # the scenario file, loaded by validate()

    @property
    def scenario_spec(self) -> ScenarioFile:
        if self.spec is None:
            raise RuntimeError("SimConfig.validate() loads the scenario file")
        return self.spec

    @property
    def target_organizations(self) -> int:
        """17,891 at the default size; other sizes keep the same share of the customer base."""
        if self.customers == DEFAULT_CUSTOMERS:
            return NTT_TARGET_ORGANIZATIONS
        return max(10, round(NTT_TARGET_ORGANIZATIONS * self.customers / DEFAULT_CUSTOMERS))

    def validate(self) -> SimConfig:
        from breachscope.simulate.scenario_file import load_scenario  # pydantic and numpy: not for --help

        spec = self.spec or load_scenario(self.scenario)
        variant = self.variant or next(iter(spec.attack.variants))
        if variant not in spec.attack.variants:
            raise UsageError(f"--variant must be one of {', '.join(spec.attack.variants)} (the scenario's variants)")
        unknown = [e for e in self.episodes if e not in EPISODES]
        if unknown:
            raise UsageError(f"--episodes: unknown {', '.join(unknown)}; known: {', '.join(EPISODES)}")
        if self.episodes and spec.episodes_from is None and spec.period.days <= EPISODE_LAST_DAY:
            raise UsageError(f"--episodes: the episodes fall on days {EPISODE_FIRST_DAY + 1} to {EPISODE_LAST_DAY + 1} "
                             f"of the period; the scenario's period has {spec.period.days} days (or set "
                             "episodes_from)")
        if not 1_000 <= self.events <= MAX_EVENTS:
            raise UsageError(f"--events must be between 1000 and {MAX_EVENTS}")
        if not 1_000 <= self.customers <= 2_000_000:
            raise UsageError("--customers must be between 1000 and 2000000")
        if not 0 <= self.seed < 2**63:
            raise UsageError("--seed must be a non-negative 63-bit integer")
        if self.jobs < 1:
            raise UsageError("--jobs must be at least 1")
        return replace(self, spec=spec, variant=variant)


def parse_episodes(text: str | None) -> tuple[str, ...]:
    """'ad-2020,ddos' -> ('ad-2020', 'ddos'), in the canonical order, without duplicates; 'all' = all."""
    if not text:
        return ()
    names = {p.strip() for p in text.split(",") if p.strip()}
    if "all" in names:
        return EPISODES
    return tuple([e for e in EPISODES if e in names] + sorted(n for n in names if n not in EPISODES))

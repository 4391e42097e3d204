"""`breachscope simulate`: write a scenario's evidence, database snapshot, inventory and truth."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from breachscope.cli.output import print_json, quoted, safe, stderr, stdout
from breachscope.cli.progress import show_progress, steps
from breachscope.simulate.config import (
    DEFAULT_CUSTOMERS,
    DEFAULT_EVENTS,
    EPISODES,
    SCENARIOS,
    SimConfig,
    parse_episodes,
)


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Output folder: new, empty, or an earlier simulation (replaced).")],
    scenario: Annotated[str, typer.Option(help=f"A shipped scenario ({', '.join(SCENARIOS)}) or a scenario file "
                                               "(FILE.yaml, see docs/scenarios.md).")] = "ntt-2025",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and options give identical files.")] = 2025,
    events: Annotated[int, typer.Option(help="Ordinary (noise) records to write, about.")] = DEFAULT_EVENTS,
    customers: Annotated[int, typer.Option(help="Corporate customers in the order database.")] = DEFAULT_CUSTOMERS,
    variant: Annotated[str, typer.Option(help="The scenario's attack variant (default: its first); ntt-2025: "
                                              "destination (device B reached from A) or pivot (the entry).")] = "",
    episodes: Annotated[str | None, typer.Option(help=f"Extra incidents, comma separated: {', '.join(EPISODES)} "
                                                      "(or all).")] = None,
    jobs: Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
) -> None:
    """Simulate a breach in a corporate network and write it as real systems log it (truth kept apart)."""
    from breachscope.simulate.scenario import run

    cfg = SimConfig(out=out, scenario=scenario, seed=seed, events=events, customers=customers, variant=variant,
                    episodes=parse_episodes(episodes), jobs=jobs or os.cpu_count() or 1).validate()
    if not json_out:
        period = cfg.scenario_spec.period
        stderr.print(f"simulating {cfg.scenario_spec.name} ({cfg.variant}), {period.days} days from "
                     f"{period.first_day} in {period.time_zone}, into {quoted(out)} ...")
    with steps(show_progress(json_out)):
        summary = run(cfg)
    rate = summary.records / summary.seconds if summary.seconds else 0.0
    if json_out:
        print_json({**vars(summary), "records_per_second": round(rate)})
        return
    stdout.print(f"{safe(summary.out)}: {summary.records:,} records in {summary.files:,} files "
                 f"({summary.bytes / 1e6:,.1f} MB) in {summary.seconds:.1f} s ({rate:,.0f} records/s)")
    # the truth's answer (the affected count) stays in truth.json and --json: printing it would spoil a blind run
    stdout.print(f"  evidence: {safe(Path(summary.out) / 'evidence')}  truth: {safe(Path(summary.out) / 'truth.json')}")

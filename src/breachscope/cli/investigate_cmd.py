"""`breachscope investigate`: find the attacker in a case from the evidence alone (investigate/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breachscope.cli.output import print_json, safe, stderr, stdout
from breachscope.cli.paths import existing_case, input_file
from breachscope.cli.scope_cmd import parse_ts
from breachscope.model.errors import UsageError

ENGINES = ("duckdb", "spark")


def investigate(
    case: Annotated[Path, typer.Option("--case", help="Case folder (after ingest).")],
    inventory: Annotated[Path | None, typer.Option("--inventory", help="Data inventory YAML: its database's "
                                                   "server is a crown jewel.")] = None,
    assets: Annotated[Path | None, typer.Option("--assets", help="assets.yaml: crown jewels, roles, owners, "
                                                "internal networks (overrides what is inferred).")] = None,
    since: Annotated[str | None, typer.Option(help="Evidence from, ISO 8601 (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Evidence until, ISO 8601 (UTC if no zone).")] = None,
    engine: Annotated[str, typer.Option(help="Query engine: duckdb or spark.")] = "duckdb",
    rules: Annotated[list[str] | None, typer.Option("--rules", help="Sigma rules (files or folders) to run first, "
                                                    "as `hunt` does; their findings join (repeatable).")] = None,
    hunt: Annotated[str, typer.Option(
        "--hunt", help="auto: run the package's rule packs and the analytics first when no hunt has run on the "
                       "case (always when --rules is given); always; never.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print the incident as JSON on stdout.")] = False,
) -> None:
    """Find the breach from the evidence: the entry host, the hosts reached, the attacker's database
    sessions, the data's way out; ranked, with the evidence of each claim."""
    existing_case(case)
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}")
    from breachscope.investigate.pipeline import InvestigateRequest
    from breachscope.investigate.pipeline import investigate as run
    from breachscope.model.assets import Assets, load_assets

    database = None
    if inventory is not None:
        input_file(inventory, "--inventory")
        from breachscope.model.inventory import load_inventory

        database = load_inventory(inventory).database
    loaded = Assets()
    if assets is not None:
        input_file(assets, "--assets")
        loaded = load_assets(assets)
    if hunt not in ("auto", "always", "never"):
        raise UsageError("--hunt must be auto, always or never")
    from breachscope.model.case import CaseLayout

    if rules or hunt == "always" or (hunt == "auto" and not CaseLayout(case).findings.exists()):
        from breachscope.cli.hunt_cmd import hunt_into_case

        found = hunt_into_case(case, list(rules or []), engine,
                               internal_networks=tuple(loaded.internal_networks))
        # on stderr: stdout carries the story (or the JSON)
        stderr.print(f"hunt: {found:,} finding(s) from the package's rule packs, the analytics"
                     + (" and the given rules" if rules else ""), markup=False)
    result = run(InvestigateRequest(case, parse_ts(since, "--since"), parse_ts(until, "--until"), loaded,
                                    database, engine))
    inc = result.incident
    if json_out:
        import json

        print_json(json.loads(inc.to_json()))
        return
    for line in inc.story:
        stdout.print(safe(line), markup=False, highlight=False)
    stdout.print(f"\n{result.alerts} alerts; {len(inc.suspects.sessions)} suspect database session(s); "
                 f"{safe(incident_path(case))} (run {result.run_id}, {result.seconds:.1f} s)", markup=False)
    skipped = [c for c in inc.coverage if c.status != "ran"]
    for c in skipped:
        stdout.print(f"note: detector {c.detector} {c.status}: {safe(c.note)}", markup=False)


def incident_path(case: Path) -> Path:
    from breachscope.model.case import CaseLayout

    return CaseLayout(case).incident

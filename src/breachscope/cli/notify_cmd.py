"""`breachscope notify`: which reports and notices are owed, to whom, by when, with drafts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breachscope.cli.output import print_json, quoted, render_rows, safe, stdout
from breachscope.cli.paths import case_folder
from breachscope.cli.scope_cmd import parse_ts
from breachscope.model.case import CaseLayout
from breachscope.model.errors import UsageError


def notify(
    case: Annotated[Path, typer.Option("--case", help="Case folder with an exposure (run `scope` first).")],
    aware_at: Annotated[str, typer.Option("--aware-at", help="When the organization became aware (ISO 8601).")],
    jurisdictions: Annotated[str | None, typer.Option(
        help="Comma-separated: JP, EU, US-CA, US-NY, US-TX (one without rules is an error).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the obligations as JSON.")] = False,
) -> None:
    """Reports and notices owed after the exposure, with deadlines and drafts (rules cite their sources)."""
    from breachscope.model.obligations import NO, YES
    from breachscope.notify.decide import run_notify

    case_folder(case)
    when = parse_ts(aware_at, "--aware-at")
    if when is None:
        raise UsageError("--aware-at is required")
    wanted = [j.strip() for j in jurisdictions.split(",") if j.strip()] if jurisdictions else None
    result = run_notify(case, when, wanted)
    decision = result.decision
    if json_out:
        print_json(result.to_json())
        return
    if decision.obligations:
        rows = [[o.jurisdiction, o.obligation, o.owed, o.deadline or o.deadline_text, o.to]
                for o in decision.obligations]
        render_rows(["jurisdiction", "obligation", "owed", "deadline", "to"], rows, "table")
    if decision.owed != YES:  # never an empty or all-"no" table without the reason
        stdout.print(f"{'nothing owed' if decision.owed == NO else 'possibly owed'}: {safe(decision.reason)}")
    for d in result.drafts:
        stdout.print(f"draft: {safe(d)}")
    stdout.print(f"run {result.run_id}: obligations in {quoted(CaseLayout(case).obligations)}")

"""`breachscope demo`: the main job, end to end, on the NTT replay the package simulates itself.

simulate -> ingest -> (the analyst's step, see below) -> scope -> notify. The investigation stage that
finds the attacker's sessions on its own is not built yet: until it is, the demo does what the analyst
did, in the open. The security team saw suspicious communications to "device A" of the order system
(the public facts); the demo takes that host's address and the incident window as its starting point
and lists device A's database sessions that did what the application never does (psql, COPY, OFFSET
paging) with one query, printed on screen. Those sessions are the suspects scope replays. Nothing here
reads the simulator's truth.json.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from breachscope.cli import notify_cmd, scope_cmd
from breachscope.cli.ingest_cmd import print_summary
from breachscope.cli.output import render_rows, safe, safe_block, stdout
from breachscope.cli.progress import byte_progress, show_progress, steps
from breachscope.model.case import CaseLayout
from breachscope.model.outdir import claim_folder

# The analyst's starting point for the default scenario: device A's address (ORD-AP02) and the window
# from the first sign of the intruder on device A's network to device B's isolation.
DEVICE_A = "10.40.2.12"
WINDOW = ("2025-01-20T00:00:00+09:00", "2025-02-15T23:59:59+09:00")
AWARE_AT = "2025-02-05T17:00:00+09:00"  # NTT Com saw the suspicious logs on Feb 5
SUSPICIOUS_SESSIONS = f"""
SELECT session_id, any_value(application_name) AS application, count(*) AS statements,
       min(ts) AS first, max(ts) AS last
FROM db_audit
WHERE src_ip = '{DEVICE_A}' AND ts BETWEEN '{WINDOW[0]}' AND '{WINDOW[1]}'
  AND (application_name = 'psql' OR command = 'COPY' OR statement ILIKE '%offset%')
GROUP BY session_id ORDER BY first
"""


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the scenario and the case: new, empty, or an earlier "
                                           "demo's (its scenario and case are replaced).")] = Path("demo-out"),
    events: Annotated[int, typer.Option(help="Ordinary records in the simulated evidence.")] = 200_000,
) -> None:
    """Replay the NTT Communications breach of 2025 from simulated evidence: who was exposed, what is owed."""
    from breachscope.engines.duckdb_case import open_case
    from breachscope.ingest.pipeline import ingest
    from breachscope.simulate import SimConfig, run

    scenario, case = prepare(out)
    stdout.print("1. simulating the NTT Com breach (evidence, order database, data inventory)...")
    with steps(show_progress()):
        run(SimConfig(out=scenario, events=events, jobs=os.cpu_count() or 1).validate())
    stdout.print("2. ingesting the evidence...")
    with byte_progress("ingest", enabled=show_progress()) as progress:
        print_summary(ingest([str(scenario / "evidence")], case, progress=progress))
    stdout.print("\n3. the analyst's step: device A's database sessions that the application never makes")
    stdout.print(safe_block(SUSPICIOUS_SESSIONS.strip()))
    with open_case(case) as c:
        rel = c.sql(SUSPICIOUS_SESSIONS)
        rows = rel.fetchall()
        render_rows(rel.columns, rows, "table")
    sessions = [str(r[0]) for r in rows]
    stdout.print("\n4. scoping: replaying those sessions' statements against the order database snapshot")
    scope_cmd.scope(case=case, inventory=scenario / "inventory.yaml", snapshot=str(scenario / "snapshot"),
                    suspect_session=sessions, since=WINDOW[0], until=WINDOW[1])
    stdout.print(f"\n5. what is owed, counted from awareness at {AWARE_AT}")
    notify_cmd.notify(case=case, aware_at=AWARE_AT)
    stdout.print(f"\nThe case is in {safe(case)}; the exposure in {safe(CaseLayout(case).exposure)}. Query it:\n"
                 f"  breachscope query --case {safe(case)} \"SELECT level, count(*) FROM subjects GROUP BY 1\"")


def prepare(out: Path) -> tuple[Path, Path]:
    """Claim the output folder (new, empty or an earlier demo's) and remove what an earlier demo wrote
    there, nothing else: a user's file in it stays. Refused (UsageError) for any other folder."""
    scenario, case = out / "scenario", out / "case"
    if claim_folder(out, "demo", also_ours=_unmarked_demo):
        for ours in (scenario, case):
            if ours.is_symlink() or ours.is_file():
                ours.unlink()
            elif ours.is_dir():
                shutil.rmtree(ours)
    return scenario, case


def _unmarked_demo(folder: Path) -> bool:
    """A demo folder written before folders were marked: exactly its scenario and its case."""
    return ({p.name for p in folder.iterdir()} == {"scenario", "case"}
            and (folder / "scenario" / "truth.json").is_file() and CaseLayout(folder / "case").exists())

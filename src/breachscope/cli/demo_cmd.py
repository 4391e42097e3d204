"""`breachscope demo`: the main job, end to end, on the NTT replay the package simulates itself.

simulate -> ingest -> hunt (rule packs, analytics) -> investigate -> scope --from-investigation -> notify ->
report and containment plan. Nobody tells the demo where
to look: the investigation finds the entry host, the hosts reached, the attacker's database sessions and
the data's way out from the evidence alone, and scope replays the sessions it found. Beside the story,
the demo prints when breachscope first flagged device A and device B against the public timeline (NTT
Com saw device A's suspicious logs on Feb 5 and found device B on Feb 15). Nothing here reads the
simulator's truth.json: the public dates below are the announcement's.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breachscope.cli import notify_cmd, scope_cmd
from breachscope.cli.hunt_cmd import hunt_into_case
from breachscope.cli.ingest_cmd import print_summary
from breachscope.cli.output import safe, stdout
from breachscope.cli.progress import byte_progress, show_progress, steps
from breachscope.model.case import CaseLayout
from breachscope.model.outdir import claim_folder

if TYPE_CHECKING:
    from breachscope.model.incident import Incident  # pyarrow: not at start-up (`--help` stays light)

# The public timeline (NTT Com's announcement): when its team saw device A's suspicious logs, and when
# it found device B. The demo compares its own first alerts with these; they are not used to search.
PUBLIC_A = datetime.fromisoformat("2025-02-05T10:40:00+09:00")
PUBLIC_B = datetime.fromisoformat("2025-02-15T09:30:00+09:00")
AWARE_AT = "2025-02-05T17:00:00+09:00"  # NTT Com saw the suspicious logs on Feb 5


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the scenario and the case: new, empty, or an earlier "
                                           "demo's (its scenario and case are replaced).")] = Path("demo-out"),
    events: Annotated[int, typer.Option(help="Ordinary records in the simulated evidence.")] = 200_000,
) -> None:
    """Replay the NTT Communications breach of 2025 from simulated evidence: who was exposed, what is owed."""
    from breachscope.ingest.pipeline import ingest
    from breachscope.investigate.pipeline import InvestigateRequest, investigate
    from breachscope.model.inventory import load_inventory
    from breachscope.simulate import SimConfig, run

    scenario, case = prepare(out)
    stdout.print("1. simulating the NTT Com breach (evidence, order database, data inventory)...")
    with steps(show_progress()):
        run(SimConfig(out=scenario, events=events, jobs=os.cpu_count() or 1).validate())
    stdout.print("2. ingesting the evidence...")
    with byte_progress("ingest", enabled=show_progress()) as progress:
        print_summary(ingest([str(scenario / "evidence")], case, progress=progress))
    stdout.print("\n3. investigating: from the evidence alone, with no starting point")
    found = hunt_into_case(case, [])
    stdout.print(f"   hunt: {found:,} finding(s) from the package's rule packs and the analytics")
    database = load_inventory(scenario / "inventory.yaml").database
    result = investigate(InvestigateRequest(case, database=database))
    for line in result.incident.story:
        stdout.print("   " + safe(line), markup=False, highlight=False)
    _against_public_timeline(result.incident)
    stdout.print("\n4. scoping: replaying the sessions the investigation found against the order database snapshot")
    scope_cmd.scope(case=case, inventory=scenario / "inventory.yaml", snapshot=str(scenario / "snapshot"),
                    from_investigation=True)
    stdout.print(f"\n5. what is owed, counted from awareness at {AWARE_AT}")
    notify_cmd.notify(case=case, aware_at=AWARE_AT)
    stdout.print("\n6. the incident report and the containment plan")
    for path in write_reports(case):
        stdout.print(f"   {safe(path)}", markup=False, highlight=False)
    stdout.print(f"\nThe case is in {safe(case)}; the incident in {safe(CaseLayout(case).incident)}, the exposure "
                 f"in {safe(CaseLayout(case).exposure)}. Query it:\n"
                 f"  breachscope query --case {safe(case)} \"SELECT level, count(*) FROM subjects GROUP BY 1\"")


#: containment plan formats the demo writes (the network team's firewall, the Windows admins' script)
DEMO_PLANS = ("nftables", "cisco-ios", "powershell", "json")


def write_reports(case: Path) -> list[Path]:
    """The result document, the HTML report in English and Japanese, and the containment plan in the
    formats the teams use: every file lands in CASE/report/ (written atomically)."""
    from breachscope.cli.contain_cmd import write_plan
    from breachscope.cli.report_cmd import render_to, write_result

    doc, result = write_result(case)
    written = [result]
    for lang, name in (("en", "report.html"), ("ja", "report_ja.html")):
        render_to(doc, "html", result.parent / name, lang=lang)
        written.append(result.parent / name)
    if doc.containment is not None:
        for fmt in DEMO_PLANS:
            written.append(write_plan(doc.containment, fmt, result.parent))
    return written


def _against_public_timeline(incident: Incident) -> None:
    """The first alert on the two top-ranked internal hosts (the entry host first: device A was the way
    in), against the dates NTT Com announced."""
    internal = sorted([h for h in incident.hosts if not h.role.startswith("external")][:2],
                      key=lambda h: h.role != "entry")
    for h, public, what in zip(internal, (PUBLIC_A, PUBLIC_B), ("device A", "device B"), strict=False):
        if h.first_alert is None:
            continue
        ahead = (public - h.first_alert).total_seconds() / 86400
        stdout.print(f"   rank {h.rank} {safe(h.name)} ({h.role}): first flagged {h.first_alert:%Y-%m-%d %H:%M} UTC, "
                     f"{ahead:.1f} days before NTT Com found {what} ({public:%b %d})", markup=False)


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

"""`breachscope contain`: the containment plan of the case's incident, in a device's own syntax (contain/)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breachscope.cli.output import quoted, safe, stderr
from breachscope.cli.paths import existing_case, output_file
from breachscope.model.errors import UsageError

if TYPE_CHECKING:  # loaded by the command itself: `breachscope --help` starts without them
    import pyarrow as pa

    from breachscope.model.containment import ContainmentPlan
    from breachscope.model.incident import Incident

#: --format NAME -> the file name `write_plan` gives it (the registry of formats is contain.formats.FORMATS)
FILE_NAMES = {"nftables": "containment.nft", "cisco-ios": "containment-ios.cfg", "cisco-asa": "containment-asa.cfg",
              "powershell": "containment.ps1", "json": "containment.json"}


def contain(
    case: Annotated[Path, typer.Option("--case", help="Case folder (after investigate).")],
    format: Annotated[str | None, typer.Option(
        "--format", help="nftables, cisco-ios, cisco-asa, powershell or json.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
    rollback: Annotated[bool, typer.Option("--rollback", help="The script that undoes the plan's script.")] = False,
    keep_access: Annotated[str | None, typer.Option(
        "--keep-access", help="Comma-separated addresses or networks that keep reaching the isolated hosts (the "
                              "forensic collector, the admins' jump host).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """The containment plan from the incident: capture, block, restrict, isolate, reset; each step with its
    reason, evidence and rollback, in the syntax of the device that carries it out."""
    fmt = "json" if json_out else format
    if fmt is None:
        raise UsageError(f"--format is required: one of {', '.join(FILE_NAMES)}")
    if fmt not in FILE_NAMES:
        raise UsageError(f"--format must be one of {', '.join(FILE_NAMES)}, not {quoted(fmt)}")
    existing_case(case)
    keep = parse_keep_access(keep_access)
    if out is not None:
        output_file(out)
    plan = plan_of_case(case, keep)
    text = render(plan, fmt, rollback)
    if out is None:
        typer.echo(text, nl=False)
    else:
        from breachscope.model.atomic import atomic_write

        atomic_write(out, text)
    what = "rollback" if rollback else f"{len(plan.steps)} steps"
    where = f" written to {quoted(out)}" if out is not None else ""
    stderr.print(f"contain: {fmt} {what}{where}; {len(plan.notes)} note(s) in the plan", markup=False)


def parse_keep_access(value: str | None) -> tuple[str, ...]:
    """--keep-access as validated addresses or networks; anything else is a usage error."""
    from breachscope.contain.addresses import network

    items = tuple(a.strip() for a in (value or "").split(",") if a.strip())
    bad = [a for a in items if network(a) is None]
    if bad:
        raise UsageError(f"--keep-access: not an address or a network: "
                         f"{', '.join(quoted(b) for b in bad)}")
    return items


def plan_of_case(case: Path, keep_access: tuple[str, ...] = ()) -> ContainmentPlan:
    """The plan of the case's latest incident (and its alerts, when they are there)."""
    from breachscope.model.case import CaseLayout
    from breachscope.model.incident import Incident, read_alerts

    layout = CaseLayout(case)
    if not layout.incident.is_file():
        raise UsageError(f"{safe(case)} has no investigation; run `breachscope investigate --case {safe(case)}` "
                         "first")
    incident = Incident.read(layout.incident)
    return plan_for(incident, read_alerts(layout.alerts) if layout.alerts.is_file() else None, keep_access)


def plan_for(incident: Incident, alerts: pa.Table | None, keep_access: tuple[str, ...] = ()) -> ContainmentPlan:
    """The plan of an incident; its alerts are used only for an incident written before hosts carried their
    rules (model.result_case.assemble calls this with the incident and alerts it read)."""
    from breachscope.contain.plan import build_plan
    from breachscope.model.incident import alert_rows

    old = alerts is not None and not any(h.rules for h in incident.hosts)
    return build_plan(incident, alert_rows(alerts) if old and alerts is not None else None, keep_access)


def render(plan: ContainmentPlan, fmt: str, rollback: bool = False) -> str:
    from breachscope.contain.formats import FORMATS

    f = FORMATS[fmt]
    return f.rollback(plan) if rollback else f.render(plan)


def write_plan(plan: ContainmentPlan, fmt: str, folder: Path, rollback: bool = False) -> Path:
    """The plan in `fmt`, written atomically to `folder` under its format's file name (the demo's reports)."""
    from breachscope.model.atomic import atomic_write

    name = FILE_NAMES[fmt]
    if rollback:
        stem, _, suffix = name.rpartition(".")
        name = f"{stem}-rollback.{suffix}"
    target = folder / name
    atomic_write(target, render(plan, fmt, rollback))
    return target

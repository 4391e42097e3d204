"""`breachscope scope`: who was exposed, which categories, how sure (docs/scope.md)."""

from __future__ import annotations

import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breachscope import __version__
from breachscope.cli.output import print_json, render_rows, safe, stderr, stdout
from breachscope.cli.paths import existing_case, input_file
from breachscope.cli.progress import show_progress, steps
from breachscope.model.errors import UsageError
from breachscope.model.progress import report

if TYPE_CHECKING:
    from breachscope.scope.statements import Suspects

HOST_HELP = "Client IP or host name of the statements (repeatable)."
USER_HELP = "Database user of the statements (repeatable)."
SESSION_HELP = "Database session of the statements: pgAudit session id or backend pid (repeatable)."
SUPER_HELP = ("Accept a PostgreSQL snapshot reached as a superuser (or a role with server file rights); "
              "refused otherwise.")
ROLE_HELP = "PostgreSQL snapshot: SET ROLE to this role (SELECT on the inventory's tables only) after connecting."
TIMEOUT_HELP = "Time budget of one replay query, in seconds (over it: the statement is POTENTIAL)."
MEMORY_HELP = "Memory budget of the replay in MB, over the snapshot held in memory (DuckDB snapshot)."
FROM_HELP = ("Take the suspects from the case's latest investigation (CASE/investigation/incident.json): its "
             "attacker's database sessions and its window (given --suspect-* and --since/--until are added).")
ROWS_HELP = "Rows one replay query may return (over it: the statement is POTENTIAL)."


def scope(
    case: Annotated[Path, typer.Option("--case", help="Case folder (with db_audit statements).")],
    inventory: Annotated[Path, typer.Option("--inventory", help="Data inventory YAML (docs/inventory.md).")],
    snapshot: Annotated[str, typer.Option("--snapshot", help="Folder of <table>.parquet files, or a PostgreSQL DSN.")],
    suspect_host: Annotated[list[str] | None, typer.Option("--suspect-host", help=HOST_HELP)] = None,
    suspect_user: Annotated[list[str] | None, typer.Option("--suspect-user", help=USER_HELP)] = None,
    suspect_session: Annotated[list[str] | None, typer.Option("--suspect-session", help=SESSION_HELP)] = None,
    since: Annotated[str | None, typer.Option(help="Window start, ISO 8601 (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Window end, ISO 8601 (UTC if no zone).")] = None,
    no_files: Annotated[bool, typer.Option("--no-files", help="Do not scan export files of the evidence.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    allow_superuser: Annotated[bool, typer.Option("--allow-superuser", help=SUPER_HELP)] = False,
    snapshot_role: Annotated[str | None, typer.Option("--snapshot-role", help=ROLE_HELP)] = None,
    statement_timeout: Annotated[float, typer.Option("--statement-timeout", min=0.1, help=TIMEOUT_HELP)] = 60.0,
    memory_limit: Annotated[int, typer.Option("--memory-limit", min=64, help=MEMORY_HELP)] = 2048,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1, help=ROWS_HELP)] = 20_000_000,
    from_investigation: Annotated[bool, typer.Option("--from-investigation", help=FROM_HELP)] = False,
) -> None:
    """Replay the suspects' database statements against a snapshot and scan staged exports: who was exposed."""
    existing_case(case)
    input_file(inventory, "--inventory")
    from breachscope.scope.budget import Budget
    from breachscope.scope.outputs import write_outputs
    from breachscope.scope.pipeline import ScopeRequest, run_scope
    from breachscope.scope.statements import Suspects

    suspects = Suspects(hosts=tuple(suspect_host or ()), users=tuple(suspect_user or ()),
                        sessions=tuple(suspect_session or ()),
                        since=parse_ts(since, "--since"), until=parse_ts(until, "--until"))
    if from_investigation:
        suspects = investigation_suspects(case, suspects)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    budget = Budget(statement_seconds=statement_timeout, memory_mb=memory_limit, max_rows=max_rows)
    request = ScopeRequest(case, inventory, snapshot, suspects, scan_exports=not no_files, budget=budget,
                           allow_superuser=allow_superuser, snapshot_role=snapshot_role)
    with steps(show_progress(json_out)):
        report("loading the inventory and the snapshot")
        result = run_scope(request, lambda msg: report(msg))
    run_info = {"started_at": started.isoformat(), "seconds": round(time.perf_counter() - t0, 3),
                "timings": {k: round(v, 3) for k, v in result.timings.items()}, "breachscope": __version__,
                "python": platform.python_version(), "argv": sys.argv[1:], "warnings": result.warnings,
                "files": result.files, "budget": budget.describe(), "host_resolution": result.host_resolution}
    out = write_outputs(case, result, run_info)
    for w in result.warnings:
        stderr.print(f"warning: {safe(w)}")
    summary = result.summary
    if json_out:
        doc = summary.to_json()
        print_json({**{k: doc[k] for k in ("organizations", "persons", "categories", "excluded", "statements")},
                    "warnings": result.warnings, "host_resolution": result.host_resolution})
        return
    for line in resolution_text(result.host_resolution):
        stdout.print(safe(line))
    levels = ("confirmed_exfiltrated", "confirmed_accessed", "potential", "total")
    rows = [[kind, *(counts.to_dict()[k] for k in levels)]
            for kind, counts in (("organizations", summary.organizations), ("persons", summary.persons))]
    render_rows(["subjects", *levels], rows, "table")
    st = summary.statements
    ex = summary.excluded
    stdout.print(f"statements: {st['replayed']:,} replayed, {st['potential']:,} potential, {st['ignored']:,} ignored")
    stdout.print(f"categories: {', '.join(summary.categories) or '-'}")
    stdout.print(f"excluded: {ex['organizations']:,} organization(s), {ex['persons']:,} person(s)")
    stdout.print(f"review list: {summary.review:,} item(s); outputs in {out}")


def parse_ts(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{option}: not an ISO 8601 time: {text!r}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def resolution_text(resolution: list[dict]) -> list[str]:
    """How each suspect host name was taken: its addresses, when, from which evidence."""
    out = []
    for r in resolution:
        if not r["addresses"]:
            out.append(f"suspect host {r['name']}: no address found in the case")
        for a in r["addresses"]:
            ev = a["evidence"][0] if a["evidence"] else None
            where = f", e.g. {ev['src_file']}:{ev['src_record']}" if ev else ""
            out.append(f"suspect host {r['name']} = {a['address']} from {a['from'] or 'the start'} until "
                       f"{a['until'] or 'the end'} ({a['sightings']} sighting(s): {'; '.join(a['evidence_kinds'])}"
                       f"{where})")
    return out


def investigation_suspects(case: Path, given: Suspects) -> Suspects:
    """The latest investigation's suspects, with those given on the command line added. Only its sessions
    select statements: its hosts and users are where the attacker acted, and selecting every statement
    of those (the application's own traffic from the same server, under the same account) would expose
    everyone the application served."""
    from breachscope.model.case import CaseLayout
    from breachscope.model.incident import Incident
    from breachscope.scope.statements import Suspects as Chosen

    path = CaseLayout(case).incident
    if not path.is_file():
        raise UsageError(f"--from-investigation: {safe(case)} has no investigation; run `breachscope investigate "
                         f"--case {safe(case)}` first")
    found = Incident.read(path).suspects
    if not found.sessions and not (given.sessions or given.hosts or given.users):
        raise UsageError("--from-investigation: the investigation found no attacker database session "
                         f"({safe(path)}); give --suspect-session/--suspect-host to scope anyway")
    return Chosen(hosts=given.hosts, users=given.users,
                    sessions=tuple(dict.fromkeys(given.sessions + found.sessions)),
                    since=given.since or found.since, until=given.until or found.until)

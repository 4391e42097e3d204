"""`breachscope scope`: who was exposed, which categories, how sure (docs/scope.md)."""

from __future__ import annotations

import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from breachscope import __version__
from breachscope.cli.output import print_json, render_rows, safe, stderr, stdout
from breachscope.cli.paths import existing_case, input_file
from breachscope.cli.progress import show_progress, steps
from breachscope.model.errors import UsageError
from breachscope.model.progress import report

HOST_HELP = "Client IP or host name of the statements (repeatable)."
USER_HELP = "Database user of the statements (repeatable)."
SESSION_HELP = "Database session of the statements: pgAudit session id or backend pid (repeatable)."


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
) -> None:
    """Replay the suspects' database statements against a snapshot and scan staged exports: who was exposed."""
    existing_case(case)
    input_file(inventory, "--inventory")
    from breachscope.scope.outputs import write_outputs
    from breachscope.scope.run import ScopeRequest, run_scope
    from breachscope.scope.statements import Suspects

    suspects = Suspects(hosts=tuple(suspect_host or ()), users=tuple(suspect_user or ()),
                        sessions=tuple(suspect_session or ()),
                        since=parse_ts(since, "--since"), until=parse_ts(until, "--until"))
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    with steps(show_progress(json_out)):
        report("loading the inventory and the snapshot")
        result = run_scope(ScopeRequest(case, inventory, snapshot, suspects, scan_exports=not no_files),
                           lambda msg: report(msg))
    run_info = {"started_at": started.isoformat(), "seconds": round(time.perf_counter() - t0, 3),
                "timings": {k: round(v, 3) for k, v in result.timings.items()}, "breachscope": __version__,
                "python": platform.python_version(), "argv": sys.argv[1:], "warnings": result.warnings,
                "files": result.files}
    out = write_outputs(case, result, run_info)
    for w in result.warnings:
        stderr.print(f"warning: {safe(w)}")
    summary = result.summary.to_json()
    if json_out:
        print_json({k: summary[k] for k in ("organizations", "persons", "categories", "excluded", "statements")})
        return
    rows = [[kind, *(summary[kind][k] for k in ("confirmed_exfiltrated", "confirmed_accessed", "potential", "total"))]
            for kind in ("organizations", "persons")]
    render_rows(["subjects", "confirmed_exfiltrated", "confirmed_accessed", "potential", "total"], rows, "table")
    st = summary["statements"]
    ex = summary["excluded"]
    stdout.print(f"statements: {st['replayed']:,} replayed, {st['potential']:,} potential, {st['ignored']:,} ignored")
    stdout.print(f"categories: {', '.join(summary['categories']) or '-'}")
    stdout.print(f"excluded: {ex['organizations']:,} organization(s), {ex['persons']:,} person(s)")
    stdout.print(f"review list: {summary['review']:,} item(s); outputs in {out}")


def parse_ts(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{option}: not an ISO 8601 time: {text!r}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

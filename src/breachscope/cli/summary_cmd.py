"""`breachscope summary`: overviews of a case. `summary logons`: who logged on where, from where,
how, how often, and who failed (Hayabusa's logon-summary, from Windows Security events)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from breachscope.cli.output import print_json, render_rows, stderr, stdout
from breachscope.cli.paths import existing_case
from breachscope.model.errors import BreachscopeError, UsageError

if TYPE_CHECKING:  # loaded by the command itself: `breachscope --help` starts without them
    from breachscope.detect.logons import LogonRow

app = typer.Typer(no_args_is_help=True, help="Overviews of a case (logons).")


@app.command("logons")
def logons(
    case: Annotated[Path, typer.Option("--case", help="Case folder.")],
    format: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Successful and failed logons per target user, host, source and logon type.

    From Windows Security 4624, 4625, 4648, 4768, 4769, 4771 and 4776, with counts, first and last
    seen, and failure reasons."""
    fmt = "json" if json_out else format
    if fmt not in ("table", "csv", "json"):
        raise UsageError(f"--format must be table, csv or json, not {format!r}")
    existing_case(case)
    from breachscope.detect.logons import COLUMNS, EXPLICIT, FAILURE, LOGON_EVENTS, SUCCESS, NoLogonEvents, summarize
    from breachscope.engines.duckdb_case import open_case

    sections = ((SUCCESS, "Successful logons"), (FAILURE, "Failed logons"),
                (EXPLICIT, "Logons with explicit credentials (4648, seen on the source machine)"))
    with open_case(case) as c:
        try:
            summary = summarize(c)
        except NoLogonEvents as exc:
            raise BreachscopeError(str(exc)) from exc
    if fmt == "json":
        print_json({"events": {str(k): v for k, v in summary.events.items()},
                    "rows": [_row_json(r) for r in summary.rows]})
        return
    if fmt == "csv":
        render_rows(COLUMNS, [_row_cells(r) for r in summary.rows], "csv")
        return
    read = ", ".join(f"{eid} {LOGON_EVENTS[eid].name}: {n:,}" for eid, n in summary.events.items())
    stdout.print(f"Logon events read: {read}")
    for result, title in sections:
        rows = summary.of(result)
        stdout.print(f"\n{title}: {sum(r.count for r in rows):,} events, {len(rows):,} combinations")
        if rows:
            cols = [c for c in COLUMNS if c != "result" and (result == FAILURE or c != "failure_reasons")]
            render_rows(cols, [_table_cells(r, cols) for r in rows], "table")
    stderr.print(f"{len(summary.rows):,} rows from {sum(summary.events.values()):,} logon events")


def _table_cells(r: LogonRow, cols: list[str]) -> list[str]:
    from breachscope.detect.logons import COLUMNS

    cells = dict(zip(COLUMNS, _row_cells(r), strict=True))
    return [f"{v:%Y-%m-%d %H:%M:%S}" if isinstance(v, datetime) else f"{v:,}" if isinstance(v, int)
            else "-" if v in (None, "") else str(v) for v in (cells[c] for c in cols)]


def _row_cells(r: LogonRow) -> list[Any]:
    return [r.result, r.target_user, r.target_domain, r.target_host, r.logon_type, r.source_ip, _hosts(r),
            r.count, r.first_seen, r.last_seen, "; ".join(r.failure_reasons), " ".join(map(str, r.event_ids))]


def _hosts(r: LogonRow, shown: int = 3) -> str:
    if r.source_host_count <= shown:
        return ", ".join(r.source_hosts)
    return f"{r.source_host_count:,} names: {', '.join(r.source_hosts[:shown])}, ..."


def _row_json(r: LogonRow) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(r).items()}
    out["failure_reasons"] = list(r.failure_reasons)
    out["event_ids"] = list(r.event_ids)
    return out

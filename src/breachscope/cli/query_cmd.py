"""`breachscope query`: SQL over the case (views: events, one per table, manifest, rejects, and the runs'
findings, subjects, obligations, runs...; `--run` shows those as they stood at a run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer

from breachscope.cli.output import render_rows
from breachscope.engines.duckdb_case import open_case
from breachscope.model.errors import BreachscopeError, UsageError


def query(
    sql: Annotated[str, typer.Argument(help="SQL to run (DuckDB dialect).")],
    case: Annotated[Path, typer.Option("--case", help="Case folder.")],
    format: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    run: Annotated[str | None, typer.Option(
        "--run", help="Show findings, subjects and obligations as they stood at this run (see the runs view); "
                      "default: the latest.")] = None,
) -> None:
    """Run SQL on the case and print the result."""
    fmt = "json" if json_out else format
    if fmt not in ("table", "csv", "json"):
        raise UsageError(f"--format must be table, csv or json, not {format!r}")
    with open_case(case, run=run) as c:
        try:
            rel = c.sql(sql)
        except duckdb.Error as exc:
            raise BreachscopeError(f"query failed: {exc}") from exc
        if rel is None:  # a statement without a result (SET, CREATE VIEW ...)
            return
        try:
            rows = rel.fetchall()
        except duckdb.Error as exc:
            raise BreachscopeError(f"query failed: {exc}") from exc
        render_rows(rel.columns, rows, fmt)

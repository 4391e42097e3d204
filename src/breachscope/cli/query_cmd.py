"""`breachscope query`: SQL over the case (views: events, one per table, manifest, rejects, and the runs'
findings, subjects, obligations, runs...; `--run` shows those as they stood at a run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from breachscope.cli.paths import existing_case
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
    existing_case(case)
    import duckdb

    from breachscope.cli.csv_out import write_csv
    from breachscope.cli.output import render_rows
    from breachscope.engines.duckdb_case import open_case

    with open_case(case, run=run) as c:
        try:
            rel = c.sql(sql)
        except duckdb.Error as exc:
            raise BreachscopeError(f"query failed: {exc}") from exc
        if rel is None:  # a statement without a result (SET, CREATE VIEW ...)
            return
        try:
            if fmt == "csv":  # written by DuckDB, neutralized in SQL: no Python per row
                write_csv(c.con, rel, sys.stdout)
                return
            rows = rel.fetchall()
        except duckdb.Error as exc:
            raise BreachscopeError(f"query failed: {exc}") from exc
        render_rows(rel.columns, rows, fmt)

"""`breachscope demo`: the main job on evidence the package ships (see README)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from breachscope.cli.ingest_cmd import print_summary
from breachscope.cli.output import print_json, render_rows, stdout
from breachscope.engines.duckdb_case import open_case
from breachscope.ingest.pipeline import ingest


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's evidence copy and case.")] = Path("demo-out"),
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
) -> None:
    """Ingest the shipped sample evidence into a fresh case and summarise it."""
    evidence = out / "evidence"
    case = out / "case"
    if out.exists():
        shutil.rmtree(out)
    evidence.mkdir(parents=True)
    src = resources.files("breachscope") / "demo_data"
    with resources.as_file(src) as data:
        shutil.copytree(data, evidence, dirs_exist_ok=True)
    summary = ingest([str(evidence)], case)
    with open_case(case) as c:
        rows = c.sql("SELECT table_name, family, count(*) AS events, min(ts) AS first, max(ts) AS last "
                     "FROM events GROUP BY ALL ORDER BY table_name").fetchall()
    if json_out:
        print_json({"ingest": summary.to_dict(),
                    "tables": [dict(zip(("table", "family", "events", "first", "last"), r, strict=True))
                               for r in rows]})
        return
    print_summary(summary)
    stdout.print()
    render_rows(["table", "family", "events", "first", "last"], rows, "table")
    stdout.print(f"\nQuery it: breachscope query --case {case} \"SELECT * FROM events LIMIT 10\"")

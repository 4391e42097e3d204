"""`breachscope analytics list`: every analytic, what it reads and what it looks for; and the rule packs."""

from __future__ import annotations

from typing import Annotated

import typer

from breachscope.cli.output import print_json, stdout

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The analytics (statistics over time and sequences) that `hunt` runs beside the rules.")


@app.command("list")
def list_analytics(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable list on stdout.")] = False,
) -> None:
    """List the analytics (name, tables read, ATT&CK, what each looks for) and the packaged rule packs."""
    from rich.table import Table  # here: `breachscope --help` starts without rich's tables
    from rich.text import Text

    from breachscope.detect.analytics import ANALYTICS
    from breachscope.detect.packs import packs

    items = [{"name": a.name, "title": a.title, "tables": list(a.tables), "attack": list(a.attack),
              "about": a.about, "references": list(a.references)} for a in ANALYTICS.values()]
    rule_packs = {name: sorted(f.name for f in path.glob("*.yml")) for name, path in packs().items()}
    if json_out:
        print_json({"analytics": items, "rule_packs": rule_packs})
        return
    t = Table(title=f"{len(items)} analytics (hunt --analytics all|none|NAME,...)", show_lines=True)
    for col in ("name", "reads", "ATT&CK", "what it looks for"):
        t.add_column(col, overflow="fold")
    for a in ANALYTICS.values():
        t.add_row(Text(a.name), Text(", ".join(a.tables)), Text(", ".join(a.attack)), Text(f"{a.title}: {a.about}"))
    stdout.console.print(t)
    for name, files in rule_packs.items():
        stdout.print(f"rule pack {name}: {len(files)} rule files (run unless --no-builtin-rules)")

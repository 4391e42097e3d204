"""`breachscope rules check` and `breachscope rules coverage`."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer

from breachscope.cli.output import print_json, safe, stderr, stdout
from breachscope.cli.paths import output_file
from breachscope.model.atomic import atomic_write

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Validate rules and map their ATT&CK coverage.")


@app.command("check")
def check(
    paths: Annotated[list[str], typer.Argument(help="Rule files or folders.")],
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable report on stdout.")] = False,
) -> None:
    """Load, validate and compile every rule (both SQL dialects); list each failure with path, line, reason."""
    from breachscope.detect.sigma.check import check_ruleset
    from breachscope.detect.sigma.ruleset import load_ruleset

    report = check_ruleset(load_ruleset(paths))
    if json_out:
        print_json(report)
    else:
        for p in report["failed"]:
            where = f"{p['path']}:{p['line']}" if p.get("line") else p["path"]
            stdout.print(f"FAIL {safe(where)}: {safe(p['reason'])}")
        for s in report["unserved"]:
            stdout.print(f"skip {safe(s['path'])}: {safe(s['reason'])}")
        for w in report["warnings"]:
            stdout.print(f"warn {safe(w['path'])}: {safe(w['reason'])}")
        stderr.print(f"{report['compiled']:,} of {report['rules']:,} rules compile ({report['compile_rate']:.2%}); "
                     f"{len(report['failed'])} fail; {len(report['unserved'])} have a logsource no table serves")
    if report["failed"]:
        raise typer.Exit(1)


@app.command("coverage")
def coverage(
    paths: Annotated[list[str], typer.Argument(help="Rule files or folders.")],
    out: Annotated[Path, typer.Option("--out", help="ATT&CK Navigator layer file to write.")],
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable summary on stdout.")] = False,
) -> None:
    """An ATT&CK Navigator layer: each technique scored by the number of rules that detect it."""
    from breachscope.detect.sigma.ruleset import load_ruleset

    output_file(out)
    rs = load_ruleset(paths)
    by_tech: dict[str, list[str]] = defaultdict(list)
    for r in rs.rules:
        for t in r.attack_techniques():
            by_tech[t].append(r.title)
    layer = navigator_layer(by_tech)
    atomic_write(out, json.dumps(layer, indent=1, ensure_ascii=False))
    summary = {"rules": len(rs.rules), "techniques": len(by_tech), "out": str(out)}
    if json_out:
        print_json(summary)
    else:
        stderr.print(f"{len(by_tech)} techniques covered by {len(rs.rules)} rules -> {out}")


def navigator_layer(by_tech: dict[str, list[str]]) -> dict[str, Any]:
    top = max((len(v) for v in by_tech.values()), default=1)
    return {
        "name": "breachscope rule coverage",
        "versions": {"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
        "domain": "enterprise-attack",
        "description": "Techniques detected by the rule set; score = number of rules.",
        "techniques": [
            {"techniqueID": t, "score": len(titles), "comment": "; ".join(sorted(titles)[:20]),
             "enabled": True, "metadata": [{"name": "rules", "value": str(len(titles))}]}
            for t, titles in sorted(by_tech.items())
        ],
        "gradient": {"colors": ["#ffffff", "#66b1ff", "#ff6666"], "minValue": 0, "maxValue": top},
        "legendItems": [], "showTacticRowBackground": False, "selectTechniquesAcrossTactics": True,
    }

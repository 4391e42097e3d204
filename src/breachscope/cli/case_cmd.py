"""`breachscope case forget`: take files out of a case (their rows, recorded in the manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breachscope.cli.output import print_json, quoted, stderr, stdout
from breachscope.cli.paths import existing_case
from breachscope.model.errors import BreachscopeError

app = typer.Typer(no_args_is_help=True, help="Change what a case holds.")


@app.command("forget")
def forget_command(
    files: Annotated[list[str], typer.Argument(help="Files or folders as ingested (an archive: with all its members; "
                                                    "'archive.zip!member' for one member).")],
    case: Annotated[Path, typer.Option("--case", help="Case folder.")],
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable summary on stdout.")] = False,
) -> None:
    """Remove the files' rows from the case and record them as forgotten; ingesting them again
    then reads them again. Duplicates of a forgotten file's content are forgotten with it."""
    existing_case(case)
    from breachscope.ingest.forget import forget, resolve_targets
    from breachscope.ingest.store import CaseWriter, new_run_id

    writer = CaseWriter(case)
    try:
        targets, missing = resolve_targets(writer.state.files, files)
        if missing:
            raise BreachscopeError("not in the case: " + ", ".join(quoted(m) for m in missing)
                                   + " (SELECT path FROM manifest lists what is)")
        result = forget(writer, targets, new_run_id(), "case forget")
    finally:
        writer.close()
    if json_out:
        print_json(result.to_dict())
        return
    rows = ", ".join(f"{t} {n:,}" for t, n in sorted(result.rows.items())) or "none"
    stdout.print(f"forgot {len(result.forgotten)} file(s) in {quoted(case)}; rows removed: {rows}")
    for f in result.forgotten:
        stderr.print(f"  {quoted(f.path)}")

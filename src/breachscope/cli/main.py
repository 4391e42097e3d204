"""The `breachscope` command: every subcommand is listed here, in one place.

Start-up matters (`--help` under 0.5 s): command modules import only typer and the standard library at
module level; DuckDB, Arrow, pySigma and the stages load inside the command that needs them.

Exit codes, the same for every command (README "Exit codes"): 0 success; 1 failure (evidence that
cannot be read, a failed query, a damaged case, an internal error); 2 usage (a wrong option or value,
a path that does not exist, a folder that is not a case or not ours to write, an invalid configuration
file); 130 interrupted.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Annotated

import typer

import breachscope.cli.summary_cmd as summary_cmd
from breachscope import __version__
from breachscope.cli import (
    analytics_cmd,
    contain_cmd,
    demo_cmd,
    hunt_cmd,
    ingest_cmd,
    investigate_cmd,
    notify_cmd,
    query_cmd,
    report_cmd,
    rules_cmd,
    scope_cmd,
    simulate_cmd,
)
from breachscope.cli.case_cmd import app as case_app
from breachscope.cli.output import safe, safe_block, stderr
from breachscope.model.errors import BreachscopeError
from breachscope.model.text import quoted

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,  # click's plain help: typer's Rich help imports Markdown and Pygments (~0.3 s)
    help="Breach investigation from the evidence an organization already keeps.",
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"breachscope {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Breach investigation from the evidence an organization already keeps."""


app.command("ingest")(ingest_cmd.ingest)
app.command("query")(query_cmd.query)
app.command("hunt", cls=hunt_cmd.HuntCommand)(hunt_cmd.hunt_command)
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(analytics_cmd.app, name="analytics")
app.add_typer(case_app, name="case")
app.command("demo")(demo_cmd.demo)
app.command("simulate")(simulate_cmd.simulate)
app.command("investigate")(investigate_cmd.investigate)
app.command("scope")(scope_cmd.scope)
app.command("notify")(notify_cmd.notify)
app.command("contain")(contain_cmd.contain)
app.command("report")(report_cmd.report)
app.add_typer(summary_cmd.app, name="summary")


def main() -> None:
    """Entry point: errors become one clear line and an exit code, never a traceback."""
    try:
        app(prog_name="breachscope")
    except BreachscopeError as exc:
        stderr.print(f"error: {_message(exc)}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("BREACHSCOPE_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            stderr.print(f"error: {safe(exc.strerror)}: {quoted(exc.filename)}")  # e.g. writing into a read-only case
            sys.exit(1)
        stderr.print(f"internal error: {type(exc).__name__}: {_message(exc)} (set BREACHSCOPE_DEBUG=1 for details)")
        sys.exit(1)


def _message(exc: BaseException) -> str:
    """An error's text, escaped; its own line breaks kept (DuckDB points at the column on the next
    lines) but indented, so no text inside it can start a line of its own ("error: ...")."""
    return safe_block(exc).replace("\t", " ").replace("\n", "\n  ")


if __name__ == "__main__":
    main()

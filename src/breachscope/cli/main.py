"""The `breachscope` command: every subcommand is listed here, in one place."""

from __future__ import annotations

import errno
import os
import sys

import typer

import breachscope.cli.summary_cmd as summary_cmd
from breachscope.cli import demo_cmd, hunt_cmd, ingest_cmd, notify_cmd, query_cmd, rules_cmd, scope_cmd, simulate_cmd
from breachscope.cli.case_cmd import app as case_app
from breachscope.cli.output import safe, stderr
from breachscope.model.errors import BreachscopeError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Breach investigation from the evidence an organization already keeps.",
)
app.command("ingest")(ingest_cmd.ingest)
app.command("query")(query_cmd.query)
app.command("hunt", cls=hunt_cmd.HuntCommand)(hunt_cmd.hunt_command)
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(case_app, name="case")
app.command("demo")(demo_cmd.demo)
app.command("simulate")(simulate_cmd.simulate)
app.command("scope")(scope_cmd.scope)
app.command("notify")(notify_cmd.notify)
app.add_typer(summary_cmd.app, name="summary")


def main() -> None:
    """Entry point: errors become one clear line and an exit code, never a traceback."""
    try:
        app()
    except BreachscopeError as exc:
        stderr.print(f"error: {safe(exc)}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("BREACHSCOPE_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            stderr.print(f"error: {safe(exc.strerror)}: {safe(exc.filename)}")  # e.g. writing into a read-only case
            sys.exit(1)
        stderr.print(f"internal error: {type(exc).__name__}: {safe(exc)} (set BREACHSCOPE_DEBUG=1 for details)")
        sys.exit(1)


if __name__ == "__main__":
    main()

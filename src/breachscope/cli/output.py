"""Terminal and file output that evidence content cannot abuse.

Evidence is attacker-written. Every value goes through breachscope.model.text before it is shown:
control characters (escape sequences, C1, bidi overrides, line breaks in one-line messages) are
shown as escapes, Rich markup and emoji codes are never interpreted, file names in messages are
quoted, JSON carries no raw control character, and CSV cells a spreadsheet would take for a formula
are neutralized.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from breachscope.model.text import csv_text, json_text, multi_line, one_line, quoted

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A Rich console made on first use (Rich is not imported for `--help` or JSON output).
    Markup, highlighting and emoji codes are off: evidence text is printed as it is (escaped)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, soft_wrap=True, highlight=False, markup=False, emoji=False)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


stdout = LazyConsole()
stderr = LazyConsole(stderr=True)

#: One-line text of a value (messages, table cells): every control character shown as an escape.
safe = one_line
#: Text of a value that may span lines (statements in table cells): line feeds and tabs kept.
safe_block = multi_line
#: A text CSV cell (controls escaped, formulas neutralized): the name findings_out and others use.
neutralize = csv_text
__all__ = ["dumps", "json_default", "neutralize", "print_json", "quoted", "render_rows", "safe", "safe_block",
           "stderr", "stdout"]


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(obj: Any, indent: int | None = None) -> str:
    """JSON text for stdout or a file: UTF-8 kept readable, control characters escaped."""
    return json_text(obj, indent=indent, default=json_default)


def print_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj, indent=2) + "\n")
    sys.stdout.flush()


def render_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
                types: Sequence[str] | None = None) -> None:
    if fmt == "json":
        print_json([dict(zip(columns, r, strict=True)) for r in rows])
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([csv_cell(c) for c in columns])
        for r in rows:
            w.writerow([csv_cell(v) for v in r])
        sys.stdout.write(buf.getvalue())
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_lines=False)
        for c in columns:
            table.add_column(Text(safe(c)), overflow="fold")
        for r in rows:
            table.add_row(*[Text(_cell(v)) for v in r])
        stdout.print(table)


def _cell(value: Any) -> str:
    """A value as a terminal table shows it: timestamps in UTC as '2025-02-05 00:12:01.12Z'."""
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}".rstrip("0")
        return text + ("Z" if value.utcoffset() is not None and not value.utcoffset() else "")
    return safe_block(value)


def csv_cell(value: Any) -> Any:
    """A CSV cell written by Python (the csv module): text neutralized, other values as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return csv_text(json_text(value, default=json_default))
    return value

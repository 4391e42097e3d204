"""Terminal and file output that evidence content cannot abuse.

Evidence is attacker-written: before it reaches a terminal, control characters (escape sequences)
are made visible and Rich markup is never interpreted; before it reaches a spreadsheet, text cells
that would start a formula are neutralized.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

stdout = Console(soft_wrap=True, highlight=False, markup=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F,
                                        *range(0x80, 0xA0)]}
_CONTROL[0x0D] = "\\r"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value: object) -> str:
    """Text of a value with control characters shown as escapes (no terminal injection)."""
    return str(value).translate(_CONTROL)


def neutralize(cell: str) -> str:
    """A text cell a spreadsheet would take for a formula gets a leading apostrophe."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


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


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=json_default, indent=2) + "\n")
    sys.stdout.flush()


def render_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
                types: Sequence[str] | None = None) -> None:
    if fmt == "json":
        print_json([dict(zip(columns, r, strict=True)) for r in rows])
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_csv_cell(v) for v in r])
        sys.stdout.write(buf.getvalue())
    else:
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
    return safe(value)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralize(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return neutralize(json.dumps(value, ensure_ascii=False, default=json_default))
    return str(value)

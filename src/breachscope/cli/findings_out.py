"""Findings in the forms people use: a terminal table, CSV (spreadsheet-safe), JSON lines, and
Timesketch's JSONL import format (message, datetime, timestamp_desc + attributes)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

import pyarrow as pa
from rich.table import Table
from rich.text import Text

from breachscope.cli.output import dumps, neutralize, safe, stdout

FORMATS = ("table", "csv", "jsonl", "timesketch")
CSV_COLUMNS = ("ts", "level", "rule_title", "rule_id", "host", "user", "src_ip", "dst_ip", "attack", "author",
               "table_name", "segment", "src_file", "src_record", "finding_id", "event")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def write(findings: pa.Table, fmt: str, out: TextIO | None) -> None:
    rows = findings.to_pylist()
    if fmt == "table":
        _table(rows)
    elif fmt == "csv":
        _csv(rows, out)
    elif fmt == "jsonl":
        _lines((dumps({k: _iso(v) for k, v in r.items()}) for r in rows), out)
    elif fmt == "timesketch":
        _lines((dumps(timesketch(r)) for r in rows), out)


def timesketch(r: dict[str, Any]) -> dict[str, Any]:
    """One Timesketch event: the three required fields plus the finding's attributes."""
    ts = r.get("ts")
    where = " ".join(x for x in (r.get("host") or "", r.get("user") or "") if x)
    out = {
        "message": f"[{r.get('level') or 'unknown'}] {r.get('rule_title')}" + (f" on {where}" if where else ""),
        "datetime": ts.isoformat() if isinstance(ts, datetime) else None,
        "timestamp_desc": "Sigma correlation" if r.get("kind") == "sigma_correlation" else "Sigma rule match",
    }
    for k, v in r.items():
        if k not in ("ts", "event") and v is not None:
            out[k] = _iso(v)
    if r.get("event"):
        out["event"] = r["event"]
    return out


def _lines(lines: Iterable[str], out: TextIO | None) -> None:
    target = out or io.StringIO()
    for line in lines:
        target.write(line + "\n")
    if out is None:
        stdout.file.write(target.getvalue())  # type: ignore[attr-defined]


def _csv(rows: list[dict[str, Any]], out: TextIO | None) -> None:
    buf = out or io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        cells = []
        for c in CSV_COLUMNS:
            v = r.get(c)
            if isinstance(v, list):
                v = ";".join(map(str, v))
            v = "" if v is None else _iso(v)
            cells.append(neutralize(v) if isinstance(v, str) else v)
        w.writerow(cells)
    if out is None:
        stdout.file.write(buf.getvalue())  # type: ignore[attr-defined]


def _table(rows: list[dict[str, Any]], limit: int = 200) -> None:
    t = Table(show_lines=False)
    for col in ("time (UTC)", "level", "rule", "host", "user", "source"):
        t.add_column(col, overflow="fold")
    for r in rows[:limit]:
        ts = r.get("ts")
        src = f"{r.get('src_file') or ''}:{r.get('src_record') or ''}" if r.get("src_file") else r.get("segment")
        t.add_row(Text(ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, datetime) else ""),
                  Text(safe(r.get("level") or "")), Text(safe(r.get("rule_title") or "")),
                  Text(safe(r.get("host") or "")), Text(safe(r.get("user") or "")), Text(safe(src or "")))
    stdout.print(t)
    if len(rows) > limit:
        stdout.print(f"... {len(rows) - limit} more findings (use --format csv|jsonl|timesketch --out FILE)")

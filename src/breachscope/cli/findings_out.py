"""Findings in the forms people use: a terminal table, CSV (spreadsheet-safe), JSON lines, and
Timesketch's JSONL import format (message, datetime, timestamp_desc, plus the finding's attributes and
its event's fields as top-level keys).

Every form carries `details` (detect/details.py: the event's fields an analyst reads first). Values
are evidence: the terminal shows them through `safe`, CSV cells go through `neutralize`, JSON keeps
them as data (its own escaping). A file given with --out is written beside itself and renamed into
place, so a killed run never leaves half a file under the name asked for.

CSV is built column by column in Arrow and written by Arrow's CSV writer, not row by row in Python
(bench/findings_out_bench.py, 200k findings: see the README).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from rich.table import Table
from rich.text import Text

from breachscope.cli.output import neutralize, quoted, safe, stdout
from breachscope.detect.details import details_column, finding_details
from breachscope.model.atomic import atomic_path
from breachscope.model.errors import BreachscopeError
from breachscope.model.text import json_bytes_escaped

CSV_COLUMNS = ("ts", "level", "rule_title", "host", "user", "details", "src_ip", "dst_ip", "attack", "rule_id",
               "author", "table_name", "segment", "src_file", "src_record", "finding_id", "event")
TABLE_ROWS = 200  # the terminal shows the first ones; files get all
TABLE_DETAILS = 240  # characters of details in the terminal (files get all of them)
BATCH = 8192
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A cell of printable ASCII (and details' separator ¦) that starts with one of these cannot be a
# spreadsheet formula, nor hold a control or bidi character: neutralize() would return it unchanged,
# so only the other cells go through it (a test holds this to the helper's result).
_PLAIN_CELL = r'^[A-Za-z0-9{(\[/\\._"\'][\x20-\x7e\x{a6}]*$'
TIMESKETCH_RESERVED = frozenset({"message", "datetime", "timestamp", "timestamp_desc", "tag", "label", "data_type",
                                 "source_short", "source_long"})
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass(frozen=True)
class OutputFormat:
    """One form of findings (one entry of FORMAT_REGISTRY, at the end of this module): either `stream`
    writes all findings as bytes (to the --out file or stdout), or `show` prints them for a terminal."""

    stream: Callable[[pa.Table, BinaryIO], None] | None = None
    show: Callable[[pa.Table], None] | None = None

    def __post_init__(self) -> None:
        if (self.stream is None) == (self.show is None):
            raise ValueError("an output format either streams bytes or shows a table, not both or neither")


def write(findings: pa.Table, fmt: str, out: Path | None) -> None:
    """All findings in `fmt` to the file `out` (replaced atomically), else to stdout."""
    form = FORMAT_REGISTRY[fmt]
    if form.show is not None:
        form.show(findings)
        return
    stream = form.stream
    assert stream is not None  # __post_init__: one or the other
    with _target(out) as fh:
        stream(findings, fh)


@contextmanager
def _target(out: Path | None) -> Iterator[BinaryIO]:
    if out is None:
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with atomic_path(out, durable=True) as tmp:
        try:
            fh = tmp.open("wb")
        except OSError as exc:
            raise BreachscopeError(f"cannot write {quoted(out)}: {exc.strerror or exc}") from exc
        with fh:
            yield fh
            fh.flush()


# --- CSV ------------------------------------------------------------------------------------------
def csv_table(findings: pa.Table) -> pa.Table:
    """The CSV columns as text, cells neutralized for spreadsheets."""
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in CSV_COLUMNS:
        if name == "details":
            col: pa.Array | pa.ChunkedArray = details_column(findings)
        else:
            col = findings.column(name)
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_list(col.type):
            col = pc.binary_join(col, ";")
        if pa.types.is_string(col.type):
            col = neutralized(col)
        cols[name] = col
    return pa.table(cols)


def neutralized(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """neutralize() applied to every cell that might need it (the rest cannot change)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    risky = pc.invert(pc.fill_null(pc.match_substring_regex(col, _PLAIN_CELL), True))
    idx = pc.indices_nonzero(risky)
    if len(idx) == 0:
        return col
    fixed = pa.array([neutralize(v) for v in col.take(idx).to_pylist()], pa.string())
    return pc.replace_with_mask(col, risky, fixed)


def _csv(findings: pa.Table, fh: BinaryIO) -> None:
    pacsv.write_csv(csv_table(findings), fh)


# --- JSON lines -----------------------------------------------------------------------------------
def _lines(line: Callable[[dict[str, Any]], bytes]) -> Callable[[pa.Table, BinaryIO], None]:
    """A format of one line of bytes per finding, written a batch at a time."""
    def stream(findings: pa.Table, fh: BinaryIO) -> None:
        for batch in findings.to_batches(max_chunksize=BATCH):
            fh.write(b"".join(line(r) for r in batch.to_pylist()))
    return stream


def _jsonl_line(r: dict[str, Any]) -> bytes:
    r["details"] = finding_details(r)
    return json_bytes_escaped(orjson.dumps(r, default=str)) + b"\n"


def _timesketch_line(r: dict[str, Any]) -> bytes:
    return json_bytes_escaped(orjson.dumps(timesketch(r), default=str)) + b"\n"


def timesketch(r: dict[str, Any]) -> dict[str, Any]:
    """One Timesketch event: the required fields, the finding's attributes, and its event's fields
    as top-level keys (renamed `event_<name>` where a name is taken or reserved; only letters,
    digits, `_` and `-` in names, so `id.orig_h` becomes `id_orig_h` and no name starts with `_`)."""
    try:
        event = orjson.loads(r["event"]) if r.get("event") else {}
    except orjson.JSONDecodeError:
        event = {}
    if not isinstance(event, dict):
        event = {}
    ts = r.get("ts")
    details = finding_details(r, event)
    where = " ".join(x for x in (r.get("host") or "", r.get("user") or "") if x)
    message = f"[{r.get('level') or 'unknown'}] {r.get('rule_title')}" + (f" on {where}" if where else "")
    out: dict[str, Any] = {
        "message": message + (f": {details}" if details else ""),
        "datetime": ts.isoformat() if isinstance(ts, datetime) else None,
        "timestamp": (ts - EPOCH) // timedelta(microseconds=1) if isinstance(ts, datetime) else None,
        "timestamp_desc": "Sigma correlation" if r.get("kind") == "sigma_correlation" else "Sigma rule match",
    }
    for k, v in r.items():
        if k not in ("ts", "event") and v is not None:
            out[k] = v
    out["details"] = details
    for k, v in event.items():
        if v is None or k == "ts" or (k in out and out[k] == v):
            continue  # ts is `datetime`; host, user, src_ip... are already there with the same value
        out[_free_key(out, k)] = v
    return out


def _free_key(out: dict[str, Any], name: str) -> str:
    key = _clean_key(name)
    if key in out or key in TIMESKETCH_RESERVED:
        key = f"event_{key}"
    base, n = key, 2
    while key in out:
        key, n = f"{base}_{n}", n + 1
    return key


@lru_cache(maxsize=1 << 16)  # field names repeat from event to event
def _clean_key(name: str) -> str:
    return _KEY_CHARS.sub("_", str(name))[:128].lstrip("_") or "field"


# --- terminal -------------------------------------------------------------------------------------
def _table(findings: pa.Table) -> None:
    if findings.num_rows == 0:
        stdout.print("No findings.")
        return
    shown = findings.slice(0, TABLE_ROWS)
    details = details_column(shown).to_pylist()
    t = Table(show_lines=False)
    for col in ("time (UTC)", "level", "rule", "host", "user", "details", "source"):
        t.add_column(col, overflow="fold")
    for r, d in zip(shown.to_pylist(), details, strict=True):
        ts = r.get("ts")
        src = f"{Path(r['src_file']).name}:{r.get('src_record') or ''}" if r.get("src_file") else r.get("segment")
        if len(d) > TABLE_DETAILS:
            d = d[:TABLE_DETAILS] + "…"
        t.add_row(Text(ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, datetime) else ""),
                  Text(safe(r.get("level") or "")), Text(safe(r.get("rule_title") or "")),
                  Text(safe(r.get("host") or "")), Text(safe(r.get("user") or "")), Text(safe(d)),
                  Text(safe(src or "")))
    stdout.print(t)
    if findings.num_rows > TABLE_ROWS:
        files = "|".join(name for name, form in FORMAT_REGISTRY.items() if form.stream is not None)
        stdout.print(f"... {findings.num_rows - TABLE_ROWS:,} more findings (all of them with "
                     f"--format {files} --out FILE)")


#: --format NAME -> its writer. A new form of findings: its function(s) above and one line here.
FORMAT_REGISTRY: dict[str, OutputFormat] = {
    "table": OutputFormat(show=_table),
    "csv": OutputFormat(stream=_csv),
    "jsonl": OutputFormat(stream=_lines(_jsonl_line)),
    "timesketch": OutputFormat(stream=_lines(_timesketch_line)),
}
FORMATS = tuple(FORMAT_REGISTRY)

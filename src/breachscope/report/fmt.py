"""How values are shown in the report: times in UTC with the zone said, numbers with separators, evidence text
with its control characters made visible (model.text, the one neutralization every output uses)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from breachscope.model.text import multi_line, one_line

EMPTY = "–"  # an absent value (never shown as 0 or as an empty cell that reads like one)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def text(value: object) -> str:
    """Evidence-written text for display, on one line: controls (line breaks and tabs too), bidi overrides and
    line separators as visible escapes, so a name or a summary cannot forge a second line."""
    return EMPTY if value is None else one_line(value)


def block(value: object) -> str:
    """Evidence-written text whose lines matter (an SQL statement): line feeds and tabs kept, other controls
    escaped."""
    return EMPTY if value is None else multi_line(value)


def utc(ts: datetime | None) -> str:
    """A time in UTC, zone said; naive times are taken as UTC (the artifacts write UTC)."""
    if ts is None:
        return EMPTY
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_iso(value: str | None) -> str:
    """An ISO 8601 time from an artifact (e.g. a deadline with its zone) in UTC; the text itself when it is
    not a time (the rule's own words stay readable)."""
    if not value:
        return EMPTY
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        return text(value)


def epoch_ms(ts: datetime | None) -> int | None:
    """A time as epoch milliseconds (the page's data: smaller than text, exact to the millisecond shown)."""
    if ts is None:
        return None
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return (ts - _EPOCH) // timedelta(milliseconds=1)  # exact integer arithmetic, no float rounding


def number(n: int | float | None) -> str:
    if n is None:
        return EMPTY
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}"
    return f"{int(n):,}"


def score(value: float | None) -> int | float | None:
    """A score for the page's data: integers without a fraction, others to 0.1 (what is shown)."""
    if value is None or not math.isfinite(value):
        return None
    rounded = round(float(value), 1)
    return int(rounded) if rounded.is_integer() else rounded


def short_path(path: str | None, parts: int = 2) -> str:
    """The last `parts` components of an evidence path (many files share a name: conn.log per day)."""
    if not path:
        return EMPTY
    pieces = [p for p in path.replace("\\", "/").split("/") if p]
    return text("/".join(pieces[-parts:]) if pieces else path)

"""Timestamps to UTC epoch microseconds, including the ones that lack a year or a zone.

A timestamp without a year (RFC 3164 `Feb  5 10:00:00`, Cisco `*Mar  1 00:01:02.123`) is resolved,
in this order, from: the `--year` option; a year seen earlier in the same file (a full timestamp or
the file name); the file's modification time. A timestamp without a zone takes `--tz`, else UTC.
Each row records how its timestamp was resolved (`ts_resolution`) and keeps the original text, and
the file's manifest entry says which assumption was made, so nothing is guessed silently.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d\d|19\d\d)[-_.]?(0[1-9]|1[0-2])")


def dt_to_us(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def parse_iso_us(text: str, default_tz: tzinfo = UTC) -> int | None:
    """ISO 8601 (with 'Z', offsets, 7-digit fractions, space or T); naive times take default_tz."""
    s = text.strip()
    if s.endswith(" UTC"):
        s = s[:-4]
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_tz)
    return dt_to_us(dt)


def epoch_to_us(value: str | float | int) -> int | None:
    """Epoch seconds with an optional fraction ('1612345678.123456')."""
    try:
        if isinstance(value, str):
            whole, _, frac = value.strip().partition(".")
            return int(whole) * _US + (int((frac + "000000")[:6]) if frac else 0) * (
                -1 if whole.startswith("-") else 1)
        return round(float(value) * _US)
    except (ValueError, OverflowError):
        return None


def parse_ts_us(value: Any) -> int | None:
    """Best-effort conversion used by the batch builder for odd values; None when unparseable."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value * _US)
    if isinstance(value, datetime):
        return dt_to_us(value)
    if isinstance(value, str):
        return parse_iso_us(value)
    return None


class YearResolver:
    """Supplies the year for year-less timestamps of one file, handling December -> January."""

    def __init__(self, option_year: int | None, file_name: str, mtime: float) -> None:
        self.option_year = option_year
        m = _YEAR_IN_NAME.search(file_name)
        self.name_year = int(m.group(1)) if m else None
        mdate = datetime.fromtimestamp(mtime, UTC) if mtime else None
        self.mtime_year = mdate.year if mdate else None
        self.mtime_month = mdate.month if mdate else 12
        self.context_year: int | None = None
        self._last_month: int | None = None
        self._rollover = 0

    def saw_full_date(self, year: int, month: int) -> None:
        """A timestamp with a year in the same file anchors the following year-less ones."""
        self.context_year = year
        self._last_month = month
        self._rollover = 0

    def resolve(self, month: int) -> tuple[int, str]:
        """(year, how) for a year-less timestamp in `month`; `how` goes into ts_resolution."""
        if self._last_month is not None and month < self._last_month and self._last_month - month >= 6:
            self._rollover += 1  # logs run forward: Dec then Jan means a new year
        self._last_month = month
        if self.option_year is not None:
            return self.option_year + self._rollover, "year_from_option"
        if self.context_year is not None:
            return self.context_year + self._rollover, "year_from_file_content"
        if self.name_year is not None:
            return self.name_year + self._rollover, "year_from_file_name"
        if self.mtime_year is not None:
            # the file was last written at mtime: a month later in the year than that is last year's
            year = self.mtime_year if month <= self.mtime_month else self.mtime_year - 1
            return year, "year_from_file_mtime"
        return datetime.now(UTC).year, "year_from_clock"

"""Syslog timestamps to UTC microseconds: zone labels (Cisco `clock timezone` abbreviations and
UTC/GMT offsets), the year of year-less times, and the `ts_resolution` text that says how."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

from breachscope.ingest.context import ReadContext
from breachscope.ingest.syslog.grammar import Parsed
from breachscope.ingest.timeparse import MONTHS, YearResolver, dt_to_us

# --- time zones --------------------------------------------------------------------------------------
#: Abbreviations Cisco devices print (`clock timezone`), in minutes east of UTC. Ambiguous ones take
#: the meaning listed here (US for CST/AST, Irish/British for IST/BST); the file's warnings say so.
ZONE_MINUTES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "IST": 60, "CET": 60, "MET": 60,
    "CEST": 120, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "PKT": 300, "ICT": 420, "WIB": 420,
    "HKT": 480, "SGT": 480, "AWST": 480, "PHT": 480, "JST": 540, "KST": 540, "ACST": 570, "ACDT": 630,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "HST": -600, "AKST": -540, "AKDT": -480,
    "PST": -480, "PDT": -420, "MST": -420, "MDT": -360, "CST": -360, "CDT": -300, "EST": -300,
    "EDT": -240, "AST": -240, "ADT": -180, "NST": -210, "NDT": -150, "BRT": -180, "ART": -180,
}
AMBIGUOUS_ZONES = frozenset({"IST", "BST", "CST", "AST"})
_OFFSET = re.compile(r"(?:UTC|GMT)(?:([+-])(\d{1,2})(?::?(\d\d))?)?")


@lru_cache(maxsize=1024)
def zone_offset(label: str) -> timezone | None:
    """The fixed offset a zone label in a Cisco timestamp stands for (None: unknown label)."""
    upper = label.upper()
    minutes = ZONE_MINUTES.get(upper)
    if minutes is None:
        m = _OFFSET.fullmatch(upper)
        if m is None:
            return None
        sign, hours, mins = m.groups()
        minutes = (int(hours or 0) * 60 + int(mins or 0)) * (-1 if sign == "-" else 1)
        if abs(minutes) > 14 * 60:
            return None
    return timezone(timedelta(minutes=minutes))


Anchor = tuple[int, int, str]  # (year, month, how) of a full date on the same line


# --- timestamps --------------------------------------------------------------------------------------
_YEAR_WARNINGS = {
    "year_from_option": "timestamps without a year: year taken from the --year option",
    "year_from_file_content": "timestamps without a year: year taken from an earlier full date in the file",
    "year_from_file_name": "timestamps without a year: year taken from the file name",
    "year_from_file_mtime": "timestamps without a year: year taken from the file's modification time",
    "year_from_clock": "timestamps without a year: year taken from today's date (no other clue)",
    "year_from_header": "timestamps without a year: year taken from a full date in a header of the same line",
    "year_from_message": "timestamps without a year: year taken from a full date in the message of the same line",
}


class TimeResolver:
    """Turns the timestamp texts of one file into UTC microseconds and says how (`ts_resolution`).

    Each kind of assumption is reported once per file through ctx.warn (the row says it for every line)."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.years = YearResolver(ctx.options.year, ctx.source.display, ctx.source.mtime)
        self.zone: tzinfo = ctx.options.zone
        self.zone_name = ctx.options.tz or "UTC"
        given = ctx.options.tz is not None
        self.tz_how = "tz_from_option" if given else "tz_assumed_utc"
        self.unknown_how = "tz_unknown_label_from_option" if given else "tz_unknown_label_assumed_utc"
        self._hours: dict[tuple[Any, ...], int] = {}
        self._labels: dict[str, tuple[tzinfo, str | None]] = {}
        self._hows: dict[tuple[str | None, str | None], str] = {}
        self._warned: set[str] = set()
        self._last_resolved: tuple[int, tuple[int, str]] | None = None

    def full_date(self, year: int, month: int) -> None:
        self.years.saw_full_date(year, month)
        self._last_resolved = None

    def resolve_year(self, month: int) -> tuple[int, str]:
        """YearResolver.resolve, skipped while the month and the file's context do not change."""
        last = self._last_resolved
        if last is not None and last[0] == month:
            return last[1]
        got = self.years.resolve(month)
        self._last_resolved = (month, got)
        return got

    def warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.ctx.warn(message)

    def how(self, year_how: str | None, tz_how: str | None) -> str:
        """The ts_resolution text for a pair of assumptions (the first time: tell the manifest)."""
        key = (year_how, tz_how)
        found = self._hows.get(key)
        if found is None:
            if year_how is not None:
                self.warn_once(_YEAR_WARNINGS.get(year_how, year_how))
            if tz_how == self.tz_how:
                self.warn_once(f"timestamps without a time zone: taken as {self.zone_name}"
                               + (" (--tz)" if self.ctx.options.tz else " (no --tz given)"))
            found = self._hows[key] = "+".join(h for h in key if h) or "exact"
        return found

    def label_zone(self, label: str) -> tuple[tzinfo, str | None]:
        """(zone, assumption) for a zone label in a timestamp; unknown labels take the --tz zone."""
        found = self._labels.get(label)
        if found is None:
            tz = zone_offset(label)
            if tz is None:
                self.warn_once(f"unknown time zone labels in timestamps (e.g. {label[:8]!r}): "
                               f"taken as {self.zone_name}")
                found = (self.zone, self.unknown_how)
            else:
                if label.upper() in AMBIGUOUS_ZONES:
                    self.warn_once("ambiguous zone abbreviations read as BST/IST=UTC+01:00, CST=UTC-06:00, "
                                   "AST=UTC-04:00")
                found = (tz, None)
            if len(self._labels) < 1000:  # hostile input cannot grow this without bound
                self._labels[label] = found
        return found

    def local_us(self, year: int, month: int, day: str, hour: str, minute: str, second: str,
                 frac: str | None, tz: tzinfo) -> int | None:
        """Microseconds of a wall-clock time in `tz`; the zone offset is looked up once per hour."""
        key = (year, month, day, hour, tz)
        base = self._hours.get(key)
        if base is None:
            try:
                base = dt_to_us(datetime(year, month, int(day), int(hour), tzinfo=tz))
            except (ValueError, OverflowError):
                self.warn_once("impossible dates or times (e.g. Feb 30, 25:00): ts is null, ts_text kept")
                return None
            if len(self._hours) > 50_000:
                self._hours.clear()
            self._hours[key] = base
        mi, ss = int(minute), int(second)
        if mi > 59 or ss > 60:
            self.warn_once("impossible dates or times (e.g. Feb 30, 25:00): ts is null, ts_text kept")
            return None
        us = base + (mi * 60 + ss) * 1_000_000
        if frac:
            us += int((frac[1:] + "00000")[:6])
        return us

    def clock(self, m: re.Match[str], label: str | None = None,
              anchor: Anchor | None = None) -> tuple[int | None, str]:
        """A `CLOCK` match (Cisco or BSD) and its zone label: what the text lacks is resolved and recorded."""
        y1, mon, day, y2, hh, mi, ss, frac = m.group("y1", "mon", "day", "y2", "hh", "mi", "ss", "frac")
        month = _MONTH_NUMBER[mon]
        y = y1 or y2
        year_how: str | None = None
        if y is not None:
            year = int(y)
            self.full_date(year, month)
        elif anchor is not None:  # a full date elsewhere on the line, across a year boundary too
            year = anchor[0] + (-1 if month - anchor[1] > 6 else 1 if anchor[1] - month > 6 else 0)
            year_how = anchor[2]
        else:
            year, year_how = self.resolve_year(month)
        tz_how: str | None
        if label is None:
            tz, tz_how = self.zone, self.tz_how
        else:
            tz, tz_how = self.label_zone(label)
        us = self.local_us(year, month, day, hh, mi, ss, frac, tz)
        return (us, self.how(year_how, tz_how)) if us is not None else (None, "invalid")

    def iso(self, text: str) -> tuple[int | None, str, Anchor | None]:
        """An RFC 3339 time: (us, how, (year, month) anchor for year-less times on the same line)."""
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            self.warn_once("impossible dates or times (e.g. Feb 30, 25:00): ts is null, ts_text kept")
            return None, "invalid", None
        self.full_date(dt.year, dt.month)
        how = "exact"
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.zone)
            how = self.how(None, self.tz_how)
        return dt_to_us(dt), how, (dt.year, dt.month, "year_from_header")

    def anchor(self, p: Parsed) -> Anchor | None:
        """A full date on the line besides the chosen clock: a relay's outer header, a login message's."""
        relay = p.relay
        if relay is not None:
            y = relay.group("y1") or relay.group("y2")
            if y is not None:
                return self._seen(int(y), _MONTH_NUMBER[relay.group("mon")], "year_from_header")
            iso = relay.group("iso")
            if iso:
                return self._seen(int(iso[:4]), int(iso[5:7]), "year_from_header")
        when = p.extra.get("login_time") if p.extra else None
        if when is not None:
            parts = when.split()
            return self._seen(int(parts[5]), _MONTH_NUMBER[parts[3]], "year_from_message")
        return None

    def _seen(self, year: int, month: int, how: str) -> Anchor:
        self.full_date(year, month)
        return year, month, how

    def login_time(self, text: str) -> tuple[int | None, str]:
        """`07:57:58 VIENNA Thu Jan 27 2022` from a Cisco login message (for lines with only an uptime)."""
        hms, label, _, mon, day, year = text.split()
        month = _MONTH_NUMBER[mon]
        self.full_date(int(year), month)
        tz, tz_how = self.label_zone(label)
        hh, mi, ss = hms.split(":")
        us = self.local_us(int(year), month, day, hh, mi, ss, None, tz)
        if us is None:
            return None, "invalid"
        return us, "from_message" + (f"+{tz_how}" if tz_how else "")


_MONTH_NUMBER = {m.capitalize(): n for m, n in MONTHS.items()}

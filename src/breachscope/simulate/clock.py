"""The simulated period, its working rhythm (office hours and holidays) and its time text.

All times are epoch microseconds (UTC) in int64 arrays. Days and files follow local midnight, as an
organization's collectors rotate their files in local time. The period and its time zone come from the
scenario file (`period:`): `use()` makes one the active period of the process. A run sets it before any
record is drawn, in the parent and in every worker, because each part of the simulator reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from breachscope.simulate.text import decimal6, join, lpad, strs

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass(frozen=True)
class Period:
    """The days a simulation covers, in the organization's time zone."""

    first_day: date = date(2025, 1, 13)  # a Monday (and 成人の日)
    days: int = 54  # to 2025-03-07 inclusive
    time_zone: str = "Asia/Tokyo"  # an IANA zone: local text, office hours and file days follow it
    #: days off besides Saturdays and Sundays (default: Japan's in the default window, 天皇誕生日's substitute too)
    holidays: frozenset[date] = field(
        default_factory=lambda: frozenset({date(2025, 1, 13), date(2025, 2, 11), date(2025, 2, 24)}))
    #: activity profiles the scenario redraws: (name, workday hours 0..23, day-off hours 0..23)
    activity: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = ()

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)


DEFAULT = Period()
_PAD_DAYS = 3  # days and their texts reach a few days beyond the window on both sides

# The active period (set by use() below; the names are read as clock.START etc. at call time).
PERIOD: Period
FIRST_DAY: date
DAYS: int
HOLIDAYS: frozenset[date]
ZONE: ZoneInfo
START: int  # local midnight of the first day
END: int  # local midnight after the last day
MINUTES: int  # minutes of the period (DAYS * 1440 unless a clock change falls in it)
_DAY_STARTS: np.ndarray  # local midnights from FIRST_DAY - _PAD_DAYS to the day after the pad past the end
_SEG_FROM: np.ndarray  # instants where the zone's UTC offset changes (the first is -inf)
_SEG_OFFSET: np.ndarray  # µs east of UTC from each of those instants
_SEG_ABBR: pa.Array  # the zone's abbreviation there (JST, CET, CEST, EST ...)
_SEG_NUMERIC: pa.Array  # the offset as +09:00


def use(period: Period) -> None:
    """Make `period` the active one (the simulator's modules read it from here)."""
    global PERIOD, FIRST_DAY, DAYS, HOLIDAYS, ZONE, START, END, MINUTES  # one period per run and process
    global _DAY_STARTS, _SEG_FROM, _SEG_OFFSET, _SEG_ABBR, _SEG_NUMERIC
    if "PERIOD" in globals() and period == PERIOD:
        return
    zone = ZoneInfo(period.time_zone)
    first = period.first_day - timedelta(days=_PAD_DAYS)
    starts = np.array([_local_us(zone, first + timedelta(days=i))
                       for i in range(period.days + 2 * _PAD_DAYS + 1)], dtype=np.int64)
    seg_from, seg_offset, seg_abbr = _segments(zone, int(starts[0]) - DAY, int(starts[-1]) + 2 * DAY)
    PERIOD, FIRST_DAY, DAYS, HOLIDAYS, ZONE = period, period.first_day, period.days, period.holidays, zone
    START, END = int(starts[_PAD_DAYS]), int(starts[_PAD_DAYS + period.days])
    MINUTES = (END - START) // MINUTE
    _DAY_STARTS, _SEG_FROM, _SEG_OFFSET = starts, seg_from, seg_offset
    _SEG_ABBR, _SEG_NUMERIC = pa.array(seg_abbr), pa.array([_numeric(int(o)) for o in seg_offset])
    _vocabularies.cache_clear()


@contextmanager
def using(period: Period) -> Iterator[None]:
    """`period` active inside the block; the one before it afterwards."""
    before = PERIOD
    use(period)
    try:
        yield
    finally:
        use(before)


def _local_us(zone: ZoneInfo, d: date, h: int = 0, mi: int = 0, s: int = 0) -> int:
    """Epoch µs of a local wall-clock time (a time skipped by a clock change counts as after it)."""
    return int(datetime(d.year, d.month, d.day, h, mi, s, tzinfo=zone).timestamp()) * US


def _offset_at(zone: ZoneInfo, us: int) -> tuple[int, str]:
    local = datetime.fromtimestamp(us // US, UTC).astimezone(zone)
    off = local.utcoffset() or timedelta(0)
    return int(off.total_seconds()) * US, local.tzname() or _numeric(int(off.total_seconds()) * US)


def _segments(zone: ZoneInfo, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The zone's offsets between lo and hi: sampled every 15 minutes, each change found to the second."""
    step = 15 * MINUTE
    t, cur = lo, _offset_at(zone, lo)
    froms, offsets, abbrs = [int(np.iinfo(np.int64).min)], [cur[0]], [cur[1]]
    while t < hi:
        nxt = _offset_at(zone, t + step)
        if nxt != cur:
            a, b = t // US, (t + step) // US  # the change lies in (a, b]: bisect to the second
            while b - a > 1:
                m = (a + b) // 2
                a, b = (m, b) if _offset_at(zone, m * US) == cur else (a, m)
            froms.append(b * US)
            offsets.append(nxt[0])
            abbrs.append(nxt[1])
            cur = nxt
        t += step
    return np.array(froms, dtype=np.int64), np.array(offsets, dtype=np.int64), abbrs


def _numeric(offset_us: int) -> str:
    minutes = offset_us // MINUTE
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: float = 0.0) -> int:
    """Epoch microseconds of a local wall-clock time in the active period's zone."""
    return _local_us(ZONE, date(y, mo, d), h, mi) + round(s * US)


def on_day(index: int, h: int = 0, mi: int = 0, s: float = 0.0) -> int:
    """A local time of day on the period's day `index` (0 = the first day; may be outside the period)."""
    d = FIRST_DAY + timedelta(days=index)
    return local(d.year, d.month, d.day, h, mi, s)


def day_start(index: int) -> int:
    """Local midnight that begins the period's day `index`."""
    i = index + _PAD_DAYS
    if 0 <= i < len(_DAY_STARTS):
        return int(_DAY_STARTS[i])
    return START + index * DAY  # far outside the period: the zone's clock changes no longer matter


def day_index(us: int) -> int:
    """The period's day (0 = the first) holding instant `us`, in local time."""
    if not _DAY_STARTS[0] <= us < _DAY_STARTS[-1]:
        return (us - START) // DAY
    return int(day_indexes(np.array([us]))[0])


def day_indexes(us: np.ndarray) -> np.ndarray:
    """day_index of instants within the period (give or take its padding days)."""
    return np.searchsorted(_DAY_STARTS, us, side="right") - 1 - _PAD_DAYS


def day_starts(index: np.ndarray) -> np.ndarray:
    """day_start of day numbers within the period (give or take its padding days)."""
    return _DAY_STARTS[np.asarray(index, dtype=np.int64) + _PAD_DAYS]


def day_of(us: int) -> date:
    return FIRST_DAY + timedelta(days=day_index(us))


def is_workday(d: date) -> bool:
    return d.weekday() < 5 and d not in HOLIDAYS


# --- activity profiles: relative event rate per hour of the local day -----------------------------
_PROFILES: dict[str, tuple[list[float], list[float]]] = {
    # (workday hours 0..23, holiday hours 0..23)
    "office": ([.02, .02, .02, .02, .02, .03, .05, .2, .7, 1, 1, 1, .6, 1, 1, 1, 1, .95, .7, .45, .25, .12, .06, .03],
               [.02] * 8 + [.05, .08, .08, .08, .06, .08, .08, .08, .06, .05, .04, .03, .03, .02, .02, .02]),
    "server": ([.3, .3, .3, .3, .3, .3, .35, .5, .8, 1, 1, 1, .9, 1, 1, 1, 1, .95, .8, .65, .55, .45, .4, .35],
               [.3] * 24),
    "app": ([.04, .03, .03, .03, .03, .04, .08, .25, .8, 1, 1, 1, .7, 1, 1, 1, 1, .9, .6, .35, .2, .12, .08, .05],
            [.05] * 8 + [.12] * 10 + [.06] * 6),
    "flat": ([.85] * 8 + [1.15] * 11 + [.95] * 5, [.8] * 24),
}


PROFILE_NAMES = tuple(_PROFILES)


def minute_weights(profile: str) -> np.ndarray:
    """Weight of every minute of the window (float64, length MINUTES), by the local hour and day; the period's
    own shape of the profile where the scenario gives one."""
    shape = next(((w, o) for name, w, o in PERIOD.activity if name == profile), _PROFILES[profile])
    work, off = (np.asarray(h, dtype=np.float64) for h in shape)
    d, sod, _, _ = _split_local(START + np.arange(MINUTES, dtype=np.int64) * MINUTE)
    hour = sod // 3600
    workday = _vocabularies().workdays[d]
    return np.where(workday, work[hour], off[hour])


@dataclass(frozen=True)
class Slice:
    index: int  # slice number within the stream (for its random stream)
    start: int  # epoch µs, inclusive (a local midnight or a fraction of a day)
    end: int  # epoch µs, exclusive
    count: int  # noise records to draw in it

    @property
    def days(self) -> range:
        """The local days the slice covers."""
        return range(day_index(self.start), day_index(self.end - 1) + 1)


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to weights that sum exactly to total (deterministic)."""
    w = np.asarray(weights, dtype=np.float64)
    s = w.sum()
    if total <= 0 or s <= 0:
        return np.zeros(len(w), dtype=np.int64)
    exact = w * (total / s)
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:rest]] += 1
    return base


_PARTS = (1, 2, 4, 8, 16, 32, 96, 288)  # ways to cut a day into whole minutes (down to 5 minutes)


def _chunk_sums(w: np.ndarray, size: int) -> np.ndarray:
    """Sums of consecutive runs of `size` minutes (the last run shorter when a clock change made it so)."""
    if len(w) % size == 0:
        return w.reshape(-1, size).sum(axis=1)
    return np.add.reduceat(w, np.arange(0, len(w), size))


def plan_slices(count: int, profile: str, cap: int = 50_000) -> list[Slice]:
    """Slices of about `cap` records at most (memory stays bounded): several whole days when the volume
    is small (fewer, larger vectorized steps), fractions of a day when it is large. Slices are cut every
    24 hours from the first local midnight; a slice may span a day's end (its records go to each day's file)."""
    w = minute_weights(profile)
    per_day = _chunk_sums(w, 1440)
    busiest = count * per_day.max() / per_day.sum() if count else 0
    step: int
    if busiest <= cap:
        step = max(1, min(len(per_day), int(cap // max(busiest, 1)))) * 1440
    else:
        total = w.sum()
        parts = next((p for p in _PARTS if count * _chunk_sums(w, 1440 // p).max() / total <= cap), _PARTS[-1])
        step = 1440 // parts
    bounds = [*range(0, MINUTES, step), MINUTES]
    cum = np.r_[0, np.cumsum(w)]
    counts = largest_remainder(count, np.diff(cum[bounds]))
    return [Slice(i, START + bounds[i] * MINUTE, START + bounds[i + 1] * MINUTE, int(n))
            for i, n in enumerate(counts)]


def draw_times(rng: np.random.Generator, sl: Slice, weights: np.ndarray) -> np.ndarray:
    """Sorted random times in the slice, following the per-minute weights."""
    if sl.count == 0:
        return np.zeros(0, dtype=np.int64)
    m0 = (sl.start - START) // MINUTE
    m1 = -(-(sl.end - START) // MINUTE)
    cdf = np.cumsum(weights[m0:m1])
    minutes = np.searchsorted(cdf, rng.random(sl.count) * cdf[-1], side="right")
    t = START + (m0 + minutes) * MINUTE + rng.integers(0, MINUTE, sl.count)
    t = np.clip(t, sl.start, sl.end - 1)
    t.sort()
    return t


# --- time text, vectorized ---------------------------------------------------------------------------
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HMS = pa.array([f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)])


@dataclass(frozen=True)
class _Vocabularies:
    """Texts of the period's days (and a few around it), indexed by day number from `day0`."""

    day0: int  # day number (since 1970-01-01) of entry 0
    iso: pa.Array  # 2025-02-05
    cisco: pa.Array  # Feb  5
    login: pa.Array  # Wed Feb 5 2025
    workdays: np.ndarray  # bool


@cache
def _vocabularies() -> _Vocabularies:
    first = FIRST_DAY - timedelta(days=_PAD_DAYS)
    days = [first + timedelta(days=i) for i in range(DAYS + 2 * _PAD_DAYS)]
    return _Vocabularies(
        (first - date(1970, 1, 1)).days,
        pa.array([d.isoformat() for d in days]),
        pa.array([f"{_MONTHS[d.month - 1]} {d.day:>2d}" for d in days]),
        pa.array([f"{_WEEKDAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day} {d.year}" for d in days]),
        np.array([is_workday(d) for d in days]))


def _zone_text(texts: pa.Array, seg: np.ndarray | None) -> pa.Array | str:
    """Each instant's zone text (abbreviation or offset); one text when the zone never changes in the period."""
    return str(texts[0].as_py()) if seg is None else texts.take(seg)


def _split_at(us: np.ndarray, offset: np.ndarray | int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vocabulary day index, second of day, microseconds) at `offset` µs east of UTC."""
    local_us = us + offset
    days = local_us // DAY
    sod = (local_us - days * DAY) // US
    return days - _vocabularies().day0, sod, local_us % US


def _split_utc(us: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _split_at(np.asarray(us, dtype=np.int64), 0)


def _split_local(us: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """As _split_utc in the period's zone, with each instant's offset segment (None: the zone has one offset)."""
    us = np.asarray(us, dtype=np.int64)
    if len(_SEG_FROM) == 1:
        return (*_split_at(us, int(_SEG_OFFSET[0])), None)
    seg = np.searchsorted(_SEG_FROM, us, side="right") - 1
    return (*_split_at(us, _SEG_OFFSET[seg]), seg)


def iso_utc_ms_parts(us: np.ndarray) -> list:
    """The pieces of 2025-02-05T00:12:01.120Z, to splice into a larger line without an extra join."""
    d, sod, frac = _split_utc(us)
    return [_vocabularies().iso.take(d), "T", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3), "Z"]


def iso_utc_ms(us: np.ndarray) -> pa.Array:
    """2025-02-05T00:12:01.120Z (Winlogbeat @timestamp)."""
    return join(*iso_utc_ms_parts(us))


def iso_utc_us(us: np.ndarray) -> pa.Array:
    """2025-02-05T00:12:01.120123Z."""
    d, sod, frac = _split_utc(us)
    return join(_vocabularies().iso.take(d), "T", _HMS.take(sod), ".", lpad(strs(frac), 6), "Z")


def pg_local(us: np.ndarray) -> pa.Array:
    """2025-02-05 09:25:00.101 JST (PostgreSQL %m with log_timezone set to the organization's zone)."""
    d, sod, frac, seg = _split_local(us)
    return join(_vocabularies().iso.take(d), " ", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3), " ",
                _zone_text(_SEG_ABBR, seg))


def rfc3339_local(us: np.ndarray) -> pa.Array:
    """2025-02-05T09:02:11.125431+09:00 (rsyslog RSYSLOG_FileFormat on a host in the organization's zone)."""
    d, sod, frac, seg = _split_local(us)
    return join(_vocabularies().iso.take(d), "T", _HMS.take(sod), ".", lpad(strs(frac), 6),
                _zone_text(_SEG_NUMERIC, seg))


def cisco_local(us: np.ndarray) -> pa.Array:
    """Feb  5 09:02:11.123 JST (IOS `service timestamps log datetime msec localtime show-timezone`; the
    `clock timezone` and `clock summer-time` names are the zone's abbreviations)."""
    d, sod, frac, seg = _split_local(us)
    return join(_vocabularies().cisco.take(d), " ", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3), " ",
                _zone_text(_SEG_ABBR, seg))


def cisco_login_at(us: np.ndarray) -> pa.Array:
    """09:12:01 JST Wed Feb 5 2025 (the time IOS prints in %SEC_LOGIN messages)."""
    d, sod, _, seg = _split_local(us)
    return join(_HMS.take(sod), " ", _zone_text(_SEG_ABBR, seg), " ", _vocabularies().login.take(d))


def epoch_s6(us: np.ndarray) -> pa.Array:
    """1738714812.500100 (Zeek)."""
    return decimal6(np.asarray(us, dtype=np.int64))


def epoch_ms(us: np.ndarray) -> pa.Array:
    return strs(np.asarray(us, dtype=np.int64) // 1000)


def local_date_text(us: int) -> str:
    """2025-02-05: the local date of an instant."""
    return datetime.fromtimestamp(us // US, ZONE).strftime("%Y-%m-%d")


def zeek_open_text(us: int) -> str:
    """#open / #close stamp: local time, 2025-02-05-09-00-00."""
    return datetime.fromtimestamp(us // US, ZONE).strftime("%Y-%m-%d-%H-%M-%S")


def sysmon_utc(us: np.ndarray) -> pa.Array:
    """2025-02-05 00:20:11.101 (Sysmon UtcTime)."""
    d, sod, frac = _split_utc(us)
    return join(_vocabularies().iso.take(d), " ", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3))


use(DEFAULT)

"""The simulated period, its working rhythm (Japanese office hours and holidays) and time text.

All times are epoch microseconds (UTC) in int64 arrays. Days and files follow JST midnight, as
the company's collectors rotate their files in local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from breachscope.simulate.text import decimal6, join, lpad, strs

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
JST_OFFSET = 9 * HOUR

FIRST_DAY = date(2025, 1, 13)  # a Monday (and 成人の日)
DAYS = 54  # to 2025-03-07 inclusive
START = int((datetime(2025, 1, 13, tzinfo=UTC) - timedelta(hours=9)).timestamp()) * US
END = START + DAYS * DAY
MINUTES = DAYS * 1440
#: Japanese public holidays in the window (the substitute holiday for 天皇誕生日 included).
HOLIDAYS = frozenset({date(2025, 1, 13), date(2025, 2, 11), date(2025, 2, 24)})


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: float = 0.0) -> int:
    """Epoch microseconds of a JST wall-clock time."""
    base = datetime(y, mo, d, h, mi, tzinfo=UTC) - timedelta(hours=9)
    return int(base.timestamp()) * US + round(s * US)


def day_of(us: int) -> date:
    return FIRST_DAY + timedelta(days=(us - START) // DAY)


def day_start(index: int) -> int:
    return START + index * DAY


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


def minute_weights(profile: str) -> np.ndarray:
    """Weight of every minute of the window (float64, length MINUTES)."""
    work, off = _PROFILES[profile]
    out = np.empty(MINUTES)
    for i in range(DAYS):
        hours = work if is_workday(FIRST_DAY + timedelta(days=i)) else off
        out[i * 1440:(i + 1) * 1440] = np.repeat(hours, 60)
    return out


@dataclass(frozen=True)
class Slice:
    index: int  # slice number within the stream (for its random stream)
    start: int  # epoch µs, inclusive (a JST midnight or a fraction of a day)
    end: int  # epoch µs, exclusive
    count: int  # noise records to draw in it

    @property
    def days(self) -> range:
        """The JST days the slice covers."""
        return range((self.start - START) // DAY, -(-(self.end - START) // DAY))


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


def plan_slices(count: int, profile: str, cap: int = 50_000) -> list[Slice]:
    """Slices of about `cap` records at most (memory stays bounded): several whole days when the volume
    is small (fewer, larger vectorized steps), fractions of a day when it is large."""
    w = minute_weights(profile)
    per_day = w.reshape(DAYS, 1440).sum(axis=1)
    busiest = count * per_day.max() / per_day.sum() if count else 0
    bounds: list[int]
    if busiest <= cap:
        k = max(1, min(DAYS, int(cap // max(busiest, 1))))
        bounds = [*list(range(0, DAYS * 1440, k * 1440)), DAYS * 1440]
    else:
        total = w.sum()
        parts = next((p for p in _PARTS if count * w.reshape(DAYS * p, 1440 // p).sum(axis=1).max() / total <= cap),
                     _PARTS[-1])
        bounds = list(range(0, DAYS * 1440 + 1, 1440 // parts))
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
_PAD_DAYS = 3  # vocabulary reaches a few days beyond the window on both sides


def _day_vocab(fmt: str) -> pa.Array:
    first = FIRST_DAY - timedelta(days=_PAD_DAYS)
    out = []
    for i in range(DAYS + 2 * _PAD_DAYS):
        d = first + timedelta(days=i)
        out.append(fmt.format(y=d.year, m=d.month, d=d.day, mon=_MONTHS[d.month - 1]))
    return pa.array(out)


_HMS = pa.array([f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)])
_DAYS_ISO = _day_vocab("{y:04d}-{m:02d}-{d:02d}")
_DAYS_CISCO = _day_vocab("{mon} {d:>2d}")
_DAY0 = (FIRST_DAY - timedelta(days=_PAD_DAYS) - date(1970, 1, 1)).days  # day number of vocabulary entry 0


def _split(us: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vocabulary day index, second of day, microseconds) in the zone `offset` µs east of UTC."""
    local = np.asarray(us, dtype=np.int64) + offset
    days = local // DAY
    sod = (local - days * DAY) // US
    return days - _DAY0, sod, local % US


def iso_utc_ms_parts(us: np.ndarray) -> list:
    """The pieces of 2025-02-05T00:12:01.120Z, to splice into a larger line without an extra join."""
    d, sod, frac = _split(us, 0)
    return [_DAYS_ISO.take(d), "T", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3), "Z"]


def iso_utc_ms(us: np.ndarray) -> pa.Array:
    """2025-02-05T00:12:01.120Z (Winlogbeat @timestamp)."""
    return join(*iso_utc_ms_parts(us))


def iso_utc_us(us: np.ndarray) -> pa.Array:
    """2025-02-05T00:12:01.120123Z."""
    d, sod, frac = _split(us, 0)
    return join(_DAYS_ISO.take(d), "T", _HMS.take(sod), ".", lpad(strs(frac), 6), "Z")


def pg_local(us: np.ndarray) -> pa.Array:
    """2025-02-05 09:25:00.101 JST (PostgreSQL %m with log_timezone = 'Asia/Tokyo')."""
    d, sod, frac = _split(us, JST_OFFSET)
    return join(_DAYS_ISO.take(d), " ", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3), " JST")


def rfc3339_jst(us: np.ndarray) -> pa.Array:
    """2025-02-05T09:02:11.125431+09:00 (rsyslog RSYSLOG_FileFormat)."""
    d, sod, frac = _split(us, JST_OFFSET)
    return join(_DAYS_ISO.take(d), "T", _HMS.take(sod), ".", lpad(strs(frac), 6), "+09:00")


def cisco_jst(us: np.ndarray) -> pa.Array:
    """Feb  5 09:02:11.123 JST (IOS `service timestamps log datetime msec localtime show-timezone`)."""
    d, sod, frac = _split(us, JST_OFFSET)
    return join(_DAYS_CISCO.take(d), " ", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3), " JST")


def epoch_s6(us: np.ndarray) -> pa.Array:
    """1738714812.500100 (Zeek)."""
    return decimal6(np.asarray(us, dtype=np.int64))


def epoch_ms(us: np.ndarray) -> pa.Array:
    return strs(np.asarray(us, dtype=np.int64) // 1000)


def local_date_text(us: int) -> str:
    d = datetime.fromtimestamp(us / US, UTC) + timedelta(hours=9)
    return d.strftime("%Y-%m-%d")


def zeek_open_text(us: int) -> str:
    """#open / #close stamp: local time, 2025-02-05-09-00-00."""
    d = datetime.fromtimestamp(us // US, UTC) + timedelta(hours=9)
    return d.strftime("%Y-%m-%d-%H-%M-%S")


def sysmon_utc(us: np.ndarray) -> pa.Array:
    """2025-02-05 00:20:11.101 (Sysmon UtcTime)."""
    d, sod, frac = _split(us, 0)
    return join(_DAYS_ISO.take(d), " ", _HMS.take(sod), ".", lpad(strs(frac // 1000), 3))

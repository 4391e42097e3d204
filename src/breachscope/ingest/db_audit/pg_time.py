"""PostgreSQL log timestamps (`%m`, `%t`, `%n`, csvlog and jsonlog times) to UTC microseconds, with the
zone abbreviations PostgreSQL writes and what is assumed when a time has no zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from breachscope.ingest.context import ReadContext
from breachscope.ingest.timeparse import dt_to_us, epoch_to_us

#: Zone abbreviations PostgreSQL writes with %m/%t (those of the tz database), minutes east of UTC.
ZONE_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UCT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60, "CEST": 120, "MET": 60,
    "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "IST": 330, "PKT": 300, "WIB": 420, "WITA": 480,
    "WIT": 540, "HKT": 480, "JST": 540, "KST": 540, "AWST": 480, "ACST": 570, "ACDT": 630, "AEST": 600,
    "AEDT": 660, "NZST": 720, "NZDT": 780, "SAST": 120, "CAT": 120, "EAT": 180, "WAT": 60, "IDT": 180,
    "HST": -600, "AKST": -540, "AKDT": -480, "PST": -480, "PDT": -420, "MST": -420, "MDT": -360,
    "CST": -360, "CDT": -300, "EST": -300, "EDT": -240, "AST": -240, "ADT": -180, "NST": -210, "NDT": -150,
}
#: Abbreviations the tz database gives to several zones: the table's choice is reported, --tz decides.
AMBIGUOUS_ZONES = frozenset({"IST", "CST", "PST", "AST"})
UTC_NAMES = frozenset({"UTC", "GMT", "UCT", "Z"})


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


class TimeParser:
    """PostgreSQL timestamps (`2025-02-05 10:00:00.123 JST`, `... +09`, epoch `%n`) to UTC microseconds.

    The zone text decides; an abbreviation matching --tz at that moment takes that zone (DST included),
    else the abbreviation table; no zone at all takes --tz, else UTC. Cached per distinct second.
    """

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.option_zone: ZoneInfo | None = ZoneInfo(ctx.options.tz) if ctx.options.tz else None
        self.cache: dict[tuple[str, str], tuple[int | None, str | None]] = {}
        self.warned: set[str] = set()

    def warn(self, message: str) -> None:
        """Each assumption is told once per file (this runs once per distinct second, not per row)."""
        if message not in self.warned:
            self.warned.add(message)
            self.ctx.warn(message)

    def parse(self, text: str) -> tuple[int | None, str | None]:
        """(epoch microseconds, ts_resolution); (None, None) when unreadable."""
        if text[19:20] == "." and text[23:24] in (" ", "") and _digits(text[20:23]):  # %m: milliseconds
            base, frac, zone = text[:19], text[20:23], text[24:]
        elif len(text) > 11 and text[10] == "." and text[:10].isdigit():
            return epoch_to_us(text), "zone_in_text"
        else:
            base, rest = text[:19], text[19:]
            frac = ""
            if rest.startswith("."):
                k = 1
                while k < len(rest) and "0" <= rest[k] <= "9":  # ASCII only: int() refuses "²"
                    k += 1
                frac, rest = rest[1:k], rest[k:]
            zone = rest.strip()
        key = (base, zone)
        hit = self.cache.get(key)
        if hit is None:
            if len(self.cache) > 200_000:
                self.cache.clear()
            hit = self.cache[key] = self._resolve(base, zone)
        us, how = hit
        if us is not None and frac:
            us += int((frac + "00000")[:6])
        return us, how

    def _resolve(self, base: str, zone: str) -> tuple[int | None, str | None]:
        try:
            local = datetime.fromisoformat(base)
        except ValueError:
            self.warn("unreadable timestamps (ts is null)")
            return None, None
        tz, how = self._zone(zone, local)
        return dt_to_us(local.replace(tzinfo=tz)), how

    def _zone(self, zone: str, local: datetime) -> tuple[tzinfo, str]:
        if not zone:
            if self.option_zone is not None:
                self.warn(f"timestamps without a zone taken in {self.ctx.options.tz} (--tz)")
                return self.option_zone, "zone_from_option"
            self.warn("timestamps without a zone taken as UTC (use --tz)")
            return UTC, "zone_assumed_utc"
        if zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            if _digits(digits) and len(digits) in (2, 4):
                minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) == 4 else 0)
                if minutes < 24 * 60:  # else not an offset (+53): an unknown zone below (found by fuzzing)
                    return timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes)), "zone_in_text"
        if zone in UTC_NAMES:
            return UTC, "zone_in_text"
        if self.option_zone is not None and local.replace(tzinfo=self.option_zone).tzname() == zone:
            return self.option_zone, "zone_abbreviation"
        if zone in ZONE_ABBREVIATIONS:
            if zone in AMBIGUOUS_ZONES:
                self.warn(f"zone abbreviation {zone} is ambiguous: took UTC{ZONE_ABBREVIATIONS[zone] / 60:+g}h"
                              " (give the server's log_timezone with --tz)")
            return timezone(timedelta(minutes=ZONE_ABBREVIATIONS[zone])), "zone_abbreviation"
        if self.option_zone is not None:
            self.warn(f"unknown zone abbreviation {zone[:16]}: taken as {self.ctx.options.tz} (--tz)")
            return self.option_zone, "zone_from_option"
        self.warn(f"unknown zone abbreviation {zone[:16]}: taken as UTC (use --tz)")
        return UTC, "zone_assumed_utc"

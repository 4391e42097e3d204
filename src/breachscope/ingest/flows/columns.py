"""Text columns of a flow file to the columns of the `flow` table.

One FlowColumns per file: it knows the file's layout (which column plays which role, in which
unit) and the zone for local times, and turns a block's text columns (pyarrow string arrays, one
per header column) into flow columns plus, per row, the reason to reject it (no usable start time,
an empty record). Both paths of the engine (text.py) hand their columns here, so they give the
same rows. Values that do not convert are kept in `extra` under their header name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.context import ReadContext
from breachscope.ingest.flows.layout import FAMILY, Layout
from breachscope.ingest.flows.values import (
    AWARE_TIME,
    CONVERT_ERRORS,
    NAIVE_TIME,
    NUMBER,
    STR_NULL,
    US,
    ZONE_SUFFIX,
    coalesce,
    direction_code,
    epoch_us,
    first_valid,
    ints,
    iso_datetime,
    looks_numeric,
    map_distinct,
    matches,
    number_us,
    proto_name,
    seconds,
    strip_or_none,
    tcp_flags_text,
    trim,
)
from breachscope.ingest.timeparse import dt_to_us
from breachscope.model.schema import EXTRA_TYPE, TS


class FlowColumns:
    """Converts the text columns of one flow file; warns (once each) about how its times are read."""

    def __init__(self, ctx: ReadContext, layout: Layout) -> None:
        self.ctx = ctx
        self.layout = layout
        self.tz = ctx.options.tz or "UTC"
        self.local_resolution = "zone_from_option" if ctx.options.tz else "zone_assumed_utc"
        self._warned: set[str] = set()
        self._arange = pa.array([], pa.int64())
        starts = layout.roles.get("start", [])
        has_base = layout.has("boot_ms") or (layout.has("export_s") and layout.has("uptime_ms"))
        relative_only = all(layout.units.get(i) == "uptime" for i in starts) and not has_base
        self.has_start = bool(starts) and not relative_only  # rows then need a start time
        if not starts:
            ctx.warn("the file has no flow start time column: ts is null")
        elif relative_only:
            ctx.warn("start times are relative to the exporter's boot and the file has no boot or export "
                     "time column: ts is null")
        if any(layout.units.get(i) == "first_last" for i in starts) and not has_base:
            ctx.warn("first/last columns read as epoch times (no unix_secs/sysuptime columns to anchor "
                     "them as exporter uptime)")

    def arange(self, n: int) -> pa.Array:
        """0 .. n-1 as int64, from one array kept for the file (line numbers, `extra` offsets)."""
        if len(self._arange) < n:
            self._arange = pc.cumulative_sum(pa.nulls(n, pa.int64()).fill_null(1))
            self._arange = pc.subtract(self._arange, 1)
        return self._arange.slice(0, n)

    def warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.ctx.warn(message)

    def convert(self, cols: list[pa.Array]) -> tuple[dict[str, pa.Array], pa.Array | None]:
        """Flow columns from the text columns, and per row a reject reason (None: keep all rows)."""
        layout = self.layout
        n = len(cols[0]) if cols else 0
        roles = layout.roles
        keys = layout.keys
        out: dict[str, pa.Array] = {
            "family": pa.repeat(pa.scalar(FAMILY), n),
            "flow_format": pa.repeat(pa.scalar(layout.flow_format), n),
        }
        unreadable: list[tuple[str, pa.Array]] = []  # (header name, text that did not convert)

        def numbers(role: str, typ: pa.DataType) -> pa.Array | None:
            got = []
            for i in roles.get(role, ()):
                arr, bad = ints(cols[i], typ)
                if bad is not None:
                    unreadable.append((keys[i], bad))
                got.append(arr)
            return coalesce(got)

        for role in ("src_ip", "dst_ip"):
            out[role] = coalesce([trim(cols[i]) for i in roles[role]])
        for role in ("src_port", "dst_port"):
            arr = numbers(role, pa.int32())
            if arr is not None:
                out[role] = arr
        self._counters(out, numbers)
        for role, fn in (("proto", proto_name), ("state", strip_or_none), ("tcp_flags", tcp_flags_text),
                         ("label", strip_or_none)):
            if role in roles:
                out[role] = coalesce([map_distinct(cols[i], fn) for i in roles[role]])
        if "direction" in roles:
            out["direction"] = coalesce([
                map_distinct(cols[i], direction_code if layout.units.get(i) == "code" else strip_or_none)
                for i in roles["direction"]])
        reasons = self._times(cols, out, unreadable)
        if not self.has_start and cols:  # no start time to require: still, a line of empty fields is no flow
            empty = functools.reduce(pc.and_, [pc.is_null(c) for c in cols])
            if pc.any(empty).as_py():
                reasons = pc.if_else(empty, pa.scalar("empty record"), STR_NULL)
        items = [(keys[i], cols[i]) for i in layout.extra] + unreadable
        out["extra"] = self._extra(items, n)
        return out, reasons

    def _counters(self, out: dict[str, pa.Array], numbers: Callable[[str, pa.DataType], pa.Array | None]) -> None:
        """bytes/packets: totals and per direction, each derived from the others when the file lacks it."""
        for kind in ("bytes", "packets"):
            total, src, dst = (numbers(r, pa.int64()) for r in (kind, f"src_{kind}", f"dst_{kind}"))
            if total is None and src is not None:
                total = src if dst is None else pc.add(src, pc.fill_null(dst, 0))
            if src is None and total is not None and dst is not None:
                src = pc.subtract(total, dst)
            if dst is None and total is not None and src is not None and self.layout.has(kind):
                dst = pc.subtract(total, src)  # Argus: TotBytes - SrcBytes
            for name, arr in ((kind, total), (f"src_{kind}", src), (f"dst_{kind}", dst)):
                if arr is not None:
                    out[name] = arr

    def _times(self, cols: list[pa.Array], out: dict[str, pa.Array],
               unreadable: list[tuple[str, pa.Array]]) -> pa.Array | None:
        """ts, end_ts, duration, ts_resolution; returns reject reasons for rows without a start."""
        layout = self.layout
        n = len(cols[0]) if cols else 0
        boot = self._boot(cols, unreadable)
        starts: list[tuple[pa.Array, pa.Array]] = []
        for i in layout.roles.get("start", ()):
            us, res, bad = self._time(cols[i], layout.units.get(i, "auto"), boot, n)
            if us is not None:
                starts.append((us, res))
            if bad is not None:
                unreadable.append((layout.keys[i], bad))
        ends = []
        for i in layout.roles.get("end", ()):
            us, _res, bad = self._time(cols[i], layout.units.get(i, "auto"), boot, n)
            if us is not None:
                ends.append(us)
            if bad is not None:
                unreadable.append((layout.keys[i], bad))
        durations = []
        for i in layout.roles.get("duration", ()):
            secs, bad = seconds(cols[i], layout.units.get(i, "s"))
            durations.append(secs)
            if bad is not None:
                unreadable.append((layout.keys[i], bad))
        start = coalesce([s for s, _ in starts])
        end = coalesce(ends)
        duration = coalesce(durations)
        if start is not None and end is None and duration is not None:
            end = pc.add(start, pc.cast(pc.round(pc.multiply(duration, float(US))), pa.int64()))
        if start is not None and end is not None and duration is None:
            # unsafe: a span over 2^53 us (285 years) loses precision instead of raising (found by fuzzing)
            span = pc.cast(pc.subtract(end, start), pa.float64(), safe=False)
            duration = pc.divide(span, float(US))
        if end is not None:
            out["end_ts"] = end.cast(TS)
        if duration is not None:
            out["duration"] = duration
        if start is None:
            return None
        out["ts"] = start.cast(TS)
        out["ts_resolution"] = starts[0][1] if len(starts) == 1 else coalesce(
            [pc.if_else(pc.is_valid(s), r, STR_NULL) for s, r in starts])
        if start.null_count == 0:
            return None
        given = coalesce([cols[i] for i in layout.roles["start"]])
        assert given is not None
        missing = pc.is_null(given)
        return pc.if_else(pc.is_valid(start), STR_NULL,
                          pc.if_else(missing, pa.scalar("missing start time"), pa.scalar("unreadable start time")))

    def _boot(self, cols: list[pa.Array], unreadable: list[tuple[str, pa.Array]]) -> pa.Array | None:
        """Exporter boot time (epoch µs) per row, the base of sysUpTime-relative times."""
        layout = self.layout

        def col(role: str) -> pa.Array | None:
            got = []
            for i in layout.roles.get(role, ()):
                arr, bad = ints(cols[i], pa.int64())
                if bad is not None:
                    unreadable.append((layout.keys[i], bad))
                got.append(arr)
            return coalesce(got)

        boot_ms = col("boot_ms")
        if boot_ms is not None:
            return pc.multiply(boot_ms, 1000)
        export_s, uptime = col("export_s"), col("uptime_ms")
        if export_s is None or uptime is None:
            return None
        export_ns = col("export_ns")
        base = pc.multiply(export_s, US)
        if export_ns is not None:
            base = pc.add(base, pc.divide(pc.fill_null(export_ns, 0), 1000))
        return pc.subtract(base, pc.multiply(uptime, 1000))

    def _time(self, arr: pa.Array, unit: str, boot: pa.Array | None,
              n: int) -> tuple[pa.Array | None, pa.Array, pa.Array | None]:
        """(epoch µs int64, ts_resolution, unreadable text) of one time column."""
        if unit in ("uptime", "first_last") and boot is not None:
            ms, bad = ints(arr, pa.int64())
            return pc.add(boot, pc.multiply(ms, 1000)), pa.repeat(pa.scalar("exporter_uptime"), n), bad
        if unit == "uptime":
            return None, pa.nulls(n, pa.string()), None
        return self._absolute(arr, "auto" if unit == "first_last" else unit, n)

    def _absolute(self, arr: pa.Array, unit: str, n: int) -> tuple[pa.Array, pa.Array, pa.Array | None]:
        """Epoch numbers or date-time text, vectorized; values of another kind go one by one."""
        sample = first_valid(arr)
        if sample is None or looks_numeric(sample):  # a failed cast costs a full pass: try only when it may work
            us = epoch_us(arr, unit)
            if us is not None:
                return us, pa.repeat(pa.scalar("epoch"), n), None
            fits = matches(arr, NUMBER)
            us = epoch_us(pc.if_else(fits, arr, STR_NULL), unit)
            if us is None:
                return self._time_values(arr, unit)
            return self._with_rest(arr, unit, fits, us, "epoch")
        text = arr
        if sample[4:5] == sample[7:8] == "/":  # Argus: 2011/08/10 09:46:53.047277
            text = pc.binary_replace_slice(pc.binary_replace_slice(arr, 4, 5, "-"), 7, 8, "-")
        elif "/" in sample:
            text = pc.replace_substring(arr, "/", "-")
        zoned = bool(ZONE_SUFFIX.search(sample))  # a failed cast is slow: try the kind the first value is
        for only in (None, matches(text, AWARE_TIME if zoned else NAIVE_TIME)):
            try:
                part = text if only is None else pc.if_else(only, text, STR_NULL)
                if zoned:
                    us = pc.cast(part, pa.timestamp("ns", "UTC")).cast(pa.timestamp("us", "UTC"), safe=False)
                    us, resolution = us.cast(pa.int64()), "zone_in_text"
                else:
                    us, resolution = self._localize(pc.cast(part, pa.timestamp("ns"))), self.local_resolution
                    if only is None or pc.any(only).as_py():
                        self._warn_local()
            except CONVERT_ERRORS:
                continue
            if only is None:
                return us, pa.repeat(pa.scalar(resolution), n), None
            return self._with_rest(arr, unit, only, us, resolution)
        return self._time_values(arr, unit)

    def _with_rest(self, arr: pa.Array, unit: str, fits: pa.Array, us: pa.Array,
                   resolution: str) -> tuple[pa.Array, pa.Array, pa.Array | None]:
        """Vectorized results where `fits`, the per-value path for the other values."""
        res = pc.if_else(fits, pa.scalar(resolution), STR_NULL)
        rest = pc.and_(pc.is_valid(arr), pc.invert(fits))
        if not pc.any(rest).as_py():
            return us, res, None
        values, resolutions, bad = self._time_values(arr.filter(rest), unit)
        return (pc.replace_with_mask(us, rest, values), pc.replace_with_mask(res, rest, resolutions),
                None if bad is None else pc.replace_with_mask(pa.nulls(len(arr), pa.string()), rest, bad))

    def _warn_local(self) -> None:
        self.warn_once(f"times without a zone read as {self.tz}" + ("" if self.ctx.options.tz else
                                                                     " (set --tz to change)"))

    def _localize(self, naive: pa.Array) -> pa.Array:
        if self.tz == "UTC":
            aware = naive.cast(pa.timestamp("ns", "UTC"))
        else:
            aware = pc.assume_timezone(naive, timezone=self.tz, ambiguous="earliest", nonexistent="latest")
        return aware.cast(pa.timestamp("us", "UTC"), safe=False).cast(pa.int64())

    def _time_values(self, arr: pa.Array, unit: str) -> tuple[pa.Array, pa.Array, pa.Array | None]:
        """The per-value path for time values the vectorized casts did not take. Local times are
        put in the zone by Arrow as in the vectorized path, so DST gaps and overlaps agree."""
        values: list[int | None] = []
        resolutions: list[str | None] = []
        bad: list[str | None] = []
        wall: list[int] = []  # indexes of local (zone-less) times, held as wall-clock µs
        for v in arr.to_pylist():
            us: int | None = None
            res: str | None = None
            if v is not None:
                s = v.strip()
                us = number_us(s, unit)
                if us is not None:
                    res = "epoch"
                else:
                    dt = iso_datetime(s)
                    if dt is not None:
                        us = dt_to_us(dt)  # a naive datetime counts as UTC here: its wall clock
                        res = "zone_in_text" if dt.tzinfo is not None else self.local_resolution
                        if dt.tzinfo is None:
                            wall.append(len(values))
                if us is not None and not -(2**63) <= us < 2**63:
                    us = res = None
            values.append(us)
            resolutions.append(res)
            bad.append(v if v is not None and us is None else None)
        if wall:
            self._warn_local()
            for i, us in zip(wall, self._wall_to_utc([values[i] for i in wall]), strict=True):
                values[i] = us
                if us is None:
                    resolutions[i], bad[i] = None, arr[i].as_py()
        bad_arr = pa.array(bad, pa.string())
        return (pa.array(values, pa.int64()), pa.array(resolutions, pa.string()),
                bad_arr if bad_arr.null_count < len(bad_arr) else None)

    def _wall_to_utc(self, wall: list[int | None]) -> list[int | None]:
        if self.tz == "UTC":
            return wall
        try:
            ts = pa.array(wall, pa.int64()).cast(pa.timestamp("us"))
            aware = pc.assume_timezone(ts, timezone=self.tz, ambiguous="earliest", nonexistent="latest")
            return aware.cast(pa.int64()).to_pylist()
        except CONVERT_ERRORS:  # a value out of the zone database's range: those one by one
            return [self._wall_to_utc([w])[0] if len(wall) > 1 else None for w in wall]

    def _extra(self, items: list[tuple[str, pa.Array]], n: int) -> pa.Array:
        """MAP(header name -> text) of the columns not mapped to a field; null values are left out."""
        if not items:
            return pa.nulls(n, EXTRA_TYPE)
        k = len(items)
        if k == 1:
            keys_idx = pa.nulls(n, pa.int64()).fill_null(0)
            values = items[0][1]
        else:
            r = self.arange(n * k)
            row = pc.divide(r, k)
            keys_idx = pc.subtract(r, pc.multiply(row, k))
            values = pa.concat_arrays([v for _, v in items]).take(pc.add(pc.multiply(keys_idx, n), row))
        names = pa.array([name for name, _ in items], pa.string())
        keys = names.take(keys_idx)
        counts: pa.Array | None = None
        if values.null_count:
            valid = pc.is_valid(values)
            keys, values = keys.filter(valid), values.filter(valid)
            for _, v in items:
                c = pc.cast(pc.is_valid(v), pa.int32())
                counts = c if counts is None else pc.add(counts, c)
        if counts is None:
            offsets = pc.multiply(self.arange(n + 1), k).cast(pa.int32())
        else:
            offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(counts).cast(pa.int32())])
        return pa.MapArray.from_arrays(offsets, keys, values)


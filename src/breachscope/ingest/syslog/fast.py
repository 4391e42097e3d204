"""Syslog lines of the common shapes parsed in bulk with Arrow kernels; the per-line parser
(header.parse_line and reader.RowBuilder) stays the definition of what a line means.

A block of lines is matched against two shapes, each a strict subset of what the per-line parser
reads the same way (RE2 regexes over the line's prefix only, then splits and slices):

- BSD header and tag: `[<PRI>][yyyy ]Mmm dd hh:mm:ss host app[pid]: message`, no '%' in pid or message
- Cisco: `[<PRI>][[yyyy ]Mmm dd hh:mm:ss host ][seq: ][host: ][seq: ][clock[ zone]: |uptime: ]%FAC-SEV-MNEMONIC: text`

Every other line (RFC 5424, relays, IOS-XR fields, unpadded days, non-ASCII in the header, NUL
bytes, invalid UTF-8, '%' where the per-line parser would look for a mnemonic...) is handed to the
per-line parser, in file order. Time resolution keeps that order too: the year state of a file
(YearResolver) moves only on year-less and full dates, so the fast lines' dates are replayed into it
in runs (one call per run of equal dates) between the slow lines. Message extractors run per line,
only for lines whose mnemonic or program has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.syslog.extract import EXTRACT_CHARS, Extractor, extractor_for
from breachscope.ingest.syslog.grammar import MNEMONIC_WINDOW, MON
from breachscope.ingest.syslog.times import TimeResolver
from breachscope.ingest.timeparse import MONTHS
from breachscope.model.schema import EXTRA_TYPE, TS

_UPTIME_WARNING = "Cisco uptime stamps without a wall-clock time: ts is null (ts_resolution uptime_only)"
_IMPOSSIBLE = "impossible dates or times (e.g. Feb 30, 25:00): ts is null, ts_text kept"

# Header time of fixed width (day space-padded or two digits), optionally year first (NX-OS).
_HEADER = r"(?P<ht>(?:\d{4} )?" + MON + r" (?: \d|\d\d) \d\d:\d\d:\d\d) (?P<host>[!-~]*[!-9;-~]) +"
_PRI = r"^(?:<(?P<pri>\d{1,3})>)?"
# The head of a tag line is the text before its first ": " (no earlier part can hold one).
_TAG_HEAD = _PRI + _HEADER + r"(?P<app>[A-Za-z_][A-Za-z0-9_./-]*)(?:\[(?P<pid>[!-\x5c\x5e-~]+)\])?$"
# The text of a Cisco line before its first '%'.
_CISCO_PRE = (
    _PRI + "(?:" + _HEADER + r")?(?:(?P<s1>\d+): )?(?:(?P<ch>[A-Za-z_][A-Za-z0-9_.-]*): )?(?:(?P<s2>\d+): )?"
    r"(?:(?:(?P<ct>(?P<mark>[*.]?)(?:(?P<y1>\d{4}) +)?(?P<mon>" + MON + r") +(?P<day>\d{1,2}) +"
    r"(?:(?P<y2>\d{4}) +)?(?P<hh>\d{1,2}):(?P<mi>\d\d):(?P<ss>\d\d)(?:\.(?P<frac>\d+))?"
    r"(?: (?P<zone>[A-Za-z]{1,7}(?:[+-]\d{1,2}(?::?\d\d)?)?))?)"
    r"|(?P<up>\d+y\d+w|\d+w\d+d|\d+d\d+h|\d{1,2}:\d\d:\d\d(?:\.\d+)?)): )?$"
)
_MNEMONIC_POST = r"^[A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*-[0-7]-[A-Z0-9_]+ ?:"
_MONTH_OF = {m.capitalize(): n for m, n in MONTHS.items()}
_MON_KEYS = pa.array(list(_MONTH_OF))
_MON_VALUES = np.array([0, *_MONTH_OF.values()], dtype=np.int64)
_STR = pa.string()


def _parts(arr: pa.Array, sep: str) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(text before the first `sep`, text after it, whether there was one) of each string."""
    parts = pc.split_pattern(arr, pattern=sep, max_splits=1)
    offsets = parts.offsets.to_numpy()
    flat = parts.values
    two = np.diff(offsets) == 2
    first = flat.take(pa.array(offsets[:-1]))
    second = flat.take(pa.array(np.where(two, offsets[:-1] + 1, offsets[:-1])))
    return first, second, two


def _np(arr: pa.Array) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)


def _filled(arr: pa.Array) -> np.ndarray:
    """Which values are non-empty (extract_regex gives "" for a group that took no part)."""
    return _np(pc.fill_null(pc.greater(pc.binary_length(arr), 0), False))


def _ints(arr: pa.Array) -> np.ndarray:
    """Decimal texts to int64 (0 where empty)."""
    return _np(pc.cast(pc.if_else(_filled_arr(arr), arr, pa.scalar("0")), pa.int64()))


def _filled_arr(arr: pa.Array) -> pa.Array:
    return pc.fill_null(pc.greater(pc.binary_length(arr), 0), False)


def _null_if_empty(arr: pa.Array) -> pa.Array:
    return pc.if_else(_filled_arr(arr), arr, pa.scalar(None, _STR))


def _months(arr: pa.Array) -> np.ndarray:
    return _MON_VALUES[_np(pc.fill_null(pc.add(pc.index_in(arr, value_set=_MON_KEYS), 1), 0))]


@dataclass
class Shape:
    """The fast lines of one shape: their positions in the block and their fields (aligned)."""

    pos: np.ndarray
    f: dict[str, Any]  # name -> pa.Array (strings) or np.ndarray


def _header_fields(m: pa.StructArray, f: dict[str, Any]) -> None:
    """Header time (fixed width: its tail is always `Mmm dd hh:mm:ss`) and host of matched rows."""
    ht = m.field("ht")
    tail = pc.utf8_slice_codeunits(ht, -15)
    f["h_ok"] = _filled(ht)
    f["ht"] = ht
    with_year = pc.equal(pc.binary_length(ht), 20)
    year = _ints(pc.if_else(with_year, pc.utf8_slice_codeunits(ht, 0, 4), pa.scalar("", _STR)))
    f["h_year"] = np.where(_np(with_year), year, -1)  # -1: no year (0000 is a year, if an impossible one)
    f["h_mon"] = _months(pc.utf8_slice_codeunits(tail, 0, 3))
    f["h_day"] = _ints(pc.utf8_ltrim(pc.utf8_slice_codeunits(tail, 4, 6), characters=" "))
    f["h_hh"] = _ints(pc.utf8_slice_codeunits(tail, 7, 9))
    f["h_mi"] = _ints(pc.utf8_slice_codeunits(tail, 10, 12))
    f["h_ss"] = _ints(pc.utf8_slice_codeunits(tail, 13, 15))
    f["host"] = m.field("host")


def _pri(m: pa.StructArray, f: dict[str, Any]) -> np.ndarray:
    """PRI values (-1: none); the rows whose PRI is over 191 are not fast (it is then text)."""
    pri = m.field("pri")
    has = _filled(pri)
    f["pri"] = np.where(has, _ints(pri), -1)
    return ~has | (f["pri"] <= 191)


def tag_shape(text: pa.Array, cand: np.ndarray) -> Shape:
    """`[<PRI>]header host app[pid]: message` lines (fmt rfc3164, a tag, no Cisco part)."""
    head, msg, two = _parts(text, ": ")
    idx = np.flatnonzero(cand & two)
    m = pc.extract_regex(head.take(pa.array(idx)), _TAG_HEAD)  # regexes only where the shape may be
    matched = _np(m.is_valid())
    idx, m = idx[matched], m.filter(pa.array(matched))
    msg = msg.take(pa.array(idx))
    f: dict[str, Any] = {"message": msg, "app": m.field("app"), "procid": _null_if_empty(m.field("pid"))}
    keep = _pri(m, f)
    keep &= _np(pc.binary_length(f["app"])) <= 64
    keep &= _np(pc.binary_length(m.field("pid"))) <= 32
    keep &= ~_np(pc.match_substring(m.field("pid"), "%")) & ~_np(pc.match_substring(msg, "%"))
    _header_fields(m, f)
    return _select(Shape(idx, f), keep)


def cisco_shape(text: pa.Array, cand: np.ndarray) -> Shape:
    """Lines whose first '%' starts a mnemonic after nothing but PRI, header and Cisco fields."""
    pre, post, two = _parts(text, "%")
    idx = np.flatnonzero(cand & two & (_np(pc.binary_length(pre)) < MNEMONIC_WINDOW))
    pre, post = pre.take(pa.array(idx)), post.take(pa.array(idx))
    ok = _np(pc.match_substring_regex(post, _MNEMONIC_POST))
    idx, pre, post = idx[ok], pre.filter(pa.array(ok)), post.filter(pa.array(ok))
    m = pc.extract_regex(pre, _CISCO_PRE)
    matched = _np(m.is_valid())
    idx, m, post = idx[matched], m.filter(pa.array(matched)), post.filter(pa.array(matched))
    tok, rest, _ = _parts(post, ":")
    fsm = pc.split_pattern(pc.utf8_rtrim(tok, characters=" "), pattern="-", max_splits=2, reverse=True)
    fsm_flat, base = fsm.values, fsm.offsets.to_numpy()[:-1]
    f: dict[str, Any] = {
        "message": pc.utf8_ltrim(rest, characters=" "),
        "fac": fsm_flat.take(pa.array(base)), "sev": fsm_flat.take(pa.array(base + 1)),
        "mn": fsm_flat.take(pa.array(base + 2)),
    }
    keep = _pri(m, f)
    keep &= ~(_np(pc.equal(f["fac"], "IOSXE")) & _np(pc.equal(f["mn"], "PLATFORM")))  # inner mnemonic
    _header_fields(m, f)
    s1, s2, ch, ct, up = (m.field(k) for k in ("s1", "s2", "ch", "ct", "up"))
    has1, has2 = _filled(s1), _filled(s2)
    f["seq1"] = pc.if_else(pa.array(has1), s1, s2)  # numbers in order: the first one is seq1
    f["seq2"] = pc.if_else(pa.array(has1), s2, pa.scalar("", _STR))
    keep &= (_np(pc.binary_length(s1)) <= 18) & (_np(pc.binary_length(s2)) <= 18)
    keep &= _np(pc.binary_length(ch)) <= 255
    keep &= _np(pc.binary_length(m.field("frac"))) <= 9
    f["ch"], f["ct"], f["up"], f["mark"], f["zone"] = ch, ct, up, m.field("mark"), m.field("zone")
    f["cisco"] = has1 | has2 | _filled(ch) | _filled(ct) | _filled(up)
    y1, y2 = m.field("y1"), m.field("y2")
    f["c_year"] = np.where(_filled(y1) | _filled(y2), _ints(pc.if_else(_filled_arr(y1), y1, y2)), -1)
    f["c_mon"] = _months(m.field("mon"))
    f["c_day"], f["c_hh"] = _ints(m.field("day")), _ints(m.field("hh"))
    f["c_mi"], f["c_ss"] = _ints(m.field("mi")), _ints(m.field("ss"))
    f["c_frac"] = _frac_us(m.field("frac"))
    return _select(Shape(idx, f), keep)


def _frac_us(frac: pa.Array) -> np.ndarray:
    """Microseconds of a fraction's digits, as `int((digits + "00000")[:6])` (truncated, not rounded)."""
    padded = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, width=6, padding="0"), 0, 6)
    return _np(pc.cast(padded, pa.int64()))


def _select(shape: Shape, keep: np.ndarray) -> Shape:
    if keep.all():
        return shape
    sel = pa.array(np.flatnonzero(keep))
    f = {k: (v[keep] if isinstance(v, np.ndarray) else v.take(sel)) for k, v in shape.f.items()}
    return Shape(shape.pos[keep], f)


# --- rows --------------------------------------------------------------------------------------------
@dataclass
class FastRows:
    """Columns of the fast lines of a block (aligned with `pos`), before time resolution."""

    pos: np.ndarray
    cols: dict[str, pa.Array]
    mode: np.ndarray  # 0: no time ("missing"), 1: uptime only, 2: a clock (fields below)
    year: np.ndarray  # -1: none in the text
    mon: np.ndarray
    day: np.ndarray
    hh: np.ndarray
    mi: np.ndarray
    ss: np.ndarray
    frac: np.ndarray
    label: pa.Array  # zone label of the clock (null: none)
    extras: list[tuple[str, pa.Array]]  # (key, values; null where the row has none), in row() order
    more: dict[int, dict[str, str]]  # extractor extras by row (they come after relay_host)


def combine(tag: Shape, cis: Shape) -> FastRows:
    """Both shapes' rows in line order, with the columns RowBuilder.row would give them."""
    nt, nc = len(tag.pos), len(cis.pos)
    order = np.argsort(np.concatenate([tag.pos, cis.pos]), kind="stable")
    take = pa.array(order)

    def cat(a: Any, b: Any, typ: pa.DataType = _STR) -> pa.Array:
        return pa.concat_arrays([_arr(a, nt, typ), _arr(b, nc, typ)]).take(take)

    def catn(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        return np.concatenate([np.broadcast_to(a, nt), np.broadcast_to(b, nc)])[order]

    c = cis.f
    cisco = c["cisco"]
    has_hdr = c["h_ok"]
    use_clock = cisco & _filled(c["ct"]) & ((_np(c["mark"]) != "*") | ~has_hdr)
    c_mode = np.where(use_clock | has_hdr, 2, np.where(cisco & _filled(c["up"]), 1, 0))
    t = tag.f
    ch_ok = _filled(c["ch"])
    host = pc.if_else(pa.array(ch_ok), c["ch"], pc.if_else(pa.array(has_hdr), c["host"], pa.scalar(None, _STR)))
    seq_text = pc.if_else(_filled_arr(c["seq2"]), c["seq2"], c["seq1"])
    seq = pc.if_else(_filled_arr(seq_text), seq_text, pa.scalar(None, _STR)).cast(pa.int64())
    pri_t, pri_c = t["pri"], c["pri"]
    cols = {
        "host": cat(t["host"], host),
        "message": cat(t["message"], c["message"]),
        "syslog_format": cat("rfc3164", pc.if_else(pa.array(has_hdr), pa.scalar("rfc3164"), pa.scalar("cisco"))),
        "facility": cat(_pri_part(pri_t, 3), _pri_part(pri_c, 3), pa.int32()),
        "severity": cat(_pri_part(pri_t, 7), _pri_part(pri_c, 7), pa.int32()),
        "app_name": cat(t["app"], None),
        "procid": cat(t["procid"], None),
        "cisco_facility": cat(None, c["fac"]),
        "cisco_severity": cat(None, c["sev"].cast(pa.int32()), pa.int32()),
        "cisco_mnemonic": cat(None, c["mn"]),
        "cisco_seq": cat(None, seq, pa.int64()),
    }
    # clock fields: the Cisco clock when it is used, else the header's
    def pick(cval: np.ndarray, hval: np.ndarray) -> np.ndarray:
        return np.where(use_clock, cval, hval)

    ts_text_c = pc.if_else(pa.array(use_clock), c["ct"], pc.if_else(
        pa.array(has_hdr), c["ht"], pc.if_else(pa.array(c_mode == 1), c["up"], pa.scalar(None, _STR))))
    label_c = pc.if_else(pa.array(use_clock), _null_if_empty(c["zone"]), pa.scalar(None, _STR))
    rows = FastRows(
        pos=np.concatenate([tag.pos, cis.pos])[order], cols=cols, mode=catn(2, c_mode),
        year=catn(t["h_year"], pick(c["c_year"], c["h_year"])), mon=catn(t["h_mon"], pick(c["c_mon"], c["h_mon"])),
        day=catn(t["h_day"], pick(c["c_day"], c["h_day"])), hh=catn(t["h_hh"], pick(c["c_hh"], c["h_hh"])),
        mi=catn(t["h_mi"], pick(c["c_mi"], c["h_mi"])), ss=catn(t["h_ss"], pick(c["c_ss"], c["h_ss"])),
        frac=catn(0, np.where(use_clock, c["c_frac"], 0)), label=cat(None, label_c),
        extras=[], more={},
    )
    rows.cols["ts_text"] = cat(t["ht"], ts_text_c)
    mark = _np(c["mark"])
    for key, values in (
        ("relay_host", pc.if_else(pa.array(has_hdr & ch_ok & _np(pc.not_equal(c["host"], c["ch"]))),
                                  c["host"], pa.scalar(None, _STR))),
        ("header_time", _where(use_clock & has_hdr, c["ht"])),
        ("uptime", _where(cisco & ~use_clock & _filled(c["up"]), c["up"])),
        ("device_time", _where(cisco & ~use_clock & _filled(c["ct"]), c["ct"])),
        ("message_count", _where(_filled(c["seq2"]), c["seq1"])),
        ("clock", pc.if_else(pa.array(mark == "*"), pa.scalar("unsynchronized"), pc.if_else(
            pa.array(mark == "."), pa.scalar("sync_lost"), pa.scalar(None, _STR)))),
    ):
        rows.extras.append((key, cat(None, values)))
    return rows


def _where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), values, pa.scalar(None, _STR))


def _pri_part(pri: np.ndarray, which: int) -> pa.Array:
    """facility (which=3: pri >> 3) or severity (which=7: pri & 7); null without a PRI."""
    vals = pri >> 3 if which == 3 else pri & 7
    return pa.array(vals, pa.int32(), mask=pri < 0)


def _arr(v: Any, n: int, typ: pa.DataType) -> pa.Array:
    if v is None:
        return pa.nulls(n, typ)
    if isinstance(v, str):
        return pa.array([v] * n, typ) if n else pa.array([], typ)
    return v if v.type == typ else v.cast(typ)


# --- extractors --------------------------------------------------------------------------------------
def extract(rows: FastRows) -> np.ndarray:
    """Run the message extractors of the rows whose mnemonic or program has one (per line); returns
    which rows must take the per-line path instead (an extractor that failed, or that found a full
    date in the message: the per-line path uses it for the year)."""
    n = len(rows.pos)
    slow = np.zeros(n, dtype=bool)
    cols = rows.cols
    if not n:
        return slow
    key = pc.binary_join_element_wise(pc.fill_null(cols["cisco_facility"], "\x00"),
                                      pc.fill_null(cols["cisco_mnemonic"], "\x00"),
                                      pc.fill_null(cols["app_name"], "\x00"), "\x1f").dictionary_encode()
    found: list[Extractor | None] = []
    for k in key.dictionary.to_pylist():
        fac, mn, app = (None if x == "\x00" else x for x in k.split("\x1f"))
        found.append(extractor_for(fac, mn, app))
    if not any(found):
        return slow
    codes = _np(key.indices)
    with_x = np.flatnonzero(np.isin(codes, [i for i, x in enumerate(found) if x is not None]))
    msgs = cols["message"].take(pa.array(with_x)).to_pylist()
    results: list[tuple[Any, ...]] = []
    at: list[int] = []
    codes_x = codes[with_x].tolist()
    for i, code, msg in zip(with_x.tolist(), codes_x, msgs, strict=True):
        if not msg:
            continue
        try:
            extractor = found[code]
            assert extractor is not None  # with_x holds the codes that have an extractor
            res = extractor(msg if len(msg) <= EXTRACT_CHARS else msg[:EXTRACT_CHARS])
        except Exception:  # the per-line path turns the line into a 'bare' record and says so
            slow[i] = True
            continue
        if res is None:
            continue
        more = res[5]
        if more and "login_time" in more:  # a full date in the message: the per-line path uses it for the year
            slow[i] = True
            continue
        results.append(res)
        at.append(i)
        if more:
            rows.more[i] = more
    # scatter the found values: row -> its result, or the null after the results
    where = np.full(n, len(at), dtype=np.int64)
    where[np.array(at, dtype=np.int64)] = np.arange(len(at))
    take = pa.array(where)
    for k, name in enumerate(("user", "src_ip", "src_port", "dst_ip", "dst_port")):
        typ = pa.int32() if name.endswith("port") else _STR
        cols[name] = pa.array([r[k] for r in results] + [None], typ).take(take)
    return slow


def drop(rows: FastRows, slow: np.ndarray) -> FastRows:
    if not slow.any():
        return rows
    keep = ~slow
    sel = pa.array(np.flatnonzero(keep))
    new_index = np.cumsum(keep) - 1
    more = {int(new_index[i]): v for i, v in rows.more.items() if keep[i]}
    return FastRows(
        pos=rows.pos[keep], cols={k: v.take(sel) for k, v in rows.cols.items()}, mode=rows.mode[keep],
        year=rows.year[keep], mon=rows.mon[keep], day=rows.day[keep], hh=rows.hh[keep], mi=rows.mi[keep],
        ss=rows.ss[keep], frac=rows.frac[keep], label=rows.label.take(sel),
        extras=[(k, v.take(sel)) for k, v in rows.extras], more=more,
    )


# --- time --------------------------------------------------------------------------------------------
class YearRuns:
    """Replays the dates of the fast lines into the file's year state, in line order with the slow
    lines: one call per run of equal dates (the state does not move within such a run)."""

    def __init__(self, rows: FastRows, slow_pos: np.ndarray) -> None:
        ev = np.flatnonzero(rows.mode == 2)
        self.ev = ev
        key = rows.year[ev] * 16 + rows.mon[ev]
        slow_before = np.searchsorted(slow_pos, rows.pos[ev])
        change = np.ones(len(ev), dtype=bool)
        change[1:] = (key[1:] != key[:-1]) | (slow_before[1:] != slow_before[:-1])
        self.starts = np.flatnonzero(change)
        self.run_of = np.cumsum(change) - 1
        self.start_pos = rows.pos[ev][self.starts].tolist()
        self.years: list[int] = []
        self.hows: list[str | None] = []
        self._year = rows.year[ev][self.starts].tolist()
        self._mon = rows.mon[ev][self.starts].tolist()

    def play(self, k: int, times: TimeResolver) -> None:
        """Run k: what TimeResolver.clock does with the year of each of its lines."""
        year, mon = self._year[k], self._mon[k]
        if year >= 0:
            times.full_date(year, mon)
            self.years.append(year)
            self.hows.append(None)
        else:
            y, how = times.resolve_year(mon)
            self.years.append(y)
            self.hows.append(how)


def resolve(rows: FastRows, runs: YearRuns, times: TimeResolver) -> tuple[pa.Array, pa.Array]:
    """ts and ts_resolution of the fast rows, as TimeResolver.clock gives them line by line."""
    n = len(rows.pos)
    us = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=bool)
    how = np.array([None] * n, dtype=object)
    how[rows.mode == 0] = "missing"
    if (rows.mode == 1).any():
        times.warn_once(_UPTIME_WARNING)
        how[rows.mode == 1] = "uptime_only"
    ev = runs.ev
    if len(ev):
        run = runs.run_of
        year = np.array(runs.years, dtype=np.int64)[run]
        year_how = np.array(runs.hows, dtype=object)[run]
        labels = rows.label.take(pa.array(ev)).dictionary_encode()
        zones = [(times.zone, times.tz_how)] + [times.label_zone(x) for x in labels.dictionary.to_pylist()]
        zone_id = _np(pc.fill_null(pc.add(labels.indices, 1), 0)).astype(np.int64)
        day, hh, mi, ss = rows.day[ev], rows.hh[ev], rows.mi[ev], rows.ss[ev]
        key = ((((year * 16 + rows.mon[ev]) * 128 + day) * 128 + hh) * 4096) + zone_id
        uniq, inv = np.unique(key, return_inverse=True)
        first = np.zeros(len(uniq), dtype=np.int64)
        first[inv[::-1]] = np.arange(len(inv))[::-1]  # a row of each key
        base = np.zeros(len(uniq), dtype=np.int64)
        base_ok = np.zeros(len(uniq), dtype=bool)
        for u, i in enumerate(first.tolist()):
            got = times.local_us(int(year[i]), int(rows.mon[ev][i]), str(day[i]), str(hh[i]), "0", "0", None,
                                 zones[zone_id[i]][0])
            if got is not None:
                base[u], base_ok[u] = got, True
        ok = base_ok[inv]
        wall_ok = (mi <= 59) & (ss <= 60)
        if (ok & ~wall_ok).any():
            times.warn_once(_IMPOSSIBLE)
        ok &= wall_ok
        us[ev] = base[inv] + (mi * 60 + ss) * 1_000_000 + rows.frac[ev]
        valid[ev] = ok
        tz_how = np.array([z[1] for z in zones], dtype=object)[zone_id]
        pairs = zip(year_how[ok].tolist(), tz_how[ok].tolist(), strict=True)
        combo: dict[tuple[Any, Any], str | None] = {(y, t): None for y, t in pairs}
        for y, t in combo:
            combo[(y, t)] = times.how(y, t)
        ev_how = np.array(["invalid"] * len(ev), dtype=object)
        for (y, t), text in combo.items():
            ev_how[ok & (year_how == y) & (tz_how == t)] = text
        how[ev] = ev_how
    ts = pa.array(us, pa.int64(), mask=~valid).cast(TS)
    return ts, pa.array(how.tolist(), _STR)


def extra_column(rows: FastRows) -> pa.Array:
    """The `extra` map of the fast rows, keys in the order the per-line path puts them."""
    n = len(rows.pos)
    row_ids, orders, keys, values = [], [], [], []
    for order, (key, arr) in enumerate(rows.extras):
        present = np.flatnonzero(_np(arr.is_valid()))
        if len(present):
            rank = 0 if key == "relay_host" else order + 2
            row_ids.append(present)
            orders.append(np.full(len(present), rank))
            keys.append(pa.array([key] * len(present), _STR))
            values.append(arr.take(pa.array(present)))
    if rows.more:
        items = [(i, k, v) for i, d in rows.more.items() for k, v in d.items()]
        row_ids.append(np.array([i for i, _, _ in items], dtype=np.int64))
        orders.append(np.ones(len(items), dtype=np.int64))
        keys.append(pa.array([k for _, k, _ in items], _STR))
        values.append(pa.array([v for _, _, v in items], _STR))
    if not row_ids:
        return pa.nulls(n, EXTRA_TYPE)
    rid = np.concatenate(row_ids)
    # stable: within a row and rank, the extractor's items keep their order
    perm = np.lexsort((np.concatenate(orders), rid))
    counts = np.bincount(rid, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    take = pa.array(perm)
    return pa.MapArray.from_arrays(pa.array(offsets), pa.concat_arrays(keys).take(take),
                                   pa.concat_arrays(values).take(take), type=EXTRA_TYPE,
                                   mask=pa.array(counts == 0))


# --- the block ---------------------------------------------------------------------------------------
def classify(text: pa.Array, cand: np.ndarray) -> FastRows:
    """The fast rows of a block of valid UTF-8 lines; `cand` says which lines may be fast."""
    tag = tag_shape(text, cand)
    rest = cand.copy()
    rest[tag.pos] = False  # one shape per line (a tag line has no '%' where a mnemonic could be)
    return combine(tag, cisco_shape(text, rest))


def empty() -> FastRows:
    """No fast rows (a small block, or a file read line by line)."""
    z = np.zeros(0, dtype=np.int64)
    return FastRows(pos=z, cols={}, mode=z, year=z, mon=z, day=z, hh=z, mi=z, ss=z, frac=z,
                    label=pa.nulls(0, _STR), extras=[], more={})


def column_arrays(rows: FastRows, ts: pa.Array, how: pa.Array, raw: pa.Array) -> dict[str, pa.Array]:
    cols = dict(rows.cols)
    cols["ts"], cols["ts_resolution"], cols["raw"], cols["extra"] = ts, how, raw, extra_column(rows)
    for name in ("user", "src_ip", "dst_ip"):
        cols.setdefault(name, pa.nulls(len(rows.pos), _STR))
    for name in ("src_port", "dst_port"):
        cols.setdefault(name, pa.nulls(len(rows.pos), pa.int32()))
    return cols


def merge(columns: Sequence[str], fast: dict[str, pa.Array], fast_pos: np.ndarray, slow: dict[str, pa.Array],
          slow_pos: np.ndarray, types: dict[str, pa.DataType]) -> dict[str, pa.Array]:
    """Fast and slow columns interleaved back into line order."""
    order = pa.array(np.argsort(np.concatenate([fast_pos, slow_pos]), kind="stable"))
    nf, ns = len(fast_pos), len(slow_pos)
    out = {}
    for name in columns:
        typ = types[name]
        a = fast.get(name)
        b = slow.get(name)
        a = pa.nulls(nf, typ) if a is None else (a if a.type == typ else a.cast(typ))
        b = pa.nulls(ns, typ) if b is None else (b if b.type == typ else b.cast(typ))
        out[name] = pa.concat_arrays([a, b]).take(order)
    return out

"""Zeek logs: the TSV format of Zeek's ASCII writer (`#fields`/`#types` headers) and JSON lines.

One table per log type, `zeek_<path>` (zeek_conn, zeek_dns...): the core columns, then every field of
the log under its Zeek name (`id.orig_h` stays dotted), typed from the `#types` header (TSV) or, for
JSON, from a short list of fields whose JSON value does not tell their type plus the values seen.
See docs/formats/zeek.md for the type mapping and the core columns per log type.

Speed: no Python work per line. The file is cut into lines in Arrow a few MiB at a time, and a
batch of lines is split and typed by Arrow's CSV parser (TSV, no quoting) or JSON parser in C++;
a batch those parsers refuse (a value not of its type, a bad line) takes a slower general path that
finds the culprits. Values that do not parse as their declared type become null and are counted in
a warning; only a line with the wrong number of fields (TSV) or that is not a JSON object is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from breachscope.ingest.batch import make_batch
from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import decode, head_text, iter_lines, text_encoding
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.timeparse import epoch_to_us, parse_iso_us
from breachscope.model.schema import CORE_FIELDS, CORE_NAMES, TS, ZEEK_RENAMES, valid_table_name, zeek_type

FAMILY = "zeek"
UNKNOWN_PATH = "unknown"
MAX_FIELDS = 1024  # a header declaring more is not a Zeek log; its lines are rejected
MAX_NAME = 128
_US = 1_000_000
_TS_MAX_US = 253_402_300_799 * _US  # 9999-12-31: beyond it a time is not a time
_TS_MIN_US = -62_135_596_800 * _US  # 0001-01-01

#: Log types Zeek (and common packages) write. Used to take the log type from a file name when the
#: content has no `#path`/`_path`, and as the tie-breaker when sniffing JSON without Zeek's ids.
KNOWN_LOGS = frozenset({
    "analyzer", "arp", "broker", "capture_loss", "cluster", "config", "conn", "conn_long", "dce_rpc", "dhcp",
    "dnp3", "dns", "dpd", "files", "ftp", "http", "intel", "irc", "kerberos", "known_certs", "known_devices",
    "known_hosts", "known_modbus", "known_services", "ldap", "ldap_search", "loaded_scripts", "modbus",
    "mqtt_connect", "mqtt_publish", "mqtt_subscribe", "mysql", "netcontrol", "notice", "ntlm", "ntp", "ocsp",
    "openflow", "packet_filter", "pe", "print", "quic", "radius", "rdp", "reporter", "rfb", "signatures",
    "sip", "smb_cmd", "smb_files", "smb_mapping", "smtp", "snmp", "socks", "software", "ssh", "ssl", "stats",
    "syslog", "telemetry", "traceroute", "tunnel", "unified2", "weird", "websocket", "x509"
})

#: Core columns taken from the log's own fields, first non-null candidate wins (Zeek field names).
_CORE_DEFAULT: dict[str, tuple[str, ...]] = {
    "src_ip": ("id.orig_h",), "src_port": ("id.orig_p",), "dst_ip": ("id.resp_h",), "dst_port": ("id.resp_p",),
}
_CORE_BY_PATH: dict[str, dict[str, tuple[str, ...]]] = {
    # notices name the addresses they are about in src/dst/p, which may be set without a connection
    "notice": {"src_ip": ("id.orig_h", "src"), "dst_ip": ("id.resp_h", "dst"), "dst_port": ("id.resp_p", "p"),
               "message": ("msg",)},
    "files": {"src_ip": ("id.orig_h", "tx_hosts"), "dst_ip": ("id.resp_h", "rx_hosts")},  # first of the set
    "dhcp": {"src_ip": ("client_addr",), "dst_ip": ("server_addr",)},
    "arp": {"src_ip": ("orig_h",), "dst_ip": ("resp_h",)},
    # inventory logs: the host the entry is about
    "software": {"src_ip": ("host",), "src_port": ("host_p",)},
    "known_hosts": {"src_ip": ("host",)},
    "known_services": {"src_ip": ("host",), "src_port": ("port_num",)},
    "known_certs": {"src_ip": ("host",), "src_port": ("port_num",)},
    "weird": {"message": ("name",)},
    "syslog": {"message": ("message",)},
    "reporter": {"message": ("message",)},
    "dpd": {"message": ("failure_reason",)},
    "analyzer": {"message": ("failure_reason",)},
    # the account a client named (claimed, not verified)
    "kerberos": {"user": ("client",)},
    "ntlm": {"user": ("username",)},
    "ftp": {"user": ("user",)},
    "rdp": {"user": ("cookie",)},
    "smtp": {"user": ("mailfrom",)},
    "http": {"user": ("username",)},
    "socks": {"user": ("user",)},
    "radius": {"user": ("username",)},
    "irc": {"user": ("user", "nick")},
}
_CORE_TYPES = {f.name: f.type for f in CORE_FIELDS}

#: JSON carries no types: fields whose JSON value would otherwise be read as another type than the
#: one Zeek declares for them in TSV (ports would be int64 and times float64).
_JSON_TYPES: dict[str, str] = {
    "ts": "time", "_write_ts": "time", "id.orig_p": "port", "id.resp_p": "port", "host_p": "port",
    "port_num": "port", "data_channel.resp_p": "port", "certificate.not_valid_before": "time",
    "certificate.not_valid_after": "time", "compile_ts": "time", "thisUpdate": "time", "nextUpdate": "time",
    "revoketime": "time", "ref_time": "time", "org_time": "time", "rec_time": "time", "xmt_time": "time",
    "till": "time", "times.modified": "time", "times.accessed": "time", "times.created": "time",
    "times.changed": "time", "up_since": "time", "TTLs": "vector[interval]",
}
_JSON_TYPES_BY_PATH: dict[tuple[str, str], str] = {
    ("kerberos", "from"): "time", ("notice", "p"): "port", ("smtp", "path"): "vector[addr]",
}
_JSON_STRONG_KEYS = ("uid", "uids", "id.orig_h", "_path", "fuid")
_JSON_STRONG_PREFIXES = ("id.", "certificate.")  # x509 lines carry neither uid nor a connection
_JSON_FOREIGN_KEYS = ("EventID", "EventCode", "winlog", "event_type", "@timestamp")
_TSV_SNIFF = re.compile(r"^[ \t]*#separator [^\r\n]|^#fields\t", re.M)
_HEX = re.compile(r"\\x([0-9a-fA-F]{2})")
_NON_PRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
_NULL_STR = pa.scalar(None, pa.string())


# --- names -----------------------------------------------------------------------------------------

def log_type_from_name(display: str) -> str | None:
    """`conn` from `conn.log`, `x.tar!logs/conn.00:00:00-01:00:00.log`, `dns.log.labeled`; None
    when the name says nothing (a name like `notes.txt` is not taken for a log type)."""
    base = display.rsplit("!", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1].lower()
    stem = base.split(".", 1)[0]
    if stem in KNOWN_LOGS:
        return stem
    for known in sorted(KNOWN_LOGS, key=len, reverse=True):  # labeled-conn, json_streaming_conn
        if stem.endswith(("-" + known, "_" + known)):
            return known
    return stem if ".log" in base and stem and valid_table_name("zeek_" + stem) else None


class _Tables:
    """Log type and table name per path text, with a cap on distinct tables per file (hostile input
    could otherwise name a new table on every line)."""

    MAX_TABLES = 64

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.known: dict[str | None, tuple[str, str]] = {}

    def get(self, path: str | None) -> tuple[str, str]:
        got = self.known.get(path)
        if got is None:
            got = _table_for(path, self.ctx)
            if len({t for _, t in self.known.values()} | {got[1]}) > self.MAX_TABLES:
                self.ctx.warn("zeek: too many log types in one file; the others stored in zeek_unknown")
                got = (UNKNOWN_PATH, "zeek_" + UNKNOWN_PATH)
            if len(self.known) < 4 * self.MAX_TABLES:
                self.known[path] = got
        return got


def _table_for(path: str | None, ctx: ReadContext) -> tuple[str, str]:
    """(log type, table name); the type comes from the evidence, so it is checked before use."""
    if path is None:
        path = log_type_from_name(ctx.source.display)
        if path is None:
            ctx.warn("zeek: no #path and no log type in the file name; rows stored in zeek_unknown")
            return UNKNOWN_PATH, "zeek_" + UNKNOWN_PATH
        return path, "zeek_" + path
    norm = path.strip().lower()
    if norm and valid_table_name("zeek_" + norm):
        return norm, "zeek_" + norm
    ctx.warn(f"zeek: log path {path[:40]!r} is not a valid table name; rows stored in zeek_unknown")
    return UNKNOWN_PATH, "zeek_" + UNKNOWN_PATH


def _column_name(name: str, i: int, originals: set[str], used: set[str]) -> str:
    col = _NON_PRINTABLE.sub("_", name[:MAX_NAME]) if name.strip() else f"field_{i + 1}"
    if col in ZEEK_RENAMES:  # http `host` -> host_header: the core column keeps its meaning
        col = ZEEK_RENAMES[col] if ZEEK_RENAMES[col] not in originals else "zeek_" + col
    elif col in CORE_NAMES:
        col = "zeek_" + col
    base, k = col, 2
    while col in used:
        col, k = f"{base}_{k}", k + 1
    return col


# --- table layout ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Spec:
    """One table layout: Zeek fields (name, column or None for ts, Zeek type), schema, core sources."""

    path: str
    table: str
    fields: tuple[tuple[str, str | None, str], ...]
    schema: pa.Schema
    ts_index: int | None
    core: tuple[tuple[str, tuple[int, ...]], ...]


@lru_cache(maxsize=512)
def _spec(path: str, table: str, declared: tuple[tuple[str, str], ...]) -> _Spec:
    originals = {name for name, _ in declared}
    used = set(CORE_NAMES)
    fields: list[tuple[str, str | None, str]] = []
    ts_index = None
    first: dict[str, int] = {}
    for i, (name, ztype) in enumerate(declared):
        first.setdefault(name, i)
        if name == "ts" and ts_index is None:
            ts_index = i
            fields.append((name, None, "time"))
            continue
        col = _column_name(name, i, originals, used)
        used.add(col)
        fields.append((name, col, ztype))
    schema = pa.schema([*CORE_FIELDS, *(pa.field(c, zeek_type(t)) for _, c, t in fields if c is not None)])
    sources = {**_CORE_DEFAULT, **_CORE_BY_PATH.get(path, {})}
    core = tuple((k, tuple(first[f] for f in cands if f in first)) for k, cands in sources.items())
    return _Spec(path, table, tuple(fields), schema, ts_index, tuple((k, v) for k, v in core if v))


def _normal_type(ztype: str) -> str:
    ztype = ztype.strip()
    return "set[" + ztype[6:] if ztype.startswith("table[") else ztype  # Bro 2.x wrote table[string]


Bad = Callable[[int], None]


def _bad_counter(ctx: ReadContext, spec: _Spec, name: str, ztype: str) -> Bad:
    msg = f"{spec.table}: values of {name[:MAX_NAME]!r} that are not valid {ztype[:40]} stored as null"

    def bad(k: int) -> None:
        if k:
            ctx.warnings[msg] += k  # one counted warning per field and kind, not one per value

    return bad


def _assemble(spec: _Spec, arrays: Sequence[pa.Array], n: int, records: Sequence[int],
              ctx: ReadContext) -> pa.RecordBatch:
    columns: dict[str, Any] = {c: arr for (_, c, _), arr in zip(spec.fields, arrays, strict=True) if c}
    if spec.ts_index is not None:
        ts = arrays[spec.ts_index]
        columns["ts"] = ts
        missing = ts.null_count
    else:
        missing = n
    if missing:
        ctx.warnings[f"{spec.table}: records without a ts (ts is null)"] += missing
    columns["family"] = pa.repeat(FAMILY, n) if n else pa.array([], pa.string())
    for core, idxs in spec.core:
        columns[core] = _coalesce([arrays[i] for i in idxs], _CORE_TYPES[core])
    return make_batch(spec.schema, columns, n, ctx, records)


def _coalesce(arrays: list[pa.Array], typ: pa.DataType) -> pa.Array:
    out: pa.Array | None = None
    for arr in arrays:
        if pa.types.is_list(arr.type):  # files.log tx_hosts/rx_hosts: the first address
            arr = pa.array([v[0] if v else None for v in arr.to_pylist()], arr.type.value_type)
        if arr.type != typ:
            try:
                arr = pc.cast(arr, typ)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                arr = pa.array([_py_scalar_json(v, typ) for v in arr.to_pylist()], typ)
        out = arr if out is None else pc.coalesce(out, arr)
    assert out is not None
    return out


# --- value conversion (shared) ---------------------------------------------------------------------

def _floats_to_ts(floats: pa.Array) -> pa.Array:
    """Epoch seconds (float64) to timestamps; raises ArrowInvalid when a value is out of range."""
    us = pc.round(pc.multiply(floats, float(_US)))
    lo, hi = pc.min_max(us).values()
    if lo.is_valid and (lo.as_py() < _TS_MIN_US or hi.as_py() > _TS_MAX_US):
        raise pa.ArrowInvalid("time out of range")
    return pc.cast(us, pa.int64()).cast(TS)


def _ts_ok(us: int | None) -> int | None:
    return us if us is not None and _TS_MIN_US <= us <= _TS_MAX_US else None


def _int_ok(v: int, typ: pa.DataType) -> int | None:
    bits = typ.bit_width
    return v if -(1 << (bits - 1)) <= v < (1 << (bits - 1)) else None


def _unescape(s: str) -> str:
    """Zeek writes separators, non-printable bytes and values equal to its markers as \\xHH."""
    if "\\x" not in s:
        return s
    out = bytearray()
    pos = 0
    for m in _HEX.finditer(s):
        out += s[pos:m.start()].encode("utf-8")
        out.append(int(m.group(1), 16))
        pos = m.end()
    out += s[pos:].encode("utf-8")
    return out.decode("utf-8", "replace")


# --- TSV values ------------------------------------------------------------------------------------

@dataclass
class _Block:
    """The header state of one TSV header block (a file may hold several when logs were joined)."""

    sep: str = "\t"
    set_sep: str = ","
    empty: str = "(empty)"
    unset: str = "-"
    path: str | None = None
    fields: list[str] | None = None
    types: list[str] | None = None
    spec: _Spec | None = None


def _py_scalar_tsv(s: str | None, typ: pa.DataType, blk: _Block) -> tuple[Any, bool]:
    """(value, ok) of one TSV value; ok is False when it does not parse as its type."""
    if s is None or s == blk.unset:
        return None, True
    try:
        if typ == TS:
            us = epoch_to_us(s)
            if us is None:
                us = parse_iso_us(s)
            us = _ts_ok(us)
            return us, us is not None
        if pa.types.is_integer(typ):
            v = _int_ok(int(s.strip().partition("/")[0]), typ)  # ports may read "80/tcp"
            return v, v is not None
        if pa.types.is_floating(typ):
            return float(s), True
        if pa.types.is_boolean(typ):
            v = {"T": True, "F": False, "1": True, "0": False}.get(s.strip())
            return v, v is not None
    except ValueError:
        return None, False
    if s == blk.empty:
        return "", True
    return _unescape(s), True


def _slow_tsv(values: list[str | None], typ: pa.DataType, blk: _Block, bad: Bad) -> pa.Array:
    failed = 0
    if pa.types.is_list(typ):
        elem = typ.value_type
        out: list[Any] = []
        for s in values:
            if s is None or s == blk.unset:
                out.append(None)
            elif s == blk.empty:
                out.append([])
            else:
                items = []
                for e in s.split(blk.set_sep):
                    v, ok = _py_scalar_tsv(e, elem, blk)
                    failed += not ok
                    items.append(v)
                out.append(items)
    else:
        out = []
        for s in values:
            v, ok = _py_scalar_tsv(s, typ, blk)
            failed += not ok
            out.append(v)
    bad(failed)
    if typ == TS:
        return pa.array(out, pa.int64()).cast(TS)
    return pa.array(out, typ)


def _tsv_column(arr: pa.Array, ztype: str, blk: _Block, bad: Bad) -> pa.Array:
    """One column of Zeek TSV text to its Arrow type, vectorized; odd values take the slow path."""
    typ = zeek_type(ztype)
    unset = pc.equal(arr, blk.unset)
    try:
        if pa.types.is_string(typ):
            return _fix_strings(pc.if_else(unset, _NULL_STR, arr), blk)
        if pa.types.is_list(typ):
            if _has_escape(arr) or not pa.types.is_string(typ.value_type):
                raise pa.ArrowInvalid("slow path")
            return _tsv_string_lists(arr, unset, typ, blk)
        vals = pc.if_else(unset, _NULL_STR, arr)
        if typ == TS:
            return _floats_to_ts(pc.cast(vals, pa.float64()))
        if pa.types.is_boolean(typ):
            true, false = pc.equal(vals, "T"), pc.equal(vals, "F")
            if pc.all(pc.or_(true, false)).as_py() is False:
                raise pa.ArrowInvalid("not T/F")
            return true
        return pc.cast(vals, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _slow_tsv(arr.to_pylist(), typ, blk, bad)


def _has_escape(arr: pa.Array) -> bool:
    return bool(pc.any(pc.match_substring(arr, "\\x")).as_py())


def _fix_strings(arr: pa.Array, blk: _Block, empties: bool = True, escapes: bool = True) -> pa.Array:
    """Zeek's empty marker to "", and \\xHH escapes decoded (unset values are already null)."""
    if empties:
        empty = pc.equal(arr, blk.empty)
        if pc.any(empty).as_py():
            arr = pc.if_else(empty, pa.scalar("", pa.string()), arr)
    if escapes and _has_escape(arr):
        arr = pa.array([_unescape(v) if v is not None else None for v in arr.to_pylist()], pa.string())
    return arr


def _tsv_string_lists(arr: pa.Array, unset: pa.Array, typ: pa.DataType, blk: _Block) -> pa.Array:
    parts = pc.split_pattern(pc.if_else(unset, _NULL_STR, arr), pattern=blk.set_sep)
    if pc.any(pc.equal(parts.flatten(), blk.unset)).as_py():
        raise pa.ArrowInvalid("unset list elements")
    empty = pc.equal(arr, blk.empty)
    if pc.any(empty).as_py():
        parts = pc.if_else(empty, pa.scalar([], typ), parts)
    return parts


# --- TSV reader ------------------------------------------------------------------------------------

CHUNK_BYTES = 4 << 20


def _split_lines(buf: bytes) -> pa.Array:
    lines = pc.split_pattern(pa.array([buf], pa.binary()), pattern="\n").flatten()
    if b"\r" in buf:  # CRLF files: the CR belongs to the line end
        lines = pc.replace_substring_regex(lines, pattern="\r$", replacement="")
    return lines


def _line_chunks(ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    """(number of the first line, lines as a binary array without their line ends), a few MiB at a
    time; numbered as lines.iter_lines numbers them. UTF-16 files go through iter_lines."""
    with ctx.source.path.open("rb") as fh:
        enc, skip = text_encoding(fh.read(4096))
        if enc != "utf-8":
            yield from _transcoded_chunks(ctx)
            return
        fh.seek(skip)
        lineno = 1
        pending: list[bytes] = []  # a line longer than a chunk: joined once its end is read
        while data := fh.read(CHUNK_BYTES):
            ctx.progress(len(data))
            cut = data.rfind(b"\n")
            if cut < 0:
                pending.append(data)
                continue
            lines = _split_lines(b"".join([*pending, data[:cut]]) if pending else data[:cut])
            pending = [data[cut + 1:]] if cut + 1 < len(data) else []
            yield lineno, lines
            lineno += len(lines)
        if pending:
            yield lineno, _split_lines(b"".join(pending))


def _transcoded_chunks(ctx: ReadContext) -> Iterator[tuple[int, pa.Array]]:
    first, lines = 1, []
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if not lines:
            first = lineno
        lines.append(raw)
        if len(lines) >= 65_536:
            yield first, pa.array(lines, pa.binary())
            lines = []
    if lines:
        yield first, pa.array(lines, pa.binary())


Emitted = Iterator[tuple[str, pa.RecordBatch]]


class _LineBatcher:
    """Collects data lines (a binary array) and their line numbers into batches of batch_rows."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.tables = _Tables(ctx)
        self.pending: list[tuple[pa.Array, np.ndarray]] = []
        self.pending_n = 0

    def add(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        self.pending.append((lines, recs))
        self.pending_n += len(lines)
        if self.pending_n >= self.ctx.options.batch_rows:
            yield from self.flush(everything=False)

    def flush(self, everything: bool) -> Emitted:
        """Batches of batch_rows lines from what is pending (all of it at the end or a header)."""
        if not self.pending:
            return
        lines = pa.concat_arrays([a for a, _ in self.pending])
        recs = np.concatenate([r for _, r in self.pending])
        self.pending, self.pending_n = [], 0
        size = max(1, self.ctx.options.batch_rows)
        start, n = 0, len(lines)
        while start < n and (everything or n - start >= size):
            end = min(start + size, n)
            yield from self.emit(lines.slice(start, end - start), recs[start:end])
            start = end
        if start < n:
            self.pending, self.pending_n = [(lines.slice(start), recs[start:])], n - start

    def emit(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        raise NotImplementedError


def _numbers(first: int, n: int) -> np.ndarray:
    return np.arange(first, first + n, dtype=np.int64)


class _TsvReader(_LineBatcher):
    def __init__(self, ctx: ReadContext) -> None:
        super().__init__(ctx)
        self.blk = _Block()

    def run(self) -> Batches:
        blank = 0
        for first, lines in _line_chunks(self.ctx):
            special = pc.match_substring_regex(lines, pattern="^[ \t]*(?:#|$)")  # headers, empty lines
            if not pc.any(special).as_py():  # the common case: data lines only
                yield from self.add(lines, _numbers(first, len(lines)))
                continue
            prev = 0
            for i in np.flatnonzero(special.to_numpy(zero_copy_only=False)).tolist():
                if i > prev:
                    yield from self.add(lines.slice(prev, i - prev), _numbers(first + prev, i - prev))
                raw = lines[i].as_py().lstrip(b" \t")
                if raw:
                    yield from self.flush(everything=True)
                    self._header(raw)
                else:
                    blank += 1
                prev = i + 1
            if prev < len(lines):
                yield from self.add(lines.slice(prev), _numbers(first + prev, len(lines) - prev))
        yield from self.flush(everything=True)
        if blank:
            self.ctx.warnings["zeek: empty lines skipped"] += blank

    def _header(self, raw: bytes) -> None:
        text = decode(raw, self.ctx)
        blk = self.blk
        if text.startswith("#separator"):
            value = text[len("#separator"):]
            sep = _unescape(value[1:] if value[:1] in (" ", "\t") else value)
            if not sep:
                self.ctx.warn("zeek: empty #separator; tab assumed")
                sep = "\t"
            self.blk = _Block(sep=sep)  # a new header block (logs joined with cat)
            return
        key, _, value = text.partition(blk.sep)
        if key == "#fields":
            blk.fields, blk.spec = value.split(blk.sep), None
        elif key == "#types":
            blk.types, blk.spec = value.split(blk.sep), None
        elif key == "#path":
            blk.path, blk.spec = value, None
        elif key == "#set_separator":
            blk.set_sep = _unescape(value) or ","
        elif key == "#empty_field":
            blk.empty = _unescape(value)
        elif key == "#unset_field":
            blk.unset = _unescape(value)
        # #open, #close and any other comment line: header, not a record

    def _layout(self) -> _Spec | None:
        blk = self.blk
        if blk.spec is not None or blk.fields is None:
            return blk.spec
        if len(blk.fields) > MAX_FIELDS:
            self.ctx.warn("zeek: #fields header with too many fields ignored")
            return None
        types = blk.types
        if types is None or len(types) != len(blk.fields):
            self.ctx.warn("zeek: #types missing or not matching #fields; values read as strings")
            types = ["string"] * len(blk.fields)
        path, table = self.tables.get(blk.path)
        blk.spec = _spec(path, table, tuple(zip(blk.fields, map(_normal_type, types), strict=True)))
        return blk.spec

    def emit(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        spec = self._layout()
        if spec is None:
            for raw, rec in zip(lines.to_pylist(), recs.tolist(), strict=True):
                self.ctx.reject(f"line {rec}", "data line without a valid #fields header", raw)
            return
        batch = self._convert(spec, lines, recs)
        if batch is not None:
            yield spec.table, batch

    def _convert(self, spec: _Spec, lines: pa.Array, recs: np.ndarray) -> pa.RecordBatch | None:
        got = _csv_columns(spec, self.blk, lines, self.ctx)
        if got is None:  # odd separators, a value not of its type, bad UTF-8: the general path
            got = _split_columns(spec, self.blk, lines, self.ctx)
        arrays, ok = got
        if ok is not None:
            for i in np.flatnonzero(~ok).tolist():
                self.ctx.reject(f"line {recs[i]}", "wrong number of fields", lines[i].as_py())
            recs = recs[ok]
        if not len(recs):
            return None
        return _assemble(spec, arrays, len(recs), recs, self.ctx)


Columns = tuple[list[pa.Array], np.ndarray | None]  # typed columns, and which lines they hold (None: all)


def _valid_utf8(lines: pa.Array) -> bool:
    try:
        lines.cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _csv_type(ztype: str) -> pa.DataType:
    typ = zeek_type(ztype)
    return pa.float64() if typ == TS else pa.string() if pa.types.is_list(typ) else typ


def _csv_columns(spec: _Spec, blk: _Block, lines: pa.Array, ctx: ReadContext) -> Columns | None:
    """Split and type a batch in one pass of Arrow's CSV parser (no quoting, no escapes); None when
    the batch needs the general path."""
    if len(blk.sep) != 1 or blk.sep in "\r\n" or not _valid_utf8(lines):
        return None
    offsets = pa.array([0, len(lines)], pa.int32())
    data = pc.binary_join(pa.ListArray.from_arrays(offsets, pa.concat_arrays([lines])), pa.scalar(b"\n"))[0]
    buf = data.as_buffer()
    raw = buf.to_pybytes() if buf is not None else b"\r"
    if b"\r" in raw:  # a stray CR would end a CSV row
        return None
    empties, escapes = blk.empty.encode() in raw, b"\\x" in raw  # skip the column checks when absent
    invalid: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.number is None:
            return "error"
        invalid.append(row.number - 1)
        return "skip"

    names = [f"f{i}" for i in range(len(spec.fields))]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(buf),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                           block_size=max(1 << 20, len(raw) + 1)),
            parse_options=pacsv.ParseOptions(delimiter=blk.sep, quote_char=False, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: _csv_type(t) for n, (_, _, t) in zip(names, spec.fields, strict=True)},
                null_values=[blk.unset], strings_can_be_null=True, true_values=["T"], false_values=["F"],
                check_utf8=True),
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows + len(invalid) != len(lines):
        return None
    ok = None
    if invalid:
        ok = np.ones(len(lines), dtype=bool)
        ok[invalid] = False
    arrays = []
    for col, (name, _, ztype) in zip(table.columns, spec.fields, strict=True):
        arr, bad = col.combine_chunks(), _bad_counter(ctx, spec, name, ztype)
        if arr.type == pa.float64() and zeek_type(ztype) == TS:
            try:
                arr = _floats_to_ts(arr)
            except pa.ArrowInvalid:
                arr = _slow_json(arr.to_pylist(), TS, bad)
        elif pa.types.is_list(zeek_type(ztype)):
            arr = _tsv_column(arr, ztype, blk, bad)
        elif pa.types.is_string(arr.type):
            arr = _fix_strings(arr, blk, empties, escapes)
        arrays.append(arr)
    return arrays, ok


def _split_columns(spec: _Spec, blk: _Block, lines: pa.Array, ctx: ReadContext) -> Columns:
    try:
        text = lines.cast(pa.string())
    except pa.ArrowInvalid:  # invalid UTF-8 somewhere in the batch: replace it, line by line
        text = pa.array([decode(raw, ctx) for raw in lines.to_pylist()], pa.string())
    parts = pc.split_pattern(text, pattern=blk.sep)
    nf = len(spec.fields)
    okarr = pc.equal(pc.list_value_length(parts), nf)
    ok = None
    if not pc.all(okarr).as_py():
        ok = okarr.to_numpy(zero_copy_only=False)
        parts = parts.filter(okarr)
    flat = parts.flatten()
    starts = np.arange(len(parts), dtype=np.int64) * nf
    arrays = [
        _tsv_column(flat.take(pa.array(starts + j)), ztype, blk, _bad_counter(ctx, spec, name, ztype))
        for j, (name, _, ztype) in enumerate(spec.fields)
    ]
    return arrays, ok


def read_tsv(ctx: ReadContext) -> Batches:
    yield from _TsvReader(ctx).run()


def sniff_tsv(head: bytes, name: str) -> bool:
    return bool(_TSV_SNIFF.search(head_text(head)[:16384].lstrip("\ufeff")))


# --- JSON values -----------------------------------------------------------------------------------

def _py_scalar_json(v: Any, typ: pa.DataType) -> Any:
    """One JSON value as `typ`, or None when it is not one (the caller counts those)."""
    if v is None:
        return None
    if pa.types.is_string(typ):
        return v if isinstance(v, str) else orjson.dumps(v).decode()
    if isinstance(v, bool):
        return v if pa.types.is_boolean(typ) else None
    try:
        if typ == TS:
            if isinstance(v, int | float):
                return _ts_ok(round(v * _US))
            if isinstance(v, str):
                us = parse_iso_us(v)
                return _ts_ok(us if us is not None else epoch_to_us(v))
            return None
        if pa.types.is_integer(typ):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, str):
                v = int(v.strip().partition("/")[0])
            return _int_ok(v, typ) if isinstance(v, int) else None
        if pa.types.is_floating(typ):
            return float(v) if isinstance(v, int | float | str) else None
        if pa.types.is_boolean(typ):
            return {"T": True, "true": True, "F": False, "false": False}.get(v) if isinstance(v, str) else None
    except (ValueError, OverflowError):
        return None
    return None


def _slow_json(values: list[Any], typ: pa.DataType, bad: Bad) -> pa.Array:
    failed = 0
    out: list[Any] = []
    if pa.types.is_list(typ):
        elem = typ.value_type
        for v in values:
            if v is None:
                out.append(None)
            elif not isinstance(v, list):
                failed += 1
                out.append(None)
            else:
                items = [_py_scalar_json(e, elem) for e in v]
                failed += sum(1 for e, x in zip(v, items, strict=True) if x is None and e is not None)
                out.append(items)
    else:
        for v in values:
            x = _py_scalar_json(v, typ)
            failed += x is None and v is not None
            out.append(x)
    bad(failed)
    if typ == TS:
        return pa.array(out, pa.int64()).cast(TS)
    return pa.array(out, typ)


JsonColumn = pa.Array | list[Any]  # typed by Arrow, or Python values that Arrow could not type


def _json_column(col: JsonColumn | None, ztype: str, n: int, bad: Bad) -> pa.Array:
    """A JSON column as its Zeek type: vectorized when Arrow typed it sensibly, else value by value."""
    typ = zeek_type(ztype)
    if col is None:
        return pa.nulls(n, typ)
    if isinstance(col, list):
        return _slow_json(col, typ, bad)
    t = col.type
    try:
        if pa.types.is_null(t):
            return pa.nulls(n, typ)
        if typ == TS:
            if pa.types.is_timestamp(t):
                return pc.cast(col, TS)
            if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
                raise pa.ArrowInvalid("not epoch numbers")
            return _floats_to_ts(pc.cast(col, pa.float64()))
        if pa.types.is_integer(typ) and not pa.types.is_integer(t):
            raise pa.ArrowInvalid("not integers")  # Arrow would truncate floats silently
        if pa.types.is_boolean(typ) != pa.types.is_boolean(t):
            raise pa.ArrowInvalid("bool mismatch")
        if pa.types.is_list(typ) and pa.types.is_list(t) and pa.types.is_null(t.value_type):
            return pa.array(col.to_pylist(), typ)
        return pc.cast(col, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, ValueError):
        return _slow_json(col.to_pylist(), typ, bad)


def _infer_arrow(t: pa.DataType) -> tuple[str, bool]:
    """(Zeek type, decided) from the type Arrow inferred for a JSON column."""
    if pa.types.is_null(t):
        return "string", False
    if pa.types.is_list(t):
        inner, decided = _infer_arrow(t.value_type)
        return f"vector[{inner if not inner.startswith('vector[') else 'string'}]", decided
    if pa.types.is_boolean(t):
        return "bool", True
    if pa.types.is_integer(t):
        return "count", True
    if pa.types.is_floating(t):
        return "double", True
    if pa.types.is_timestamp(t):
        return "time", True
    return "string", True


def _infer_type(values: list[Any]) -> tuple[str, bool]:
    """(Zeek type, decided) from the JSON values of one field; undecided when all null or empty."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "string", False
    if kinds == {list}:
        elems = [e for v in values if v for e in v]
        if not elems:
            return "vector[string]", False
        inner, _ = _infer_type(elems)
        return f"vector[{inner if not inner.startswith('vector[') else 'string'}]", True
    if kinds == {bool}:
        return "bool", True
    if kinds == {int}:
        return "count", True
    if kinds <= {int, float}:
        return "double", True
    return "string", True


def _json_type(path: str, name: str) -> str | None:
    known = _JSON_TYPES_BY_PATH.get((path, name)) or _JSON_TYPES.get(name)
    if known is None and name.endswith((".orig_p", ".resp_p")):
        return "port"
    return known


def _flatten(d: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nested records (`"id": {"orig_h": ...}`) to Zeek's dotted names (`id.orig_h`)."""
    out = {} if out is None else out
    for k, v in d.items():
        if type(v) is dict:
            _flatten(v, f"{prefix}{k}.", out)
        else:
            out[prefix + k] = v
    return out


@dataclass
class _JsonTable:
    """One log type of a JSON file: the field types decided so far (kept from batch to batch)."""

    path: str
    table: str
    types: dict[str, str | None] = field(default_factory=dict)  # None: not decided yet

    def batch(self, columns: dict[str, JsonColumn], recs: np.ndarray, ctx: ReadContext) -> pa.RecordBatch:
        for k in columns:
            if k not in self.types:
                self.types[k] = _json_type(self.path, k)
        effective: list[tuple[str, str]] = []
        for k, t in self.types.items():
            if t is None:
                col = columns.get(k)
                t, decided = ("string", False) if col is None else (
                    _infer_type(col) if isinstance(col, list) else _infer_arrow(col.type))
                if decided:
                    self.types[k] = t
            effective.append((k, t))
        spec = _spec(self.path, self.table, tuple(effective))
        n = len(recs)
        arrays = [_json_column(columns.get(k), t, n, _bad_counter(ctx, spec, k, t)) for k, t in effective]
        return _assemble(spec, arrays, n, recs, ctx)


Group = tuple[tuple[str, str], dict[str, JsonColumn], np.ndarray]  # (log type, table), columns, rows
Resolve = Callable[[str | None], tuple[str, str]]


def _arrow_groups(lines: pa.Array, resolve: Resolve) -> list[Group] | None:
    """Parse a batch with Arrow's JSON reader; None when a line is not a JSON object or a field
    changes type (the per-line path then finds and rejects what is bad)."""
    if not _valid_utf8(lines):  # invalid UTF-8: replaced line by line, and reported
        return None
    offsets = pa.array([0, len(lines)], pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, pa.concat_arrays([lines])), pa.scalar(b"\n"))
    buf = joined[0].as_buffer()
    if buf is None:
        return None
    try:
        table = pajson.read_json(pa.BufferReader(buf),
                                 read_options=pajson.ReadOptions(use_threads=False, block_size=buf.size + 1))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(lines):
        return None
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()  # nested records to dotted names
    if len(set(table.column_names)) != table.num_columns:
        return None
    if "_path" not in table.column_names:
        return [(resolve(None), {c: table[c].combine_chunks() for c in table.column_names}, np.arange(len(lines)))]
    paths = table["_path"].combine_chunks()
    if not pa.types.is_string(paths.type):
        return None
    table = table.drop_columns(["_path"])
    # group by table, not by _path text: hostile input may hold a different _path on every line
    enc = paths.dictionary_encode()
    keys = [resolve(v) for v in enc.dictionary.to_pylist()] + [resolve(None)]
    key_ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    of_value = np.array([key_ids[k] for k in keys], dtype=np.int64)
    codes = pc.fill_null(enc.indices, len(keys) - 1).to_numpy(zero_copy_only=False)
    row_keys = of_value[codes]
    groups: list[Group] = []
    for key, kid in key_ids.items():
        idx = np.flatnonzero(row_keys == kid)
        if len(idx):
            sub = table.take(pa.array(idx))
            groups.append((key, {c: sub[c].combine_chunks() for c in sub.column_names}, idx))
    return groups


def _python_groups(lines: pa.Array, recs: np.ndarray, ctx: ReadContext, resolve: Resolve) -> list[Group]:
    """Line by line with orjson: bad lines are rejected, the others grouped by table."""
    rows: dict[tuple[str, str], tuple[list[dict[str, Any]], list[int]]] = {}
    for i, raw in enumerate(lines.to_pylist()):
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:
                d = orjson.loads(decode(raw, ctx))
            except orjson.JSONDecodeError as exc:
                ctx.reject(f"line {recs[i]}", f"invalid JSON: {str(exc).split(':')[0]}", raw)
                continue
        if type(d) is not dict:
            ctx.reject(f"line {recs[i]}", "JSON line is not an object", raw)
            continue
        if any(type(v) is dict for v in d.values()):
            d = _flatten(d)
        p = d.pop("_path", None)
        got = rows.setdefault(resolve(p if isinstance(p, str) else None), ([], []))
        got[0].append(d)
        got[1].append(i)
    groups: list[Group] = []
    for key, (ds, idx) in rows.items():
        names = dict.fromkeys(k for sig in dict.fromkeys(map(tuple, ds)) for k in sig)
        columns: dict[str, JsonColumn] = {}
        for k in names:
            values = [d.get(k) for d in ds]
            try:
                columns[k] = pa.array(values)  # typed when the values agree
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
                columns[k] = values
        groups.append((key, columns, np.array(idx, dtype=np.int64)))
    return groups


class _JsonReader(_LineBatcher):
    def __init__(self, ctx: ReadContext) -> None:
        super().__init__(ctx)
        self.by_table: dict[str, _JsonTable] = {}

    def run(self) -> Batches:
        blank = 0
        for first, lines in _line_chunks(self.ctx):
            recs = _numbers(first, len(lines))
            empty = pc.match_substring_regex(lines, pattern="^[ \t]*$")
            if pc.any(empty).as_py():
                keep = pc.invert(empty)
                blank += len(lines) - pc.sum(keep.cast(pa.int64())).as_py()
                lines, recs = lines.filter(keep), recs[keep.to_numpy(zero_copy_only=False)]
            if len(lines):
                yield from self.add(lines, recs)
        yield from self.flush(everything=True)
        if blank:
            self.ctx.warnings["zeek: empty lines skipped"] += blank

    def emit(self, lines: pa.Array, recs: np.ndarray) -> Emitted:
        groups = _arrow_groups(lines, self.tables.get)
        if groups is None:
            groups = _python_groups(lines, recs, self.ctx, self.tables.get)
        for (path, table), columns, idx in groups:
            t = self.by_table.get(table)
            if t is None:
                t = self.by_table[table] = _JsonTable(path, table)
            yield table, t.batch(columns, recs[idx], self.ctx)


def read_json(ctx: ReadContext) -> Batches:
    yield from _JsonReader(ctx).run()


def sniff_json(head: bytes, name: str) -> bool:
    text = head_text(head).lstrip()
    if not text.startswith("{"):
        return False
    first = text.split("\n", 1)[0].strip()
    try:
        obj = orjson.loads(first)
    except orjson.JSONDecodeError:  # a first line longer than the head: judge by its opening keys
        return bool(re.match(r'\{\s*"(?:_path|ts)"\s*:', first)) and ('"uid"' in first or '"id.orig_h"' in first)
    if not isinstance(obj, dict) or any(k in obj for k in _JSON_FOREIGN_KEYS):
        return False
    if ("ts" in obj or "_write_ts" in obj) and (
            any(k in obj for k in _JSON_STRONG_KEYS) or isinstance(obj.get("id"), dict)
            or any(k.startswith(_JSON_STRONG_PREFIXES) for k in obj)):
        return True
    return log_type_from_name(name) in KNOWN_LOGS  # software.log, loaded_scripts.log: the name decides


READER_TSV = Reader(
    name="zeek_tsv",
    family=FAMILY,
    description="Zeek logs in the default TSV format (#fields/#types headers), incl. Stratosphere *.labeled",
    sniff=sniff_tsv,
    read=read_tsv,
)

READER_JSON = Reader(
    name="zeek_json",
    family=FAMILY,
    description="Zeek logs as JSON lines (LogAscii::use_json, json-streaming-logs with _path)",
    sniff=sniff_json,
    read=read_json,
)

"""Zeek tables: log type and table name per log, column names, the table layout of a field list,
and which of a log's fields fill the core columns (ts, host, user, addresses, ports, message).

See docs/formats/zeek.md for the core columns per log type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.ingest.batch import Records, make_batch
from breachscope.ingest.context import ReadContext
from breachscope.ingest.zeek.values import Bad, py_scalar_json
from breachscope.model.schema import (
    CORE_FIELDS,
    CORE_NAMES,
    ZEEK_RENAMES,
    column,
    require_unique,
    table_schema,
    unique_column,
    valid_table_name,
    zeek_type,
)

FAMILY = "zeek"
UNKNOWN_PATH = "unknown"
MAX_FIELDS = 1024  # a header declaring more is not a Zeek log; its lines are rejected
MAX_NAME = 128

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
_NON_PRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


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


class Tables:
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


def _field_name(name: str, i: int) -> str:
    """A Zeek field's name as the table shows it: control characters replaced, cut, never empty."""
    return _NON_PRINTABLE.sub("_", name[:MAX_NAME]) if name.strip() else f"field_{i + 1}"


# --- table layout ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """One table layout: Zeek fields (name, column or None for ts, Zeek type), schema, core sources."""

    path: str
    table: str
    fields: tuple[tuple[str, str | None, str], ...]
    schema: pa.Schema
    ts_index: int | None
    core: tuple[tuple[str, tuple[int, ...]], ...]


@lru_cache(maxsize=512)
def spec_for(path: str, table: str, declared: tuple[tuple[str, str], ...]) -> Spec:
    originals = {name for name, _ in declared}
    used = {n.casefold() for n in CORE_NAMES}
    fields: list[tuple[str, str | None, str]] = []
    stored: list[pa.Field] = []
    ts_index = None
    first: dict[str, int] = {}
    for i, (name, ztype) in enumerate(declared):
        first.setdefault(name, i)
        if name == "ts" and ts_index is None:
            ts_index = i
            fields.append((name, None, "time"))
            continue
        shown = _field_name(name, i)
        # a column equal to a core column or an earlier column ignoring case would be merged or renamed
        # by DuckDB and Spark: it gets a name of its own and records the field it holds
        col = unique_column(shown, used, ZEEK_RENAMES, "zeek_", originals)
        used.add(col.casefold())
        fields.append((name, col, ztype))
        stored.append(column(col, zeek_type(ztype), shown))
    schema = table_schema([*CORE_FIELDS, *stored])
    require_unique(schema, table)
    sources = {**_CORE_DEFAULT, **_CORE_BY_PATH.get(path, {})}
    core = tuple((k, tuple(first[f] for f in cands if f in first)) for k, cands in sources.items())
    return Spec(path, table, tuple(fields), schema, ts_index, tuple((k, v) for k, v in core if v))


def bad_counter(ctx: ReadContext, spec: Spec, name: str, ztype: str) -> Bad:
    msg = f"{spec.table}: values of {name[:MAX_NAME]!r} that are not valid {ztype[:40]} stored as null"

    def bad(k: int) -> None:
        if k:
            ctx.warnings[msg] += k  # one counted warning per field and kind, not one per value

    return bad


def assemble(spec: Spec, arrays: Sequence[pa.Array], n: int, records: Records,
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
                arr = pa.array([py_scalar_json(v, typ) for v in arr.to_pylist()], typ)
        out = arr if out is None else pc.coalesce(out, arr)
    assert out is not None
    return out

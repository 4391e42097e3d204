"""What the header of a delimited flow text file means: column roles, per-format alias tables
(text formats), the header resolved into a layout, and the sniffing helpers built on it.

Columns are found by header name through a per-format alias table (case and punctuation ignored),
so column order does not matter; every column that is not mapped to a flow field is kept in
`extra` under its header name, so no column is lost. Used by the flow readers (argus.py,
nfdump.py, netflow_csv.py) and the engine that reads their files (text.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import head_text
from breachscope.ingest.reader import HEAD_BYTES

TABLE = "flow"
FAMILY = "flow"

# --- what the columns mean ------------------------------------------------------------------------

#: Roles a column can play. `*_any` counters are totals when the file also has per-direction
#: counters, else they count the source-to-destination direction (unidirectional NetFlow/IPFIX/VPC).
#: `boot_ms`, `export_s`, `export_ns`, `uptime_ms` are the NetFlow/IPFIX bases of relative times.
ROLES = frozenset({
    "start", "end", "duration", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "direction",
    "state", "tcp_flags", "label", "bytes", "src_bytes", "dst_bytes", "bytes_any", "packets",
    "src_packets", "dst_packets", "packets_any", "boot_ms", "export_s", "export_ns", "uptime_ms",
})


@dataclass(frozen=True)
class Col:
    """What one header name means. `unit`: for times s|ms|us|ns|auto (auto: epoch unit from the
    value's magnitude, or text), `uptime` (ms since exporter boot), `first_last` (NetFlow v5
    first/last: uptime when the file has a base, else epoch); for durations s|ms|us; for
    `direction`, `code` means IPFIX flowDirection (0 ingress, 1 egress)."""

    role: str
    unit: str = ""


def normalize(name: str) -> str:
    """Header names compare without case and punctuation: `srcAddr`, `src_addr`, `SRC-ADDR` match."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def aliases(table: Mapping[str, tuple[str, ...]]) -> dict[str, Col]:
    """{role or role:unit: names} -> {normalized name: Col}, the shape the text formats are written in."""
    out: dict[str, Col] = {}
    for spec, names in table.items():
        role, _, unit = spec.partition(":")
        assert role in ROLES, role
        for name in names:
            out[normalize(name)] = Col(role, unit)
    return out


Trailer = Callable[[Iterator[tuple[int, bytes]], ReadContext, int], None]


@dataclass(frozen=True)
class FlowTextFormat:
    """What one flow text format differs in: header names (aliases), delimiters, null values and a
    trailer such as nfdump's summary; the engine (text.py) reads every format with these."""

    name: str  # the reader's name, for messages
    aliases: Mapping[str, Col]
    flow_format: Callable[[frozenset[str]], str]  # `flow_format` value from the normalized header names
    delimiters: tuple[str, ...] = (",", "\t")
    null_values: tuple[str, ...] = ("",)
    stop_line: bytes | None = None  # a line that ends the flow records (nfdump's "Summary")
    trailer: Trailer | None = None  # reads the lines from stop_line on (line numbered)


@dataclass
class Layout:
    """A file's header resolved against a flow text format."""

    header: str
    delimiter: str
    keys: list[str]  # header names made unique: the keys of `extra`
    roles: dict[str, list[int]]  # role -> column indexes, first one wins per row
    units: dict[int, str]
    extra: list[int]  # columns kept in `extra`
    flow_format: str
    normalized: frozenset[str] = field(default_factory=frozenset)

    def has(self, role: str) -> bool:
        return role in self.roles


def split_fields(line: str, delimiter: str) -> list[str]:
    if '"' in line:
        # csv refuses a CR outside quotes (it ends a row there): the CR stays in its field instead
        mark = "\ue000" if "\r" in line and "\ue000" not in line else None
        try:
            fields = next(csv.reader([line.replace("\r", mark) if mark else line], delimiter=delimiter), [])
        except csv.Error:  # e.g. a field over csv's size limit: split as is (a wrong count is then rejected)
            return line.split(delimiter)
        return [f.replace(mark, "\r") for f in fields] if mark else fields
    return line.split(delimiter)


def resolve(text_format: FlowTextFormat, line: str) -> Layout | None:
    """The layout of a header line, or None when it has no source and destination address columns."""
    text = line[2:] if line.startswith("#:") else line  # flow-tools `flow-export -f2` writes "#:" first
    best: tuple[str, list[str]] | None = None
    for d in text_format.delimiters:
        fields = split_fields(text, d)
        if len(fields) > 1 and (best is None or len(fields) > len(best[1])):
            best = (d, fields)
    if best is None:
        return None
    delimiter, fields = best
    names = [f.strip() for f in fields]
    roles: dict[str, list[int]] = {}
    units: dict[int, str] = {}
    extra: list[int] = []
    for i, name in enumerate(names):
        col = text_format.aliases.get(normalize(name))
        if col is None:
            extra.append(i)
            continue
        roles.setdefault(col.role, []).append(i)
        units[i] = col.unit
    for kind in ("bytes", "packets"):
        idx = roles.pop(f"{kind}_any", None)
        if idx:
            target = kind if f"src_{kind}" in roles else f"src_{kind}"
            roles.setdefault(target, []).extend(idx)
    if "src_ip" not in roles or "dst_ip" not in roles:
        return None
    normalized = frozenset(normalize(n) for n in names)
    return Layout(header=line, delimiter=delimiter, keys=_unique(names), roles=roles, units=units, extra=extra,
                  flow_format=text_format.flow_format(normalized), normalized=normalized)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        key = name or f"column_{i + 1}"
        if key in seen:
            seen[key] += 1
            key = f"{key}_{seen[key]}"
        else:
            seen[key] = 1
        out.append(key)
    return out


# --- sniffing ---------------------------------------------------------------------------------------

def head_lines(head: bytes) -> tuple[str, str | None] | None:
    """(header line, first data line or None) of a delimited text file, from its first bytes.

    Blank lines and `#` comments before the header are skipped; binary content gives None."""
    text = head_text(head)
    if "\x00" in text:
        return None
    lines = text.split("\n")
    if len(head) >= HEAD_BYTES:
        lines = lines[:-1]  # the last line may be cut
    found: list[str] = []
    for line in lines[:200]:
        line = line.rstrip("\r")
        if not line.strip() or (line.startswith("#") and not line.startswith("#:") and not found):
            continue
        found.append(line)
        if len(found) == 2:
            break
    if not found:
        return None
    return found[0], (found[1] if len(found) > 1 else None)


def sniff_layout(head: bytes, text_format: FlowTextFormat) -> Layout | None:
    """The header's layout if the file looks like this format's text: the header maps source and
    destination addresses, and the first data line (if any) has as many fields as the header."""
    got = head_lines(head)
    if got is None:
        return None
    header, first = got
    layout = resolve(text_format, header)
    if layout is None:
        return None
    if (first is not None and first.encode() != text_format.stop_line
            and len(split_fields(first, layout.delimiter)) != len(layout.keys)):
        return None
    return layout


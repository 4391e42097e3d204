"""What the organization collects (`network.log_sources`): which log files are written, and what its Zeek
sensors can see. A source not collected writes nothing: neither its noise nor the story's records in it
(the truth counts those under `evidence.not_collected`), as in an organization that never forwarded them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.simulate.streams import Chunk, Injected
from breachscope.simulate.text import ip_int

if TYPE_CHECKING:
    from breachscope.simulate.network import Network
    from breachscope.simulate.scenario_file import LogSources

#: RFC 1918: the inside of any simulated organization (its hosts' addresses are added to it)
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


@dataclass(frozen=True)
class Collection:
    """Which output keys (streams.Output.key) are written, and which Zeek records a sensor sees."""

    windows_security: frozenset[str]  # dc, servers, workstations
    sysmon: frozenset[str]  # servers, workstations
    zeek_views: tuple[str, ...]  # all | internet | CIDR; () = no sensor
    netflow: bool
    firewall: bool
    router_syslog: bool
    linux_syslog: bool
    inside: tuple[tuple[int, int], ...]  # (first, last) address ranges of the organization
    #: source -> hosts (lower case) whose own logs of it are not collected (`log_sources.not_from`)
    hosts_off: tuple[tuple[str, frozenset[str]], ...] = ()

    def collects(self, key: str) -> bool:
        family, _, rest = key.partition(".")
        if family == "win":
            part, _, channel = rest.partition(".")
            return part in (self.windows_security if channel == "security" else self.sysmon)
        if rest.lower() in self._hosts_off(_SOURCE_OF.get(family, "")):  # a device's or a Linux host's own file
            return False
        return {"zeek": bool(self.zeek_views), "flow": self.netflow, "asa": self.firewall,
                "ios": self.router_syslog, "syslog": self.linux_syslog}.get(family, True)

    def _hosts_off(self, source: str) -> frozenset[str]:
        """The hosts whose own logs of `source` are not collected."""
        return next((hosts for name, hosts in self.hosts_off if name == source), frozenset())

    def _windows_kept(self, key: str, lines: pa.Array) -> np.ndarray | None:
        """Which winlogbeat lines of `key` come from a host whose log is collected (None: all of them)."""
        if not key.startswith("win."):
            return None
        off = self._hosts_off("windows_security" if key.endswith(".security") else "sysmon")
        if not off:
            return None
        found = pc.extract_regex(lines, r'"computer_name":"(?P<h>[^".]*)')
        names = pc.utf8_lower(pc.struct_field(found, "h"))
        return ~np.asarray(pc.fill_null(pc.is_in(names, pa.array(sorted(off))), False))

    def is_inside(self, ip: str) -> bool:
        """Whether an address is the organization's (RFC 1918 or one of its hosts'): Zeek's Site::local_nets."""
        try:
            addr = ip_int(ip)
        except ValueError:  # not a dotted IPv4 address
            return False
        return any(first <= addr <= last for first, last in self.inside)

    @property
    def zeek_sees_everything(self) -> bool:
        return "all" in self.zeek_views

    def story_records(self, key: str, records: list[Injected]) -> tuple[list[Injected], list[Injected]]:
        """(written, left out) of the story's records for output `key`."""
        if not self.collects(key):
            return [], records
        kept = self._windows_kept(key, pa.array([r.text for r in records], pa.string())) if records else None
        if kept is not None:
            return ([r for r, k in zip(records, kept.tolist(), strict=True) if k],
                    [r for r, k in zip(records, kept.tolist(), strict=True) if not k])
        if not key.startswith("zeek.") or self.zeek_sees_everything or not records:
            return records, []
        seen = self.zeek_visible(pa.array([r.text for r in records])).tolist()
        return [r for r, s in zip(records, seen, strict=True) if s], [r for r, s in zip(records, seen, strict=True)
                                                                      if not s]

    def noise(self, key: str, chunk: Chunk) -> Chunk:
        """The part of a noise chunk for output `key` that is written."""
        kept = self._windows_kept(key, chunk.lines) if len(chunk.ts) else None
        if kept is not None:
            return chunk if kept.all() else Chunk(chunk.ts[kept], chunk.lines.filter(pa.array(kept)))
        if not key.startswith("zeek.") or self.zeek_sees_everything or not len(chunk.ts):
            return chunk
        seen = self.zeek_visible(chunk.lines)
        return chunk if seen.all() else Chunk(chunk.ts[seen], chunk.lines.filter(pa.array(seen)))

    def zeek_visible(self, lines: pa.Array) -> np.ndarray:
        """Which Zeek records (TSV lines; every simulated log has id.orig_h and id.resp_h as fields 3 and 5)
        a sensor saw: those with an endpoint in a watched network, or (`internet`) one outside the
        organization. Bool mask."""
        if self.zeek_sees_everything:
            return np.ones(len(lines), dtype=bool)
        padded = pc.binary_join_element_wise(lines, "\t-\t-\t-\t-", "")  # a short line has "-" ends
        fields = pc.split_pattern(padded, "\t", max_splits=5)
        orig, resp = (_ipv4_int(pc.list_element(fields, i)) for i in (2, 4))
        seen = np.zeros(len(lines), dtype=bool)
        for view in self.zeek_views:
            if view == "internet":
                seen |= ~_within(orig, self.inside) | ~_within(resp, self.inside)
            else:
                net = ipaddress.ip_network(view)
                span = ((int(net.network_address), int(net.broadcast_address)),)
                seen |= _within(orig, span) | _within(resp, span)
        return seen


def of_network(net: Network) -> Collection:
    """What `net`'s scenario collects (its hosts' addresses are inside, besides RFC 1918)."""
    return collection(net.spec.log_sources, (h.ip for h in net.hosts.values()))


def collection(spec: LogSources, host_addresses: Iterable[str]) -> Collection:
    """The Collection of a scenario's `network.log_sources`; `host_addresses` are inside besides RFC 1918."""
    inside = [(int(n.network_address), int(n.broadcast_address)) for n in _PRIVATE]
    inside += [(ip_int(a),) * 2 for a in host_addresses]
    off: dict[str, set[str]] = {}
    for host, sources in spec.not_from.items():
        for source in sources:
            off.setdefault(source, set()).add(host.lower())
    return Collection(frozenset(spec.windows_security), frozenset(spec.sysmon), tuple(spec.zeek), spec.netflow,
                      spec.firewall, spec.router_syslog, spec.linux_syslog, tuple(inside),
                      tuple((source, frozenset(hosts)) for source, hosts in sorted(off.items())))


#: output key family -> the log source of `log_sources.not_from` it is
_SOURCE_OF = {"ios": "router_syslog", "asa": "firewall", "flow": "netflow", "syslog": "linux_syslog"}


def _ipv4_int(text: pa.Array) -> np.ndarray:
    """Dotted IPv4 text -> int64 (anything else, such as an IPv6 address, -> -1: seen by no subnet view)."""
    parts = pc.split_pattern(text, ".")
    ok = np.asarray(pc.fill_null(pc.equal(pc.list_value_length(parts), 4), False))
    flat = pc.list_flatten(parts.filter(pa.array(ok)))
    octets = np.asarray(pc.cast(pc.if_else(pc.match_substring_regex(flat, r"^\d{1,3}$"), flat, "-1"), pa.int64()))
    out = np.full(len(text), -1, dtype=np.int64)
    if len(octets):
        o = octets.reshape(-1, 4)
        out[ok] = np.where((o < 0).any(axis=1), -1, ((o[:, 0] * 256 + o[:, 1]) * 256 + o[:, 2]) * 256 + o[:, 3])
    return out


def _within(addr: np.ndarray, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    hit = np.zeros(len(addr), dtype=bool)
    for first, last in spans:
        hit |= (addr >= first) & (addr <= last)
    return hit

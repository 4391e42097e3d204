"""The attack graph: hosts, accounts, external endpoints, databases, and the edges between them, each edge
with the evidence that made it. From the incident (hosts, external, accounts, data movements, database
sessions) and the timeline's lateral movement.

Columns by role: outside -> entry -> pivot/staging -> crown jewel/target -> outside (C2, exfiltration target);
accounts in a band below. Everything here is ordered as the incident orders it (deterministic).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from breachscope.model.incident import EvidenceRef, Incident
from breachscope.model.result import TimelineEntry

OUTSIDE, ENTRY, PIVOT, CROWN, EXFIL, ACCOUNTS = range(6)
COLUMN_KEYS = ("col_outside", "col_entry", "col_pivot", "col_crown", "col_exfil", "col_accounts")
EDGE_KINDS = ("inbound", "lateral", "transfer", "exfil", "c2", "account", "db")
_INBOUND_ROLES = ("initial_access", "later_attempt")  # the attacker came in from these; the others were called
_CROWN_ROLES = ("target", "crown_jewel")
MOVEMENT_KINDS = ("lateral_movement", "password_guessing")  # alert kinds that go from one host to another
MAX_EDGE_REFS = 20  # evidence rows listed per edge (the appendix counts every claim's own rows)


@dataclass
class Node:
    number: int
    label: str
    kind: str  # host | external | account | database
    column: int
    detail: str  # role, function or name


@dataclass
class Edge:
    number: int
    src: Node
    dst: Node
    kind: str  # one of EDGE_KINDS
    when: datetime | None
    bytes: int | None
    detail: str
    evidence: list[EvidenceRef] = field(default_factory=list)


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    lateral_from_text: bool = False  # some lateral edges were read from alert summaries
    _by_key: dict[str, Node] = field(default_factory=dict)
    _edge_by_key: dict[tuple[int, int, str], Edge] = field(default_factory=dict)

    def node(self, key: str) -> Node | None:
        return self._by_key.get(key.lower())

    def add_node(self, label: str, kind: str, column: int, detail: str, keys: tuple[str, ...] = ()) -> Node:
        found = self.node(f"{kind}:{label}")
        if found is not None:
            return found
        n = Node(len(self.nodes) + 1, label, kind, column, detail)
        self.nodes.append(n)
        for key in (f"{kind}:{label}", *keys):
            self._by_key.setdefault(key.lower(), n)
        return n

    def add_edge(self, src: Node, dst: Node, kind: str, when: datetime | None, nbytes: int | None, detail: str,
                 evidence: tuple[EvidenceRef, ...]) -> Edge:
        """One edge per (src, dst, kind): a repeat adds its evidence and keeps the earliest time."""
        key = (src.number, dst.number, kind)
        edge = self._edge_by_key.get(key)
        if edge is None:
            edge = self._edge_by_key[key] = Edge(len(self.edges) + 1, src, dst, kind, when, nbytes, detail)
            self.edges.append(edge)
        elif when is not None and (edge.when is None or when < edge.when):
            edge.when = when
        for e in evidence:
            if e not in edge.evidence and len(edge.evidence) < MAX_EDGE_REFS:
                edge.evidence.append(e)
        return edge


def build(incident: Incident | None, timeline: tuple[TimelineEntry, ...]) -> Graph:
    g = Graph()
    if incident is None:
        return g
    _hosts(g, incident)
    _external(g, incident)
    _movements(g, incident)
    _lateral(g, timeline)
    _sessions(g, incident)
    _accounts(g, incident)
    return g


def _host_column(role: str, crown_jewel: bool) -> int:
    if role == "entry":
        return ENTRY
    if crown_jewel or role in _CROWN_ROLES:
        return CROWN
    return PIVOT


def _hosts(g: Graph, incident: Incident) -> None:
    for h in incident.hosts:
        if h.role.startswith("external"):
            continue  # drawn from incident.external (below), which says more about them
        detail = h.role + (f" · {h.function}" if h.function else "")
        g.add_node(h.name, "host", _host_column(h.role, h.crown_jewel), detail,
                   (f"host:{h.name.split('.')[0]}", *(f"ip:{a}" for a in h.addresses)))


def _external(g: Graph, incident: Incident) -> None:
    for x in incident.external:
        column = OUTSIDE if x.role in _INBOUND_ROLES else EXFIL
        label = x.ip + (f" ({x.name})" if x.name else "")
        node = g.add_node(label, "external", column, x.role, (f"ip:{x.ip}",))
        for name in x.internal_hosts:
            inside = _find(g, name)
            if inside is None:
                continue
            detail = f"{x.role}: {x.connections:,} connections, {x.bytes_out:,} bytes out"
            if column == EXFIL:
                g.add_edge(inside, node, "c2", x.first_seen, x.bytes_out, detail, x.evidence)
            else:
                g.add_edge(node, inside, "inbound", x.first_seen, None, detail, x.evidence)
    for h in incident.hosts:  # an outside address the hosts list has and the external list has not
        if h.role.startswith("external") and _find(g, h.name) is None:
            column = EXFIL if any(r in h.role for r in ("c2", "exfil")) else OUTSIDE
            g.add_node(h.name, "external", column, h.role, tuple(f"ip:{a}" for a in (h.name, *h.addresses)))


def _find(g: Graph, name: str | None) -> Node | None:
    if not name:
        return None
    for key in (f"host:{name}", f"host:{name.split('.')[0]}", f"ip:{name}", f"external:{name}"):
        n = g.node(key)
        if n is not None:
            return n
    return None


def _movements(g: Graph, incident: Incident) -> None:
    for m in incident.data_movements:
        out = m.kind == "exfiltration"
        src = _find(g, m.src) or _find(g, m.src_ip) or g.add_node(m.src, "host", PIVOT, "involved",
                                                                  (f"ip:{m.src_ip}",) if m.src_ip else ())
        dst = _find(g, m.dst) or _find(g, m.dst_ip) or g.add_node(
            m.dst, "external" if out else "host", EXFIL if out else PIVOT, m.kind,
            (f"ip:{m.dst_ip}",) if m.dst_ip else ())
        files = ", ".join(m.files[:5]) + (f" (+{len(m.files) - 5})" if len(m.files) > 5 else "")
        detail = f"{m.bytes:,} bytes" + (f"; {files}" if files else "") + f"; {', '.join(m.sensors)}"
        g.add_edge(src, dst, "exfil" if out else "transfer", m.start, m.bytes, detail, m.evidence)


def _lateral(g: Graph, timeline: tuple[TimelineEntry, ...]) -> None:
    """An entry of the lateral-movement stage (or a password-guessing alert: a host trying another's accounts)
    and its target host: the entry's `target` when the alert recorded one, else the incident host its summary
    names (whole names; only the incident's internal hosts are looked for, so no node is ever made from text)."""
    hosts = [n for n in g.nodes if n.kind == "host"]
    patterns = [(n, re.compile(rf"(?<![\w.-]){re.escape(n.label)}(?![\w-])", re.IGNORECASE)) for n in hosts]
    for t in timeline:
        if t.stage != "lateral_movement" and t.kind not in MOVEMENT_KINDS:
            continue
        src = _find(g, t.host)
        if src is None or src.kind != "host":
            continue
        detail = (t.kind if t.kind in MOVEMENT_KINDS else t.stage) + (f" as {t.user}" if t.user else "")
        target = _find(g, t.target) if t.target else None
        if target is not None and target is not src and target.kind == "host":  # the alert names its target
            g.add_edge(src, target, "lateral", t.ts, None, detail, t.evidence)
            continue
        for dst, pattern in patterns:
            if dst is not src and pattern.search(t.summary):
                g.add_edge(src, dst, "lateral", t.ts, None, detail, t.evidence)
                g.lateral_from_text = True


def _sessions(g: Graph, incident: Incident) -> None:
    """The attacker's database sessions (those handed to scope), one edge per client and database."""
    seen: dict[int, tuple[int, set[str]]] = {}  # edge number -> sessions, users
    for s in incident.db_sessions:
        if not s.suspect:
            continue
        client = _find(g, s.client_host) or _find(g, s.client)
        if client is None:
            continue
        db = g.add_node(s.database or "?", "database", CROWN, "database")
        edge = g.add_edge(client, db, "db", s.first_statement, None, "", s.evidence[:3])
        count, users = seen.get(edge.number, (0, set()))
        users.add(s.user or "?")
        seen[edge.number] = (count + 1, users)
        edge.detail = f"{count + 1} session(s) as {', '.join(sorted(users))}"


def _accounts(g: Graph, incident: Incident) -> None:
    for a in incident.accounts:
        node = g.add_node(a.name, "account", ACCOUNTS, f"{a.score:,.0f}")
        for name in a.hosts:
            host = _find(g, name)
            if host is not None:
                g.add_edge(node, host, "account", a.first_seen, None, "", a.evidence)

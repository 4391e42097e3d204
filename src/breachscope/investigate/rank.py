"""From alerts to suspects: each host's score, the entry host, and the chain of hosts the attacker reached
from it (Hopper's causal rule: a movement out of a host counts once that host was reached, in time
order), on a rustworkx graph of movements (logons, file pushes, password guessing)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import rustworkx as rx

from breachscope.model.incident import Alert

MOVES = {"lateral_movement": 1.0, "file_transfer": 0.8, "password_guessing": 0.5}
ENTRY_STAGES = {"initial_access"}
ENTRY_KINDS = {"process_tree"}  # a strong one (a web shell's first command) marks the way in whatever it ran
CHAIN_BONUS = 15.0
SUSPICIOUS = 50.0  # a host scoring below this is not a suspect
STRONG = 60.0  # an incident starts from at least one alert this strong on (or into) its entry host
MEANINGFUL = 20.0  # an alert below this (a Sigma rule firing on the whole fleet) does not date a host's first alert


@dataclass
class HostScore:
    key: str
    score: float = 0.0
    alerts: list[Alert] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    reached_at: datetime | None = None  # when the chain reached it
    targeted: list[datetime] = field(default_factory=list)  # times a movement alert came into it

    @property
    def first(self) -> datetime | None:
        """Its first alert: one of its own, or a movement alert into it (a logon from elsewhere)."""
        times = [a.ts for a in self.alerts if a.ts is not None and a.score >= MEANINGFUL] + self.targeted
        return min(times) if times else None

    @property
    def last(self) -> datetime | None:
        times = [a.ts for a in self.alerts if a.ts is not None and a.score >= MEANINGFUL]
        return max(times) if times else None

    def add_role(self, role: str) -> None:
        if role not in self.roles:
            self.roles.append(role)


def _kind_score(scores: list[float]) -> float:
    """The strongest alert of a kind counts whole, the next four a fifth: many alerts of one kind on a
    host add up, but never as much as different kinds of evidence."""
    top = sorted(scores, reverse=True)
    return top[0] + 0.2 * sum(top[1:5]) if top else 0.0


def score_hosts(alerts: list[Alert]) -> dict[str, HostScore]:
    hosts: dict[str, HostScore] = {}
    by_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for a in alerts:
        if a.host:
            hosts.setdefault(a.host, HostScore(a.host)).alerts.append(a)
            by_kind[a.host][a.kind].append(a.score)
        if a.dst_host and a.kind in MOVES and a.dst_host != a.host:
            target = hosts.setdefault(a.dst_host, HostScore(a.dst_host))
            by_kind[a.dst_host]["target of " + a.kind].append(0.3 * a.score)
            if a.ts is not None and a.score >= STRONG:
                target.targeted.append(a.ts)
    for key, kinds in by_kind.items():
        hosts[key].score = sum(_kind_score(v) for v in kinds.values())
    return hosts


def entry_host(hosts: dict[str, HostScore]) -> HostScore | None:
    """The suspicious host the attacker came in through: of the hosts with a strong alert (>= STRONG, on
    them or a movement into them) and an initial-access alert or a strong movement into them, the one
    whose first such sign comes first (a movement's source that wrote no evidence of its own, such as a
    VPN client, is where the attacker came from, not the entry); else the top host when its evidence is
    strong and of several kinds. None: no incident."""
    candidates = []
    for h in hosts.values():
        strong = h.targeted or any(a.score >= STRONG for a in h.alerts)
        if h.score < SUSPICIOUS or not strong:
            continue
        times = [a.ts for a in h.alerts if a.ts and (a.stage in ENTRY_STAGES
                                                    or (a.kind in ENTRY_KINDS and a.score >= STRONG))]
        times += h.targeted
        if times:
            candidates.append((min(times), -h.score, h.key))
    if candidates:
        return hosts[_leading(sorted(candidates), hosts)]
    ranked = sorted(hosts.values(), key=lambda h: -h.score)
    top = ranked[0] if ranked else None
    return top if top and top.score >= 2 * SUSPICIOUS and any(a.score >= STRONG for a in top.alerts) else None


def _leading(candidates: list[tuple[datetime, float, str]], hosts: dict[str, HostScore]) -> str:
    """Of the entry candidates in time order, the first from which the movements, in time order, reach the
    most suspicious host: an earlier strong sign on a host the attack never went through (a patch night's
    logons to a domain controller) does not start the incident. None reaches it: the first."""
    top = max(hosts.values(), key=lambda h: h.score).key
    moves = sorted((a for h in hosts.values() for a in h.alerts
                    if a.kind in MOVES and a.host and a.dst_host and a.ts is not None), key=_ts)
    for when, _, key in candidates:
        reached = {key: when}
        for a in moves:
            src, dst = str(a.host), str(a.dst_host)
            if src in reached and a.ts is not None and a.ts >= reached[src] and dst not in reached:
                reached[dst] = a.ts
        if top in reached:
            return key
    return candidates[0][2]


def movement_graph(alerts: list[Alert]) -> tuple[rx.PyDiGraph, dict[str, int]]:
    graph: rx.PyDiGraph = rx.PyDiGraph()
    index: dict[str, int] = {}
    for a in sorted((a for a in alerts if a.kind in MOVES and a.host and a.dst_host), key=_ts):
        for k in (str(a.host), str(a.dst_host)):
            if k not in index:
                index[k] = graph.add_node(k)
        graph.add_edge(index[str(a.host)], index[str(a.dst_host)], a)
    return graph, index


def follow_chain(entry: HostScore, hosts: dict[str, HostScore], alerts: list[Alert]) -> list[Alert]:
    """Hosts reached from the entry host, in time order: a movement counts when its source was reached
    before it happened. Returns the movements of the chain; the hosts get reached_at and the bonus."""
    graph, index = movement_graph(alerts)
    entry.reached_at = entry.first
    reached = {entry.key: entry.first}
    chain = []
    for s_i, d_i, a in sorted(graph.weighted_edge_list(), key=lambda e: _ts(e[2])):
        src, dst = graph[s_i], graph[d_i]
        since = reached.get(src)
        if since is None or a.ts is None or a.ts < since - timedelta(minutes=5):
            continue
        chain.append(a)
        known = reached.get(dst)
        if dst not in reached or (known is not None and a.ts < known):
            reached[dst] = a.ts
    for key, when in reached.items():
        h = hosts.setdefault(key, HostScore(key))
        h.reached_at = when
        if key != entry.key and any(x.host == key for x in alerts):
            h.score += CHAIN_BONUS
    del index
    return chain


def rank_order(hosts: dict[str, HostScore]) -> list[HostScore]:
    """The hosts with a score, the incident's first: the hosts the chain reached from the entry (the attack
    followed host to host), then the others, each group by score. A host the chain never reached is
    suspicious on its own evidence (another incident in the same evidence: a beaconing workstation, a
    Kerberoasting one) and may have more kinds of alerts than a pivot the attacker used quietly; its score
    alone must not put it among the incident's hosts. Without an entry no host is reached: by score."""
    return sorted((h for h in hosts.values() if h.score > 0), key=lambda h: (h.reached_at is None, -h.score, h.key))


def _ts(a: Alert) -> datetime:
    return a.ts or datetime.min.replace(tzinfo=None)

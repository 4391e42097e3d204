"""Alerts + ranks -> the Incident: hosts with roles, accounts, external addresses, database sessions,
data movements, the timeline, the story in a few lines and the suspects scope uses."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from breachscope.investigate.context import Context
from breachscope.investigate.detectors.base import refs
from breachscope.investigate.detectors.db_sessions import SUSPECT_SCORE
from breachscope.investigate.rank import (
    MEANINGFUL,
    STRONG,
    SUSPICIOUS,
    HostScore,
    entry_host,
    follow_chain,
    rank_order,
    score_hosts,
)
from breachscope.model.incident import (
    Alert,
    DataMovement,
    DbSession,
    DetectorRun,
    EvidenceRef,
    ExternalEndpoint,
    Incident,
    IncidentAccount,
    IncidentHost,
    IncidentSuspects,
    RuleHit,
    TimelineEvent,
)

ROLE_ORDER = ("entry", "pivot", "staging", "exfiltration_source", "c2_client", "target", "crown_jewel", "involved")
EXFIL_SCORE = 50.0
TIMELINE_MAX = 500


def build(ctx: Context, alerts: list[Alert], coverage: list[DetectorRun], case: str) -> Incident:
    hosts = score_hosts(alerts)
    entry = entry_host(hosts)
    chain = follow_chain(entry, hosts, alerts) if entry else []
    if entry:
        entry.add_role("entry")
    _roles(ctx, hosts, alerts, chain)
    ranked = rank_order(hosts)
    # with an entry, every host reached or scoring high is a suspect; without one (no incident), only
    # hosts with a strong sign of their own are
    suspects_hosts = [h for h in ranked if h.reached_at is not None
                      or (h.score >= SUSPICIOUS and (entry is not None or any(a.score >= STRONG for a in h.alerts)))]
    sessions = _db_sessions(ctx, alerts)
    external = _external(ctx, alerts, entry)
    moves = _movements(ctx, alerts, {h.key for h in suspects_hosts})
    chain_alerts = [a for a in alerts if a.host in {h.key for h in suspects_hosts} and a.score >= 30]
    times = [a.ts for a in chain_alerts if a.ts]
    times += [t for s in sessions if s.suspect for t in (s.first_statement, s.last_statement) if t]
    suspects = IncidentSuspects(
        hosts=tuple(ctx.display.get(h.key, h.key) for h in suspects_hosts),
        ips=tuple(dict.fromkeys([ip for h in suspects_hosts for ip in _addresses(ctx, h.key)]
                                + [e.ip for e in external])),
        users=tuple(dict.fromkeys([a.user for a in chain_alerts
                                   if a.user and a.kind in ("lateral_movement", "db_session")]
                                  + [s.user for s in sessions if s.suspect and s.user])),
        sessions=tuple(s.session_id for s in sessions if s.suspect),
        since=min(times) if times else None, until=max(times) if times else None)
    incident_hosts = tuple(_host(ctx, h, rank) for rank, h in enumerate(ranked, 1))
    timeline = _timeline(ctx, alerts, {h.key for h in suspects_hosts})
    return Incident(
        case=case, generated_at=datetime.now(UTC), since=ctx.since, until=ctx.until,
        story=_story(ctx, entry, ranked, sessions, moves, external, chain),
        hosts=incident_hosts, accounts=_accounts(alerts, {h.key for h in suspects_hosts}), external=external,
        db_sessions=sessions, data_movements=moves, timeline=timeline, suspects=suspects,
        crown_jewels=tuple(sorted(ctx.display.get(k, k) for k in ctx.crown_jewel_hosts)), coverage=tuple(coverage),
        extra={"alerts": len(alerts)}, internal_networks=tuple(ctx.internal_networks))


def _roles(ctx: Context, hosts: dict[str, HostScore], alerts: list[Alert], chain: list[Alert]) -> None:
    reached = {k for k, h in hosts.items() if h.reached_at is not None}
    for a in chain:
        if a.host in reached and a.dst_host in reached and a.host in hosts and "entry" not in hosts[a.host].roles:
            hosts[a.host].add_role("pivot")
    for a in alerts:
        h = hosts.get(a.host or "")
        if h is None:
            continue
        if a.kind == "file_transfer" and a.dst_host in hosts:
            hosts[a.dst_host].add_role("staging")
        if a.stage == "staging" and a.kind == "process_tree":
            h.add_role("staging")
        if a.kind == "exfiltration" and a.score >= EXFIL_SCORE:
            h.add_role("exfiltration_source")
        if a.kind == "c2" and a.score >= SUSPICIOUS:
            h.add_role("c2_client")
    for h in hosts.values():
        if h.key in ctx.crown_jewel_hosts:
            h.add_role("crown_jewel")
        if not h.alerts and h.score > 0:
            h.add_role("target")
        if not h.roles:
            h.add_role("involved")
        h.roles.sort(key=ROLE_ORDER.index)


def _addresses(ctx: Context, key: str) -> list[str]:
    return sorted(ip for ip, name in ctx.names.items() if name.split(".")[0].rstrip("$").lower() == key) or (
        [key] if ctx.is_internal(key) else [])


def _host(ctx: Context, h: HostScore, rank: int) -> IncidentHost:
    top = sorted(h.alerts, key=lambda a: (-a.score, a.ts or datetime.max.replace(tzinfo=UTC)))
    reasons, seen = [], set()
    for a in top:
        if a.kind not in seen:
            seen.add(a.kind)
            reasons.append(f"{a.kind} ({a.score:.0f}): {a.reason}")
    return IncidentHost(
        name=ctx.display.get(h.key, h.key), addresses=tuple(_addresses(ctx, h.key)), rank=rank,
        score=round(h.score, 1), role=h.roles[0] if h.roles else "involved", roles=tuple(h.roles),
        function=ctx.facts.get("functions", {}).get(h.key), crown_jewel=h.key in ctx.crown_jewel_hosts,
        first_alert=h.first, last_alert=h.last, alerts=len(h.alerts), reasons=tuple(reasons[:6]),
        evidence=tuple(e for a in top[:3] for e in a.evidence[:2]), rules=_rules(ctx, h.key))


def _rules(ctx: Context, key: str) -> tuple[RuleHit, ...]:
    """The rules that fired on a host (the sigma detector remembers them), by id."""
    found: dict[str, dict[str, Any]] = ctx.facts.get("rules", {}).get(key, {})
    return tuple(RuleHit(rule_id=rid, level=f["level"], attack=tuple(sorted(f["attack"])), evidence=refs(f["ev"]))
                 for rid, f in sorted(found.items()))


def _db_sessions(ctx: Context, alerts: list[Alert]) -> tuple[DbSession, ...]:
    facts: dict[str, dict[str, Any]] = ctx.facts.get("db_sessions", {})
    out = []
    for a in sorted((a for a in alerts if a.kind == "db_session"), key=lambda a: -a.score):
        f = facts.get(str(a.session_id), {})
        suspect = a.score >= SUSPECT_SCORE
        out.append(DbSession(
            session_id=str(a.session_id), client=a.src_ip, client_host=ctx.display.get(a.host or "", a.host),
            user=a.user, application=f.get("app"), database=f.get("db"), first_statement=f.get("first", a.ts),
            last_statement=f.get("last", a.ts), statements=int(f.get("statements") or 0), score=a.score,
            suspect=suspect, reasons=tuple(f.get("why") or (a.reason,)), evidence=a.evidence))
    return tuple(out)


def _external(ctx: Context, alerts: list[Alert], entry: HostScore | None) -> tuple[ExternalEndpoint, ...]:
    roles: dict[str, list[str]] = defaultdict(list)
    seen: dict[str, list[Alert]] = defaultdict(list)
    inbound: dict[str, set[str]] = ctx.facts.get("inbound_services", {})  # "src dst" -> proto/port
    entry_first = entry.first if entry else None
    for a in alerts:
        if a.kind == "exfiltration" and a.score >= EXFIL_SCORE and a.dst_ip:
            roles[a.dst_ip].append("exfiltration")
            seen[a.dst_ip].append(a)
        elif a.kind == "c2" and a.score >= SUSPICIOUS and a.dst_ip:
            roles[a.dst_ip].append("c2")
            seen[a.dst_ip].append(a)
        elif a.kind == "inbound" and entry and a.host == entry.key and a.src_ip and a.ts and entry_first:
            if entry_first - timedelta(days=1) <= a.ts <= entry_first + timedelta(minutes=10):
                roles[a.src_ip].append("initial_access")
            elif a.ts > entry_first:
                roles[a.src_ip].append("later_attempt")
            else:
                continue
            seen[a.src_ip].append(a)
    out = []
    for ip, rs in roles.items():
        kinds = sorted(set(rs), key=["initial_access", "c2", "exfiltration", "later_attempt"].index)
        role = "c2_and_exfiltration" if {"c2", "exfiltration"} <= set(kinds) else kinds[0]
        al = sorted(seen[ip], key=lambda a: a.ts or datetime.max.replace(tzinfo=UTC))
        out.append(ExternalEndpoint(
            ip=ip, name=ctx.name_of(ip), role=role, first_seen=al[0].ts, last_seen=al[-1].ts,
            connections=len(al), bytes_out=sum(a.bytes or 0 for a in al if a.kind == "exfiltration"),
            internal_hosts=tuple(sorted({ctx.display.get(a.host or "", a.host or "") for a in al})),
            reasons=tuple(dict.fromkeys(a.reason for a in al))[:5],
            evidence=tuple(e for a in al[:3] for e in a.evidence[:2]),
            services=tuple(sorted({s for a in al if a.kind == "inbound"
                                   for s in inbound.get(f"{ip} {a.dst_ip}", ())}))))
    return tuple(sorted(out, key=lambda e: (e.first_seen or datetime.max.replace(tzinfo=UTC), e.ip)))


def _movements(ctx: Context, alerts: list[Alert], suspect_hosts: set[str]) -> tuple[DataMovement, ...]:
    out = []
    for a in sorted(alerts, key=lambda a: a.ts or datetime.max.replace(tzinfo=UTC)):
        internal = a.kind == "file_transfer" and (a.host in suspect_hosts or a.dst_host in suspect_hosts)
        outside = a.kind == "exfiltration" and a.score >= EXFIL_SCORE
        if not (internal or outside):
            continue
        # outside: the address, else the name (a DNS tunnel whose name server no sensor saw)
        src, dst = a.host or "", (a.dst_host or "") if internal else (a.dst_ip or a.dst_host or "")
        if internal:  # a transfer's addresses follow the data (a read moves files from the server to the reader)
            src, dst = ctx.actor(None, a.src_ip) or src, ctx.actor(None, a.dst_ip) or dst
        out.append(DataMovement(
            kind="internal_transfer" if internal else "exfiltration",
            src=ctx.display.get(src, src),
            dst=ctx.display.get(dst, dst) if internal else dst,
            src_ip=a.src_ip, dst_ip=a.dst_ip, bytes=int(a.bytes or 0), start=a.ts, end=a.end_ts, files=a.files,
            sensors=tuple(sorted({e.table for e in a.evidence})), evidence=a.evidence))
    return tuple(out)


def _accounts(alerts: list[Alert], suspect_hosts: set[str]) -> tuple[IncidentAccount, ...]:
    acc: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        if a.user and (a.host in suspect_hosts) and a.score >= 30:
            acc[a.user].append(a)
    out = [IncidentAccount(name=u, score=round(sum(a.score for a in al), 1),
                           hosts=tuple(sorted({h for a in al for h in (a.host, a.dst_host) if h})),
                           first_seen=min((a.ts for a in al if a.ts), default=None),
                           reasons=tuple(dict.fromkeys(f"{a.kind}: {a.reason}" for a in al))[:4],
                           evidence=tuple(e for a in al[:3] for e in a.evidence[:1]))
           for u, al in acc.items()]
    return tuple(sorted(out, key=lambda x: -x.score))


def _timeline(ctx: Context, alerts: list[Alert], suspect_hosts: set[str]) -> tuple[TimelineEvent, ...]:
    keep = [a for a in alerts if (a.host in suspect_hosts and a.score >= 30) or a.score >= 60]
    keep.sort(key=lambda a: (a.ts or datetime.max.replace(tzinfo=UTC), -a.score))
    return tuple(TimelineEvent(ts=a.ts, stage=a.stage, host=ctx.display.get(a.host or "", a.host), summary=a.reason,
                               score=a.score, evidence=a.evidence) for a in keep[:TIMELINE_MAX])


def _where(evidence: tuple[EvidenceRef, ...]) -> str:
    if not evidence:
        return ""
    e = evidence[0]
    return f" [{e.src_file.rsplit('/', 1)[-1]}:{e.src_record}]"


def _story(ctx: Context, entry: HostScore | None, ranked: list[HostScore], sessions: tuple[DbSession, ...],
           moves: tuple[DataMovement, ...], external: tuple[ExternalEndpoint, ...],
           chain: list[Alert]) -> tuple[str, ...]:
    name = ctx.display.get
    lines = []
    if entry is None:
        return ("No host reached the suspicion threshold: no attack chain was found in this case "
                "(see coverage for what was read).",)
    signs = [a for a in entry.alerts if a.ts and a.score >= MEANINGFUL]
    signs += [a for a in chain if a.dst_host == entry.key and a.ts]
    signs += [a for h in ranked for a in h.alerts if a.dst_host == entry.key and a.ts and a.score >= SUSPICIOUS]
    first = min(signs, key=lambda a: a.ts or datetime.max.replace(tzinfo=UTC))
    lines.append(f"Entry: {name(entry.key, entry.key)}, first alert {first.ts:%Y-%m-%d %H:%M} UTC: "
                 f"{first.reason}{_where(first.evidence)}")
    for e in external:
        if e.role == "initial_access":
            lines.append(f"Initial access from {e.ip} at {e.first_seen:%Y-%m-%d %H:%M}{_where(e.evidence)}")
    for a in chain:
        lines.append(f"Movement: {name(a.host or '', a.host)} -> {name(a.dst_host or '', a.dst_host)} "
                     f"({a.kind.replace('_', ' ')}{', as ' + a.user if a.user else ''}) at "
                     f"{a.ts:%Y-%m-%d %H:%M}{_where(a.evidence)}")
    sus = [s for s in sessions if s.suspect]
    if sus:
        firsts = [s.first_statement for s in sus if s.first_statement]
        lasts = [s.last_statement for s in sus if s.last_statement]
        clients = ", ".join(sorted({s.client_host or s.client or "?" for s in sus}))
        lines.append(f"Database: {len(sus)} unusual session(s) from {clients}"
                     f" as {', '.join(sorted({s.user or '?' for s in sus}))}, {min(firsts):%Y-%m-%d %H:%M} to "
                     f"{max(lasts):%Y-%m-%d %H:%M}{_where(sus[0].evidence)}")
    for m in moves:
        verb = "copied to" if m.kind == "internal_transfer" else "sent out to"
        lines.append(f"Data: {m.bytes:,} bytes {verb} {m.dst} from {m.src} at "
                     f"{m.start:%Y-%m-%d %H:%M}{_where(m.evidence)}")
    for e in external:
        if e.role in ("c2", "c2_and_exfiltration"):
            lines.append(f"C2: {', '.join(e.internal_hosts)} calling {e.ip}{' (' + e.name + ')' if e.name else ''} "
                         f"from {e.first_seen:%Y-%m-%d %H:%M}")
    top = ", ".join(f"{name(h.key, h.key)} ({h.score:.0f})" for h in ranked[:5])
    lines.append(f"Most suspicious hosts: {top}")
    return tuple(lines[:24])

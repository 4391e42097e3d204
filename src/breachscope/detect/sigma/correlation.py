"""Sigma correlation rules over the matches of the rules they reference (engine-independent).

Every correlation type of the specification: event_count, value_count, temporal, temporal_ordered,
value_sum, value_avg, value_percentile, value_median; group-by with field aliases; the timespan is a
sliding window (every event closes a window that starts timespan before it); chains (a correlation
referencing a correlation). When the condition first holds in a group, one finding is made for that
window; the group reports again only for windows that no longer contain the reported events.
"""

from __future__ import annotations

import json
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from breachscope.detect.sigma.compiled import CompiledRule, Correlation
from breachscope.model.findings import finding_id

MAX_RELATED = 1000
_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b, "neq": lambda a, b: a != b,
}


@dataclass
class Event:
    """What a correlation sees of a matched event (or of a lower correlation's finding)."""

    rule_key: str
    rule_name: str | None
    ts: datetime
    finding_id: str
    fields: Callable[[str], Any]  # field name -> value
    host: str | None = None
    user: str | None = None


@dataclass
class CorrelationHit:
    rule: CompiledRule
    group: dict[str, Any]
    first_ts: datetime
    last_ts: datetime
    events: list[Event]
    value: float | None  # the aggregate that met the condition

    def finding(self) -> dict[str, Any]:
        r = self.rule
        last = self.events[-1]
        group_json = json.dumps(self.group, sort_keys=True, default=str)
        return {
            "finding_id": finding_id(r.key, group_json, self.first_ts.isoformat(), self.last_ts.isoformat()),
            "kind": "sigma_correlation", "rule_id": r.id or r.name, "rule_title": r.title, "rule_path": r.path,
            "level": r.level, "status": r.status, "author": r.author, "tags": r.tags, "attack": r.attack_techniques(),
            "description": r.description, "falsepositives": r.falsepositives, "ts": self.last_ts,
            "host": last.host, "user": last.user, "src_ip": None, "dst_ip": None, "table_name": None,
            "segment": f"correlation {r.correlation.type if r.correlation else ''}", "src_file": None,
            "src_sha256": None, "src_record": None,
            "event": json.dumps({"value": self.value, "group": self.group}, default=str),
            "group_key": group_json, "event_count": len(self.events), "first_ts": self.first_ts,
            "related": [e.finding_id for e in self.events[:MAX_RELATED]],
        }


def run(correlations: Sequence[CompiledRule], events_by_rule: dict[str, list[Event]],
        lookup: dict[str, CompiledRule]) -> list[CorrelationHit]:
    """All correlation hits; chains are resolved (a correlation's hits become events of the next)."""
    hits: list[CorrelationHit] = []
    done: set[str] = set()
    pending = list(correlations)
    while pending:
        progressed = False
        for c in list(pending):
            assert c.correlation is not None
            refs = [lookup.get(r) for r in c.correlation.rules]
            if any(r is not None and r.kind == "correlation" and r.key not in done for r in refs):
                continue  # its inputs are not computed yet
            events = [e for r in refs if r is not None for e in events_by_rule.get(r.key, [])]
            mine = evaluate(c, events, [r for r in refs if r is not None])
            hits.extend(mine)
            events_by_rule[c.key] = [_as_event(h) for h in mine]
            done.add(c.key)
            pending.remove(c)
            progressed = True
        if not progressed:  # a reference cycle: report what was computed, the rest cannot run
            break
    return hits


def _as_event(h: CorrelationHit) -> Event:
    f = h.finding()
    group = h.group
    return Event(h.rule.key, h.rule.name, h.last_ts, f["finding_id"], lambda name: group.get(name),
                 h.events[-1].host, h.events[-1].user)


def evaluate(rule: CompiledRule, events: list[Event], refs: list[CompiledRule]) -> list[CorrelationHit]:
    c = rule.correlation
    assert c is not None
    span = timedelta(seconds=c.timespan_s)
    groups: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    for e in events:
        groups[tuple(_group_value(c, name, e) for name in c.group_by)].append(e)
    out: list[CorrelationHit] = []
    for key, evs in groups.items():
        if any(v is None for v in key) and c.group_by:
            continue  # an event without the group-by field belongs to no group
        evs.sort(key=lambda e: (e.ts, e.finding_id))
        out.extend(_windows(rule, c, dict(zip(c.group_by, key, strict=True)), evs, span, refs))
    out.sort(key=lambda h: (h.last_ts, h.rule.key))
    return out


def _group_value(c: Correlation, name: str, e: Event) -> Any:
    alias = c.aliases.get(name)
    if alias is not None:
        field = alias.get(e.rule_name or "") or alias.get(e.rule_key)
        return e.fields(field) if field else None
    return e.fields(name)


def _windows(rule: CompiledRule, c: Correlation, group: dict[str, Any], evs: list[Event], span: timedelta,
             refs: list[CompiledRule]) -> list[CorrelationHit]:
    out: list[CorrelationHit] = []
    times = [e.ts for e in evs]
    reported_until: datetime | None = None
    for i, e in enumerate(evs):
        start = bisect_left(times, e.ts - span)
        if reported_until is not None and times[start] <= reported_until:
            continue  # this window still holds events already reported for the group
        window = evs[start:i + 1]
        value = _aggregate(c, window, refs)
        if value is not None and _meets(c, value, len(refs)):
            out.append(CorrelationHit(rule, group, window[0].ts, e.ts, window, value))
            reported_until = e.ts
    return out


def _numbers(c: Correlation, window: list[Event]) -> list[float]:
    out = []
    for e in window:
        v = e.fields(c.value_field or "")
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            continue
    return out


def _aggregate(c: Correlation, window: list[Event], refs: list[CompiledRule]) -> float | None:
    t = c.type
    if t == "event_count":
        return float(len(window))
    if t == "value_count":
        return float(len({e.fields(c.value_field or "") for e in window} - {None}))
    if t == "temporal":
        return float(len({e.rule_key for e in window}))
    if t == "temporal_ordered":
        return float(_ordered_prefix(window, [r.key for r in refs]))
    nums = _numbers(c, window)
    if not nums:
        return None
    if t == "value_sum":
        return sum(nums)
    if t == "value_avg":
        return sum(nums) / len(nums)
    if t == "value_median":
        return float(statistics.median(nums))
    if t == "value_percentile":
        return _percentile(nums, c)
    return None


def _percentile(nums: list[float], c: Correlation) -> float:
    """The value at the configured percentile (default 50) of the window's values."""
    pct = c.percentile if c.percentile is not None else 50
    ordered = sorted(nums)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def _ordered_prefix(window: list[Event], order: list[str]) -> int:
    """How many of the rules, in order, appear one after another within the window."""
    n = 0
    for e in window:
        if n < len(order) and e.rule_key == order[n]:
            n += 1
    return n


def _meets(c: Correlation, value: float, n_rules: int) -> bool:
    if c.type in ("temporal", "temporal_ordered") and c.op is None:
        return value >= n_rules  # all referenced rules, as the specification's default
    if c.op is None or c.threshold is None:
        return False
    return _OPS[c.op](value, c.threshold)

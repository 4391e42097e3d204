"""Findings: a rule (or analytic) matched an event. The schema of DIR/findings.parquet."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from breachscope.model.schema import TS

LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}

FINDINGS_SCHEMA = pa.schema(
    [
        pa.field("finding_id", pa.string()),
        pa.field("kind", pa.string()),  # sigma | sigma_correlation | analytic
        pa.field("rule_id", pa.string()),
        pa.field("rule_title", pa.string()),
        pa.field("rule_path", pa.string()),
        pa.field("level", pa.string()),
        pa.field("status", pa.string()),
        pa.field("author", pa.string()),  # DRL 1.1: every finding keeps its rule's author
        pa.field("tags", pa.list_(pa.string())),
        pa.field("attack", pa.list_(pa.string())),  # ATT&CK technique ids from the tags
        pa.field("description", pa.string()),
        pa.field("falsepositives", pa.list_(pa.string())),
        pa.field("ts", TS),
        pa.field("host", pa.string()),
        pa.field("user", pa.string()),
        pa.field("src_ip", pa.string()),
        pa.field("dst_ip", pa.string()),
        pa.field("table_name", pa.string()),
        pa.field("segment", pa.string()),  # which part of the logsource matched (e.g. "Security 4688")
        pa.field("src_file", pa.string()),
        pa.field("src_sha256", pa.string()),
        pa.field("src_record", pa.int64()),
        pa.field("event", pa.string()),  # the matched event's non-null fields, as JSON
        pa.field("group_key", pa.string()),  # correlations: the group-by values, as JSON
        pa.field("event_count", pa.int64()),  # correlations: events in the window
        pa.field("first_ts", TS),  # correlations: window start
        pa.field("related", pa.list_(pa.string())),  # correlations: finding ids of the events correlated
    ]
)


def finding_id(*parts: object) -> str:
    """Stable id: the same rule on the same record gives the same id in every run and engine."""
    h = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:20]


def level_at_least(level: str | None, minimum: str | None) -> bool:
    if not minimum:
        return True
    return LEVEL_RANK.get((level or "").lower(), 0) >= LEVEL_RANK.get(minimum.lower(), 0)

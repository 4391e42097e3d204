"""The result document's timeline in Timesketch's JSONL import format: one event per line with the
required `message`, `datetime` (ISO 8601), `timestamp` (microseconds) and `timestamp_desc`, then the
entry's attributes (stage, host, user, score, evidence). Entries without a time cannot be placed on a
timeline: they are left out and counted in the return value, never dropped silently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from breachscope.model.result import ResultDocument, TimelineEntry
from breachscope.model.text import json_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DESCRIPTION = {"incident": "Incident key event", "alert": "Investigation alert", "finding": "Detection finding"}


def _event(e: TimelineEntry, ts: datetime) -> dict[str, object]:
    return {
        "message": f"[{e.stage}] {e.summary}",
        "datetime": ts.isoformat(),
        "timestamp": (ts - EPOCH) // timedelta(microseconds=1),
        "timestamp_desc": DESCRIPTION.get(e.source, e.source),
        "source": e.source, "kind": e.kind, "stage": e.stage, "host": e.host, "user": e.user,
        "score": round(e.score, 1),
        "evidence": [f"{r.src_file}:{r.src_record if r.src_record is not None else ''}" for r in e.evidence],
        "tag": ["breachscope", e.stage],
    }


def render_timesketch(doc: ResultDocument) -> tuple[str, int]:
    """The JSONL text and the number of entries left out because they have no time."""
    lines, undated = [], 0
    for e in doc.timeline:
        if e.ts is None:
            undated += 1
            continue
        lines.append(json_text(_event(e, e.ts), sort_keys=True) + "\n")
    return "".join(lines), undated

"""A finding's `details`: the few fields of its event an analyst reads first, chosen per event kind
(the profiles in detail_profiles.py).

Details are computed when findings are rendered, from the finding's `event` (the matched row's
fields as JSON), so findings of any earlier run get them too. An event of a kind without a profile
shows its own fields (`Label: value`, in the event's order, at most FALLBACK_FIELDS). The cost is
parsing each event's JSON (orjson): measured with the profiles compiled to DuckDB SQL instead, the
JSON extraction there took as much CPU (10.3 s against 9.1 s for 200k findings), so this stays in
Python, one implementation.

Values are evidence: this module only formats them (whitespace runs such as a script's line breaks
become one space, so a row stays one line); the outputs neutralize them for terminals and
spreadsheets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
import pyarrow as pa

from breachscope.detect.detail_profiles import TABLES, VALUE_NAMES, WINDOWS, Item, Profile
from breachscope.model.schema import CORE_NAMES, WINDOWS_SYSTEM_FIELDS

SEPARATOR = " ¦ "
FALLBACK_FIELDS = 10  # an event without a profile shows at most this many of its fields
UNREADABLE = "(event not readable as JSON)"

# shown by no fallback: what every event has (core columns, provenance, Windows system fields)
_NOT_DETAILS = frozenset(CORE_NAMES) | {f.name for f in WINDOWS_SYSTEM_FIELDS} | {
    "extra", "table_name", "ts_text", "ts_resolution", "raw", "Binary"}
_WHITESPACE = re.compile(r"[ \t]*[\t\n\r\v\f][ \t\n\r\v\f]*")  # a line break and its indentation
_KEY_SEP = "\x1f"


def text(value: Any) -> str:
    """A value as one line of text (lists joined with ", ", null elements left out)."""
    shown = value if type(value) is str else _plain(value)
    if not shown.isprintable():  # only then can it hold a line break (the common case skips the regex)
        shown = _WHITESPACE.sub(" ", shown)
    return shown.strip(" ")


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(orjson.dumps(v).decode() if isinstance(v, list | dict) else _plain(v)
                         for v in value if v is not None)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"  # a double's value (5.012583), not its binary tail (5.012582999999999)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)


def named(value: str, names: Mapping[str, str]) -> str:
    """`3` -> `3 - NETWORK`; codes compared in lower case (Windows prints both)."""
    name = names.get(value.lower())
    return f"{value} - {name}" if name else value


def kind_key(table: str | None, event: Mapping[str, Any]) -> str | None:
    if table == "windows":
        return _KEY_SEP.join(("windows", text(event.get("Channel") or ""), text(event.get("EventID") or "")))
    return table


def _keyed() -> dict[str, Profile]:
    out = {_KEY_SEP.join(("windows", chan, str(eid))): p for (chan, eid), p in WINDOWS.items()}
    out.update(TABLES)
    return out


PROFILES: dict[str, Profile] = _keyed()


def profile_for(table: str | None, event: Mapping[str, Any]) -> Profile | None:
    key = kind_key(table, event)
    return PROFILES.get(key) if key else None


# --- the definition, in Python ------------------------------------------------------------------
def event_details(table: str | None, event: Mapping[str, Any]) -> str:
    """The details text of one event (a row's non-null fields, by name)."""
    prof = profile_for(table, event)
    parts = [] if prof is None else [p for p in (_item(i, event) for i in prof.items) if p]
    return SEPARATOR.join(parts) if parts else _fallback(event)


def _item(item: Item, event: Mapping[str, Any]) -> str | None:
    for f in item.fields:
        v = event.get(f)
        shown = "" if v is None else text(v)
        if shown:
            return f"{item.label}: {named(shown, VALUE_NAMES[item.names]) if item.names else shown}"
    return None


def _fallback(event: Mapping[str, Any]) -> str:
    """An event of a kind without a profile: its own fields in order, else its message."""
    own = [(k, text(v)) for k, v in event.items() if k not in _NOT_DETAILS and v is not None]
    own = [(k, v) for k, v in own if v]
    if not own:
        return text(event.get("message") or "")
    parts = [f"{text(k)}: {v}" for k, v in own[:FALLBACK_FIELDS]]
    if len(own) > FALLBACK_FIELDS:
        parts.append(f"(+{len(own) - FALLBACK_FIELDS} more fields)")
    return SEPARATOR.join(parts)


def finding_details(finding: Mapping[str, Any], event: Mapping[str, Any] | None = None) -> str:
    """Details of a finding: its event's (a rule match), or the group and count (a correlation).
    `event` is the finding's event already parsed, if the caller has it."""
    if event is None:
        raw = finding.get("event")
        try:
            event = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return UNREADABLE
        if not isinstance(event, dict):
            return UNREADABLE
    if finding.get("kind") == "sigma_correlation":
        group = event.get("group")
        parts = [f"Events: {finding.get('event_count')}"]
        if event.get("value") is not None:
            parts.append(f"Value: {text(event['value'])}")
        parts += [f"{text(k)}: {text(v)}" for k, v in (group.items() if isinstance(group, dict) else [])]
        return SEPARATOR.join(parts)
    return event_details(finding.get("table_name"), event)


def details_column(findings: pa.Table) -> pa.Array:
    """The details of every finding of a findings table (FINDINGS_SCHEMA), in order. Rule matches
    (nearly all rows) go straight to their event, each distinct event parsed once (several rules
    often match one event: 1,165 findings of 894 events in the evtx-attack-samples hunt);
    correlations go through finding_details()."""
    out: list[str] = []
    seen: dict[tuple[str | None, str], str] = {}
    cols = findings.select(["kind", "table_name", "event", "event_count"])
    for batch in cols.to_batches(max_chunksize=8192):
        kinds, tables, events = (batch.column(i).to_pylist() for i in range(3))
        for i, (kind, table, raw) in enumerate(zip(kinds, tables, events, strict=True)):
            if kind == "sigma_correlation" or not raw:
                out.append(finding_details({"kind": kind, "table_name": table, "event": raw,
                                            "event_count": batch.column(3)[i].as_py()}))
                continue
            known = seen.get((table, raw))
            if known is None:
                try:
                    event = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    event = None
                known = seen[(table, raw)] = event_details(table, event) if isinstance(event, dict) else UNREADABLE
            out.append(known)
    return pa.array(out, pa.string())


def profile_table() -> list[str]:
    """The profiles as Markdown table rows (docs/hunt_output.md holds them; a test keeps them in step)."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for (chan, eid), p in sorted(WINDOWS.items()):
        grouped.setdefault((chan, p.kind, _spec(p)), []).append(str(eid))
    rows = [f"| {chan} {'/'.join(ids)} | {kind} | {spec} |" for (chan, kind, spec), ids in grouped.items()]
    rows += [f"| `{table}` | {p.kind} | {_spec(p)} |" for table, p in sorted(TABLES.items())]
    return rows


def _spec(p: Profile) -> str:
    return " ¦ ".join(f"{i.label}: {' or '.join(i.fields)}" + (f" (named: {i.names})" if i.names else "")
                      for i in p.items)

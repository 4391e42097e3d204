"""The slow, obvious evaluator of a predicate tree over one event (a dict): the oracle.

It reads the same Ref a column resolver gives the SQL compiler, and implements each construct the
way the Sigma specification states it, with none of the SQL engines' tricks. Property tests compare
the SQL engines with it on generated rules and events.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.sqlgen import SEPARATOR, Ref, keyword_pattern

Event = Mapping[str, Any]
_MISSING = object()


@lru_cache(maxsize=4096)
def _glob(pattern: ir.Pattern) -> re.Pattern[str]:
    parts = [".*" if k == ir.ANY else "." if k == ir.ONE else re.escape(t) for k, t in pattern]
    return re.compile("".join(parts), re.DOTALL)


@lru_cache(maxsize=4096)
def _regex(regex: str, flags: str) -> re.Pattern[str]:
    f = 0
    f |= re.IGNORECASE if "i" in flags else 0
    f |= re.MULTILINE if "m" in flags else 0
    f |= re.DOTALL if "s" in flags else 0
    return re.compile(regex, f)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Reference:
    def __init__(self, resolve: Callable[[str], Ref], keyword_refs: list[Ref]) -> None:
        self.resolve = resolve
        self.keyword_refs = keyword_refs

    def matches(self, node: ir.Node, event: Event) -> bool:
        if isinstance(node, ir.And):
            return all(self.matches(a, event) for a in node.args)
        if isinstance(node, ir.Or):
            return any(self.matches(a, event) for a in node.args)
        if isinstance(node, ir.Not):
            return not self.matches(node.arg, event)
        if isinstance(node, ir.Const):
            return node.value
        if isinstance(node, ir.Str | ir.Regex | ir.Num) and node.field is None:
            return self._keyword(node, event)
        if isinstance(node, ir.Exists):
            return self._get(self.resolve(node.field), event, exists=True) is not _MISSING if node.exists \
                else self._get(self.resolve(node.field), event, exists=True) is _MISSING
        field = ir.field_of(node)
        if field is None:
            raise TypeError(f"not a leaf: {node!r}")
        ref = self.resolve(field)
        value = self._get(ref, event)
        if isinstance(node, ir.Null):
            return value is None or value is _MISSING
        if value is None or value is _MISSING:
            return False
        if ref.kind == "list":
            return any(v is not None and self._value(node, v, "str", event) for v in value)
        return self._value(node, value, ref.kind, event)

    def _get(self, ref: Ref, event: Event, exists: bool = False) -> Any:
        if ref.kind == "absent":
            return _MISSING
        if ref.key is not None:
            m = event.get(ref.column or "")
            if not m or ref.key not in m:
                return _MISSING
            return m[ref.key]
        value = event.get(ref.column or "", None)
        if exists and value is None:
            return _MISSING
        return value

    def _keyword(self, node: ir.Str | ir.Regex | ir.Num, event: Event) -> bool:
        """Keywords search the event's text fields joined by U+001F (as sqlgen.event_text)."""
        if not self.keyword_refs:
            return False
        if isinstance(node, ir.Num):
            node = ir.Str(None, ((ir.LIT, str(node.value)),))
        if isinstance(node, ir.Str):
            node = ir.Str(None, keyword_pattern(node.pattern), node.cased)
        parts: list[str] = []
        for ref in self.keyword_refs:
            value = event.get(ref.column or "")
            if value is None:
                continue
            if ref.kind == "map":  # one part per list or map, as SQL's array_to_string gives
                parts.append(SEPARATOR.join(_text(v) for v in value.values() if v is not None))
            elif ref.kind == "list":
                parts.append(SEPARATOR.join(_text(v) for v in value if v is not None))
            else:
                parts.append(_text(value))
        return self._value(node, SEPARATOR.join(parts), "str", event)

    def on_value(self, node: ir.Node, value: Any, kind: str) -> bool:
        """A single-field leaf on one value of its field (None: the field has no value)."""
        if isinstance(node, ir.Null):
            return value is None
        if isinstance(node, ir.Exists):
            return (value is not None) == node.exists
        if value is None:
            return False
        if kind == "list":
            return any(v is not None and self._value(node, v, "str", {}) for v in value)
        return self._value(node, value, kind, {})

    def _value(self, node: ir.Node, value: Any, kind: str, event: Event) -> bool:
        if isinstance(node, ir.Str):
            text = _text(value)
            pattern = node.pattern
            if not node.cased:
                text = text.lower()
                pattern = tuple((k, t.lower()) for k, t in pattern)
            return _glob(pattern).fullmatch(text) is not None
        if isinstance(node, ir.Num):
            if kind in ("int", "float"):
                return value == node.value
            num = node.value
            return _text(value) == (str(int(num)) if isinstance(num, float) and num.is_integer() else str(num))
        if isinstance(node, ir.Regex):
            return _regex(node.regex, node.flags).search(_text(value)) is not None
        if isinstance(node, ir.Cmp):
            try:
                number = float(value) if kind not in ("int", "float") else value
            except (TypeError, ValueError):
                return False
            return {"lt": number < node.value, "lte": number <= node.value, "gt": number > node.value,
                    "gte": number >= node.value}[node.op]
        if isinstance(node, ir.Cidr):
            try:
                text = _text(value)
                if "%" in text or text != text.strip():
                    return False
                return ipaddress.ip_address(text) in ipaddress.ip_network(node.network, strict=False)
            except ValueError:
                return False
        if isinstance(node, ir.Bool):
            return value is node.value if kind == "bool" else _text(value).lower() == str(node.value).lower()
        if isinstance(node, ir.TimePart):
            ts = value if isinstance(value, datetime) else _parse_ts(_text(value))
            if ts is None:
                return False
            part = {"minute": ts.minute, "hour": ts.hour, "day": ts.day, "week": ts.isocalendar().week,
                    "month": ts.month, "year": ts.year}[node.part]
            return part == node.value
        if isinstance(node, ir.FieldRef):
            other_ref = self.resolve(node.other)
            other = self._get(other_ref, event)
            if other is None or other is _MISSING:
                return False
            a, b = _text(value), _text(other)
            if not node.cased:
                a, b = a.lower(), b.lower()
            return a.startswith(b) if node.mode == "startswith" else a.endswith(b) if node.mode == "endswith" \
                else a == b
        raise TypeError(f"cannot evaluate {type(node).__name__}")


def _parse_ts(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None

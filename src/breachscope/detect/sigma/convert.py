"""pySigma's parsed condition tree to our predicate tree (ir.py).

pySigma has already applied the value modifiers (contains, all, base64, windash, ...); what is left
is typed values under AND/OR/NOT, which map one to one onto the IR. Anything the IR cannot express
raises ConvertError with a reason the user can read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaQueryExpression,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from breachscope.detect.sigma import ir

_OPS = {CompareOperators.LT: "lt", CompareOperators.LTE: "lte", CompareOperators.GT: "gt",
        CompareOperators.GTE: "gte"}
_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: "i", SigmaRegularExpressionFlag.MULTILINE: "m",
          SigmaRegularExpressionFlag.DOTALL: "s"}


class ConvertError(Exception):
    """The rule uses something the engine cannot run; the message says what."""


def unset_placeholders(rule: SigmaRule, placeholders: Mapping[str, Sequence[str]]) -> list[str]:
    """Placeholders the rule uses that have no configured values."""
    names: set[str] = set()
    for det in rule.detection.detections.values():
        for item in getattr(det, "detection_items", []):
            for v in getattr(item, "value", []) or []:
                if isinstance(v, SigmaString) and v.contains_placeholder():
                    names.update(p.name for p in v.s if isinstance(p, Placeholder))
    return sorted(n for n in names if n not in placeholders)


def rule_condition(rule: SigmaRule, placeholders: Mapping[str, Sequence[str]] | None = None) -> ir.Node:
    """The whole detection of a rule: its conditions (a rule may list several) ORed together."""
    trees = [convert(pc.parsed, placeholders or {}) for pc in rule.detection.parsed_condition]
    return ir.or_(trees)


def convert(node: Any, placeholders: Mapping[str, Sequence[str]]) -> ir.Node:
    if isinstance(node, ConditionAND):
        return ir.and_([convert(a, placeholders) for a in node.args])
    if isinstance(node, ConditionOR):
        return ir.or_([convert(a, placeholders) for a in node.args])
    if isinstance(node, ConditionNOT):
        return ir.not_(convert(node.args[0], placeholders))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return value(node.field, node.value, placeholders)
    if isinstance(node, ConditionValueExpression):
        return value(None, node.value, placeholders)
    raise ConvertError(f"unsupported condition element {type(node).__name__}")


def value(field: str | None, v: Any, placeholders: Mapping[str, Sequence[str]]) -> ir.Node:
    """One field/value pair of a detection (field None: a keyword)."""
    if isinstance(v, SigmaExpansion):
        return ir.or_([value(field, x, placeholders) for x in v.values])
    if isinstance(v, SigmaString):
        return _string(field, v, placeholders)
    if isinstance(v, SigmaTimestampPart):  # before SigmaNumber: it is one
        return ir.TimePart(_need(field, "time modifiers"), v.timestamp_part.name.lower(), int(v.number))
    if isinstance(v, SigmaNumber):
        return ir.Num(field, v.number)
    if isinstance(v, SigmaCompareExpression):
        return ir.Cmp(_need(field, "gt/gte/lt/lte"), _OPS[v.op], v.number.number)
    if isinstance(v, SigmaRegularExpression):
        regex = v.regexp.original if v.regexp.original is not None else v.regexp.to_plain()
        flags = "".join(sorted(_FLAGS[f] for f in v.flags))
        return ir.Regex(field, regex, flags)
    if isinstance(v, SigmaCIDRExpression):
        return ir.Cidr(_need(field, "cidr"), str(v.network))
    if isinstance(v, SigmaNull):
        return ir.Null(_need(field, "null"))
    if isinstance(v, SigmaExists):
        return ir.Exists(_need(field, "exists"), bool(v.exists))
    if isinstance(v, SigmaBool):
        return ir.Bool(_need(field, "boolean values"), bool(v.boolean))
    if isinstance(v, SigmaFieldReference):
        mode = "startswith" if v.starts_with else "endswith" if v.ends_with else "eq"
        return ir.FieldRef(_need(field, "fieldref"), v.field, mode)
    if isinstance(v, SigmaQueryExpression):
        raise ConvertError("query-expression placeholders need a target query language")
    raise ConvertError(f"unsupported value type {type(v).__name__}")


def _need(field: str | None, what: str) -> str:
    if field is None:
        raise ConvertError(f"{what} needs a field (keyword search cannot use it)")
    return field


def _string(field: str | None, s: SigmaString, placeholders: Mapping[str, Sequence[str]]) -> ir.Node:
    if s.contains_placeholder():
        return _expand(field, s, placeholders)
    pattern: list[tuple[int, str]] = []
    for part in s.s:
        if part is SpecialChars.WILDCARD_MULTI:
            if not pattern or pattern[-1] != (ir.ANY, ""):  # ** is *
                pattern.append((ir.ANY, ""))
        elif part is SpecialChars.WILDCARD_SINGLE:
            pattern.append((ir.ONE, ""))
        elif isinstance(part, str):
            if pattern and pattern[-1][0] == ir.LIT:
                pattern[-1] = (ir.LIT, pattern[-1][1] + part)
            elif part:
                pattern.append((ir.LIT, part))
        else:
            raise ConvertError(f"unsupported string part {part!r}")
    return ir.Str(field, tuple(pattern), isinstance(s, SigmaCasedString))


def _expand(field: str | None, s: SigmaString, placeholders: Mapping[str, Sequence[str]]) -> ir.Node:
    """`expand` placeholders (%name%) become the list of values configured for them (--placeholders);
    a placeholder with no configured values is an empty list, which matches nothing (the rule's
    compiled form lists it in `unset_placeholders`, and `rules check` and `hunt` report it)."""
    names = [p.name for p in s.s if isinstance(p, Placeholder)]
    if any(n not in placeholders for n in names):
        return ir.Const(False)
    try:
        expanded = s.replace_placeholders(lambda p: (SigmaString(v) for v in placeholders[p.name]))
    except Exception as exc:  # pySigma raises several types for bad placeholder values
        raise ConvertError(f"placeholder expansion failed: {exc}") from exc
    return ir.or_([_string(field, x, placeholders) for x in expanded])

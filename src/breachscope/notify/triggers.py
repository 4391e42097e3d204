"""The conditions a rule's trigger can name (`when:` in notify/rules/*.yaml), one test each.

A trigger fires when any of its conditions holds. A new condition: its test here, one line in
TRIGGERS, and its field in rule_file.TriggerWhen (the rule files' schema).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from breachscope.model.obligations import Facts

#: (the condition's value in the rule file, the exposure's facts, affected persons of the rule's
#: jurisdictions) -> whether the condition holds
TriggerTest = Callable[[Any, Facts, int], bool]


def _categories_any(wanted: list[str], facts: Facts, persons: int) -> bool:
    return bool(set(wanted) & set(facts.categories))


def _unlawful_purpose(wanted: bool, facts: Facts, persons: int) -> bool:
    return bool(wanted) and facts.unlawful_purpose


def _persons_over(limit: int, facts: Facts, persons: int) -> bool:
    return persons > int(limit)


TRIGGERS: dict[str, TriggerTest] = {
    "categories_any": _categories_any,
    "unlawful_purpose": _unlawful_purpose,
    "persons_over": _persons_over,
}


def fires(when: dict[str, Any], facts: Facts, persons: int) -> bool:
    """Any condition of a trigger holds (conditions left out, or null, do not count)."""
    return any(value is not None and TRIGGERS[name](value, facts, persons) for name, value in when.items())

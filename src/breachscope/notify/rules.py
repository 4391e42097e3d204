"""Reporting duties as data: one YAML file per law under notify/rules/, each citing its sources.

A rule applies when the exposure has subjects in its jurisdictions (and the controller is in the sector
it names, if any); its triggers decide whether its obligations are owed; each obligation's deadline is
computed from the time the organization became aware. Unknown inputs give `unknown`, never `no`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from breachscope.model.obligations import NO, UNKNOWN, YES, Facts, Obligation, Source
from breachscope.notify.triggers import fires

__all__ = ["NO", "UNKNOWN", "YES", "Facts", "Obligation", "evaluate", "load_rules"]


def load_rules() -> list[dict[str, Any]]:
    """Every rule file, validated (rule_file.py: unknown keys and wrong values refused with their line)."""
    from breachscope.notify.rule_file import load_rule_file

    rules = []
    folder = resources.files("breachscope.notify") / "rules"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            rules.append(load_rule_file(entry, f"notify/rules/{entry.name}"))
    return rules


def evaluate(rules: list[dict[str, Any]], facts: Facts, aware_at: datetime,
             jurisdictions: list[str] | None) -> list[Obligation]:
    out: list[Obligation] = []
    for rule in rules:
        if jurisdictions and rule["jurisdiction"] not in jurisdictions:
            continue
        persons, orgs = _in_scope(rule, facts)
        if persons == 0 and orgs == 0:
            continue  # no subject of this jurisdiction
        owed, why = _triggered(rule, facts, persons)
        cond = rule.get("applies_if", {}).get("controller_sectors_any")
        if cond:
            if not facts.sectors_known:
                owed = UNKNOWN if owed == YES else owed
                why.append("applies to telecommunications carriers: the inventory does not say whether the "
                           "controller is one (controller.sectors)")
            elif not set(cond) & set(facts.sectors):
                continue
        for ob in rule["obligations"]:
            o_owed, o_why = owed, list(why)
            limit = (ob.get("when") or {}).get("persons_over")
            if limit is not None and persons <= int(limit) and o_owed != NO:
                o_owed, o_why = NO, [*o_why, f"{persons:,} person(s): not more than {limit:,}"]
            if ob.get("owed_if_unknown") and o_owed == YES:
                o_owed, o_why = UNKNOWN, [*o_why, ob["owed_if_unknown"]]
            deadline = _deadline(ob.get("deadline") or {}, aware_at, facts.unlawful_purpose) if o_owed != NO else None
            out.append(Obligation(
                rule=rule["id"], jurisdiction=rule["jurisdiction"], obligation=ob["id"], to=ob["to"],
                what=ob.get("what", ""), owed=o_owed, why=tuple(o_why), deadline=deadline,
                deadline_text=(ob.get("deadline") or {}).get("text", ""), persons=persons, organizations=orgs,
                sources=tuple(Source(title=s["title"], text=s["text"], url=s.get("url")) for s in rule["sources"]),
                drafts=tuple(ob.get("drafts") or ()) if o_owed != NO else (),
            ))
    return out


def _in_scope(rule: dict[str, Any], facts: Facts) -> tuple[int, int]:
    wanted = set(rule.get("applies_if", {}).get("subject_jurisdictions") or [rule["jurisdiction"]])
    persons = orgs = 0
    for j, counts in facts.jurisdictions.items():
        if j in wanted or j.split("-")[0] in wanted:  # JP-13 (a prefecture) is JP
            persons += int(counts.get("persons", 0))
            orgs += int(counts.get("organizations", 0))
    return persons, orgs


def _triggered(rule: dict[str, Any], facts: Facts, persons: int) -> tuple[str, list[str]]:
    why = []
    for t in rule.get("triggers") or []:
        if fires(t.get("when") or {}, facts, persons):
            why.append(t.get("text") or t["id"])
    if why:
        return YES, why
    return NO, ["no trigger of this rule applies to the exposure"]


def _deadline(d: dict[str, Any], aware_at: datetime, unlawful: bool) -> str | None:
    if "hours" in d:
        return (aware_at + timedelta(hours=int(d["hours"]))).isoformat()
    if "days" not in d:
        return None
    days = int(d.get("days_if_unlawful_purpose", d["days"]) if unlawful else d["days"])
    zone = ZoneInfo(d.get("zone", "UTC"))
    local = aware_at.astimezone(zone)
    if d.get("counting") == "awareness_day_is_day_1":  # the earlier reading: the day of awareness is day 1
        days -= 1
    end = datetime(local.year, local.month, local.day, 23, 59, 59, tzinfo=zone) + timedelta(days=days)
    return end.isoformat()

"""Findings of earlier hunts (Sigma rules, analytics) join the investigation: each (rule, host) becomes
one alert at its first event, scored by the rule's level and damped by how often the rule fires across
the fleet (a rule that fires on every host says little about one of them)."""

from __future__ import annotations

import math
from typing import Any

from breachscope.investigate.context import Context, host_key_sql
from breachscope.investigate.detectors.base import Detector, alert, evidence_sql
from breachscope.model.findings import RULE_LEVEL_RANK
from breachscope.model.incident import Alert

LEVEL_SCORE = {"critical": 50.0, "high": 35.0, "medium": 20.0, "low": 8.0, "informational": 2.0}


def run(ctx: Context) -> list[Alert]:
    rule_id = "rule_id" if ctx.has("findings", "rule_id") else "NULL"
    sql = f"""
    WITH f AS (SELECT rule_title, kind, lower(level) AS level, ts, {host_key_sql('host')} AS hkey, "user" AS usr,
                      src_ip, dst_ip, attack, coalesce(table_name, 'findings') AS tbl, src_file, src_record,
                      {rule_id} AS rid
               FROM findings WHERE {ctx.window()} AND src_file IS NOT NULL),
    g AS (SELECT *, coalesce(hkey, src_ip) AS who FROM f),
    spread AS (SELECT rule_title, count(DISTINCT who) AS hosts FROM g GROUP BY ALL)
    SELECT rule_title, any_value(kind) AS kind, level, who, any_value(hkey) AS hkey, min(ts) AS ts, count(*) AS n,
           any_value(usr) AS usr, any_value(src_ip) AS src_ip, any_value(attack) AS attack,
           any_value(spread.hosts) AS hosts, list(DISTINCT rid) AS rids, list(attack) AS attacks,
           {evidence_sql('', table_sql='tbl')} AS ev
    FROM g JOIN spread USING (rule_title) GROUP BY rule_title, level, who ORDER BY ts"""
    out = []
    for r in ctx.artifact_rows(sql):
        base = LEVEL_SCORE.get(r["level"] or "", 10.0)
        s = base / (1 + math.log2(max(1, r["hosts"])))
        family = "Analytic" if r["kind"] == "analytic" else "Sigma"
        why = f"{family}: {r['rule_title']} ({r['level']}, {r['n']} event(s); fires on {r['hosts']} host(s))"
        host = r["hkey"] or ctx.actor(None, r["src_ip"])
        out.append(alert(r["ts"], "sigma", "execution", s, why, r["ev"], host=host, user=r["usr"], src_ip=r["src_ip"]))
        _remember(ctx, host, r)
    return out


def _remember(ctx: Context, host: str | None, r: dict[str, Any]) -> None:
    """Which rules fired on which host, for the incident (IncidentHost.rules: containment reads DCSync and
    golden-ticket signs there, by rule id and ATT&CK technique, not by title)."""
    if not host:
        return
    rules: dict[str, dict[str, Any]] = ctx.facts.setdefault("rules", {}).setdefault(host, {})
    attack = sorted({str(t) for ts in r["attacks"] or () for t in ts or ()})
    for rid in [x for x in r["rids"] or () if x] or [r["rule_title"]]:
        seen = rules.setdefault(str(rid), {"level": r["level"] or "informational", "attack": set(), "ev": r["ev"]})
        if RULE_LEVEL_RANK.get(r["level"] or "", -1) > RULE_LEVEL_RANK.get(seen["level"], -1):
            seen["level"], seen["ev"] = r["level"], r["ev"]
        seen["attack"].update(attack)


DETECTOR = Detector("sigma", (("findings", ("rule_title", "level", "host")),), run,
                    "findings of earlier hunts (Sigma rules, analytics), damped by how many hosts each rule fires on")

"""Configuration changes on network devices that do not look like the organization's own change practice
(issue 13 item 5: "configuration changes outside the change window or from an unusual source").

A Sigma rule sees one line; the change window and the usual administrators are only visible in the
case's own history. The change records (IOS/IOS-XE `CONFIG_I`, `CFGLOG_LOGGEDCMD` command logging,
NX-OS `VSHD_SYSLOG_CONFIG_I`, IOS-XR `DB_COMMIT`) are grouped into sessions (device, user, source, hour);
each session is compared with every earlier change in the case: a source address or an account never
seen changing a configuration before, and an hour of the week in which no change was ever made, once
the case holds enough changes to know the practice. Routine changes (known people, known times) stay
below low; a change from outside the network, by a new source, outside the usual times is high.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped, clamp
from breachscope.detect.casecontext import CaseContext
from breachscope.model.sql import quote_literal

MNEMONICS = ("CONFIG_I", "CONFIG_P", "CFGLOG_LOGGEDCMD", "VSHD_SYSLOG_CONFIG_I", "DB_COMMIT")
MIN_HISTORY = 5  # earlier change sessions needed before "never at this hour" or "new source" means anything
REPORTED = 40.0  # sessions scored below this (routine) are not findings
_USER = r"(?:User:\s*|by (?:user '?)?)([A-Za-z0-9_.@\\-]+)"
_SOURCE = r"(?:\(|\bon |\bfrom )([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+)"


def _sessions(ctx: CaseContext) -> list[dict]:
    names = ", ".join(quote_literal(m) for m in MNEMONICS)
    return ctx.rows(f"""
        WITH c AS (
            SELECT ts, lower(host) AS device, nullif(regexp_extract(message, {quote_literal(_USER)}, 1), '') AS usr,
                   nullif(regexp_extract(message, {quote_literal(_SOURCE)}, 1), '') AS source
            FROM syslog WHERE cisco_mnemonic IN ({names}) AND host IS NOT NULL AND {ctx.window()})
        SELECT device, usr, source, date_trunc('hour', ts) AS hour, min(ts) AS first_ts, max(ts) AS last_ts,
               count(*) AS n
        FROM c GROUP BY ALL ORDER BY first_ts""")


def _merge_sources(sessions: list[dict]) -> list[dict]:
    """A command-logging line names the user, the CONFIG_I line of the same session the source: give the
    session's lines without a source the source of the same device, user and hour."""
    by_key = {(s["device"], s["usr"], s["hour"]): s["source"] for s in sessions if s["source"]}
    merged: dict[tuple, dict] = {}
    for s in sessions:
        source = s["source"] or by_key.get((s["device"], s["usr"], s["hour"]))
        key = (s["device"], s["usr"], source, s["hour"])
        m = merged.get(key)
        if m is None:
            merged[key] = {**s, "source": source}
        else:
            m.update(first_ts=min(m["first_ts"], s["first_ts"]), last_ts=max(m["last_ts"], s["last_ts"]),
                     n=m["n"] + s["n"])
    return sorted(merged.values(), key=lambda s: s["first_ts"])


def _slot(ts: datetime) -> tuple[int, int]:
    return ts.weekday(), ts.hour


def run(ctx: CaseContext) -> list[Hit]:
    if not ctx.has("syslog", "cisco_mnemonic", "message", "host"):
        raise Skipped(ctx.missing("syslog", "cisco_mnemonic", "message", "host"))
    sessions = _merge_sources(_sessions(ctx))
    if not sessions:
        raise Skipped("no configuration-change records of network devices (CONFIG_I, command logging, "
                      "VSHD_SYSLOG_CONFIG_I, DB_COMMIT) in the case")
    hits = []
    slots: Counter[tuple[int, int]] = Counter()
    sources: set[str] = set()
    users: set[str] = set()
    earlier = 0
    for s in sessions:
        why, score = [], 20.0
        source, usr, t = s["source"], s["usr"], s["first_ts"]
        if source and not ctx.is_internal(source):
            score += 35
            why.append(f"from {source}, outside the network")
        if earlier >= MIN_HISTORY:
            if source and source not in sources:
                score += 20
                why.append(f"{source} never changed a device configuration before")
            if usr and usr not in users:
                score += 15
                why.append(f"account {usr} never changed a configuration before")
            near = sum(slots[(d, h)] for d, h in _around(t))
            if not near:
                score += 25
                why.append(f"no change was ever made on a {t:%A} around {t:%H}:00 (UTC) before "
                           f"({earlier} earlier change sessions)")
        slots[_slot(t)] += 1
        if source:
            sources.add(source)
        if usr:
            users.add(usr)
        earlier += 1
        if score < REPORTED:
            continue
        device = s["device"]
        span = (f"TIMESTAMPTZ {quote_literal(s['first_ts'].isoformat())} AND "
                f"TIMESTAMPTZ {quote_literal(s['last_ts'].isoformat())}")
        where = (f"lower(host) = {quote_literal(device)} AND ts BETWEEN {span} AND cisco_mnemonic IN "
                 f"({', '.join(quote_literal(m) for m in MNEMONICS)})")
        hits.append(Hit(
            title=f"Configuration change on {device} by {usr or '(user not logged)'} from "
                  f"{source or '(source not logged)'} out of the usual change practice",
            why="; ".join(why), score=clamp(score), first_ts=t, last_ts=s["last_ts"], key=(device, usr, source, t),
            host=device, user=usr, src_ip=source, event_count=s["n"],
            entities={"device": device, "user": usr, "source": source, "changes": s["n"],
                      "earlier_sessions": earlier - 1},
            evidence=(EvidenceQuery("syslog", where),)))
    return hits


def _around(t: datetime) -> list[tuple[int, int]]:
    """The hour of the week of t and the hours next to it (a change window that ran late still counts)."""
    return [_slot(t + timedelta(hours=d)) for d in (-1, 0, 1)]


ANALYTIC = Analytic(
    name="device_changes", title="Network device changes out of practice",
    about="configuration changes on routers and switches (IOS/IOS-XE CONFIG_I and command logging, NX-OS, "
          "IOS-XR commits) grouped into sessions and compared with every earlier change in the case: a source "
          "outside the network, a source or account never seen changing a configuration, an hour of the week "
          "in which no change was ever made (the change window learned from the case)",
    tables=("syslog",), run=run, attack=("T1562.001", "T1601", "T1078"),
    references=("https://www.cisa.gov/news-events/cybersecurity-advisories/aa25-239a",))

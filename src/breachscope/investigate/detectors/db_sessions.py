"""Database sessions that do what their client, user and application never do (pgAudit, MySQL general
log, MariaDB audit): statement shapes (literals and numbers taken out) that this (user, application)
ran on few days of the case and that its peer clients never ran, a (client, user, application) tuple
new on a client with a history, and hours the tuple rarely works. Measured against the case itself;
a case of fewer than MIN_DAYS days gives no history, and says so."""

from __future__ import annotations

from typing import Any

from breachscope.investigate.context import Context
from breachscope.investigate.detectors.base import EVIDENCE_KEPT, Detector, alert, refs
from breachscope.model.incident import Alert

MIN_DAYS = 3
SUSPECT_SCORE = 50.0  # a rare shape alone (a seldom-used feature of the application) stays below

SHAPE = ("regexp_replace(regexp_replace(regexp_replace(lower(trim(statement)), '''(?:[^'']|'''')*''', '?', 'g'), "
         "'\\b[0-9]+(\\.[0-9]+)?\\b', '?', 'g'), '\\s+', ' ', 'g')")


def session_sql(ctx: Context) -> str:
    # MySQL's and MariaDB's logs name no application: '' (not NULL, which the joins USING (app) would drop)
    app = "coalesce(application_name, '')" if ctx.has("db_audit", "application_name") else "''"
    db = "database" if ctx.has("db_audit", "database") else "NULL"
    rows = "rows" if ctx.has("db_audit", "rows") else "NULL"
    return f"""
    WITH st AS (
      SELECT ts, session_id, src_ip AS client, "user" AS usr, {app} AS app, {db} AS db, {rows} AS nrows,
             src_file, src_record, host AS server, CAST(date_trunc('day', ts) AS DATE) AS d, hour(ts) AS h,
             {SHAPE} AS shape
      FROM db_audit
      WHERE statement IS NOT NULL AND session_id IS NOT NULL AND ts IS NOT NULL AND {ctx.window()}),
    span AS (SELECT count(DISTINCT d) AS case_days FROM st),
    shapes AS (SELECT usr, app, shape, count(DISTINCT d) AS shape_days, count(DISTINCT client) AS shape_clients
               FROM st GROUP BY ALL),
    grp AS (SELECT usr, app, count(DISTINCT client) AS group_clients FROM st GROUP BY ALL),
    tup AS (SELECT client, usr, app, count(DISTINCT d) AS tuple_days FROM st GROUP BY ALL),
    cli AS (SELECT client, count(DISTINCT d) AS client_days FROM st GROUP BY ALL),
    hours AS (SELECT client, usr, app, h, count(*) / sum(count(*)) OVER (PARTITION BY client, usr, app) AS h_share
              FROM st GROUP BY client, usr, app, h),
    marked AS (
      SELECT st.*, shape_days, shape_clients, group_clients, tuple_days, client_days, h_share, case_days,
             (case_days >= {MIN_DAYS} AND shape_days <= greatest(2, 0.1 * case_days)
              AND shape_days < 0.5 * case_days) AS rare,
             (group_clients >= 2 AND shape_clients = 1) AS peer_unique
      FROM st CROSS JOIN span
      JOIN shapes USING (usr, app, shape) JOIN grp USING (usr, app) JOIN tup USING (client, usr, app)
      JOIN cli USING (client) JOIN hours USING (client, usr, app, h))
    SELECT session_id, any_value(server) AS server, any_value(client) AS client, any_value(usr) AS usr,
           any_value(app) AS app, any_value(db) AS db, min(ts) AS first, max(ts) AS last, count(*) AS statements,
           count(*) FILTER (WHERE rare) AS rare, bool_or(peer_unique AND rare) AS peer_unique,
           min(tuple_days) AS tuple_days, max(client_days) AS client_days, max(case_days) AS case_days,
           min(h_share) AS h_share, sum(nrows) AS nrows,
           array_slice(list_sort(list(struct_pack(o := NOT rare, p := ts, t := 'db_audit', f := src_file,
                                                  r := src_record))), 1, {EVIDENCE_KEPT}) AS ev,
           array_slice(list_sort(list(DISTINCT shape) FILTER (WHERE rare)), 1, 3) AS rare_shapes
    FROM marked GROUP BY session_id
    HAVING count(*) FILTER (WHERE rare) > 0
        OR (max(case_days) >= {MIN_DAYS} AND min(tuple_days) <= greatest(2, 0.1 * max(case_days))
            AND max(client_days) >= min(tuple_days) + {MIN_DAYS})"""


def score(r: dict[str, Any]) -> tuple[float, list[str]]:
    s, why = 0.0, []
    if r["rare"]:
        s += 25 + 10 * r["rare"] / r["statements"]
        why.append(f"{r['rare']} of {r['statements']} statements have shapes this user and application ran on "
                   f"few days of the case")
    if r["peer_unique"]:
        s += 20
        why.append("no other client of this user and application ever ran them")
    if r["tuple_days"] <= max(2, 0.1 * r["case_days"]) and r["client_days"] >= r["tuple_days"] + MIN_DAYS:
        s += 25
        why.append(f"the client never used {r['app'] or 'this application'} as {r['usr']} before "
                   f"({r['tuple_days']} of its {r['client_days']} days)")
    if r["h_share"] is not None and r["h_share"] < 0.02:
        s += 10
        why.append("at an hour this client, user and application rarely work")
    return s, why


def run(ctx: Context) -> list[Alert]:
    out = []
    facts = ctx.facts.setdefault("db_sessions", {})
    for r in ctx.rows(session_sql(ctx)):
        s, why = score(r)
        facts[str(r["session_id"])] = {**r, "why": why}
        shapes = "; ".join(str(x)[:120] for x in (r["rare_shapes"] or ()))
        reason = "; ".join(why) + (f" (e.g. {shapes})" if shapes else "")
        out.append(alert(r["first"], "db_session", "collection", s, reason, refs(r["ev"]),
                         host=ctx.actor(None, r["client"]), src_ip=r["client"], dst_host=r["server"],
                         user=r["usr"], session_id=r["session_id"]))
    return out


DETECTOR = Detector("db_sessions", (("db_audit", ("statement", "session_id", "src_ip")),), run,
                    "database sessions with statement shapes their user and application rarely or never ran")

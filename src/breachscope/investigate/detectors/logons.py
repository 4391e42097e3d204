"""Lateral movement from network and remote-interactive logons (Security 4624 types 3 and 10), the way
Hopper (USENIX Security 2021) reads them: an edge (source, destination, account) that is rare in the
case, made with an account that never logged on to the source itself while the source's own logons are
in the evidence around it (a credential switch: whoever sat on the source did not arrive with that
account; a source whose logs were not collected says nothing), from a host that is not an administration
source, with admin-share access from the same source (5140/5145, Zeek smb_mapping) around it.
A case of fewer than 3 days has no history to call an edge rare: there an edge is kept only when the
destination shows what lateral movement does next, within minutes: admin-share access from the same
source, or remote execution (a scheduled task created or changed 4698/4702, a service installed 7045, a
WMI/WinRM provider host started 4688).
Password guessing: bursts of failed logons (4625) from one source, and a success after them."""

from __future__ import annotations

from breachscope.investigate.context import Context, host_key_sql
from breachscope.investigate.detectors.base import Detector, alert, evidence_sql
from breachscope.model.incident import Alert

ALERT_SCORE = 40.0  # an edge below this is not an alert (a rare edge alone is ordinary in a big network)
ADMIN_SHARES = r"(?i)\\(admin\$|c\$|[d-z]\$)$"
VISIBLE = "3 DAY"  # a switch is only seen where people's logons on the source are in the evidence around it
PEOPLE = "('2', '3', '7', '10', '11')"  # logon types of people (not services, batch jobs or the system)
BASELINE = "3 DAY"  # an account first seen this far into the case (and past a tenth of it) is new
OWN_LOGON_GRACE = "1 DAY"  # a user's own logon on the source host may be logged a little after their first
# network logon from it; an attacker's borrowed account does not log on there at all
MIN_HISTORY_DAYS = 3  # a shorter case cannot say which edges are rare
REMOTE_EXEC_WINDOW = "2 MINUTE"  # a remote task/service/WMI host follows the logon that made it within seconds
REMOTE_HOSTS = r"(?i)\\(wmiprvse|wsmprovhost|winrshost)\.exe$"  # started on demand by a remote WMI/WinRM call


def _logons(ctx: Context) -> str:
    return f"""
      SELECT ts, {host_key_sql('host')} AS dst, split_part(host, '.', 1) AS dst_name,
             regexp_replace(src_ip, '^::ffff:', '') AS src_ip, lower(TargetUserName) AS acct,
             TargetUserName AS acct_written, LogonType AS lt, CAST(date_trunc('day', ts) AS DATE) AS d,
             src_file, src_record
      FROM windows
      WHERE EventID = 4624 AND host IS NOT NULL AND {ctx.window()}"""


def _shares(ctx: Context) -> str:
    parts = []
    if ctx.has("windows", "ShareName"):
        parts.append(f"SELECT ts, {host_key_sql('host')} AS dst, regexp_replace(src_ip, '^::ffff:', '') AS src_ip "
                     f"FROM windows WHERE EventID IN (5140, 5145) AND regexp_matches(ShareName, '{ADMIN_SHARES}')")
    if ctx.has("zeek_smb_mapping", "path", "id.orig_h", "id.resp_h"):
        parts.append(f"SELECT z.ts, n.hkey AS dst, z.\"id.orig_h\" AS src_ip FROM zeek_smb_mapping z "
                     f"JOIN _inv_names n ON n.address = z.\"id.resp_h\" "
                     f"WHERE regexp_matches(z.path, '{ADMIN_SHARES}')")
    return " UNION ALL ".join(parts) or "SELECT NULL::TIMESTAMPTZ AS ts, NULL AS dst, NULL AS src_ip WHERE false"


def _remote_exec(ctx: Context) -> str:
    """Signs of remote execution on a host: (ts, dst) rows."""
    signs = ["EventID IN (4698, 4702, 7045)"]
    images = [c for c in ("Image", "NewProcessName") if ctx.has("windows", c)]
    if ctx.has("windows", "extra"):
        images.append("CAST(extra['NewProcessName'] AS VARCHAR)")
    if images:
        signs.append(f"(EventID = 4688 AND regexp_matches(coalesce({', '.join(images)}, ''), '{REMOTE_HOSTS}'))")
    return (f"SELECT ts, {host_key_sql('host')} AS dst FROM windows "
            f"WHERE host IS NOT NULL AND ({' OR '.join(signs)})")


def edges_sql(ctx: Context) -> str:
    return f"""
    WITH all_logons AS ({_logons(ctx)}),
    l AS (SELECT * FROM all_logons
          WHERE lt IN ('3', '10') AND src_ip IS NOT NULL AND src_ip NOT IN ('-', '', '127.0.0.1', '::1')
            AND acct IS NOT NULL AND NOT ends_with(acct, '$') AND acct NOT IN ('anonymous logon', '-', '')),
    named AS (SELECT l.*, n.hkey AS src FROM l LEFT JOIN _inv_names n ON n.address = l.src_ip),
    span AS (SELECT count(DISTINCT d) AS case_days FROM all_logons),
    edge AS (SELECT src_ip, dst, acct, count(DISTINCT d) AS edge_days, count(*) AS edge_logons, min(ts) AS first_ts
             FROM named GROUP BY ALL),
    fan AS (SELECT src_ip, count(DISTINCT dst) AS fanout FROM named GROUP BY ALL),
    bounds AS (SELECT min(ts) AS t0, max(ts) AS t1 FROM all_logons),
    acct_first AS (SELECT acct, min(ts) AS first_seen FROM all_logons GROUP BY acct),
    shares AS ({_shares(ctx)}),
    rexec AS ({_remote_exec(ctx)}),
    firsts AS (
      SELECT n.*, e.edge_days, e.edge_logons, f.fanout, s.case_days,
        NOT EXISTS (SELECT 1 FROM all_logons a WHERE a.dst = n.src AND a.acct = n.acct
                    AND a.ts < n.ts + INTERVAL {OWN_LOGON_GRACE})
          AND EXISTS (SELECT 1 FROM all_logons a WHERE a.dst = n.src AND a.lt IN {PEOPLE}
                      AND NOT ends_with(a.acct, '$') AND a.acct NOT IN ('system', 'local service', 'network service')
                      AND a.ts BETWEEN n.ts - INTERVAL {VISIBLE} AND n.ts + INTERVAL {VISIBLE}) AS switched,
        (af.first_seen = n.ts AND n.ts > b.t0 + INTERVAL {BASELINE}
         AND n.ts > b.t0 + (b.t1 - b.t0) / 10) AS new_account,
        EXISTS (SELECT 1 FROM shares x WHERE x.dst = n.dst AND x.src_ip = n.src_ip
                AND x.ts BETWEEN n.ts - INTERVAL 10 MINUTE AND n.ts + INTERVAL 10 MINUTE) AS admin_share,
        s.case_days < {MIN_HISTORY_DAYS} AND EXISTS (
          SELECT 1 FROM rexec x WHERE x.dst = n.dst
            AND x.ts BETWEEN n.ts AND n.ts + INTERVAL {REMOTE_EXEC_WINDOW}) AS remote_exec
      FROM named n JOIN edge e ON e.src_ip = n.src_ip AND e.dst = n.dst AND e.acct = n.acct AND e.first_ts = n.ts
      JOIN fan f ON f.src_ip = n.src_ip JOIN acct_first af ON af.acct = n.acct CROSS JOIN span s CROSS JOIN bounds b
      WHERE n.src IS DISTINCT FROM n.dst
        AND (e.edge_days <= greatest(2, 0.1 * s.case_days) OR s.case_days < {MIN_HISTORY_DAYS})
      QUALIFY row_number() OVER (PARTITION BY n.src_ip, n.dst, n.acct ORDER BY n.src_file, n.src_record) = 1)
    SELECT ts, src, src_ip, dst, dst_name, acct_written, lt, edge_days, edge_logons, fanout, switched, new_account,
           admin_share, remote_exec, case_days, case_days < {MIN_HISTORY_DAYS} AS short, {evidence_sql('windows')} AS ev
    FROM firsts
    WHERE case_days >= {MIN_HISTORY_DAYS} OR admin_share OR remote_exec
    GROUP BY ALL ORDER BY ts"""


def run(ctx: Context) -> list[Alert]:
    out = []
    for r in ctx.rows(edges_sql(ctx)):
        s, why = 25.0, [f"{r['acct_written']} logged on to {r['dst_name']} from {r['src'] or r['src_ip']} "
                        f"(logon type {r['lt']}) on {r['edge_days']} day(s) of the case"]
        if r["switched"]:
            s += 25
            why.append(f"{r['acct_written']} never logged on to {r['src'] or r['src_ip']} itself: a credential switch")
        if r["new_account"]:
            s += 25
            why.append(f"{r['acct_written']} had never logged on anywhere before, well into the case")
        if r["fanout"] <= 2 and (r["switched"] or r["new_account"] or r["admin_share"] or r["remote_exec"]):
            s += 10
            why.append("the source logs on to almost no other host")
        elif r["fanout"] >= 5:
            s -= 15
            why.append(f"the source logs on to {r['fanout']} hosts (an administration source)")
        if r["admin_share"]:
            s += 15
            why.append("admin share opened from the same source around it")
        if r["remote_exec"]:
            s += 15
            why.append("remote execution on the destination right after it (task, service or WMI/WinRM host)")
        if r["short"]:
            why.append(f"the case spans {r['case_days']} day(s), too short to judge rarity: kept for what followed")
        if s >= ALERT_SCORE:
            out.append(alert(r["ts"], "lateral_movement", "lateral_movement", s, "; ".join(why), r["ev"],
                             host=r["src"] or r["src_ip"], src_ip=r["src_ip"], dst_host=r["dst"],
                             user=r["acct_written"]))
    return out + guessing(ctx)


def guessing(ctx: Context) -> list[Alert]:
    """Bursts of failed logons from one source against one host (>= 5 in 10 minutes)."""
    sql = f"""
    WITH f AS (SELECT ts, {host_key_sql('host')} AS dst, split_part(host, '.', 1) AS dst_name,
                      regexp_replace(src_ip, '^::ffff:', '') AS src_ip, TargetUserName AS acct, src_file, src_record,
                      CAST(floor(epoch(ts) / 600) AS BIGINT) AS bucket
               FROM windows WHERE EventID = 4625 AND host IS NOT NULL AND src_ip IS NOT NULL
                 AND src_ip NOT IN ('-', '', '127.0.0.1', '::1') AND {ctx.window()}),
    b AS (SELECT src_ip, dst, any_value(dst_name) AS dst_name, bucket, count(*) AS n,
                 count(DISTINCT acct) AS accts, min(ts) AS ts, {evidence_sql('windows')} AS ev
          FROM f GROUP BY src_ip, dst, bucket HAVING count(*) >= 5)
    SELECT b.*, n.hkey AS src,
      (SELECT min(w.ts) FROM windows w WHERE w.EventID = 4624 AND w.src_ip = b.src_ip
         AND {host_key_sql('w.host')} = b.dst AND w.ts BETWEEN b.ts AND b.ts + INTERVAL 1 HOUR) AS success_at
    FROM b LEFT JOIN _inv_names n ON n.address = b.src_ip ORDER BY b.ts"""
    out = []
    for r in ctx.rows(sql):
        s = 40.0 + (15 if r["success_at"] else 0)
        why = f"{r['n']} failed logons to {r['dst_name']} from {r['src'] or r['src_ip']} in 10 minutes " \
              f"({r['accts']} account(s))" + ("; then a successful logon from it" if r["success_at"] else "")
        out.append(alert(r["ts"], "password_guessing", "credential_access", s, why, r["ev"],
                         host=r["src"] or r["src_ip"], src_ip=r["src_ip"], dst_host=r["dst"]))
    return out


DETECTOR = Detector("logons", (("windows", ("EventID", "TargetUserName", "LogonType", "src_ip")),), run,
                    "rare logon edges with a credential switch (Hopper); password guessing bursts")

"""Remote execution over SMB seen from the target (Security 5145, detailed file share auditing), with or
without a logon event: a program dropped on an admin share (ADMIN$, C$...) from another address, and
the service-control or task-scheduler pipe (svcctl, atsvc) opened from it: what PsExec, RemCom,
smbexec and `sc \\\\host create` do. One alert per (source, target, day), when the pair is rare in the
case; a source that does it to many hosts (a deployment server) counts less."""

from __future__ import annotations

from breachscope.investigate.context import Context, host_key_sql
from breachscope.investigate.detectors.base import Detector, alert, evidence_sql
from breachscope.model.incident import Alert

ALERT_SCORE = 40.0
ADMIN_SHARE = r"\\(admin|[a-z])\$$"
PAYLOAD = r"\.(exe|dll|bat|cmd|ps1|vbs|scr|msi)$"
CONTROL_PIPES = "('svcctl', 'atsvc')"
DEPLOYMENT_FANOUT = 5


def run(ctx: Context) -> list[Alert]:
    sql = f"""
    WITH s AS (
      SELECT ts, {host_key_sql('host')} AS dst, split_part(host, '.', 1) AS dst_name,
             regexp_replace(src_ip, '^::ffff:', '') AS src_ip, SubjectUserName AS usr, lower(ShareName) AS share,
             lower(coalesce(RelativeTargetName, '')) AS target, CAST(date_trunc('day', ts) AS DATE) AS d,
             src_file, src_record
      FROM windows
      WHERE EventID = 5145 AND host IS NOT NULL AND src_ip IS NOT NULL
        AND src_ip NOT IN ('-', '', '127.0.0.1', '::1') AND NOT ends_with(coalesce(SubjectUserName, ''), '$')
        AND {ctx.window()}),
    m AS (SELECT *, regexp_matches(share, '{ADMIN_SHARE}') AND regexp_matches(target, '{PAYLOAD}') AS payload,
                 ends_with(share, 'ipc$') AND target IN {CONTROL_PIPES} AS control
          FROM s),
    hits AS (SELECT * FROM m WHERE payload OR control),
    span AS (SELECT count(DISTINCT d) AS case_days FROM s),
    pair AS (SELECT src_ip, dst, count(DISTINCT d) AS pair_days FROM hits GROUP BY ALL),
    fan AS (SELECT src_ip, count(DISTINCT dst) AS fanout FROM hits GROUP BY ALL)
    SELECT h.src_ip, h.dst, any_value(h.dst_name) AS dst_name, any_value(h.usr) AS usr, h.d, min(h.ts) AS ts,
           bool_or(h.payload) AS payload, bool_or(h.control) AS control,
           array_slice(list_sort(list(DISTINCT h.target) FILTER (WHERE h.payload)), 1, 5) AS files,
           any_value(p.pair_days) AS pair_days, any_value(f.fanout) AS fanout, any_value(sp.case_days) AS case_days,
           any_value(n.hkey) AS src, {evidence_sql('windows', 'h.ts', prefix='h.')} AS ev
    FROM hits h JOIN pair p USING (src_ip, dst) JOIN fan f USING (src_ip) CROSS JOIN span sp
    LEFT JOIN _inv_names n ON n.address = h.src_ip
    GROUP BY h.src_ip, h.dst, h.d
    HAVING any_value(p.pair_days) <= greatest(2, 0.1 * any_value(sp.case_days))
    ORDER BY ts"""
    out = []
    for r in ctx.rows(sql):
        who = r["src"] or r["src_ip"]
        s, why = 25.0, [f"{r['usr']} reached {r['dst_name']}'s admin shares from {who}"]
        if r["payload"]:
            s += 20
            why.append(f"dropped {', '.join(str(x) for x in r['files'])} on an admin share")
        if r["control"]:
            s += 15
            why.append("opened the service-control or task-scheduler pipe (remote service or task)")
        if r["payload"] and r["control"]:
            s += 10
            why.append("both: remote execution the way PsExec-style tools do it")
        if r["fanout"] >= DEPLOYMENT_FANOUT:
            s -= 20
            why.append(f"the source does this to {r['fanout']} hosts (a deployment source)")
        if r["case_days"] < 3:
            why.append(f"the case spans {r['case_days']} day(s), too short to judge rarity")
        if s >= ALERT_SCORE:
            out.append(alert(r["ts"], "lateral_movement", "lateral_movement", s, "; ".join(why), r["ev"],
                             files=r["files"], host=who, src_ip=r["src_ip"], dst_host=r["dst"], user=r["usr"]))
    return out


DETECTOR = Detector("smb_exec", (("windows", ("EventID", "ShareName", "RelativeTargetName", "SubjectUserName")),),
                    run, "programs dropped on admin shares and service-control pipes opened from elsewhere (5145)")

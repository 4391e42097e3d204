"""One row per connection, whichever sensor saw it: Zeek conn (the originator is known), flow records
(IPFIX/NetFlow/Argus; a record whose source port is a service port and destination port is not is the
answer of a connection and is left out) and firewall teardown lines (Cisco ASA; total bytes). A pair of
addresses seen by several sensors in the same hour is counted from the best one only (Zeek, then
flows, then the firewall), so bytes are never counted twice."""

from __future__ import annotations

from breachscope.detect.casecontext import CaseContext
from breachscope.detect.casesql import epoch_us_sql

PRIORITY = {"zeek_conn": 1, "flow": 2, "syslog": 3}


def parts(ctx: CaseContext) -> list[str]:
    out = []
    w = ctx.window()
    if ctx.has("zeek_conn", "id.orig_h", "id.resp_h", "orig_bytes", "resp_bytes", "duration"):
        out.append(f"""SELECT ts, {epoch_us_sql('ts')} + CAST(coalesce(duration, 0) * 1e6 AS BIGINT) AS end_us,
            "id.orig_h" AS src, "id.resp_h" AS dst, "id.resp_p" AS port, coalesce(orig_bytes, 0) AS bytes_out,
            coalesce(resp_bytes, 0) AS bytes_in, 'zeek_conn' AS sensor, 1 AS prio, src_file, src_record
            FROM zeek_conn WHERE {w}""")
    if ctx.has("flow", "src_ip", "dst_ip", "bytes", "end_ts"):
        out.append(f"""SELECT ts, {epoch_us_sql('coalesce(end_ts, ts)')} AS end_us, src_ip AS src, dst_ip AS dst,
            dst_port AS port,
            coalesce(src_bytes, bytes, 0) AS bytes_out, coalesce(dst_bytes, 0) AS bytes_in, 'flow' AS sensor,
            2 AS prio, src_file, src_record
            FROM flow WHERE src_ip IS NOT NULL AND dst_ip IS NOT NULL
              AND NOT (coalesce(src_port, 0) BETWEEN 1 AND 1023 AND coalesce(dst_port, 0) >= 1024) AND {w}""")
    if ctx.has("syslog", "cisco_mnemonic", "extra", "src_ip", "dst_ip"):
        inside = ctx.internal("dst_ip")
        out.append(f"""SELECT ts, {epoch_us_sql('ts')} AS end_us,
            CASE WHEN {inside} THEN dst_ip ELSE src_ip END AS src,
            CASE WHEN {inside} THEN src_ip ELSE dst_ip END AS dst,
            CASE WHEN {inside} THEN src_port ELSE dst_port END AS port,
            coalesce(TRY_CAST(extra['bytes'] AS BIGINT), 0) AS bytes_out, 0 AS bytes_in, 'syslog' AS sensor,
            3 AS prio, src_file, src_record
            FROM syslog WHERE cisco_mnemonic IN ('302014', '302016', '302021') AND src_ip IS NOT NULL
              AND dst_ip IS NOT NULL AND {w}""")
    return out


def connections_sql(ctx: CaseContext) -> str | None:
    """The unified connections: ts, end_us (microseconds since 1970), src, dst, port, bytes_out, bytes_in, sensor,
    src_file, src_record."""
    p = parts(ctx)
    if not p:
        return None
    return f"""SELECT ts, end_us, src, dst, port, bytes_out, bytes_in, sensor, src_file, src_record FROM (
        SELECT *, min(prio) OVER (PARTITION BY src, dst, date_trunc('hour', ts)) AS best
        FROM ({' UNION ALL '.join(p)}) AS u) AS ranked WHERE prio = best"""

"""One row per connection, whichever sensor saw it: Zeek conn (the originator is known), flow records
(IPFIX/NetFlow/Argus; a record whose source port is a service port and destination port is not is the
answer of a connection and is left out) and firewall teardown lines (Cisco ASA; total bytes). A pair of
addresses seen by several sensors in the same hour is counted from the best one only (Zeek, then
flows, then the firewall), so bytes are never counted twice."""

from __future__ import annotations

from breachscope.detect.casecontext import CaseContext
from breachscope.detect.casesql import epoch_us_sql

PRIORITY = {"zeek_conn": 1, "flow": 2, "syslog": 3}


def _asa_duration_sql(text: str) -> str:
    """Seconds of an ASA teardown's `duration H:MM:SS` (0 when absent or malformed)."""
    part = [f"TRY_CAST(split_part({text}, ':', {i}) AS DOUBLE)" for i in (1, 2, 3)]
    return f"coalesce({part[0]} * 3600 + {part[1]} * 60 + {part[2]}, 0)"


def epoch_us(ctx: CaseContext, expr: str) -> str:
    """Microseconds since 1970: DuckDB's epoch_us (date_diff on a TIMESTAMPTZ costs ~0.4 s per million
    rows in calendar arithmetic), the portable epoch_us_sql on another engine."""
    return f"epoch_us({expr})" if ctx.engine.dialect == "duckdb" else epoch_us_sql(expr)


def parts(ctx: CaseContext) -> list[str]:
    out = []
    w = ctx.window()
    if ctx.has("zeek_conn", "id.orig_h", "id.resp_h", "orig_bytes", "resp_bytes", "duration"):
        out.append(f"""SELECT ts, {epoch_us(ctx, 'ts')} + CAST(coalesce(duration, 0) * 1e6 AS BIGINT) AS end_us,
            "id.orig_h" AS src, "id.resp_h" AS dst, "id.resp_p" AS port, coalesce(orig_bytes, 0) AS bytes_out,
            coalesce(resp_bytes, 0) AS bytes_in, 'zeek_conn' AS sensor, 1 AS prio, src_file, src_record,
            CAST(coalesce(duration, 0) AS DOUBLE) AS duration_s
            FROM zeek_conn WHERE {w}""")
    if ctx.has("flow", "src_ip", "dst_ip", "bytes", "end_ts"):
        out.append(f"""SELECT ts, {epoch_us(ctx, 'coalesce(end_ts, ts)')} AS end_us, src_ip AS src, dst_ip AS dst,
            dst_port AS port,
            coalesce(src_bytes, bytes, 0) AS bytes_out, coalesce(dst_bytes, 0) AS bytes_in, 'flow' AS sensor,
            2 AS prio, src_file, src_record,
            coalesce(duration, ({epoch_us(ctx, 'end_ts')} - {epoch_us(ctx, 'ts')}) / 1e6, 0) AS duration_s
            FROM flow WHERE src_ip IS NOT NULL AND dst_ip IS NOT NULL
              AND NOT (coalesce(src_port, 0) BETWEEN 1 AND 1023 AND coalesce(dst_port, 0) >= 1024) AND {w}""")
    if ctx.has("syslog", "cisco_mnemonic", "extra", "src_ip", "dst_ip"):
        inside = ctx.internal("dst_ip")
        out.append(f"""SELECT ts, {epoch_us(ctx, 'ts')} AS end_us,
            CASE WHEN {inside} THEN dst_ip ELSE src_ip END AS src,
            CASE WHEN {inside} THEN src_ip ELSE dst_ip END AS dst,
            CASE WHEN {inside} THEN src_port ELSE dst_port END AS port,
            coalesce(TRY_CAST(extra['bytes'] AS BIGINT), 0) AS bytes_out, 0 AS bytes_in, 'syslog' AS sensor,
            3 AS prio, src_file, src_record, {_asa_duration_sql("extra['duration']")} AS duration_s
            FROM syslog WHERE cisco_mnemonic IN ('302014', '302016', '302021') AND src_ip IS NOT NULL
              AND dst_ip IS NOT NULL AND {w}""")
    return out


def connections_sql(ctx: CaseContext) -> str | None:
    """The unified connections: ts, end_us (microseconds since 1970), src, dst, port, bytes_out, bytes_in, sensor,
    src_file, src_record, duration_s (seconds the connection lasted; a firewall teardown's ts is its end)."""
    p = parts(ctx)
    if not p:
        return None
    if len(p) == 1:  # one sensor: nothing to de-duplicate (the window below sorts every record)
        return f"""SELECT ts, end_us, src, dst, port, bytes_out, bytes_in, sensor, src_file, src_record, duration_s
            FROM ({p[0]}) AS u"""
    return f"""SELECT ts, end_us, src, dst, port, bytes_out, bytes_in, sensor, src_file, src_record, duration_s FROM (
        SELECT *, min(prio) OVER (PARTITION BY src, dst, date_trunc('hour', ts)) AS best
        FROM ({' UNION ALL '.join(p)}) AS u) AS ranked WHERE prio = best"""

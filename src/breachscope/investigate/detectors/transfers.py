"""Files moved between internal hosts that rarely exchange files (Zeek smb_files), to a host that is not
a file server (at most MAX_SOURCES hosts ever send it files): who pushed or pulled what to whom, with
sizes and names."""

from __future__ import annotations

from breachscope.investigate.context import Context
from breachscope.investigate.detectors.base import Detector, alert, evidence_sql
from breachscope.model.incident import Alert

MIN_BYTES = 100_000
MAX_SOURCES = 2  # a host that receives files from more sources is a file server: pushes to it are ordinary


def run(ctx: Context) -> list[Alert]:
    sql = f"""
    WITH f AS (SELECT ts, "id.orig_h" AS src, "id.resp_h" AS dst, action, name, coalesce(size, 0) AS size,
                      CAST(date_trunc('day', ts) AS DATE) AS d, src_file, src_record
               FROM zeek_smb_files WHERE {ctx.internal('"id.orig_h"')} AND {ctx.internal('"id.resp_h"')}
                 AND {ctx.window()}),
    span AS (SELECT count(DISTINCT d) AS case_days FROM f),
    pair AS (SELECT src, dst, count(DISTINCT d) AS pair_days FROM f GROUP BY ALL),
    fan_in AS (SELECT dst, count(DISTINCT src) AS sources FROM f GROUP BY ALL)
    SELECT src, dst, d, min(ts) AS ts, max(ts) AS end_ts, sum(size) AS bytes,
           array_slice(list_sort(list(DISTINCT name)), 1, 10) AS files,
           bool_or(action ILIKE '%write%') AS pushed, any_value(pair_days) AS pair_days,
           any_value(case_days) AS case_days, {evidence_sql('zeek_smb_files')} AS ev
    FROM f JOIN pair USING (src, dst) JOIN fan_in USING (dst) CROSS JOIN span
    WHERE fan_in.sources <= {MAX_SOURCES}
    GROUP BY src, dst, d
    HAVING sum(size) >= {MIN_BYTES} AND any_value(pair_days) <= greatest(2, 0.1 * any_value(case_days))
    ORDER BY ts"""
    out = []
    for r in ctx.rows(sql):
        # the acting host is the SMB client either way; the addresses follow the data: a read moves the
        # files from the server (the responder) to the client
        data_from, data_to = (r["src"], r["dst"]) if r["pushed"] else (r["dst"], r["src"])
        verb = "pushed to" if r["pushed"] else "read from"
        why = (f"{r['bytes']:,} bytes of files {verb} {ctx.name_of(r['dst']) or r['dst']} over SMB "
               f"({', '.join(str(x) for x in r['files'])}); these hosts exchange files on {r['pair_days']} "
               f"day(s) of the case")
        out.append(alert(r["ts"], "file_transfer", "staging", 35.0, why, r["ev"], nbytes=r["bytes"], files=r["files"],
                         end_ts=r["end_ts"], host=ctx.actor(None, r["src"]),
                         src_ip=data_from, dst_ip=data_to, dst_host=ctx.actor(None, r["dst"])))
    return out


DETECTOR = Detector("transfers", (("zeek_smb_files", ("id.orig_h", "id.resp_h", "size", "name")),), run,
                    "files moved over SMB between hosts that rarely exchange files")

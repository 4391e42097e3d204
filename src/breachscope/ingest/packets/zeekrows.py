"""Rows of the Zeek-shaped tables a capture fills: `zeek_dns`, `zeek_http`, `zeek_ssl`.

Each table is laid out from the field list Zeek itself declares for that log (the `#fields`/`#types`
header of Zeek 6's dns.log, http.log and ssl.log), through the Zeek reader's own layout code
(`zeek.layout.spec_for`, `assemble`): the same column names (`host` stored as `host_header`...), types
and core columns as a Zeek log of the same type, so a case holding Zeek logs and captures has one
table per log type. Fields a capture does not give stay null.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from breachscope.ingest.context import ReadContext
from breachscope.ingest.zeek.layout import Spec, assemble, spec_for
from breachscope.model.schema import TS, zeek_type

_ID = (("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
       ("id.resp_p", "port"))

DECLARED: dict[str, tuple[tuple[str, str], ...]] = {
    "dns": (*_ID, ("proto", "enum"), ("trans_id", "count"), ("rtt", "interval"), ("query", "string"),
            ("qclass", "count"), ("qclass_name", "string"), ("qtype", "count"), ("qtype_name", "string"),
            ("rcode", "count"), ("rcode_name", "string"), ("AA", "bool"), ("TC", "bool"), ("RD", "bool"),
            ("RA", "bool"), ("Z", "count"), ("answers", "vector[string]"), ("TTLs", "vector[interval]"),
            ("rejected", "bool")),
    "http": (*_ID, ("trans_depth", "count"), ("method", "string"), ("host", "string"), ("uri", "string"),
             ("referrer", "string"), ("version", "string"), ("user_agent", "string"), ("origin", "string"),
             ("request_body_len", "count"), ("response_body_len", "count"), ("status_code", "count"),
             ("status_msg", "string"), ("info_code", "count"), ("info_msg", "string"), ("tags", "set[enum]"),
             ("username", "string"), ("password", "string"), ("proxied", "set[string]"),
             ("orig_fuids", "vector[string]"), ("orig_filenames", "vector[string]"),
             ("orig_mime_types", "vector[string]"), ("resp_fuids", "vector[string]"),
             ("resp_filenames", "vector[string]"), ("resp_mime_types", "vector[string]")),
    "ssl": (*_ID, ("version", "string"), ("cipher", "string"), ("curve", "string"), ("server_name", "string"),
            ("resumed", "bool"), ("last_alert", "string"), ("next_protocol", "string"), ("established", "bool"),
            ("ssl_history", "string"), ("cert_chain_fps", "vector[string]"),
            ("client_cert_chain_fps", "vector[string]"), ("sni_matches_cert", "bool"),
            ("validation_status", "string")),
}


class ZeekRows:
    """Rows of one Zeek-shaped table, as dicts of Zeek field names, made into batches of its layout."""

    def __init__(self, path: str, ctx: ReadContext) -> None:
        self.spec: Spec = spec_for(path, "zeek_" + path, DECLARED[path])
        self.ctx = ctx
        self.rows: list[dict[str, Any]] = []
        self.records: list[int] = []

    @property
    def table(self) -> str:
        return self.spec.table

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: dict[str, Any], record: int) -> None:
        self.rows.append(row)
        self.records.append(record)

    def flush(self) -> pa.RecordBatch:
        rows, n = self.rows, len(self.rows)
        arrays = []
        for name, _col, ztype in self.spec.fields:
            values = [r.get(name) for r in rows]
            if ztype == "time":
                arrays.append(pa.array(values, pa.int64()).cast(TS))
            else:
                arrays.append(pa.array(values, zeek_type(ztype)))
        batch = assemble(self.spec, arrays, n, self.records, self.ctx)
        self.rows, self.records = [], []
        return batch

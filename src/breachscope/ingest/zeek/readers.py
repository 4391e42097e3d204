"""Zeek logs: the TSV format of Zeek's ASCII writer (`#fields`/`#types` headers) and JSON lines.

One table per log type, `zeek_<path>` (zeek_conn, zeek_dns...): the core columns, then every field of
the log under its Zeek name (`id.orig_h` stays dotted), typed from the `#types` header (TSV) or, for
JSON, from a short list of fields whose JSON value does not tell their type plus the values seen.
See docs/formats/zeek.md for the type mapping and the core columns per log type.

Speed: no Python work per line. The file is cut into lines in Arrow a few MiB at a time, and a
batch of lines is split and typed by Arrow's CSV parser (TSV, no quoting) or JSON parser in C++;
a batch those parsers refuse (a value not of its type, a bad line) takes a slower general path that
finds the culprits. Values that do not parse as their declared type become null and are counted in
a warning; only a line with the wrong number of fields (TSV) or that is not a JSON object is rejected.

The work is split by what it is about; this module holds the two readers:
- layout: log type and table names, column names, table layout, core columns per log type
- values: value conversion shared by both formats (times, integers, escapes, JSON values)
- lines: lines cut from the file in Arrow, collected into batches
- tsv: TSV headers, column typing, Arrow's CSV parser and the general path
- json_log: JSON typing and inference, Arrow's JSON parser and the line-by-line path
"""

from __future__ import annotations

from breachscope.ingest.reader import Reader
from breachscope.ingest.zeek.json_log import read_json, sniff_json
from breachscope.ingest.zeek.layout import FAMILY, KNOWN_LOGS, UNKNOWN_PATH, Tables, log_type_from_name
from breachscope.ingest.zeek.tsv import read_tsv, sniff_tsv

_Tables = Tables  # the name callers used before the split

__all__ = ["FAMILY", "KNOWN_LOGS", "READER_JSON", "READER_TSV", "UNKNOWN_PATH", "Tables", "log_type_from_name",
           "read_json", "read_tsv", "sniff_json", "sniff_tsv"]

READER_TSV = Reader(
    name="zeek_tsv",
    family=FAMILY,
    description="Zeek logs in the default TSV format (#fields/#types headers), incl. Stratosphere *.labeled",
    sniff=sniff_tsv,
    read=read_tsv,
)

READER_JSON = Reader(
    name="zeek_json",
    family=FAMILY,
    description="Zeek logs as JSON lines (LogAscii::use_json, json-streaming-logs with _path)",
    sniff=sniff_json,
    read=read_json,
)

"""MariaDB Audit Plugin (server_audit) file log lines, as plugin/server_audit/server_audit.c writes them with
server_audit_events = 'CONNECT,QUERY,TABLE' and server_audit_output_type = file:

    20250205 01:00:03,db-host,app,10.0.0.5,1234,0,CONNECT,orders,,0
    20250205 01:00:03,db-host,app,10.0.0.5,1234,5678,READ,orders,customers,
    20250205 01:00:03,db-host,app,10.0.0.5,1234,5678,QUERY,orders,'SELECT ...',0
    20250205 01:00:09,db-host,app,10.0.0.5,1234,0,DISCONNECT,orders,,0

log_header(): the time is the host's local time to the second (localtime_r; the simulated database host's
clock runs in UTC), then the server's host name, the user, the client (its address: skip_name_resolve),
the connection id and the query id (0 for connection events; a table event carries the id of the
statement that opened the table, and comes before that statement's QUERY record, which is written when
the statement ends). escape_string(): `'` and `\\` are escaped with a backslash, a line break, carriage
return or tab becomes a space. Statements longer than server_audit_query_log_limit are cut by the
server: the simulator refuses them instead (none of its statements comes near).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.simulate import clock
from breachscope.simulate.text import Col, join

QUERY_LOG_LIMIT = 1024  # server_audit_query_log_limit (the default), in bytes


def local_time(ts_us: np.ndarray) -> pa.Array:
    """`20250205 01:00:03` (%04d%02d%02d %02d:%02d:%02d) of a UTC clock, from the ISO text."""
    iso = clock.iso_utc_us(ts_us)  # 2025-02-05T01:00:03.410530Z
    day = pc.replace_substring(pc.utf8_slice_codeunits(iso, 0, 10), "-", "")
    return join(day, " ", pc.utf8_slice_codeunits(iso, 11, 19))


def escape(text: str) -> str:
    """escape_string() of the plugin (the statement inside its single quotes)."""
    if len(text.encode()) > QUERY_LOG_LIMIT:
        raise ValueError(f"statement of {len(text.encode())} bytes: server_audit would cut it at "
                         f"{QUERY_LOG_LIMIT}")
    out = text.replace("\\", "\\\\").replace("'", "\\'")
    for c in "\r\n\t":
        out = out.replace(c, " ")
    return out


def escape_arr(arr: pa.Array) -> pa.Array:
    if len(arr) and int(pc.max(pc.binary_length(arr)).as_py()) > QUERY_LOG_LIMIT:
        raise ValueError(f"a statement longer than server_audit_query_log_limit ({QUERY_LOG_LIMIT} bytes)")
    out = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), "'", "\\'")
    return pc.replace_substring_regex(out, "[\r\n\t]", " ")


def records(ts_us: np.ndarray, server: Col, user: Col, client: Col, connection: Col, query_id: Col, op: Col,
            database: Col, tail: Col) -> pa.Array:
    """`tail` is what follows the database field: `,0` (connection events: no object, status 0),
    `table,` (table events: no return code) or `'escaped statement',0` (QUERY)."""
    return join(local_time(ts_us), ",", server, ",", user, ",", client, ",", connection, ",", query_id, ",", op,
                ",", database, ",", tail, "\n")


def query_tail(escaped: Col, retcode: str = "0") -> Col:
    return join("'", escaped, "',", retcode)


def query_ids(ts_us: np.ndarray) -> np.ndarray:
    """The server's query id (a global counter that grows with every statement): one per millisecond of the
    period (a busy server), so that ids grow with time and two statements seldom share one."""
    return (np.asarray(ts_us, dtype=np.int64) - clock.START) // 1_000 + 4_000_000


__all__ = ["QUERY_LOG_LIMIT", "escape", "escape_arr", "local_time", "query_ids", "query_tail", "records"]


def table_of(relation: str) -> str:
    """The table field of a TABLE record: the table's bare name (`public."order"` -> order)."""
    return relation.rsplit(".", 1)[-1].strip('"')

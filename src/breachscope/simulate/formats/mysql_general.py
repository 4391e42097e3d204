"""MySQL 8 general query log lines, as File_query_log::write_general writes them with
log_timestamps = UTC (the default): `2025-02-05T01:00:03.410530Z\\t   12 Query\\tSELECT ...\\n`.

The time is when the server received the command (UTC, microseconds), the thread id is right-aligned in
5 columns (`%5u `), the argument is written as received: a statement that holds line breaks goes on over
the next lines, which have no time, id or command. The header below is written each time the server opens
the file (start-up, and the `mysqladmin flush-logs` of the nightly logrotate job).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.text import Col, join, lpad

VERSION = "8.0.40 (MySQL Community Server - GPL)"
HEADER = (f"/usr/sbin/mysqld, Version: {VERSION}. started with:\n"
          "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n"
          "Time                 Id Command    Argument\n")
#: get_vio_type_name(): MySQL 8 clients (Connector/NET, the mysql client) use TLS when the server offers it
VIA_TLS = "SSL/TLS"


def thread_field(thread: Col) -> Col:
    """`%5u `: right-aligned in 5 columns, longer ids as they are."""
    if isinstance(thread, str):
        return f"{thread:>5} "
    return join(lpad(thread, 5, " "), " ")


def records(ts_us: np.ndarray, thread: Col, command: Col, argument: Col) -> pa.Array:
    """One record per row, each ending in a newline (the argument may hold line breaks)."""
    return join(clock.iso_utc_us(ts_us), "\t", thread_field(thread), command, "\t", argument, "\n")


def connect_argument(user: Col, client: Col, database: Col, via: str = VIA_TLS) -> Col:
    """`user@host on db using TCP/IP` (sql_authentication.cc); host is the address (skip_name_resolve)."""
    return join(user, "@", client, " on ", database, " using ", via)


__all__ = ["HEADER", "VIA_TLS", "connect_argument", "records", "thread_field"]

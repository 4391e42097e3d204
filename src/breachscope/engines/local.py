"""Every DuckDB connection of breachscope is opened here, with one policy:

- `connect()`: a new private in-memory connection for one job (a scan, an aggregation, a snapshot, a
  case); its owner closes it. DuckDB's own progress bar is off (it writes to stdout, even a pipe).
- `scratch()`: this process's shared scratch connection, for short stateless work (checking a regular
  expression, evaluating patterns over values). Keyed by process id: a process forked from one that
  had it opens its own instead of using the parent's (a connection is not shared across fork), so no
  module needs to open one at import time or track the fork itself.

A process pool whose workers use DuckDB starts them with "forkserver", never "fork" from a process that
has run DuckDB: a child forked while the parent's DuckDB threads held their locks crashed opening its
connection (detect/sigma/ruleset.py's compile pool).
"""

from __future__ import annotations

import os

import duckdb

_scratch: dict[int, duckdb.DuckDBPyConnection] = {}


def connect(utc: bool = False, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection; `utc`: its session time zone is UTC."""
    con = duckdb.connect(":memory:")
    if utc:
        con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # DuckDB's own bar goes to stdout, even a pipe
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def scratch() -> duckdb.DuckDBPyConnection:
    """This process's scratch connection (opened on first use, and again in a forked child)."""
    pid = os.getpid()
    con = _scratch.get(pid)
    if con is None:
        _scratch.clear()  # the parent's, inherited by fork: never used here
        con = _scratch[pid] = connect()
    return con

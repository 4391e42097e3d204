"""Many RE2 expressions over many values in one vectorized pass.

DuckDB's regexp_matches is RE2 (linear time, the syntax the rule loader validated patterns with), so
the prefilter and the per-value leaf decisions use it instead of one Python call per (pattern, value):
measured 0.58 s -> 0.04 s for 52 patterns over 1,087 command lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from breachscope.engines.local import scratch

_CHUNK = 256  # patterns per query (one result column each)


def regex_hits(patterns: Sequence[str], texts: Sequence[str]) -> list[list[int]]:
    """For each pattern (inline flags included), the indices of the texts it matches (search)."""
    if not patterns or not texts:
        return [[] for _ in patterns]
    con = scratch()  # this process's own (engines/local.py)
    con.register("bs_regex_values", pa.table({"v": pa.array(list(texts), pa.string())}))
    try:
        out: list[list[int]] = []
        for start in range(0, len(patterns), _CHUNK):
            chunk = list(patterns[start:start + _CHUNK])
            exprs = ", ".join(f"regexp_matches(v, ${i + 1}) AS r{i}" for i in range(len(chunk)))
            table = con.sql(f"SELECT {exprs} FROM bs_regex_values", params=chunk).to_arrow_table()
            out.extend(pc.indices_nonzero(pc.fill_null(table.column(i), False)).to_pylist()
                       for i in range(len(chunk)))
        return out
    finally:
        con.unregister("bs_regex_values")

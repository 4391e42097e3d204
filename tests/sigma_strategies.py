"""Hypothesis strategies for Sigma trees and events over one small table (shared by property tests)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.fields import TableInfo

SCHEMA = pa.schema([
    ("rid", pa.int64()),
    ("s1", pa.string()),
    ("s2", pa.string()),
    ("n1", pa.int64()),
    ("ip", pa.string()),
    ("l1", pa.list_(pa.string())),
    ("extra", pa.map_(pa.string(), pa.string())),
])
INFO = TableInfo.from_schema("t", SCHEMA)
FIELDS = ["s1", "s2", "n1", "ip", "l1", "k1", "k2", "missing"]  # k1/k2 live in the extra map

_chars = st.sampled_from([*"abAB*?\\%_'. -é\n\x02\x03", "xyz", "Xy"])  # \x02\x03: prefilter sentinels
text = st.lists(_chars, max_size=5).map("".join)
ips = st.sampled_from(["10.0.0.1", "10.1.2.3", "192.168.1.10", "8.8.8.8", "010.0.0.1", "fe80::1", "::1",
                       "2001:db8::5", "fd12:3456::1", "not-an-ip", "", "10.0.0.256"])


@st.composite
def events(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=1, max_value=8))
    out = []
    for i in range(n):
        extra = draw(st.none() | st.dictionaries(st.sampled_from(["k1", "k2", "K1"]), st.none() | text, max_size=3))
        out.append({
            "rid": i,
            "s1": draw(st.none() | text), "s2": draw(st.none() | text),
            "n1": draw(st.none() | st.integers(min_value=-3, max_value=20)),
            "ip": draw(st.none() | ips),
            "l1": draw(st.none() | st.lists(st.none() | text, max_size=3)),
            "extra": extra,
        })
    return out


def table_of(rows: list[dict[str, Any]]) -> pa.Table:
    fixed = []
    for r in rows:
        r2 = dict(r)
        if isinstance(r2["extra"], dict):
            r2["extra"] = list(r2["extra"].items())
        fixed.append(r2)
    return pa.Table.from_pylist(fixed, schema=SCHEMA)


def dict_event(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "extra": dict(row["extra"]) if row["extra"] is not None else None}


pattern_part = st.one_of(
    st.tuples(st.just(ir.LIT), st.lists(_chars, min_size=1, max_size=3).map("".join)),
    st.just((ir.ANY, "")), st.just((ir.ONE, "")),
)


def _norm(parts: list[tuple[int, str]]) -> ir.Pattern:
    out: list[tuple[int, str]] = []
    for k, t in parts:
        if k == ir.LIT and out and out[-1][0] == ir.LIT:
            out[-1] = (ir.LIT, out[-1][1] + t)
        elif k == ir.ANY and out and out[-1][0] == ir.ANY:
            continue
        else:
            out.append((k, t))
    return tuple(out)


field = st.sampled_from(FIELDS)
leaf = st.one_of(
    st.builds(ir.Str, st.none() | field, st.lists(pattern_part, min_size=1, max_size=4).map(_norm), st.booleans()),
    st.builds(ir.Regex, st.none() | field,
              st.sampled_from(["a", "^a", "b$", "a.b", "[ab]+", "x|y", "^$", "A", r"\\", "é"]),
              st.sampled_from(["", "i", "m", "s", "im"])),
    st.builds(ir.Num, st.none() | field, st.integers(min_value=-2, max_value=20)),
    st.builds(ir.Cmp, field, st.sampled_from(["lt", "lte", "gt", "gte"]), st.integers(min_value=-2, max_value=20)),
    st.builds(ir.Cidr, field, st.sampled_from(["10.0.0.0/8", "10.0.0.0/24", "192.168.0.0/16", "fe80::/10",
                                               "::1/128", "fc00::/7", "2001:db8::/32"])),
    st.builds(ir.Null, field),
    st.builds(ir.Exists, field, st.booleans()),
)
trees = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda a: ir.And(tuple(a))),
        st.lists(children, min_size=2, max_size=3).map(lambda a: ir.Or(tuple(a))),
        children.map(ir.Not),
    ),
    max_leaves=6,
)

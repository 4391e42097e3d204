"""Property tests: the SQL engine (plain compiled SQL and the fast path) agrees with the reference
evaluator on generated Sigma trees and events."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.compiled import CompiledRule
from breachscope.detect.sigma.dialects import DUCKDB
from breachscope.detect.sigma.execute import execute
from breachscope.detect.sigma.fields import TableInfo
from breachscope.detect.sigma.logsources import Segment
from breachscope.detect.sigma.plan import RulePlan, Target
from breachscope.detect.sigma.reference import Reference
from breachscope.detect.sigma.sqlgen import SqlCompiler, source_sql
from breachscope.engines.duckdb_case import DuckDBEngine
from tests.sigma_strategies import INFO, dict_event, events, table_of, trees

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_rids(tree: ir.Node, rows: list[dict[str, object]]) -> set[int]:
    ref = Reference(INFO.resolver({}), INFO.keyword_refs())
    return {int(r["rid"]) for r in rows if ref.matches(tree, dict_event(r))}  # type: ignore[call-overload]


@SETTINGS
@given(tree=trees, rows=events())
def test_compiled_sql_agrees_with_reference(tree: ir.Node, rows: list[dict[str, object]]) -> None:
    engine = DuckDBEngine.from_arrow({"t": table_of(rows)})
    sql = SqlCompiler(DUCKDB, INFO.resolver({}), INFO.keyword_refs()).compile(tree)
    source = source_sql(DUCKDB, "t", INFO.keyword_refs(), keywords=True)
    got = {r[0] for r in engine.rows(f"SELECT rid FROM {source} WHERE {sql}")}
    assert got == reference_rids(tree, rows), sql


@SETTINGS
@given(tree=trees, rows=events())
def test_fast_path_agrees_with_reference(tree: ir.Node, rows: list[dict[str, object]]) -> None:
    engine = DuckDBEngine.from_arrow({"t": table_of(rows)})
    rule = CompiledRule(kind="rule", id="r1", name=None, title="generated", path="-", line=1,
                        condition=ir.to_json(tree))
    seg = Segment("t", ir.Const(True), "all rows")
    plan = RulePlan(groups={("t", "all rows"): [Target(rule, seg, tree)]}, where={("t", "all rows"): ir.Const(True)})
    for strategy in ("fast", "sql"):
        matches, _stats = execute(engine, plan, {"t": INFO}, strategy)
        assert {int(m.row["rid"]) for m in matches} == reference_rids(tree, rows), (strategy, tree)


_IDS_SCHEMA = table_of([]).schema.append(pa.field("src_sha256", pa.string())).append(pa.field("src_record", pa.int64()))
_IDS_INFO = TableInfo.from_schema("t", _IDS_SCHEMA)


@SETTINGS
@given(tree=trees, rows=events(), ids=st.lists(st.tuples(st.sampled_from(["f1", "f2", None]),
                                                         st.sampled_from([1, 2, 3, None])), min_size=8, max_size=8))
def test_fast_path_fetches_matched_rows_by_identity_only_when_it_is_one(
        tree: ir.Node, rows: list[dict[str, object]], ids: list[tuple[str | None, int | None]]) -> None:
    """Matched rows come back by (file hash, record) when each names one row; shared or missing
    identities (drawn here from a small pool) must fall back to the keys, never return another row."""
    table = table_of(rows)
    table = table.append_column("src_sha256", pa.array([s for s, _ in ids[:len(rows)]], pa.string()))
    table = table.append_column("src_record", pa.array([r for _, r in ids[:len(rows)]], pa.int64()))
    engine = DuckDBEngine.from_arrow({"t": table})
    rule = CompiledRule(kind="rule", id="r1", name=None, title="generated", path="-", line=1,
                        condition=ir.to_json(tree))
    seg = Segment("t", ir.Const(True), "all rows")
    plan = RulePlan(groups={("t", "all rows"): [Target(rule, seg, tree)]}, where={("t", "all rows"): ir.Const(True)})
    matches, _stats = execute(engine, plan, {"t": _IDS_INFO}, "fast")
    got = sorted(int(m.row["rid"]) for m in matches)  # type: ignore[call-overload]
    assert got == sorted(reference_rids(tree, rows)), tree

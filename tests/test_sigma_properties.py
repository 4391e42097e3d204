"""Property tests: the SQL engine (plain compiled SQL and the fast path) agrees with the reference
evaluator on generated Sigma trees and events."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from breachscope.detect.sigma import fastpath, ir
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
_CONTAINS_AB = ir.Str("s1", ((ir.ANY, ""), (ir.LIT, "ab"), (ir.ANY, "")))


def _fast_matches(rows: list[dict[str, object]], ids: list[tuple[str | None, int | None]], tree: ir.Node,
                  monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[bool]]:
    """rids the fast path matches on rows with these identities, and whether each fetch by identity held."""
    table = table_of(rows)
    table = table.append_column("src_sha256", pa.array([s for s, _ in ids], pa.string()))
    table = table.append_column("src_record", pa.array([r for _, r in ids], pa.int64()))
    fetched: list[bool] = []
    by_id = fastpath._rows_by_id

    def spy(*args: Any) -> Any:
        got = by_id(*args)
        fetched.append(got is not None)
        return got

    monkeypatch.setattr(fastpath, "_rows_by_id", spy)
    rule = CompiledRule(kind="rule", id="r1", name=None, title="generated", path="-", line=1,
                        condition=ir.to_json(tree))
    seg = Segment("t", ir.Const(True), "all rows")
    plan = RulePlan(groups={("t", "all rows"): [Target(rule, seg, tree)]}, where={("t", "all rows"): ir.Const(True)})
    matches, _stats = execute(DuckDBEngine.from_arrow({"t": table}), plan, {"t": _IDS_INFO}, "fast")
    return sorted(int(m.row["rid"]) for m in matches), fetched  # type: ignore[call-overload]


@pytest.mark.parametrize("ids, by_identity", [
    ([("f1", 1), ("f1", 2), ("f2", 1), ("f2", 2)], True),  # each identity names one row
    ([("f1", 1), ("f1", 1), ("f2", 1), ("f2", 2)], False),  # two rows share one: back by their keys
    ([("f1", 1), (None, 2), ("f2", 1), ("f2", 2)], False),  # a matched row has none
    ([("f1", 1), ("f1", 2), ("f2", 1), ("f1", 1)], False),  # a row that is no candidate shares one
])
def test_fast_path_fetches_matched_rows_by_identity_only_when_it_is_one(
        ids: list[tuple[str | None, int | None]], by_identity: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"rid": i, "s1": v, "s2": None, "n1": None, "ip": None, "l1": None, "extra": None}
            for i, v in enumerate(["xaby", "ab", "nothing", "zzz"])]
    got, fetched = _fast_matches(rows, ids, _CONTAINS_AB, monkeypatch)
    assert got == [0, 1] == sorted(reference_rids(_CONTAINS_AB, rows))
    assert fetched == [by_identity]

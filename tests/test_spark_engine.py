"""The Spark engine gives the same answers as DuckDB: generated rules and events (compiled SQL and the
fast path), the whole SigmaHQ Windows rule set over real EVTX, correlations, hostile regular expressions, `hunt --engine
spark` end to end. Local Spark (Java 17 and pyspark are installed by .ci/run and the dev extra)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.detect.sigma import ir
from breachscope.detect.sigma.compiled import CompiledRule
from breachscope.detect.sigma.dialects import DUCKDB, SPARK
from breachscope.detect.sigma.execute import execute
from breachscope.detect.sigma.hunt import hunt
from breachscope.detect.sigma.logsources import Segment
from breachscope.detect.sigma.plan import RulePlan, Target
from breachscope.detect.sigma.ruleset import load_ruleset
from breachscope.detect.sigma.sqlgen import SqlCompiler, source_sql
from breachscope.engines.duckdb_case import DuckDBEngine, open_case
from breachscope.engines.spark_case import SparkEngine, open_spark_case, spark_session
from tests.conftest import run_ingest
from tests.sigma_strategies import INFO, events, table_of, trees
from tests.test_sigma_engine import FAILED, SUCCESS, correlation, logon

SHARED = Path(__file__).resolve().parents[2] / "shared"
EVTX = SHARED / "datasets" / "evtx-attack-samples"
SIGMA = SHARED / "sigma"
RULES = SIGMA / "rules" / "windows"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    spark, owned = spark_session("local[2]")
    yield spark
    if owned:
        spark.stop()


def finding_keys(rows: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    return sorted((r["rule_id"], r["kind"], r["src_file"], str(r["src_record"]), r["group_key"],
                   r.get("event_count"), r["ts"]) for r in rows)


@SETTINGS
@given(tree=trees, rows=events())
def test_spark_sql_agrees_with_duckdb(session: Any, tree: ir.Node, rows: list[dict[str, object]]) -> None:
    table = table_of(rows)
    got = {}
    for dialect, engine in ((DUCKDB, DuckDBEngine.from_arrow({"t": table})),
                            (SPARK, SparkEngine.from_arrow({"t": table}, session))):
        with engine:
            sql = SqlCompiler(dialect, INFO.resolver({}), INFO.keyword_refs()).compile(tree)
            source = source_sql(dialect, "t", INFO.keyword_refs(), keywords=True)
            got[dialect.name] = set(engine.query(f"SELECT rid FROM {source} WHERE {sql}").column("rid").to_pylist())
    assert got["spark"] == got["duckdb"], tree


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(tree=trees, rows=events())
def test_spark_fast_path_agrees_with_duckdb(session: Any, tree: ir.Node, rows: list[dict[str, object]]) -> None:
    table = table_of(rows)
    rule = CompiledRule(kind="rule", id="r1", name=None, title="generated", path="-", line=1,
                        condition=ir.to_json(tree))
    seg = Segment("t", ir.Const(True), "all rows")
    plan = RulePlan(groups={("t", "all rows"): [Target(rule, seg, tree)]}, where={("t", "all rows"): ir.Const(True)})
    got = {}
    for name, engine in (("duckdb", DuckDBEngine.from_arrow({"t": table})),
                         ("spark", SparkEngine.from_arrow({"t": table}, session))):
        with engine:
            matches, _stats = execute(engine, plan, {"t": INFO}, "fast")
            got[name] = {int(m.row["rid"]) for m in matches}
    assert got["spark"] == got["duckdb"], tree


@pytest.fixture(scope="module")
def evtx_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("spark") / "case"
    run_ingest([EVTX / "Lateral Movement", EVTX / "Credential Access"], case)
    return case


def test_whole_sigmahq_windows_rule_set_on_real_evtx_same_findings(session: Any, evtx_case: Path) -> None:
    """Every SigmaHQ Windows rule (rules*/windows) on 2,032 real events, fast path on both engines."""
    rules = sorted(SIGMA.glob("rules*/windows"))
    ruleset = load_ruleset(rules)
    with open_case(evtx_case) as c:
        expected = hunt(c, rules, ruleset=ruleset)
    with open_spark_case(evtx_case, session=session) as sc:
        got = hunt(sc, rules, ruleset=ruleset)
    assert expected.plan.rule_count > 2000 and got.plan.rule_count == expected.plan.rule_count
    assert expected.findings.num_rows > 300  # the samples do hold attacks these rules catch
    assert finding_keys(got.findings.to_pylist()) == finding_keys(expected.findings.to_pylist())
    assert [json.loads(e) for e in got.findings.column("event").to_pylist()] == [
        json.loads(e) for e in expected.findings.column("event").to_pylist()]
    assert got.summary()["skipped"] == expected.summary()["skipped"]
    # more fields than one Spark GROUPING SETS query may hold (64): the value lists were split
    assert got.stats.value_fields > 64 and got.stats.value_queries > expected.stats.value_queries


def test_correlations_same_on_spark(session: Any, tmp_path: Path) -> None:
    lines = ([logon(m, 4625, "alice") for m in (8, 12, 16)] + [logon(m, 4625, "bob") for m in (0, 30, 60, 90)]
             + [logon(i, 4625, u, ip="10.9.9.9") for i, u in enumerate(["u1", "u2", "u3", "u4"])]
             + [logon(30, 4625, "alice"), logon(31, 4624, "alice"), logon(40, 4624, "carol"), logon(41, 4625, "carol")])
    ev = tmp_path / "ev.json"
    ev.write_text("\n".join(lines) + "\n")
    run_ingest([ev], tmp_path / "case")
    rules = tmp_path / "rules.yml"
    rules.write_text("\n---\n".join([
        FAILED, SUCCESS,
        correlation("  type: event_count\n  rules: [failed_logon]\n  group-by: [TargetUserName]\n"
                    "  timespan: 10m\n  condition: {gte: 3}\n", "brute force"),
        correlation("  type: value_count\n  rules: [failed_logon]\n  group-by: [IpAddress]\n  timespan: 10m\n"
                    "  condition: {field: TargetUserName, gte: 4}\n", "spray"),
        correlation("  type: temporal_ordered\n  rules: [failed_logon, successful_logon]\n"
                    "  group-by: [TargetUserName]\n  timespan: 5m\n  generate: true\n", "fail then success"),
    ]))
    with open_case(tmp_path / "case") as c:
        expected = hunt(c, [rules]).findings.to_pylist()
    with open_spark_case(tmp_path / "case", session=session) as sc:
        got = hunt(sc, [rules]).findings.to_pylist()
    assert len([f for f in expected if f["kind"] == "sigma_correlation"]) == 3
    assert finding_keys(got) == finding_keys(expected)


def test_hostile_regex_runs_in_linear_time_on_spark(session: Any, tmp_path: Path) -> None:
    # java.util.regex backtracks exponentially on (a+)+b over a long run of a's; RE2 does not
    ev = tmp_path / "ev.json"
    ev.write_text(logon(1, 4625, "a" * 5000) + "\n" + logon(2, 4625, "a" * 40 + "b") + "\n")
    run_ingest([ev], tmp_path / "case")
    rules = tmp_path / "re.yml"
    rules.write_text(FAILED.replace("sel: {EventID: 4625}", "sel: {EventID: 4625, TargetUserName|re: '(a+)+b'}")
                     .replace("name: failed_logon", "name: nested_quantifier"))
    started = time.perf_counter()
    with open_spark_case(tmp_path / "case", session=session) as sc:
        found = hunt(sc, [rules]).findings.to_pylist()
    assert [len(str(f["user"])) for f in found] == [41]
    assert time.perf_counter() - started < 120


def test_hunt_command_with_engine_spark(session: Any, evtx_case: Path, tmp_path: Path) -> None:
    rules = str(RULES / "process_creation")
    out = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}.jsonl"
        result = CliRunner().invoke(app, ["hunt", str(evtx_case), "--rules", rules, "--engine", engine,
                                          "--format", "jsonl", "--out", str(target), "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        out[engine] = (summary["findings"], sorted(target.read_text().splitlines()))
    assert out["spark"][0] == out["duckdb"][0] > 0
    # the same findings, field for field, apart from the finding's own run-independent id order
    spark_rows = sorted(json.dumps(_comparable(json.loads(x)), sort_keys=True) for x in out["spark"][1])
    duck_rows = sorted(json.dumps(_comparable(json.loads(x)), sort_keys=True) for x in out["duckdb"][1])
    assert spark_rows == duck_rows


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("seconds",)}

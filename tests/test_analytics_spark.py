"""Every analytic gives the same findings on Spark as on DuckDB (one SQL, translated by sqlglot; Spark
local mode), on a small simulation with every episode."""

from __future__ import annotations

from pathlib import Path

from breachscope.detect.analytics import ANALYTICS
from breachscope.detect.analytics.runner import AnalyticsResult, run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns


def _comparable(res: AnalyticsResult) -> set[tuple]:
    return {(r["rule_id"], r["finding_id"], r["level"], r["host"], r["src_ip"], r["dst_ip"], r["ts"],
             r["event_count"], r["src_file"], r["src_record"])
            for r in res.findings.to_pylist()}


def test_spark_gives_the_same_findings(tmp_path: Path) -> None:
    from breachscope.engines.duckdb_case import open_case
    from breachscope.engines.spark_case import open_spark_case
    from breachscope.ingest.pipeline import ingest
    from breachscope.simulate import SimConfig, run
    from breachscope.simulate.config import EPISODES

    run(SimConfig(out=tmp_path / "sim", events=30_000, customers=1000, seed=3, episodes=EPISODES, jobs=1).validate())
    ingest([str(tmp_path / "sim" / "evidence")], tmp_path / "case", jobs=1)
    chosen = list(ANALYTICS.values())
    with open_case(tmp_path / "case") as c:
        on_duckdb = run_analytics(CaseContext(c, table_columns(c)), chosen)
    with open_spark_case(tmp_path / "case") as sc:
        on_spark = run_analytics(CaseContext(sc, table_columns(sc)), chosen)
    assert [(r.name, r.status) for r in on_spark.runs] == [(r.name, r.status) for r in on_duckdb.runs], on_spark.runs
    assert on_duckdb.findings.num_rows > 0
    assert _comparable(on_spark) == _comparable(on_duckdb)

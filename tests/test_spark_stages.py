"""Shared CTEs split into stages for Spark (engines/spark_stages.py): the staged query means what the
query meant. Checked by running both on DuckDB (the split is dialect-independent), on SQL shaped like the
analytics' (CTEs read by CTEs that are read twice, aliases, a CTE read once kept inline)."""

from __future__ import annotations

import duckdb

from breachscope.engines.spark_stages import staged

SQL = """
WITH raw AS (SELECT * FROM conn WHERE bytes > 0),
     pp AS (SELECT src, dst, count(*) AS n, sum(bytes) AS b FROM raw GROUP BY src, dst),
     addr AS (SELECT src AS a FROM pp UNION SELECT dst AS a FROM pp),
     once AS (SELECT a FROM addr WHERE a LIKE '10.%'),
     edge AS (SELECT p.* FROM pp AS p JOIN once AS s ON p.src = s.a JOIN addr AS d ON p.dst = d.a
              WHERE d.a NOT LIKE '10.%'),
     pop AS (SELECT dst, count(DISTINCT src) AS hosts FROM edge GROUP BY dst)
SELECT edge.src, edge.dst, edge.n, edge.b, pop.hosts,
       (SELECT count(*) FROM edge AS e2 WHERE e2.dst = edge.dst) AS same_dst
FROM edge JOIN pop ON edge.dst = pop.dst ORDER BY 1, 2
"""


def _db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE conn(src TEXT, dst TEXT, bytes BIGINT)")
    rows = [(f"10.0.0.{i % 7}", f"203.0.113.{i % 5}", i % 4) for i in range(200)]
    rows += [("10.0.0.1", "10.0.0.2", 9), ("192.0.2.1", "203.0.113.1", 5)]
    con.executemany("INSERT INTO conn VALUES (?, ?, ?)", rows)
    return con


def test_the_staged_query_gives_the_same_rows() -> None:
    con = _db()
    want = con.execute(SQL).fetchall()
    plan = staged(SQL, "st_", dialect="duckdb")
    assert [v for v, _ in plan.stages] == ["st_pp", "st_addr", "st_edge"]  # read twice or more (raw: once)
    assert "once AS" in plan.final  # read once: stays a CTE
    for view, body in plan.stages:
        con.execute(f'CREATE TEMP TABLE "{view}" AS {body}')
    assert con.execute(plan.final).fetchall() == want
    assert len(want) > 5


def test_sql_without_shared_ctes_is_left_alone() -> None:
    for sql in ("SELECT 1", "WITH a AS (SELECT 1 AS x) SELECT * FROM a", "not sql at all (", "SELECT * FROM t, t"):
        assert staged(sql, "st_") == staged(sql, "st_").__class__([], sql)


def test_a_table_named_like_a_cte_in_another_schema_is_not_renamed() -> None:
    plan = staged("WITH t AS (SELECT 1 AS x) SELECT * FROM t JOIN t AS u ON true JOIN other.t AS o ON true",
                  "st_", dialect="duckdb")
    assert [v for v, _ in plan.stages] == ["st_t"]
    assert "other.t" in plan.final


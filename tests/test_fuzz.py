"""Property/fuzz suite (CI part; bench/fuzz_bench.py runs >= 10^6 executions): mutated evidence through the
real ingest path for every registered reader, and mutated or generated SQL through scope's statement
parser and rewrite. No traceback, nothing written outside the case, a case that adds up (see
tests/fuzz_harness.py). Seeds: tests/fuzz_corpus/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachscope.ingest.registry import READERS
from tests import fuzz_harness as h

SEEDS = h.reader_seeds()
FOLDERS = sorted({s.folder for s in SEEDS})
SQL = h.sql_seeds()
FUZZ = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

ops = st.lists(st.tuples(st.sampled_from(("set", "insert", "delete", "repeat", "token", "truncate", "splice",
                                          "lines")),
                         st.floats(0, 1, allow_nan=False, exclude_max=True), st.integers(0, 4095),
                         st.integers(0, 65535)), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def sql_target(work: Path) -> Iterator[h.SqlTarget]:
    t = h.SqlTarget(work / "sql")
    yield t
    t.close()


def _assert_clean(o: h.Outcome) -> None:
    assert o.failure is None, f"{o.signature}\n{o.failure}\n{o.details}"


def test_every_reader_has_seeds_it_reads_cleanly(work: Path) -> None:
    assert {r.name for r in READERS} <= set(FOLDERS), "a registered reader without fuzz seeds"
    for s in SEEDS:
        if s.folder != "archive":
            assert h.sniffed(s.data, s.name) == s.folder, s.name
        o = h.run_ingest(s.data, s.name, work)
        _assert_clean(o)
        assert o.status == "ingested" and o.records > 0, (s.folder, s.name, o.details)


def test_every_sql_seed_runs_clean(sql_target: h.SqlTarget) -> None:
    kinds = set()
    for dialect, text in SQL:
        o = sql_target.run(text, dialect, "SELECT", ("5", "x", None))
        _assert_clean(o)
        kinds.add(o.status)
    assert kinds == {"read", "write", "destroy", "ignore", "unparsed"}  # the seeds reach every outcome


@pytest.mark.parametrize("folder", FOLDERS)
@FUZZ
@given(data=st.data(), mutations=ops, forced=st.booleans())
def test_mutated_evidence_through_ingest(work: Path, folder: str, data: st.DataObject, mutations: list[h.Op],
                                         forced: bool) -> None:
    seeds = [s for s in SEEDS if s.folder == folder]
    seed = data.draw(st.sampled_from(seeds))
    mutated = h.mutate(seed.data, mutations, [s.data for s in SEEDS])
    _assert_clean(h.run_ingest(mutated, seed.name, work, folder if forced and folder != "archive" else None))


@FUZZ
@given(seed=st.sampled_from(SEEDS), reader=st.sampled_from(h.READER_NAMES), name=st.sampled_from(h.FILE_NAMES))
def test_any_reader_forced_on_any_evidence(work: Path, seed: h.Seed, reader: str, name: str) -> None:
    """`ingest --format X` on what X cannot read: counted rejects or a clear error, never a traceback."""
    _assert_clean(h.run_ingest(seed.data, name, work, reader))


SQL_WORDS = ("SELECT", "FROM", "WHERE", "JOIN", "ON", "UNION", "WITH", "AS", "(", ")", ",", "*", "=", "'", '"',
             "$1", "?", "customers", "contacts", "contracts", "customer_id", "email", "COPY", "TO", "STDOUT",
             "PREPARE", "DECLARE", "CURSOR", "FOR", "INTO", "OUTFILE", "UPDATE", "SET", "DELETE", "USING",
             "INSERT", "VALUES", "GROUP", "BY", "ORDER", "LIMIT", "OFFSET", "IN", "NOT", "NULL", "LIKE", "::",
             "1", "-1", "1e5", "--", "/*", "*/", ";", "EXPLAIN", "ANALYZE", "LATERAL", "OVER", "CASE", "WHEN")


@FUZZ
@given(data=st.data(), dialect_pick=st.booleans(), mutations=ops,
       command=st.sampled_from(h.SqlTarget.COMMANDS),
       params=st.one_of(st.none(), st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=3).map(tuple)))
def test_mutated_sql_through_parser_and_rewrite(sql_target: h.SqlTarget, data: st.DataObject, dialect_pick: bool,
                                                mutations: list[h.Op], command: str | None,
                                                params: tuple[str | None, ...] | None) -> None:
    dialect, text = data.draw(st.sampled_from(SQL))
    mutated = h.mutate(text.encode(), mutations).decode("utf-8", "replace")
    _assert_clean(sql_target.run(mutated, dialect if dialect_pick else "mysql", command, params))


@settings(FUZZ, max_examples=60)
@given(words=st.lists(st.sampled_from(SQL_WORDS), max_size=30), dialect=st.sampled_from(("postgres", "mysql")))
def test_generated_sql_through_parser_and_rewrite(sql_target: h.SqlTarget, words: list[str], dialect: str) -> None:
    _assert_clean(sql_target.run(" ".join(words), dialect, "SELECT", ("1", "x")))


def test_deep_nesting_is_a_clear_outcome(sql_target: h.SqlTarget) -> None:
    """Recursion limits of the parser and the rewrite are reached on purpose: an unparsed statement."""
    for depth in (200, 3000):
        o = sql_target.run("SELECT * FROM customers WHERE " + "(" * depth + "customer_id = 1" + ")" * depth,
                           "postgres", "SELECT")
        _assert_clean(o)


def test_join_chain_without_on_is_unparsed_not_a_hang() -> None:
    """sqlglot's parser retries JOIN chains without ON exponentially (2^joins: 30 joins took hours, one
    MySQL statement could stop `scope`); a node budget makes such a statement unparsed, with its reason."""
    from breachscope.scope.sqlparse import READ, UNPARSED, parse_statement

    for joins in (16, 60):
        p = parse_statement("SELECT a FROM customers" + " JOIN contacts" * joins, "mysql")
        assert (p.kind, p.reason) == (UNPARSED, "parse failure: too complex for the parser"), joins
    with_on = "SELECT * FROM customers c " + " ".join(
        f"LEFT JOIN contacts t{i} ON t{i}.customer_id = c.customer_id" for i in range(60))
    assert parse_statement(with_on, "postgres").kind == READ


# --- the checks themselves can fail --------------------------------------------------------------------

def test_write_guard_refuses_and_reports_writes_outside_the_case(tmp_path: Path) -> None:
    guard = h.WriteGuard.get()
    inside, outside = tmp_path / "case", tmp_path / "elsewhere"
    inside.mkdir()
    before = len(guard.violations)
    with guard.watch(inside):
        (inside / "ok.txt").write_text("fine")
        with pytest.raises(PermissionError):
            outside.write_text("no")
        with pytest.raises(PermissionError):
            (inside / "ok.txt").rename(outside)
    assert not outside.exists() and len(guard.violations) == before + 2
    outside.write_text("not watched")  # outside a run, the guard is off


def test_unraisable_exceptions_count_as_tracebacks(tmp_path: Path) -> None:
    class Broken:
        def __del__(self) -> None:
            raise ValueError("printed on stderr")

    with h.WriteGuard.get().watch(tmp_path):
        Broken()
        assert h.Unraisable.seen and "ValueError" in h.Unraisable.seen[0]

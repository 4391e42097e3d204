"""The replay sandbox on the default (DuckDB/Parquet) snapshot: statements outside the allowlist are
never sent to the backend and are POTENTIAL with the function named; values the audit record fixes
are bound; the DuckDB connection is locked down; budgets turn runaway statements into POTENTIAL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from breachscope.model.exposure import IGNORED, REPLAYED, STMT_POTENTIAL
from breachscope.model.inventory import load_inventory
from breachscope.scope.backends import DuckDBBackend
from breachscope.scope.budget import Budget, OverBudget
from breachscope.scope.replay import Replayer
from tests import scopedata
from tests.sandboxkit import Recording, stmt

PG_VERSION = "PostgreSQL 15.4 (Debian 15.4-2.pgdg120+1) on x86_64-pc-linux-gnu, compiled by gcc, 64-bit"


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("sbx")
    return {"snapshot": scopedata.write_snapshot(root / "snapshot"),
            "inventory": load_inventory(scopedata.write_inventory(root / "inventory.yaml"))}


def replayer(snap: dict, budget: Budget | None = None, starts: list | None = None) -> tuple[Replayer, Recording]:
    rec = Recording(DuckDBBackend(snap["snapshot"], budget=budget))
    return Replayer(snap["inventory"], rec, budget, starts), rec


def outcome(r: Replayer, *stmts: object) -> list[tuple[str, str, int]]:
    """(outcome, reasons, subjects reached) per statement."""
    result = r.run(list(stmts))  # type: ignore[arg-type]
    out = []
    for i, o in enumerate(result.outcomes):
        idx = [e.index for e in result.exposures if e.statement_id == f"s{i + 1}"]
        keys = result.hits.filter(pc.is_in(result.hits["exposure"], value_set=pa.array(idx, pa.int32())))
        out.append((o.outcome, "; ".join(sorted(set(o.reasons))), len(set(keys["subject_key"].to_pylist()))))
    return out


@pytest.mark.parametrize(("text", "named"), [
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT c.email, t.* FROM contacts c, read_text('/etc/passwd') t", "read_text"),
    ("SELECT c.email FROM contacts c, read_csv('http://203.0.113.9/x.csv') x", "read_csv"),
    ("SELECT email FROM contacts ORDER BY random() LIMIT 5", "random"),
    ("SELECT c.email FROM contacts c, generate_series(1, 1e12) g", "generate_series"),
    ("SELECT lo_export(lo_from_bytea(0, convert_to(string_agg(email, ','), 'UTF8')), '/tmp/x') FROM contacts",
     "lo_export"),
    ("SELECT email FROM contacts WHERE pg_sleep(3600) IS NULL", "pg_sleep"),
    ("SELECT pg_terminate_backend(pg_backend_pid()), email FROM contacts", "pg_terminate_backend"),
    ("SELECT email, pg_read_file('/etc/passwd') FROM contacts", "pg_read_file"),
    ("SELECT email FROM contacts WHERE current_setting('port') = '5432'", "current_setting"),
    ("SELECT email FROM contacts WHERE evil.lower(email) = 'x'", "evil.lower"),
    ("SELECT email FROM contacts WHERE unknown_fn(email)", "unknown_fn"),
    ("SELECT CAST(email AS mytype) FROM contacts", "mytype"),
    ("SELECT email FROM contacts c JOIN pg_catalog.pg_class k ON true", "pg_class"),
    ("SELECT email FROM contacts c JOIN products p ON p.product_id = c.contact_id", "products"),
    ("SELECT email FROM contacts TABLESAMPLE BERNOULLI (10)", "TABLESAMPLE"),
])
def test_statement_outside_the_allowlist_is_never_sent(snap: dict, text: str, named: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # DuckDB would create ~/.duckdb/extensions on an auto-install
    r, rec = replayer(snap)
    (got, reasons, _), = outcome(r, stmt(text))
    assert got == STMT_POTENTIAL and named.lower() in reasons.lower(), reasons
    keyword = named.split(".")[-1].lower()
    assert not any(keyword in q.lower() for q in rec.sent), rec.sent  # only the whole-table reach ran
    assert not (tmp_path / ".duckdb").exists()


def test_forbidden_function_reading_no_table_is_flagged_not_run(snap: dict) -> None:
    r, rec = replayer(snap)
    assert outcome(r, stmt("SELECT pg_reload_conf()"), stmt("SELECT 1", 2)) == [
        (STMT_POTENTIAL, "function not allowed: pg_reload_conf (server administration); reads no personal-data table",
         0), (IGNORED, "reads no personal-data table", 0)]
    assert rec.sent == []


def test_environment_values_are_bound_to_the_audit_record(snap: dict) -> None:
    """Under DuckDB these returned nothing and were marked exact (0 subjects where PostgreSQL found all)."""
    r, _ = replayer(snap, starts=[(datetime(2025, 1, 1, tzinfo=UTC), PG_VERSION)])
    got = outcome(
        r,
        stmt("SELECT email FROM contacts WHERE version() LIKE 'PostgreSQL%'", 1),
        stmt("SELECT email FROM contacts WHERE current_database() = 'orders' AND contact_id < 11", 2),
        stmt("SELECT email FROM contacts WHERE current_user = 'mallory' AND contact_id < 6", 3),
        stmt("SELECT email FROM contacts WHERE now() > '2025-02-05 00:59:00+00' AND contact_id < 4", 4),
        stmt("SELECT email FROM contacts WHERE current_date = '2025-02-05' AND contact_id < 3", 5,
             ts=datetime(2025, 2, 4, 15, 30, tzinfo=UTC), ts_text="2025-02-05 00:30:00.000 JST"),
        stmt("SELECT `email` FROM contacts WHERE DATABASE() = 'orders' AND contact_id < 8", 6, dialect="mysql_general"),
        stmt("SELECT email FROM contacts WHERE USER() = 'mallory@10.0.0.9' AND contact_id < 9", 7,
             dialect="mysql_general"),
        stmt("SELECT email FROM contacts WHERE current_user = 'postgres'", 8),
    )
    assert got == [(REPLAYED, "", 60), (REPLAYED, "", 10), (REPLAYED, "", 5), (REPLAYED, "", 3), (REPLAYED, "", 2),
                   (REPLAYED, "", 7), (REPLAYED, "", 8), (REPLAYED, "", 0)]


def test_a_value_the_record_does_not_fix_makes_the_statement_potential(snap: dict) -> None:
    r, rec = replayer(snap)  # no server start line in the case: version() is not known
    got = outcome(r, stmt("SELECT email FROM contacts WHERE version() LIKE 'PostgreSQL%'"),
                  stmt("SELECT email FROM contacts WHERE CURRENT_USER() LIKE 'm%'", 2, dialect="mysql_general"),
                  stmt("SELECT email FROM contacts WHERE now() > '2025-01-01'", 3, ts=None))
    assert [g[0] for g in got] == [STMT_POTENTIAL] * 3
    assert "version(): the server version is not in the case" in got[0][1] and got[0][2] == 60  # never 0
    assert "host pattern" in got[1][1] and "statement time" in got[2][1]
    assert not any("version" in q.lower() for q in rec.sent)


def test_same_text_at_other_times_is_bound_apart(snap: dict) -> None:
    text = "SELECT email FROM contacts WHERE contact_id < 10 AND now() < '2025-02-05 12:00:00+00'"
    r, _ = replayer(snap)
    got = outcome(r, stmt(text, 1), stmt(text, 2, ts=datetime(2025, 2, 6, tzinfo=UTC)), stmt(text, 3))
    assert got == [(REPLAYED, "", 9), (REPLAYED, "", 0), (REPLAYED, "", 9)]


def test_duckdb_is_locked_down(snap: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    b = DuckDBBackend(snap["snapshot"])
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')",
                "SELECT * FROM read_csv('http://203.0.113.9/x.csv')", "SET enable_external_access = true",
                "SET memory_limit = '100GB'", "INSTALL httpfs", "LOAD httpfs", "COPY contacts TO '/tmp/x.csv'"):
        with pytest.raises(Exception):  # noqa: B017 (each is refused by DuckDB with its own error)
            b.query(sql)
    assert not (tmp_path / ".duckdb").exists()
    assert b.query("SELECT count(*) AS n FROM contacts").column("n").to_pylist() == [60]


def test_time_memory_and_row_budgets(snap: dict) -> None:
    b = DuckDBBackend(snap["snapshot"], budget=Budget(statement_seconds=0.5))
    with pytest.raises(OverBudget, match="time budget"):
        b.query("SELECT count(*) FROM range(10000000000) a, contacts b")
    b = DuckDBBackend(snap["snapshot"], budget=Budget(memory_mb=64))
    with pytest.raises(OverBudget, match="memory budget"):
        b.query("SELECT list(repeat(email, 100) || CAST(r AS VARCHAR)) FROM contacts, range(100000) t(r)")
    b = DuckDBBackend(snap["snapshot"], budget=Budget(max_rows=1000))
    with pytest.raises(OverBudget, match="row budget"):
        b.query("SELECT a.email FROM contacts a, contacts b")
    assert b.query("SELECT count(*) AS n FROM contacts").column("n").to_pylist() == [60]  # usable after


def test_runaway_statement_costs_that_statement_only(snap: dict) -> None:
    r, _ = replayer(snap, Budget(statement_seconds=1.0, max_rows=2_000_000))
    got = outcome(r, stmt("SELECT a.email FROM contacts a, contacts b, contacts c, contacts d, contacts e", 1),
                  stmt("SELECT email FROM contacts WHERE contact_id = 7", 2))
    assert got[0][0] == STMT_POTENTIAL and "budget" in got[0][1] and got[0][2] == 60
    assert got[1] == (REPLAYED, "", 1)


def test_plan_budgets(snap: dict) -> None:
    r, _ = replayer(snap, Budget(max_text=10_000, max_nodes=500))
    long_text = "SELECT email FROM contacts WHERE contact_id = 3 /*" + "x" * 20_000 + "*/"
    many = "SELECT email FROM contacts WHERE contact_id IN (" + ", ".join(map(str, range(1, 600))) + ")"
    got = outcome(r, stmt(long_text, 1), stmt(many, 2))
    assert got[0][0] == STMT_POTENTIAL and "characters" in got[0][1] and got[0][2] == 60
    assert got[1][0] == STMT_POTENTIAL and "syntax nodes" in got[1][1] and got[1][2] == 60


def test_long_in_list_is_planned_in_linear_work(snap: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not timed: how many times sqlglot re-parents a node while one statement is planned.
    Replacing list items one by one re-parented the whole list each time (18,000 values: over 120 s)."""
    from sqlglot import exp

    owner = next(c for c in exp.In.__mro__ if "_set_parent" in c.__dict__)
    count = {"n": 0}
    original = owner._set_parent

    def counting(self: object, arg_key: str, value: object, index: int | None = None) -> None:
        count["n"] += len(value) if isinstance(value, list) else 1
        original(self, arg_key, value, index)  # type: ignore[arg-type]

    monkeypatch.setattr(owner, "_set_parent", counting)
    work = {}
    for n in (2000, 8000):
        r, _ = replayer(snap)
        text = "SELECT email FROM contacts WHERE contact_id IN (" + ", ".join(map(str, range(n))) + ")"
        count["n"] = 0
        plans, out = r.plan(0, stmt(text))
        work[n] = count["n"]
        assert plans and not out.reasons
    assert work[8000] < 4.5 * work[2000], work  # linear: 4x the values, about 4x the work (quadratic: 16x)
    r, _ = replayer(snap)
    text = "SELECT email FROM contacts WHERE contact_id IN (" + ", ".join(map(str, range(18_000))) + ")"
    assert outcome(r, stmt(text)) == [(REPLAYED, "", 60)]


def test_outputs_identical_between_runs_with_random(snap: dict) -> None:
    texts = ["SELECT email FROM contacts ORDER BY random() LIMIT 5", "SELECT email FROM contacts WHERE random() < 0.5"]
    runs = []
    for _ in range(2):
        r, _ = replayer(snap)
        runs.append(outcome(r, *(stmt(t, i + 1) for i, t in enumerate(texts))))
    assert runs[0] == runs[1] and all(o == STMT_POTENTIAL and n == 60 for o, _, n in runs[0])


def test_no_home_or_cwd_writes(snap: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    r, _ = replayer(snap, Budget(memory_mb=64, statement_seconds=2))
    outcome(r, stmt("SELECT a.email FROM contacts a, contacts b, contacts c ORDER BY a.email, b.phone, c.email"))
    assert os.listdir(tmp_path) == []  # no spill folder, no extension folder


def test_row_locks_are_dropped_and_skip_locked_is_potential(snap: dict) -> None:
    r, rec = replayer(snap)
    got = outcome(r, stmt("SELECT email FROM contacts WHERE contact_id < 4 FOR UPDATE", 1),
                  stmt("SELECT email FROM contacts WHERE contact_id < 4 FOR UPDATE SKIP LOCKED", 2))
    assert got[0] == (REPLAYED, "", 3)
    assert got[1][0] == STMT_POTENTIAL and "SKIP LOCKED" in got[1][1]
    assert not any("for update" in q.lower() for q in rec.sent)

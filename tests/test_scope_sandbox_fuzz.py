"""Fuzz of the replay sandbox: generated statements mixing allowed and forbidden functions.

Non-execution is proven two ways: every query the backend receives is recorded (no forbidden name may
appear in any), and a forbidden function with a side effect exists on the backend itself (a DuckDB
Python function that counts its calls; on PostgreSQL a function that leaves a large object behind):
if any statement outside the allowlist were run, the side effect would show.
BREACHSCOPE_FUZZ_EXAMPLES raises the number of examples for a longer run.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachscope.model.exposure import REPLAYED
from breachscope.model.inventory import load_inventory
from breachscope.scope.backends import DuckDBBackend
from breachscope.scope.replay import Replayer
from tests import scopedata
from tests.sandboxkit import Recording, stmt

EXAMPLES = int(os.environ.get("BREACHSCOPE_FUZZ_EXAMPLES", "150"))
COLUMNS = ("email", "phone", "contact_name", "CAST(contact_id AS TEXT)")
ALLOWED = ("lower", "upper", "md5", "trim", "btrim", "reverse", "initcap")  # text -> text, on both engines
ALLOWED_2 = ("coalesce", "concat", "nullif")
FORBIDDEN = ("canary_fn", "pg_sleep", "pg_read_file", "lo_import", "lo_export", "lo_from_bytea", "random",
             "pg_reload_conf", "pg_terminate_backend", "current_setting", "set_config", "read_text", "read_csv",
             "dblink", "gen_random_uuid", "txid_current", "nextval", "inet_server_addr", "evil_udf")


def _call(name: str, args: list[str]) -> str:
    return f"{name}({', '.join(args)})"


def expressions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(COLUMNS) | st.sampled_from(("'a'", "'x%'", "'person1@example.co.jp'"))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return (st.builds(lambda f, a: _call(f, [a]), st.sampled_from(ALLOWED), inner)
                | st.builds(lambda f, a, b: _call(f, [a, b]), st.sampled_from(ALLOWED_2), inner, inner)
                | st.builds(lambda f, a: _call(f, [a]), st.sampled_from(FORBIDDEN), inner)
                | st.builds(lambda a, b: f"({a} || {b})", inner, inner))
    return st.recursive(leaf, extend, max_leaves=6)


def statements() -> st.SearchStrategy[str]:
    pred = st.builds(lambda a, op, b: f"{a} {op} {b}", expressions(), st.sampled_from(("=", "<>", "<", "LIKE")),
                     expressions())
    where = st.lists(pred, min_size=0, max_size=2).map(lambda ps: (" WHERE " + " AND ".join(ps)) if ps else "")
    order = st.sampled_from(("", " ORDER BY contact_id LIMIT 7", " ORDER BY 1 LIMIT 3"))
    return st.builds(lambda cols, w, o: f"SELECT {', '.join(cols)} FROM contacts{w}{o}",
                     st.lists(expressions(), min_size=1, max_size=3), where, order)


def uses_forbidden(text: str) -> list[str]:
    return [f for f in FORBIDDEN if re.search(rf"\b{f}\(", text, re.I)]


@pytest.fixture(scope="module")
def duck(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("fuzz")
    backend = DuckDBBackend(scopedata.write_snapshot(root / "snapshot"))
    calls: list[str] = []

    def canary(x: str | None) -> str | None:
        calls.append(str(x))
        return x

    backend.con.create_function("canary_fn", canary, ["VARCHAR"], "VARCHAR", side_effects=True)
    inv = load_inventory(scopedata.write_inventory(root / "inventory.yaml"))
    assert backend.query("SELECT canary_fn('probe') AS v").column("v").to_pylist() == ["probe"] and calls
    calls.clear()
    return {"backend": backend, "inventory": inv, "calls": calls}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(statements(), min_size=1, max_size=4))
def test_no_statement_outside_the_allowlist_is_executed(duck: dict, texts: list[str]) -> None:
    rec = Recording(duck["backend"])
    result = Replayer(duck["inventory"], rec).run([stmt(t, i + 1) for i, t in enumerate(texts)])
    assert duck["calls"] == []  # the canary was never called
    sent = "\n".join(rec.sent).lower()
    for text, out in zip(texts, result.outcomes, strict=True):
        bad = uses_forbidden(text)
        if bad:
            assert out.outcome != REPLAYED, (text, out.reasons)
            assert any(b.lower() in r.lower() for r in out.reasons for b in bad), (text, out.reasons)
        for f in bad:
            assert f"{f.lower()}(" not in sent, (f, text)


def test_the_fuzz_reaches_both_sides(duck: dict) -> None:
    """The generator makes replayable statements too (otherwise the property above proves nothing)."""
    rec = Recording(duck["backend"])
    texts = ["SELECT lower(email), coalesce(phone, 'a') FROM contacts WHERE upper(contact_name) LIKE 'x%'",
             "SELECT md5(email) FROM contacts WHERE canary_fn(email) = 'a'"]
    result = Replayer(duck["inventory"], rec).run([stmt(t, i + 1) for i, t in enumerate(texts)])
    assert [o.outcome for o in result.outcomes] == [REPLAYED, "potential"] and duck["calls"] == []


@settings(max_examples=max(10, EXAMPLES // 5), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(statements(), min_size=1, max_size=3))
def test_postgres_fuzz_leaves_no_trace(pg_fuzz: dict, texts: list[str]) -> None:
    rec = Recording(pg_fuzz["backend"])
    result = Replayer(pg_fuzz["inventory"], rec).run([stmt(t, i + 1) for i, t in enumerate(texts)])
    sent = "\n".join(rec.sent).lower()
    for text, out in zip(texts, result.outcomes, strict=True):
        for f in uses_forbidden(text):
            assert out.outcome != REPLAYED and f"{f.lower()}(" not in sent, (f, text)
    assert pg_fuzz["server"].psql("SELECT count(*) FROM pg_largeobject_metadata", db="fuzz").strip() == "0"


@pytest.fixture(scope="module")
def pg_fuzz(pg_server, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from breachscope.scope.pg_backend import PostgresBackend

    pg_server.psql("DROP DATABASE IF EXISTS fuzz")
    pg_server.psql("CREATE DATABASE fuzz")
    pg_server.psql(scopedata.postgres_sql(), db="fuzz")
    # the canary: called once, it leaves a large object (allowed even in a read-only transaction)
    pg_server.psql("CREATE FUNCTION canary_fn(t text) RETURNS text LANGUAGE sql VOLATILE AS "
                   "$$ SELECT t || lo_from_bytea(0, 'canary')::text $$; "
                   "DROP ROLE IF EXISTS bs_fuzz; CREATE ROLE bs_fuzz LOGIN; "
                   "GRANT SELECT ON customers, contracts, contacts TO bs_fuzz", db="fuzz")
    pg_server.psql("SELECT lo_unlink(oid) FROM pg_largeobject_metadata", db="fuzz")
    root = tmp_path_factory.mktemp("pgfuzz")
    dsn = pg_server.dsn.replace("dbname=postgres", "dbname=fuzz")
    backend = PostgresBackend(dsn.replace("user=postgres", "user=bs_fuzz"))
    assert "canary_fn" in backend.info.shadowed
    return {"server": pg_server, "backend": backend,
            "inventory": load_inventory(scopedata.write_inventory(root / "inventory.yaml"))}

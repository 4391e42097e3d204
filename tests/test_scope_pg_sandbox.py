"""The replay sandbox on a real PostgreSQL snapshot (tests/pgserver.py), reached as a superuser DSN
(--allow-superuser) and as a restricted role: the attacker's large-object, file, admin, terminate and
sleep calls never reach the server (its own pgAudit log of the replay sessions shows what it received),
leave no large object, no file, no reloaded configuration; a statement over the time budget or whose
session is terminated costs that statement, never the run."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest

from breachscope.model.errors import UsageError
from breachscope.scope.budget import Budget
from breachscope.scope.pipeline import ScopeRequest, run_scope
from breachscope.scope.statements import Suspects
from tests import scopedata
from tests.conftest import run_ingest

DB = "sbx"
REPLAY_ROLE = "bs_sbx_replay"


@pytest.fixture(scope="module")
def pg(pg_server, tmp_path_factory: pytest.TempPathFactory) -> dict:
    pg_server.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg_server.psql(f"CREATE DATABASE {DB}")
    pg_server.psql(scopedata.postgres_sql(), db=DB)
    # a function the database's users defined, named like a built-in: a call by that name may resolve to it
    pg_server.psql("CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$", db=DB)
    pg_server.psql(f"DROP ROLE IF EXISTS {REPLAY_ROLE}; CREATE ROLE {REPLAY_ROLE} LOGIN; "
                   f"GRANT SELECT ON customers, contracts, contacts TO {REPLAY_ROLE}; "
                   "DROP ROLE IF EXISTS bs_sbx_files; CREATE ROLE bs_sbx_files LOGIN; "
                   "GRANT pg_read_server_files TO bs_sbx_files; GRANT SELECT ON contacts TO bs_sbx_files", db=DB)
    root = tmp_path_factory.mktemp("pgsbx")
    base = pg_server.dsn.replace("dbname=postgres", f"dbname={DB}")
    return {"server": pg_server, "root": root, "super": base + " application_name=bs_sbx_super",
            "restricted": base.replace("user=postgres", f"user={REPLAY_ROLE}") + " application_name=bs_sbx_role",
            "files": base.replace("user=postgres", "user=bs_sbx_files"),
            "inventory": scopedata.write_inventory(root / "inventory.yaml"),
            "pwned": pg_server.datadir.parent / "pwned.txt"}


def _case(pg: dict, name: str, texts: list[str]) -> Path:
    ev = pg["root"] / f"{name}_evidence"
    ev.mkdir()
    log = ev / "postgresql.log"
    log.write_text("\n".join(scopedata.pgaudit_line(i + 1, i + 1, t) for i, t in enumerate(texts)) + "\n",
                   encoding="utf-8")
    case = pg["root"] / name
    run_ingest([log], case, tz="Asia/Tokyo")
    return case


def _attacks(pwned: Path) -> list[tuple[str, str]]:
    agg = "convert_to(string_agg(email, ','), 'UTF8')"
    return [
        (f"SELECT lo_from_bytea(0, {agg}) FROM contacts", "lo_from_bytea"),
        (f"SELECT lo_export(lo_from_bytea(0, {agg}), '{pwned}') FROM contacts", "lo_export"),
        ("SELECT lo_import('/etc/hostname'), email FROM contacts", "lo_import"),
        ("SELECT pg_read_file('/etc/hostname'), email FROM contacts", "pg_read_file"),
        ("SELECT pg_reload_conf(), email FROM contacts", "pg_reload_conf"),
        ("SELECT pg_terminate_backend(pg_backend_pid()), email FROM contacts", "pg_terminate_backend"),
        ("SELECT pg_sleep(3600), email FROM contacts", "pg_sleep"),
        ("SELECT email FROM contacts WHERE lower(contact_id) = 'x'", "defined in the snapshot itself"),
    ]


@pytest.mark.parametrize("how", ["superuser", "restricted"])
def test_attacks_never_reach_the_server(pg: dict, how: str) -> None:
    server = pg["server"]
    attacks = _attacks(pg["pwned"])
    legit = ["SELECT email FROM contacts WHERE contact_id = 5",
             "SELECT email FROM contacts WHERE current_database() = 'orders' AND contact_id < 4"]
    case = _case(pg, f"case_{how}", [t for t, _ in attacks] + legit)
    loaded = server.psql("SELECT pg_conf_load_time()", db=DB)
    log_size = server.log.stat().st_size
    dsn = pg["super"] if how == "superuser" else pg["restricted"]
    result = run_scope(ScopeRequest(case, pg["inventory"], dsn, Suspects(users=("mallory",)), scan_exports=False,
                                    allow_superuser=how == "superuser"))
    st = result.statements
    assert len(st) == len(attacks) + 2
    for (_, named), s in zip(attacks, st, strict=False):
        assert s["outcome"] == "potential" and named in s["reason"], s["reason"]
        assert s["subjects"] == 60  # the reach: every row of the table it read
    assert [(s["outcome"], s["subjects"]) for s in st[-2:]] == [("replayed", 1), ("replayed", 3)]
    # no side effect on the server
    assert server.psql("SELECT count(*) FROM pg_largeobject_metadata", db=DB).strip() == "0"
    assert not pg["pwned"].exists()
    assert server.psql("SELECT pg_conf_load_time()", db=DB) == loaded
    # what the server received from the replay sessions (pgAudit logs every statement they ran)
    with server.log.open("rb") as fh:
        fh.seek(log_size)
        received = [line for line in fh.read().decode("utf-8", "replace").splitlines() if "bs_sbx_" in line]
    assert any("AUDIT" in line for line in received)
    for _, named in attacks[:-1]:
        assert not any(named in line for line in received), named
    if how == "superuser":
        assert any("superuser" in w for w in result.warnings)


def test_superuser_and_file_rights_are_refused_without_the_flag(pg: dict) -> None:
    case = _case(pg, "case_refused", ["SELECT email FROM contacts WHERE contact_id = 5"])
    for dsn, what in ((pg["super"], "superuser"), (pg["files"], "pg_read_server_files")):
        with pytest.raises(UsageError, match=what):
            run_scope(ScopeRequest(case, pg["inventory"], dsn, Suspects(users=("mallory",)), scan_exports=False))
    # a superuser DSN that SETs ROLE to the restricted role runs with that role's rights
    result = run_scope(ScopeRequest(case, pg["inventory"], pg["super"], Suspects(users=("mallory",)),
                                    scan_exports=False, snapshot_role=REPLAY_ROLE))
    assert [s["outcome"] for s in result.statements] == ["replayed"]
    assert not any("superuser" in w for w in result.warnings)


def _wait_for_lock_wait(server: object, app: str, deadline: float = 60.0) -> int:
    """The pid of the replay session once it waits on the test's lock (polls the event, no fixed sleep)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        out = server.psql(f"SELECT pid FROM pg_stat_activity WHERE application_name = '{app}' "  # type: ignore
                          "AND wait_event_type = 'Lock'")
        if out.strip():
            return int(out.split()[0])
        time.sleep(0.05)
    raise AssertionError("the replay never waited on the lock")


def test_over_time_budget_and_terminated_session_cost_one_statement(pg: dict) -> None:
    server = pg["server"]
    texts = ["SELECT email FROM contacts WHERE contact_id = 5",
             "SELECT company_name FROM customers WHERE customer_id = 2"]
    case = _case(pg, "case_budget", texts)
    blocker = psycopg.connect(pg["super"].replace("bs_sbx_super", "bs_sbx_blocker"))
    try:
        blocker.execute("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE")  # the transaction stays open
        result = run_scope(ScopeRequest(case, pg["inventory"], pg["restricted"], Suspects(users=("mallory",)),
                                        scan_exports=False, budget=Budget(statement_seconds=1.0)))
        assert result.statements[0]["outcome"] == "potential"
        assert "over the time budget (1 s)" in result.statements[0]["reason"]
        assert (result.statements[1]["outcome"], result.statements[1]["subjects"]) == ("replayed", 1)
        # now the session is killed while it waits: the statement is lost, the run goes on
        app = "bs_sbx_killed"
        box: dict = {}
        run = threading.Thread(target=lambda: box.setdefault("r", run_scope(ScopeRequest(
            case, pg["inventory"], pg["restricted"].replace("bs_sbx_role", app), Suspects(users=("mallory",)),
            scan_exports=False))))
        run.start()
        pid = _wait_for_lock_wait(server, app)
        server.psql(f"SELECT pg_terminate_backend({pid})")
        blocker.rollback()  # the lock goes: the reconnected session can read the whole-table reach
        run.join(120)
        assert not run.is_alive()
        st = box["r"].statements
        assert st[0]["outcome"] == "potential" and "the server ended the session" in st[0]["reason"]
        assert st[0]["subjects"] == 60 and (st[1]["outcome"], st[1]["subjects"]) == ("replayed", 1)
    finally:
        blocker.close()


def test_parquet_and_postgres_agree_on_bound_and_refused_statements(pg: dict, tmp_path: Path) -> None:
    texts = ["SELECT email FROM contacts WHERE current_user = 'mallory' AND contact_id < 6",
             "SELECT email FROM contacts WHERE now() > '2025-02-04' AND contact_id < 3",
             "SELECT email FROM contacts WHERE random() < 2",
             "SELECT email FROM contacts WHERE version() LIKE 'PostgreSQL%'"]
    case = _case(pg, "case_agree", texts)
    snap = scopedata.write_snapshot(tmp_path / "snapshot")
    got = []
    for snapshot in (pg["restricted"], str(snap)):
        r = run_scope(ScopeRequest(case, pg["inventory"], snapshot, Suspects(users=("mallory",)), scan_exports=False))
        got.append([(s["outcome"], s["reason"], s["subjects"]) for s in r.statements])
    assert got[0] == got[1]
    assert [g[0] for g in got[0]] == ["replayed", "replayed", "potential", "potential"]
    shutil.rmtree(case)


def test_session_is_read_only_and_on_budget(pg: dict) -> None:
    from breachscope.scope.budget import ReplayFailed
    from breachscope.scope.pg_backend import PostgresBackend

    b = PostgresBackend(pg["restricted"], Budget(statement_seconds=5))
    try:
        show = {name: b._rows(f"SHOW {name}")[0][0] for name in (
            "statement_timeout", "idle_in_transaction_session_timeout", "default_transaction_read_only", "TimeZone")}
        assert show == {"statement_timeout": "5s", "idle_in_transaction_session_timeout": "10s",
                        "default_transaction_read_only": "on", "TimeZone": "UTC"}
        with pytest.raises(ReplayFailed, match="read-only transaction"):
            b._rows("CREATE TABLE planted (a int)")
        with pytest.raises(ReplayFailed, match="permission denied"):
            b.query("SELECT * FROM products")  # outside the inventory: not granted
        assert b.query("SELECT count(*) AS n FROM contacts").column("n").to_pylist() == ["60"]
        assert "lower" in b.info.shadowed  # the database's own public.lower(integer)
    finally:
        b.close()

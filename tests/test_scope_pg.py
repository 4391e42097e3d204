"""A real PostgreSQL with pgAudit: statements sent over the wire (bind parameters, COPY, LIMIT), their
audit log ingested, then replayed on PostgreSQL (DSN) and on the Parquet snapshot: same subjects."""

from __future__ import annotations

import shutil

import psycopg
import pyarrow.parquet as pq
import pytest

from breachscope.scope.outputs import write_outputs
from breachscope.scope.pipeline import ScopeRequest, run_scope
from breachscope.scope.statements import Suspects
from tests import scopedata
from tests.conftest import run_ingest


@pytest.fixture(scope="module")
def attacked(pg_server, tmp_path_factory: pytest.TempPathFactory) -> dict:
    pg_server.psql("DROP DATABASE IF EXISTS orders")
    pg_server.psql("CREATE DATABASE orders")
    pg_server.psql(scopedata.postgres_sql(), db="orders")
    pg_server.psql("DROP ROLE IF EXISTS mallory; CREATE ROLE mallory LOGIN; "
                   "GRANT SELECT ON ALL TABLES IN SCHEMA public TO mallory", db="orders")
    # the replay's role: SELECT on the inventory's tables only (docs/scope.md, the replay sandbox)
    pg_server.psql("DROP ROLE IF EXISTS bs_replay; CREATE ROLE bs_replay LOGIN; "
                   "GRANT SELECT ON customers, contracts, contacts TO bs_replay", db="orders")
    dsn = pg_server.dsn.replace("dbname=postgres", "dbname=orders")
    with psycopg.connect(dsn.replace("user=postgres", "user=mallory") + " application_name=evil") as con:
        cur = con.cursor()
        cur.execute("SELECT c.company_name, k.contract_no FROM customers c JOIN contracts k "
                    "ON k.customer_id = c.customer_id WHERE c.customer_id BETWEEN %s AND %s "
                    "ORDER BY k.contract_no", (38, 40))
        for i in (3, 7, 11):
            cur.execute("SELECT email, phone FROM contacts WHERE contact_id = %s", (i,), prepare=True)
        cur.execute("SELECT contact_name FROM contacts WHERE email LIKE %s", ("person2%",))
        cur.execute("SELECT phone FROM contacts LIMIT 5")
        cur.execute("SELECT count(*) FROM customers")
        with cur.copy("COPY (SELECT customer_id, company_name FROM customers WHERE customer_id <= 4) TO STDOUT") as cp:
            for _ in cp:
                pass
    with psycopg.connect(dsn + " application_name=app") as con:  # not a suspect
        con.execute("SELECT * FROM customers")
    root = tmp_path_factory.mktemp("pgscope")
    log = root / "evidence" / "postgresql.log"
    log.parent.mkdir()
    shutil.copyfile(pg_server.log, log)
    snap = scopedata.write_snapshot(root / "snapshot")
    inv = scopedata.write_inventory(root / "inventory.yaml")
    run_ingest([log], root / "case", tz="Asia/Tokyo")
    return {"root": root, "dsn": dsn, "snapshot": snap, "inventory": inv,
            "replay_dsn": dsn.replace("user=postgres", "user=bs_replay")}


def _run(a: dict, snapshot: str, case_name: str) -> tuple[list[dict], list[dict], dict]:
    case = a["root"] / case_name
    if not case.exists():
        shutil.copytree(a["root"] / "case", case)
    result = run_scope(ScopeRequest(case, a["inventory"], snapshot, Suspects(users=("mallory",))))
    write_outputs(case, result, {})
    subjects = pq.read_table(case / "exposure" / "subjects.parquet").drop_columns(["snapshot"]).to_pylist()
    stmts = pq.read_table(case / "exposure" / "statements.parquet").to_pylist()
    return subjects, stmts, result.summary.to_json()


def test_postgres_and_parquet_replays_give_the_same_subjects(attacked: dict) -> None:
    on_pg, st_pg, sum_pg = _run(attacked, attacked["replay_dsn"], "case_pg")
    on_pq, st_pq, sum_pq = _run(attacked, str(attacked["snapshot"]), "case_parquet")
    assert on_pg == on_pq
    assert [(s["outcome"], s["reason"], s["rows_replayed"]) for s in st_pg] == \
        [(s["outcome"], s["reason"], s["rows_replayed"]) for s in st_pq]
    assert {k: v for k, v in sum_pg.items() if k != "snapshot"} == {k: v for k, v in sum_pq.items() if k != "snapshot"}


def test_what_the_suspect_read(attacked: dict) -> None:
    subjects, stmts, summary = _run(attacked, str(attacked["snapshot"]), "case_check")
    by = {(s["subject_type"], s["subject_id"]): s for s in subjects}
    # the join: customers 38..40 and their contracts; customer 40's contracts are all docomo
    assert by[("organization", "38")]["level"] == "CONFIRMED_ACCESSED"
    assert "contract_number" in by[("organization", "39")]["categories"]
    assert "contract_number" not in by[("organization", "40")]["categories"]
    assert by[("organization", "40")]["excluded_by"] == ["docomo_provided_mobile"]
    # bind parameters from the extended protocol, one batch for the three lookups
    for i in ("3", "7", "11"):
        assert by[("person", i)]["level"] == "CONFIRMED_ACCESSED"
        assert by[("person", i)]["categories"] == ["email", "phone"]
    lookups = [s for s in stmts if "contact_id = $1" in s["statement"]]
    assert len(lookups) == 3 and len({s["shape"] for s in lookups}) == 1
    # LIKE with a bound pattern: person2, person20..person29
    like = next(s for s in stmts if "LIKE" in s["statement"])
    assert like["outcome"] == "replayed" and like["subjects"] == 11
    # LIMIT without ORDER BY: every contact potential, never confirmed by that statement alone
    limit = next(s for s in stmts if "LIMIT 5" in s["statement"])
    assert limit["outcome"] == "potential" and limit["subjects"] == 60
    assert by[("person", "50")]["level"] == "POTENTIAL"
    copy = next(s for s in stmts if s["statement"].startswith("COPY"))
    assert copy["outcome"] == "replayed" and copy["subjects"] == 4
    assert all(s["user"] == "mallory" for s in stmts)
    assert summary["statements"]["replayed"] >= 6 and summary["statements"]["potential"] == 1


def test_replay_is_read_only(attacked: dict) -> None:
    """A logged write is never run: only the query of the rows it reached is."""
    dsn = attacked["dsn"]
    before = psycopg.connect(dsn).execute("SELECT md5(string_agg(phone, ',' ORDER BY contact_id)) FROM contacts"
                                          ).fetchone()
    log = attacked["root"] / "evidence" / "writes.log"
    log.write_text(scopedata.pgaudit_line(1, 1, "UPDATE contacts SET phone = 'x' WHERE contact_id = 5") + "\n"
                   + scopedata.pgaudit_line(2, 2, "DROP TABLE contacts") + "\n", encoding="utf-8")
    case = attacked["root"] / "case_writes"
    run_ingest([log], case)
    result = run_scope(ScopeRequest(case, attacked["inventory"], dsn, Suspects(users=("mallory",)),
                                    allow_superuser=True))
    assert [s["outcome"] for s in result.statements] == ["potential", "potential"]
    after = psycopg.connect(dsn).execute("SELECT md5(string_agg(phone, ',' ORDER BY contact_id)) FROM contacts"
                                         ).fetchone()
    assert before == after

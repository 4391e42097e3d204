"""Statement replay on a DuckDB/Parquet snapshot the tests build: which rows, which categories, how sure."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from breachscope.model.exposure import CONFIRMED_ACCESSED, IGNORED, POTENTIAL, REPLAYED, STMT_POTENTIAL
from breachscope.model.inventory import load_inventory
from breachscope.scope.backends import DuckDBBackend
from breachscope.scope.replay import Replayer
from breachscope.scope.statements import AuditStatement, merge_relation_lines
from tests import scopedata


@pytest.fixture(scope="module")
def replayer(tmp_path_factory: pytest.TempPathFactory) -> Replayer:
    root = tmp_path_factory.mktemp("snap")
    snap = scopedata.write_snapshot(root / "snapshot")
    inv = load_inventory(scopedata.write_inventory(root / "inventory.yaml"))
    return Replayer(inv, DuckDBBackend(snap))


def stmt(text: str, params: tuple[str | None, ...] | None = (), rows: int | None = None,
         dialect: str = "pgaudit", command: str = "SELECT") -> AuditStatement:
    return AuditStatement("s", "audit.log", 1, (), None, "mallory", "10.0.0.9", "1", "orders", dialect, command,
                          "READ", text, params, None, rows, ())


def one(r: Replayer, text: str, **kw: object) -> dict:
    """One statement: outcome, reasons, rows, and per (table, level): (keys, excluded keys, categories)."""
    result = r.run([stmt(text, **kw)])  # type: ignore[arg-type]
    o = result.outcomes[0]
    d: dict = {"outcome": o.outcome, "reasons": sorted(set(o.reasons)), "rows": o.rows_replayed, "hits": {}}
    for e in result.exposures:
        hits = result.hits.filter(pc.equal(result.hits["exposure"], e.index))
        keys = hits.filter(pc.is_null(hits["excluded"]))["subject_key"].to_pylist()
        excl = hits.filter(pc.is_valid(hits["excluded"]))["subject_key"].to_pylist()
        d["hits"][(e.table, e.level)] = (sorted(set(keys), key=int), sorted(set(excl), key=int), e.categories)
    return d


def test_point_lookup_is_confirmed_with_projected_categories(replayer: Replayer) -> None:
    d = one(replayer, "SELECT company_name FROM customers WHERE customer_id = 5")
    assert d["outcome"] == REPLAYED and d["rows"] == 1
    assert d["hits"] == {("customers", CONFIRMED_ACCESSED): (["5"], [], ("organization_name",))}


def test_join_returns_both_tables_keys_and_exclusion_flags(replayer: Replayer) -> None:
    d = one(replayer, "SELECT c.company_name, k.contract_no FROM customers c JOIN contracts k "
                      "ON k.customer_id = c.customer_id WHERE c.customer_id IN (3, 40)")
    assert d["rows"] == 4
    assert d["hits"][("customers", CONFIRMED_ACCESSED)] == (["3", "40"], [], ("organization_name",))
    # contract 5 (customer 3) and 79, 80 (customer 40) are docomo: flagged rows, by policy
    assert d["hits"][("contracts", CONFIRMED_ACCESSED)] == (["3"], ["3", "40"], ("contract_number",))


def test_predicate_only_and_aggregate_columns_show_nothing(replayer: Replayer) -> None:
    d = one(replayer, "SELECT count(*), sum(contract_id) FROM contracts WHERE contract_no LIKE 'C00001%'")
    assert d["outcome"] == REPLAYED and d["hits"] == {}
    d = one(replayer, "SELECT customer_id FROM contacts WHERE email = 'person7@example.co.jp'")
    assert d["hits"] == {}  # contacts.customer_id has no category; email was only a predicate


def test_cte_subquery_distinct_group_union(replayer: Replayer) -> None:
    d = one(replayer, "WITH t AS (SELECT * FROM customers WHERE customer_id <= 2) "
                      "SELECT t.company_name, p.email FROM t JOIN contacts p ON p.customer_id = t.customer_id")
    assert d["hits"][("customers", CONFIRMED_ACCESSED)][0] == ["1", "2"]
    assert d["hits"][("contacts", CONFIRMED_ACCESSED)] == (["1", "40", "41"], [], ("email",))
    d = one(replayer, "SELECT DISTINCT k.service_plan FROM contracts k WHERE k.customer_id = 2")
    assert d["hits"][("contracts", CONFIRMED_ACCESSED)] == (["2"], [], ("service_usage",)) and d["rows"] == 2
    d = one(replayer, "SELECT x.company_name FROM (SELECT customer_id, max(company_name) AS company_name "
                      "FROM customers GROUP BY customer_id) x WHERE x.customer_id = 4")
    assert d["hits"][("customers", CONFIRMED_ACCESSED)][0] == ["4"]
    d = one(replayer, "SELECT email FROM contacts WHERE contact_id = 1 UNION ALL "
                      "SELECT company_name FROM customers WHERE customer_id = 9")
    assert d["hits"][("contacts", CONFIRMED_ACCESSED)][0] == ["1"]
    assert d["hits"][("customers", CONFIRMED_ACCESSED)][0] == ["9"]


def test_copy_to_is_a_read(replayer: Replayer) -> None:
    d = one(replayer, "COPY  ( SELECT k.contract_no FROM contracts k WHERE k.customer_id BETWEEN 39 AND 40 "
                      "ORDER BY k.contract_no ) TO STDOUT csv header", command="COPY")
    assert d["hits"][("contracts", CONFIRMED_ACCESSED)] == (["39"], ["40"], ("contract_number",))
    d = one(replayer, "COPY contacts (contact_id, phone) TO STDOUT", command="COPY")
    assert len(d["hits"][("contacts", CONFIRMED_ACCESSED)][0]) == 60


def test_bind_parameters_and_prepared_statement_types(replayer: Replayer) -> None:
    d = one(replayer, "PREPARE q(text, int) AS SELECT email FROM contacts WHERE contact_id = $2 OR email = $1;",
            params=("person3@example.co.jp", "8"))
    assert d["outcome"] == REPLAYED and d["hits"][("contacts", CONFIRMED_ACCESSED)][0] == ["3", "8"]
    d = one(replayer, "SELECT email FROM contacts WHERE contact_id BETWEEN $1 AND $2 ORDER BY contact_id LIMIT $3 "
                      "OFFSET $4", params=("1", "60", "5", "10"))
    assert d["hits"][("contacts", CONFIRMED_ACCESSED)][0] == ["11", "12", "13", "14", "15"]


def test_parameter_zero_names_no_parameter(replayer: Replayer) -> None:
    """$0 is not a parameter: it took the last logged value (a wrong answer) or raised IndexError (fuzzing)."""
    d = one(replayer, "SELECT email FROM contacts WHERE contact_id = $0", params=("3",))
    assert d["outcome"] == STMT_POTENTIAL and any("parameter missing from the log" in r for r in d["reasons"])
    assert len(d["hits"][("contacts", POTENTIAL)][0]) == 60
    d = one(replayer, "SELECT email FROM contacts WHERE email ILIKE $0 AND contact_id BETWEEN $2 AND 10 LIMIT $3",
            params=("5",))
    assert d["outcome"] == STMT_POTENTIAL


def test_same_shape_runs_as_one_batch_with_each_statements_values(replayer: Replayer) -> None:
    stmts = [AuditStatement(f"s{i}", "audit.log", i, (), None, "u", None, "1", "orders", "pgaudit", "SELECT", "READ",
                            f"SELECT phone FROM contacts WHERE contact_id = {i}", (), None, None, ())
             for i in range(1, 31)]
    result = replayer.run(stmts)
    assert result.shapes == 1 and result.batches == 1
    got = {e.statement_id: result.hits.filter(pc.equal(result.hits["exposure"], e.index))["subject_key"].to_pylist()
           for e in result.exposures}
    assert got == {f"s{i}": [str(i)] for i in range(1, 31)}


@pytest.mark.parametrize(("text", "params", "rows", "reason", "count"), [
    ("SELECT email FROM contacts WHERE contact_id = $1", None, None, "parameters not logged", 60),
    ("SELECT email FROM contacts WHERE contact_id = $1", ("",), None, "empty parameter", 60),
    # under NOT the unknown comparison becomes FALSE: NOT FALSE keeps every row the rest allows
    ("SELECT email FROM contacts WHERE NOT (contact_id = $1) AND contact_id < 4", None, None,
     "parameters not logged", 3),
    ("SELECT email FROM contacts LIMIT 5", (), 5, "LIMIT without ORDER BY", 60),
    ("SELECT email FROM contacts WHERE contact_id < 4", None, None, None, 3),
])
def test_unknowns_widen_to_potential(replayer: Replayer, text: str, params: tuple | None, rows: int | None,
                                     reason: str | None, count: int) -> None:
    d = one(replayer, text, params=params, rows=rows)
    if reason is None:
        assert d["outcome"] == REPLAYED
        return
    assert d["outcome"] == STMT_POTENTIAL and any(reason in r for r in d["reasons"])
    hits = d["hits"].get(("contacts", POTENTIAL), ([], [], ()))
    assert len(hits[0]) == count


def test_limit_that_cut_nothing_is_confirmed(replayer: Replayer) -> None:
    d = one(replayer, "SELECT email FROM contacts WHERE contact_id <= 7 LIMIT 100", rows=7)
    assert d["outcome"] == REPLAYED and len(d["hits"][("contacts", CONFIRMED_ACCESSED)][0]) == 7
    d = one(replayer, "SELECT email FROM contacts WHERE contact_id <= 7 LIMIT 3", rows=3)
    assert d["outcome"] == STMT_POTENTIAL and len(d["hits"][("contacts", POTENTIAL)][0]) == 7


@pytest.mark.parametrize(("text", "command", "reason"), [
    ("SELECT * FROM no_such_table", "SELECT", None),
    ("SELECT * FROM customers JOIN no_such ON true", "SELECT", "unknown table"),
    ("SELEKT * FROM customers WHERE (", "SELECT", None),
    ("TRUNCATE contacts", "TRUNCATE TABLE", "TRUNCATE"),
    ("DELETE FROM contacts WHERE contact_id = 2", "DELETE", "DELETE"),
    ("UPDATE contacts SET phone = '0' WHERE contact_id = 2", "UPDATE", "UPDATE"),
    ("SELECT (SELECT email FROM contacts p WHERE p.customer_id = c.customer_id LIMIT 1) FROM customers c",
     "SELECT", "subquery in the select list"),
])
def test_not_replayable_is_never_confirmed(replayer: Replayer, text: str, command: str, reason: str | None) -> None:
    d = one(replayer, text, command=command)
    assert all(level == POTENTIAL for _, level in d["hits"])
    if reason is None:
        assert d["outcome"] in (IGNORED, STMT_POTENTIAL)
    else:
        assert d["outcome"] == STMT_POTENTIAL and any(reason in r for r in d["reasons"]), d["reasons"]
        assert d["hits"]


def test_writes_reach_rows_and_inserts_reach_none(replayer: Replayer) -> None:
    d = one(replayer, "UPDATE contacts SET phone = '0' WHERE contact_id = 2", command="UPDATE")
    assert d["hits"] == {("contacts", POTENTIAL): (["2"], [], ("phone",))}
    d = one(replayer, "INSERT INTO contacts VALUES (99, 1, 'x', 'y', 'z')", command="INSERT")
    assert d["outcome"] == IGNORED and d["hits"] == {}


def test_mysql_dialect_and_outfile(replayer: Replayer) -> None:
    d = one(replayer, "SELECT `email` FROM orders.contacts WHERE contact_id = 9 INTO OUTFILE '/tmp/x.csv'",
            dialect="mysql_general")
    assert d["outcome"] == REPLAYED and d["hits"][("contacts", CONFIRMED_ACCESSED)][0] == ["9"]


def test_hostile_statement_text_is_data(replayer: Replayer) -> None:
    texts = ["SELECT 1; DROP TABLE customers", "'; COPY customers TO PROGRAM 'sh'", "\x00\x1b[31m", "(" * 5000,
             "SELECT * FROM customers WHERE company_name = '" + "x" * 100_000 + "'"]
    result = replayer.run([stmt(t) for t in texts])
    assert len(result.outcomes) == len(texts)
    assert replayer.backend.info.tables["customers"]  # the snapshot is intact
    assert replayer.backend.query("SELECT count(*) AS n FROM customers").column("n").to_pylist() == [40]


def test_pgaudit_relation_lines_merge_into_one_statement() -> None:
    row = ("f.log", 10, None, "u", "1.2.3.4", "s1", "orders", "pgaudit", "SELECT", "READ", 5, 1, "public.a",
           "SELECT * FROM a JOIN b ON true", [], 3, None, None)
    other = ("f.log", 11, None, "u", "1.2.3.4", "s1", "orders", "pgaudit", "SELECT", "READ", 5, 1, "public.b",
             "SELECT * FROM a JOIN b ON true", [], 3, None, None)
    copy = ("f.log", 12, None, "u", "1.2.3.4", "s1", "orders", "pgaudit", "COPY", "READ", 5, 2, None,
            "SELECT * FROM a JOIN b ON true", [], 3, None, None)
    later = ("f.log", 20, None, "u", "1.2.3.4", "s1", "orders", "pgaudit", "SELECT", "READ", 6, 1, "public.a",
             "SELECT * FROM a JOIN b ON true", [], 3, None, None)
    other_session = ("f.log", 21, None, "u", "1.2.3.4", "s2", "orders", "pgaudit", "SELECT", "READ", 6, 1,
                     "public.a", "SELECT * FROM a JOIN b ON true", [], 3, None, None)
    out = merge_relation_lines([row, other, copy, later, other_session])
    assert [(s.src_record, s.duplicates, s.objects) for s in out] == [
        (10, (11, 12), ("public.a", "public.b")), (20, (), ("public.a",)), (21, (), ("public.a",))]


def test_statements_differing_in_written_in_values_are_planned_apart(replayer: Replayer) -> None:
    """Same text but other LIMIT values (written into the query, not slots): never share a plan."""
    texts = ["SELECT email FROM contacts WHERE contact_id > 10 ORDER BY contact_id LIMIT 3",
             "SELECT email FROM contacts WHERE contact_id > 20 ORDER BY contact_id LIMIT 5",
             "SELECT email FROM contacts WHERE contact_id > $1 ORDER BY contact_id LIMIT $2"]
    stmts = [AuditStatement(f"s{i}", "a.log", i, (), None, "u", None, "1", "orders", "pgaudit", "SELECT", "READ", t,
                            ("30", "2") if "$" in t else (), None, None, ()) for i, t in enumerate(texts)]
    stmts.append(AuditStatement("s3", "a.log", 3, (), None, "u", None, "1", "orders", "pgaudit", "SELECT", "READ",
                                texts[2], ("40", "4"), None, None, ()))
    result = replayer.run(stmts)
    got = {e.statement_id: sorted(result.hits.filter(pc.equal(result.hits["exposure"], e.index))["subject_key"]
                                  .to_pylist(), key=int) for e in result.exposures}
    assert got == {"s0": ["11", "12", "13"], "s1": ["21", "22", "23", "24", "25"], "s2": ["31", "32"],
                   "s3": ["41", "42", "43", "44"]}

"""A database built from a data inventory (`story: inventory`, issue 16): the schema the inventory implies, values
a real system would hold for each category, statements that expose exactly the target number of subjects with
the inventory's exclusions applied, and a truth that follows docs/inventory.md's semantics row by row."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import phonenumbers
import pytest
import yaml
from stdnum import iban, luhn
from stdnum.jp import cn as corporate_number
from stdnum.jp import in_ as my_number

from breachscope.model.errors import ConfigError, UsageError
from breachscope.simulate import dataexposure, datagen, datamodel, dataplan
from breachscope.simulate.scenario_file import load_scenario
from breachscope.simulate.scenarios import FOLDER, shipped

CLINIC = yaml.safe_load((FOLDER / "data" / "clinic-patients.yaml").read_text(encoding="utf-8"))
#: a shop's database: organizations (business customers) with their people, orders and cards
SHOP: dict[str, Any] = {
    "version": 1, "name": "Shop", "database": "shop", "default_jurisdiction": "US",
    "subjects": {"organization": {"table": "accounts", "key": "account_id", "name": "company",
                                  "match_keys": ["account_id"]},
                 "person": {"table": "buyers", "key": "buyer_id", "name": "buyer_name", "organization": "account_id"}},
    "datasets": [
        {"table": "accounts", "subject": "organization", "subject_key": "account_id",
         "columns": {"company": ["organization_name"], "billing_address": ["postal_address"], "tier": []}},
        {"table": "buyers", "subject": "person", "subject_key": "buyer_id",
         "columns": {"buyer_id": [], "account_id": [], "buyer_name": ["person_name"], "email": ["email"],
                     "phone": ["phone"], "card_number": ["payment_card"], "status": []}},
        {"table": "orders", "subject": "organization", "subject_key": "account_id",
         "columns": {"order_id": [], "account_id": [], "total_amount": [], "ordered_at": [], "channel": []}},
    ],
    "exclusions": [{"name": "closed_buyers", "table": "buyers", "where": "status = 'closed'"},
                   {"name": "internal_orders", "table": "orders", "where": "channel IN ('internal', 'staff')"}],
}


def _model(doc: dict[str, Any], rows: dict[str, float] | None = None) -> datamodel.DataModel:
    return datamodel.build(doc, rows or {}, {}, "inventory")


def test_the_schema_follows_the_inventory() -> None:
    m = _model(CLINIC, {"appointments": 3})
    assert m.main == "patients" and m.database == "booking" and m.country == "DE"
    diag = m.table("diagnoses")
    assert diag.key == "diagnosis_id"  # listed: not added
    assert {c.name: c.references for c in diag.columns if c.references} == {"patient_id": "patients",
                                                                            "appointment_id": "appointments"}
    assert [c.name for c in m.table("patients").columns][:3] == ["patient_id", "full_name", "date_of_birth"]
    types = {c.name: c.sql_type for c in m.table("patients").columns}
    assert types["date_of_birth"] == "date" and types["created_at"].startswith("timestamp")
    assert m.table("appointments").rows_per_subject == 3 and m.table("payments").rows_per_subject == 2
    shop = _model(SHOP)
    assert shop.main == "accounts" and shop.main_kind == "organization"
    assert shop.table("accounts").key == "account_id" and shop.table("buyers").key == "buyer_id"
    assert shop.exclusion_values == {("buyers", "status"): ("closed",), ("orders", "channel"): ("internal", "staff")}


@pytest.fixture(scope="module")
def clinic() -> tuple[datamodel.DataModel, dict]:
    m = _model(CLINIC, {"appointments": 3})
    return m, datagen.generate(m, 11, 6_000)


def test_the_values_are_what_a_real_system_holds(clinic: tuple[datamodel.DataModel, dict]) -> None:
    _, tables = clinic
    p = tables["patients"].to_pydict()
    assert len(p["patient_id"]) == 6_000 and len(set(p["patient_id"])) == 6_000
    assert all("@" in e and " " not in e for e in p["email"])
    assert len(set(p["email"])) == len(set(p["phone"])) == 6_000  # a mailbox, a phone number: one subject
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(x, "DE")) for x in p["phone"][:500])
    assert all(iban.is_valid(x) for x in tables["payments"]["iban"].to_pylist()[:500])
    born = np.array(p["date_of_birth"], dtype="datetime64[D]")
    assert born.min() >= np.datetime64("1930-01-01") and born.max() <= np.datetime64("2013-01-01")
    assert 0.04 < np.mean([t in ("test", "training") for t in p["record_type"]]) < 0.12  # the exclusion has rows
    for t in ("appointments", "diagnoses", "payments"):  # every link holds a key of its table
        owner = set(tables[t]["patient_id"].to_pylist())
        assert owner <= set(p["patient_id"])
    assert set(tables["diagnoses"]["appointment_id"].to_pylist()) <= set(
        tables["appointments"]["appointment_id"].to_pylist())
    shop = datagen.generate(_model(SHOP), 3, 2_000)
    assert all(len(c) == 16 and luhn.is_valid(c) for c in shop["buyers"]["card_number"].to_pylist())
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(x, "US")) for x in shop["buyers"]["phone"].to_pylist())


def _truth(m: datamodel.DataModel, tables: dict, target: int) -> tuple[dict, list, Any, duckdb.DuckDBPyConnection]:
    ranges, queries = dataplan.plan(m, tables, target)
    con = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t)
    results = dataexposure.results(con, m, queries)
    scope = dataexposure.resolve(con, m, list(results.values()), {q.ref: q.certain for q in queries})
    return ranges, queries, scope, con


def test_the_statements_expose_exactly_the_target(clinic: tuple[datamodel.DataModel, dict]) -> None:
    m, tables = clinic
    ranges, queries, scope, con = _truth(m, tables, 1_789)
    assert len(scope.persons) == 1_789 and not scope.organizations
    assert {q.kind for q in queries} >= {"recon", "page_main", "page_appointments", "probe_limit", "copy_main",
                                         "copy_export"}
    assert [q.session for q in queries] == sorted(q.session for q in queries) and queries[-1].session == 7
    assert scope.potential_persons and not set(scope.potential_persons) & set(scope.persons)
    # the excluded: test records whose every returned row is excluded; none is affected
    assert scope.excluded_persons and not set(scope.excluded_persons) & set(scope.persons)
    test_records = {r[0] for r in con.sql("SELECT patient_id FROM patients WHERE record_type IN ('test', 'training')"
                                          ).fetchall()}
    assert set(scope.excluded_persons) <= test_records
    assert {"health", "bank_account", "date_of_birth", "email"} <= set(scope.categories)
    # recomputed from the ranges: a patient up to copy_to is affected unless excluded and without another row
    # that the pages up to linked_pages_to returned
    lo, hi, linked_to = ranges["first"], ranges["copy_to"], ranges["linked_pages_to"]
    with_rows = {r[0] for t in ("appointments", "diagnoses", "payments")
                 for r in con.sql(f"SELECT DISTINCT patient_id FROM {t} WHERE patient_id <= {linked_to}").fetchall()}
    expected = {i for i in range(lo, hi + 1) if i not in test_records or i in with_rows}
    assert set(scope.persons) == expected


def test_an_organization_database_counts_organizations_and_their_people() -> None:
    m = _model(SHOP, {"buyers": 2.5, "orders": 4})
    tables = datagen.generate(m, 4, 5_000)
    _, _, scope, con = _truth(m, tables, 1_490)
    assert len(scope.organizations) == 1_490 and scope.persons
    owner = dict(con.sql("SELECT buyer_id, account_id FROM buyers").fetchall())
    closed = {r[0] for r in con.sql("SELECT buyer_id FROM buyers WHERE status = 'closed'").fetchall()}
    assert {owner[p] for p in scope.persons} <= set(scope.organizations)  # a person's organization is affected
    assert not set(scope.persons) & closed  # a closed buyer's only row is excluded
    assert set(scope.excluded_persons) <= closed


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(story="ntt-2025"), r"story: inventory needs data"),
    (lambda d: d["data"].update(rows={"visits": 2}), r"data.rows: no dataset named visits"),
    (lambda d: d["data"].update(rows={"patients": 2}), r"data.rows: patients is the main subjects' table"),
    (lambda d: d["data"].update(inventory="missing.yaml"), r"no inventory file"),
    (lambda d: d["data"]["inventory"]["exclusions"][0].update(where="record_type LIKE 'te%'"),
     r"the simulator writes rows for a predicate"),
    (lambda d: d["data"]["inventory"].update(version=2), r"unsupported version 2"),
])
def test_a_wrong_data_section_is_refused_with_its_line(tmp_path: Path, change: Any, message: str) -> None:
    data = yaml.safe_load(shipped()["clinic-web"].read_text(encoding="utf-8"))
    data["data"]["inventory"] = dict(CLINIC)
    data["data"]["inventory"]["exclusions"] = [dict(e) for e in CLINIC["exclusions"]]
    change(data)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s\.yaml:\d+: .*" + message):
        load_scenario(str(path))


def test_an_inventory_file_beside_the_scenario_is_read(tmp_path: Path) -> None:
    data = yaml.safe_load(shipped()["clinic-web"].read_text(encoding="utf-8"))
    (tmp_path / "inv.yaml").write_text(yaml.safe_dump(SHOP), encoding="utf-8")
    data["data"] = {"inventory": "inv.yaml", "rows": {"orders": 3}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    spec = load_scenario(str(tmp_path / "s.yaml"))
    assert spec.data is not None and spec.data.inventory["database"] == "shop"


def test_tables_that_link_in_a_circle_are_refused() -> None:
    doc = yaml.safe_load(yaml.safe_dump(CLINIC))
    next(d for d in doc["datasets"] if d["table"] == "appointments")["columns"]["diagnosis_id"] = []
    with pytest.raises(UsageError, match=r"appointments, diagnoses link to each other in a circle"):
        _model(doc)


def test_japanese_corporate_numbers_carry_their_check_digit() -> None:
    doc = {"version": 1, "name": "x", "database": "d", "default_jurisdiction": "JP",
           "subjects": {"organization": {"table": "firms", "key": "firm_id"}},
           "datasets": [{"table": "firms", "subject": "organization", "subject_key": "firm_id",
                         "columns": {"houjin_bangou": ["corporate_number"], "tel": ["phone"]}}]}
    firms = datagen.generate(_model(doc), 2, 1_500)["firms"]
    assert all(corporate_number.is_valid(x) for x in firms["houjin_bangou"].to_pylist())
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(x, "JP")) for x in firms["tel"].to_pylist())


def test_the_other_categories_get_values_of_their_kind() -> None:
    doc = {"version": 1, "name": "x", "database": "d", "default_jurisdiction": "JP",
           "subjects": {"person": {"table": "members", "key": "member_id"}},
           "datasets": [{"table": "members", "subject": "person", "subject_key": "member_id",
                         "columns": {"mynumber": ["my_number"], "password_hash": ["credentials"],
                                     "licence": ["drivers_license"], "fingerprint": ["biometric"],
                                     "last_message": ["communications_content"], "tier": ["loyalty_tier"]}}]}
    m = datagen.generate(_model(doc), 5, 2_000)["members"].to_pydict()
    assert all(my_number.is_valid(x) for x in m["mynumber"])
    assert all(re.fullmatch(r"\$2b\$12\$[0-9A-Za-z]{53}", x) for x in m["password_hash"])
    assert all(re.fullmatch(r"[A-Z]\d{9}[A-Z]", x) for x in m["licence"])
    assert all(re.fullmatch(r"[0-9a-f]{64}", x) for x in m["fingerprint"])
    assert len(set(m["tier"])) == 2_000 and all(x.startswith("loyalty-tier-") for x in m["tier"])

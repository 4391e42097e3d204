"""Levels, names and evidence in DuckDB (scope/levels.py, streamed to files) give exactly what the first
implementation in Python per subject gave (tests/scope_levels_reference.py): the subjects table, the affected
CSV, the summary's counts and the review list. On data built here (random exposures over a snapshot with
two subject kinds, text and numeric person ids, exclusions, exports, hostile names, duplicate and branch
organization names) and on the scope fixtures (tests/scopedata.py through the CLI; the ntt-2025 simulation).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.model.exposure import EXPOSURE_LEVELS, SUBJECTS_SCHEMA
from breachscope.model.exposure_artifact import subjects_table
from breachscope.model.inventory import Controller, Dataset, Exclusion, Inventory, SubjectKind
from breachscope.scope import levels, pipeline
from breachscope.scope.backends import Backend, DuckDBBackend
from breachscope.scope.match import FILE_HITS_SCHEMA
from breachscope.scope.plans import TableExposure
from breachscope.scope.statements import Suspects
from tests import scope_levels_reference, scopedata
from tests.conftest import run_ingest

NAMES = ["株式会社デルタ", "デルタ(株)", "デルタ大阪支店", "=HYPERLINK(1)", "a\x1bb\u202ec", "Acme Ltd.", "ACME",
         "㈱オメガ", "オメガ東京営業所", "", None, "+81 onsite", "Beta, Inc.", 'Quote "q"', "line\nbreak"]


def _inventory(org_jurisdiction: bool, default: str | None) -> Inventory:
    return Inventory(
        1, "equal", "orders", default,
        (SubjectKind("organization", "customers", "customer_id", "company_name", None,
                     ("corporate_number", "customer_id", "branches.phone"), "pref" if org_jurisdiction else None),
         SubjectKind("person", "contacts", "contact_id", "contact_name", "customer_id", (), "country")),
        (Dataset("customers", "organization", "customer_id",
                 (("company_name", ("organization_name",)), ("corporate_number", ("corporate_number",)))),
         Dataset("contracts", "organization", "customer_id", (("contract_no", ("contract_number",)),)),
         Dataset("branches", "organization", "customer_id", (("phone", ("phone",)),)),
         Dataset("contacts", "person", "contact_id", (("email", ("email",)), ("phone", ("phone",))))),
        (Exclusion("docomo", "contracts", "brand = 'docomo'"), Exclusion("alpha", "contracts", "brand = 'alpha'")),
        Controller("JP", ("telecommunications",)))


def _snapshot(folder: Path, rng: random.Random, orgs: int, persons: int) -> Path:
    folder.mkdir()
    pq.write_table(pa.table({
        "customer_id": list(range(1, orgs + 1)),
        "company_name": NAMES[:3] + [rng.choice(NAMES) for _ in range(orgs - 3)],  # one name twice, a branch
        "corporate_number": [rng.choice([None, "", f"{rng.randrange(5):013d}", f" 12-{rng.randrange(3)} ",
                                         f"X{rng.randrange(4)}"]) for _ in range(orgs)],
        "pref": [rng.choice(["JP-13", "", None, "US"]) for _ in range(orgs)]}), folder / "customers.parquet")
    pq.write_table(pa.table({"customer_id": [1 + i % orgs for i in range(orgs * 2)],
                             "contract_no": [f"C{i}" for i in range(orgs * 2)],
                             "brand": [rng.choice(["ntt", "docomo", "alpha"]) for _ in range(orgs * 2)]}),
                   folder / "contracts.parquet")
    pq.write_table(pa.table({"customer_id": list(range(1, orgs + 1)),
                             "phone": [rng.choice(["03-1111", "031111", None]) for _ in range(orgs)]}),
                   folder / "branches.parquet")
    ids = [str(i) if rng.random() < 0.8 else f"p{i}" for i in range(1, persons + 1)]
    pq.write_table(pa.table({
        "contact_id": ids + ids[:3],  # three persons twice (the last row names them)
        "customer_id": [rng.choice([None, *range(1, orgs)]) for _ in range(persons + 3)],  # none of the last
        "contact_name": [rng.choice(NAMES) for _ in range(persons + 3)],
        "country": [rng.choice(["JP", None, ""]) for _ in range(persons + 3)],
        "email": [f"p{i}@example.jp" for i in range(persons + 3)]}), folder / "contacts.parquet")
    return folder


def _exposures(rng: random.Random, backend: Backend, orgs: int, persons: list[str],
               many: bool) -> tuple[list[TableExposure], pa.Table]:
    """Statements and export files over random subjects; `many`: some subjects with more than EVIDENCE_MAX."""
    tables = {"customers": ("organization", ("corporate_number", "organization_name")),
              "contracts": ("organization", ("contract_number",)), "branches": ("organization", ("phone",)),
              "contacts": ("person", ("email", "phone"))}
    exposures: list[TableExposure] = []
    parts = []
    for i in range(40 if many else 12):
        table = rng.choice(sorted(tables))
        subject, cats = tables[table]
        file = rng.random() < 0.25
        level = "CONFIRMED_ACCESSED" if file or rng.random() < 0.6 else "POTENTIAL"
        cats = tuple(c for c in cats if rng.random() < 0.8)
        src = rng.choice(["/logs/a.log", "logs/b.log", "", "exp/out.csv"])
        exposures.append(TableExposure(i, "" if file else f"s{i}", table, subject, level, cats,
                                       rng.choice([None, "LIMIT without ORDER BY", "cannot be replayed"]),
                                       src, rng.choice([0, i + 1, 7])))
        pool = [str(k) for k in range(1, orgs)] if subject == "organization" else persons
        keys = rng.sample(pool, rng.randrange(1, max(2, len(pool) // 4)))
        if many and pool[0] not in keys:
            keys.append(pool[0])  # a subject with more evidence than is listed
        policies = [None, None, None, "docomo", "alpha"] if table == "contracts" else [None]
        parts.append(pa.table({
            "exposure": pa.array([i] * len(keys), pa.int32()), "subject_key": keys,
            "excluded": pa.array([rng.choice(policies) for _ in keys], pa.string()),
            "line": pa.array([rng.choice([None, 3, 10]) if file else None for _ in keys], pa.int64())}))
    i = len(exposures)  # the first three organizations: the same name twice and a branch of it
    exposures.append(TableExposure(i, "s-first", "customers", "organization", "POTENTIAL", ("organization_name",),
                                   None, "/logs/a.log", 2))
    parts.append(pa.table({"exposure": pa.array([i] * 3, pa.int32()), "subject_key": ["1", "2", "3"],
                           "excluded": pa.array([None] * 3, pa.string()), "line": pa.array([None] * 3, pa.int64())}))
    for policy, statement in (("docomo", "s-last"), ("alpha", "")):  # the last organization: every row excluded
        i = len(exposures)
        exposures.append(TableExposure(i, statement, "contracts", "organization", "CONFIRMED_ACCESSED",
                                       ("contract_number",), None, "/logs/a.log", 5))
        parts.append(pa.table({"exposure": pa.array([i], pa.int32()), "subject_key": [str(orgs)],
                               "excluded": [policy], "line": pa.array([None], pa.int64())}))
    return exposures, pa.concat_tables(parts).cast(FILE_HITS_SCHEMA)


def _summary(inventory: Inventory, backend: Backend, agg: Any, reference: bool) -> dict:
    if reference:
        s = scope_levels_reference.summarize(inventory, Suspects().to_dict(), backend, agg.subjects, [], 0, 0, {})
    else:
        req = pipeline.ScopeRequest(Path("case"), Path("inv"), "snap", Suspects())
        s = pipeline.summarize(inventory, req, backend, agg.counts, [], [], 0, {})
    return s.to_json()


def assert_same(inventory: Inventory, backend: Backend, exposures: list[TableExposure], hits: pa.Table) -> int:
    """Both implementations on the same inputs; returns the number of subjects."""
    ref = scope_levels_reference.aggregate(inventory, backend, exposures, hits)
    new = levels.aggregate(inventory, backend, exposures, hits)
    got = pq.read_table(new.subjects.parquet)
    want = subjects_table(ref.subjects)
    assert got.schema.remove_metadata().equals(SUBJECTS_SCHEMA.remove_metadata())
    assert got.schema.metadata[b"breachscope.artifact"] == b"exposure.subjects"
    got_rows, want_rows = got.to_pylist(), want.to_pylist()
    assert len(got_rows) == len(want_rows)
    for g, w in zip(got_rows, want_rows, strict=True):
        assert g == w
    assert new.subjects.csv.read_text(encoding="utf-8") == scope_levels_reference.affected_csv(ref.subjects)
    assert _summary(inventory, backend, new, False) == _summary(inventory, backend, ref, True)
    assert new.review == ref.grouping.review
    return len(got_rows)


@pytest.mark.parametrize("seed", range(6))
def test_random_exposures_give_the_same_subjects(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    orgs, persons = rng.choice([(12, 20), (30, 40)])
    snap = _snapshot(tmp_path / "snap", rng, orgs, persons)
    inventory = _inventory(org_jurisdiction=seed % 2 == 0, default=[None, "JP", ""][seed % 3])
    backend = DuckDBBackend(snap)
    try:
        ids = [r[0] for r in backend.con.execute("SELECT DISTINCT contact_id FROM contacts").fetchall()]
        exposures, hits = _exposures(rng, backend, orgs, sorted(ids), many=seed >= 3)
        assert assert_same(inventory, backend, exposures, hits) > 0
        assert_same(inventory, backend, [], FILE_HITS_SCHEMA.empty_table())  # nothing exposed
    finally:
        backend.close()


def test_levels_cover_every_kind_of_evidence(tmp_path: Path) -> None:
    """The random data above reaches every level, exclusions, person evidence and more than EVIDENCE_MAX."""
    rows, review = [], []
    for seed in (3, 4):
        rng = random.Random(seed)
        orgs, persons = rng.choice([(12, 20), (30, 40)])
        snap = _snapshot(tmp_path / f"snap{seed}", rng, orgs, persons)
        backend = DuckDBBackend(snap)
        try:
            ids = [r[0] for r in backend.con.execute("SELECT DISTINCT contact_id FROM contacts").fetchall()]
            exposures, hits = _exposures(rng, backend, orgs, sorted(ids), many=True)
            agg = levels.aggregate(_inventory(True, "JP"), backend, exposures, hits)
        finally:
            backend.close()
        rows += pq.read_table(agg.subjects.parquet).to_pylist()
        review += agg.review
    assert {r["level"] for r in rows} == set(EXPOSURE_LEVELS)
    assert any(r["excluded_by"] for r in rows) and any(len(r["evidence"]) == levels.EVIDENCE_MAX for r in rows)
    assert any(e["kind"] == "person" for r in rows for e in r["evidence"])
    assert any(r["subject_type"] == "person" and not r["subject_id"].isdigit() for r in rows)
    assert review and any(r["organization_group"] not in (None, r["subject_id"]) for r in rows)  # grouped


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """scope's own runs, each with the reference computed beside it on the same inputs."""
    counts: list[int] = []

    def both(inventory: Inventory, backend: Backend, exposures: list[TableExposure], hits: pa.Table) -> Any:
        counts.append(assert_same(inventory, backend, exposures, hits))
        return levels.aggregate(inventory, backend, exposures, hits)

    monkeypatch.setattr(pipeline, "aggregate", both)
    return counts


def test_scopedata_fixture(tmp_path: Path, compared: list[int]) -> None:
    from tests.test_scope_cli import SUSPECT, _evidence

    case = tmp_path / "case"
    run_ingest([_evidence(tmp_path)], case)
    res = CliRunner().invoke(app, ["scope", "--case", str(case), "--inventory",
                                   str(scopedata.write_inventory(tmp_path / "inventory.yaml")), "--snapshot",
                                   str(scopedata.write_snapshot(tmp_path / "snapshot")), "--suspect-host", SUSPECT])
    assert res.exit_code == 0, res.output
    assert compared and compared[0] > 0


def test_ntt_simulation(tmp_path: Path, compared: list[int]) -> None:
    from tests.test_scope_e2e import _check

    _check(tmp_path, 2000, 5000, None)
    assert compared and compared[0] > 0


def test_staged_subjects_come_out_in_order_even_if_the_scan_reorders(tmp_path: Path) -> None:
    """The stream is checked against `rn`; rows that arrive in another order are written sorted."""
    import tempfile

    from breachscope.engines import local
    from breachscope.scope.staged import StagedSubjects

    con = local.connect()
    ev = "[{'kind': 'file', 'level': 'POTENTIAL', 'statement_id': NULL, 'src_file': 'x', 'src_record': 1, " \
         "'detail': NULL}]"
    rows = ", ".join(f"({rn}, 'person', '{rn}', {ev})" for rn in (3, 1, 2))
    sql = f"""SELECT rn, subject_type, subject_id, NULL AS name, NULL AS organization_id, NULL AS organization_group,
                     'JP' AS jurisdiction, 'POTENTIAL' AS level, ['email'] AS categories, [1] AS category_ranks,
                     []::VARCHAR[] AS excluded_by, NULL AS excluded_level, 1 AS evidence_count, evidence,
                     'snap' AS snapshot, true AS affected, subject_type AS csv_subject_type,
                     subject_id AS csv_subject_id, '' AS csv_name, 'POTENTIAL' AS csv_level, 'email' AS csv_categories,
                     'export x:1' AS csv_evidence
              FROM (VALUES {rows}) t(rn, subject_type, subject_id, evidence)"""
    staged = StagedSubjects.write(con, sql, tempfile.TemporaryDirectory(dir=tmp_path))
    con.close()
    got = pq.read_table(staged.parquet).to_pylist()
    assert [r["subject_id"] for r in got] == ["1", "2", "3"]
    assert got[0]["category_levels"] == [("email", "POTENTIAL")]
    assert staged.csv.read_text(encoding="utf-8").splitlines()[1:] == [f"person,{i},,POTENTIAL,email,export x:1"
                                                                       for i in (1, 2, 3)]

"""A database from an inventory the simulator was not written for, end to end (issue 16): tables and columns
named with reserved words (`user`, `order`, `group`, `key`), organizations with their people, two exclusions.
On PostgreSQL and on MySQL the evidence ingests with no reject and `scope --from-investigation` gives exactly
the truth's organizations and persons; on PostgreSQL the dump loads into a real server and the attacker's
sessions, replayed there, log the lines the simulator wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from breachscope.simulate.scenarios import shipped
from tests.simcase import Replay, assert_scope_exact, replay
from tests.test_simulate import RealServer, attacker_sessions_as_logged

SHOP: dict[str, Any] = {
    "version": 1, "name": "Shop with awkward names", "database": "shop", "default_jurisdiction": "US",
    "subjects": {"organization": {"table": "user", "key": "user_id", "name": "company", "match_keys": ["user_id"]},
                 "person": {"table": "members", "key": "member_id", "name": "full_name", "organization": "user_id"}},
    "datasets": [
        {"table": "user", "subject": "organization", "subject_key": "user_id",
         "columns": {"company": ["organization_name"], "group": [], "address": ["postal_address"], "desc": []}},
        {"table": "members", "subject": "person", "subject_key": "member_id",
         "columns": {"member_id": [], "user_id": [], "full_name": ["person_name"], "email": ["email"],
                     "phone": ["phone"], "card": ["payment_card"], "key": []}},
        {"table": "order", "subject": "organization", "subject_key": "user_id",
         "columns": {"order_id": [], "user_id": [], "total_amount": [], "ordered_at": [], "channel": []}},
    ],
    "exclusions": [{"name": "internal_orders", "table": "order", "where": "channel IN ('internal', 'staff')"},
                   {"name": "closed_members", "table": "members", "where": "\"key\" = 'closed'"}],
}


def _scenario(root: Path, base: str) -> str:
    data = yaml.safe_load(shipped()[base].read_text(encoding="utf-8"))
    data.update(name=f"shop-on-{base}", story="inventory",
                data={"inventory": "shop.inventory.yaml", "rows": {"members": 2, "order": 3}})
    (root / "shop.inventory.yaml").write_text(yaml.safe_dump(SHOP, sort_keys=False), encoding="utf-8")
    path = root / "shop.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return str(path)


_BUILT: dict[str, Replay] = {}


def _shop(base: str, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """The shop on `base`'s network and engine, simulated and investigated once for the module."""
    if base not in _BUILT:
        root = tmp_path_factory.mktemp(f"shop-{base}")
        _BUILT[base] = replay(root, _scenario(root, base), events=8_000, seed=4, customers=6_000)
    return _BUILT[base]


@pytest.fixture(scope="module", params=["ntt-2025", "logistics-vpn"], ids=["postgresql", "mysql"])
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    return _shop(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def shop_pg(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    return _shop("ntt-2025", tmp_path_factory)


def test_the_evidence_ingests_and_scope_is_exact(shop: Replay) -> None:
    assert shop.summary.rejected == 0, [f for f in shop.summary.files if f.rejected]
    affected = shop.truth["affected"]
    assert affected["organization_count"] == round(17_891 * 6_000 / 60_000) and affected["persons"]
    assert affected["excluded"]["person_count"] > 0  # the closed members' only rows
    assert_scope_exact(shop)
    texts = [s["sql"] for s in shop.truth["database"]["statements"]]
    quote = "`" if shop.truth["hosts"]["database"]["name"].startswith("lg-") else '"'
    assert any(f"FROM {quote}user{quote}" in t for t in texts) and any(f"FROM {quote}order{quote}" in t for t in texts)


def test_the_dump_and_the_attackers_sessions_match_a_real_postgresql(pg_server: object, shop_pg: Replay,
                                                                      tmp_path: Path) -> None:
    """pgAudit names a reserved table quoted (`public."user"`, CSV-escaped), as the simulator writes it."""
    out, truth = shop_pg.sim, shop_pg.truth
    real = RealServer(pg_server, out / "snapshot" / "shop.sql", "sim_shop")
    for t in ("user", "members", "order"):
        n = int(pg_server.psql(f'SELECT count(*) FROM "{t}"', db="sim_shop"))  # type: ignore[attr-defined]
        assert n == pq.read_metadata(out / "snapshot" / f"{t}.parquet").num_rows > 0
    compared = attacker_sessions_as_logged(real, out, truth, tmp_path)
    assert compared > 20

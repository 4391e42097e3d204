"""The attacker's script over ODBC (`database_sessions: {client: odbc}`, issue 16): psqlODBC sets no
application_name, so the server logs `[unknown]` and a `connection authorized` line without one. The simulated
sessions are sent again through psqlODBC (pyodbc, unixODBC) to a real PostgreSQL with pgAudit and must log the
same lines; the investigation still finds the sessions and scope stays exact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from breachscope.model.errors import ConfigError
from breachscope.simulate.scenario_file import load_scenario
from breachscope.simulate.scenarios import shipped
from tests.simcase import Replay, assert_scope_exact, replay
from tests.test_simulate import RealServer, _entries_of_pid, _mask, _wait_disconnect


def _scenario(root: Path, database: str = "postgresql") -> Path:
    data = yaml.safe_load(shipped()["ntt-2025"].read_text(encoding="utf-8"))
    data["network"]["database"] = database
    for step in data["attack"]["variants"]["destination"]:
        if step["step"] == "database_sessions":
            step["client"] = "odbc"
    path = root / "odbc.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def odbc(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    root = tmp_path_factory.mktemp("odbc")
    return replay(root, str(_scenario(root)), events=5_000, seed=8, customers=3_000)


def test_the_sessions_are_found_and_scope_is_exact(odbc: Replay) -> None:
    script = [s for s in odbc.truth["database"]["statements"] if s["params"]]
    assert script and all(s["application"] == "" for s in script)
    assert set(odbc.incident.suspects.sessions) == set(odbc.truth["investigation_inputs"]["database_sessions"])
    assert_scope_exact(odbc)


def test_the_odbc_sessions_match_a_real_server(pg_server: object, odbc: Replay) -> None:
    import pyodbc

    real = RealServer(pg_server, odbc.sim / "snapshot" / "orders.sql", "sim_odbc")
    sessions: dict[int, list[dict[str, Any]]] = {}
    for st in odbc.truth["database"]["statements"]:
        if st["params"]:
            sessions.setdefault(st["session"], []).append(st)
    compared = 0
    for _, stmts in sorted(sessions.items()):
        file = stmts[0]["records"][0]["file"]
        simulated = _entries_of_pid((odbc.sim / file).read_text(encoding="utf-8"), stmts[0]["pid"])
        before = len(real.log())
        connection = pyodbc.connect(f"DRIVER={{PostgreSQL Unicode}};SERVER=127.0.0.1;PORT={real.s.port};"  # type: ignore[attr-defined]
                                    f"DATABASE=sim_odbc;UID=app_order;pqopt={{options='-c log_disconnections=on'}};",
                                    autocommit=True)
        cursor = connection.cursor()
        for st in stmts:
            cursor.execute(re.sub(r"\$\d+", "?", st["sql"]), *st["params"])
            cursor.fetchall()
        connection.close()
        pid = int(re.search(r"\[(\d+)\] \[unknown\]@\[unknown\]", real.log()[before:]).group(1))  # type: ignore[union-attr]
        _wait_disconnect(real, pid)
        logged = _entries_of_pid(real.log()[before:], pid)
        assert _mask(simulated) == _mask(logged), f"session {stmts[0]['session']}"
        compared += len(logged)
    assert compared > 10


def test_odbc_on_another_engine_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"odbc\.yaml:\d+: .*client odbc is simulated for PostgreSQL only"):
        load_scenario(str(_scenario(tmp_path, "mysql")))

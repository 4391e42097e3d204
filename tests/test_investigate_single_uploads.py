"""The external detector's transfers on Zeek conn.log written here and ingested: one large upload in a single
connection from a server to an outside address nobody inside ever reached is a data movement; a transfer that
runs across midnight (23:50 -> 00:20) is one movement with all its bytes, not one a calendar day. The backup
server's weekly single-connection upload to its vault (a schedule), a workstation's upload through its browser
and the update service every host downloads from are not reported. Spark parity: test_investigate_spark.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from breachscope.investigate.pipeline import InvestigateRequest, find_incident
from breachscope.model.incident import Incident
from tests.conftest import run_ingest
from tests.test_investigate_exfil_channels import CONN, DAY, SITES, T0, Logs, _log

UPDATES = "198.18.200.20"
BACKUP, VAULT = "10.0.1.20", "198.18.210.9"  # one 2 GB connection every four days, the first to a new address
SERVER, DROP = "10.0.1.50", "203.0.113.77"  # 50 MB in one HTTPS connection, to an address nobody reached before
NIGHT, NIGHT_DST = "10.0.1.60", "203.0.113.90"  # six 5 MB connections, 23:50 to 00:20
SINGLE, PART = 50_000_000, 5_000_000
NIGHT_START = T0 + 9 * DAY - 600  # day 8, 23:50 UTC
WORKSTATIONS = [f"10.0.3.{i}" for i in range(10, 30)]


def _conn(logs: Logs, ts: float, src: str, dst: str, up: int, down: int, duration: float = 3.0) -> None:
    logs.conn.append((f"{ts:.6f}", logs.uid(), src, logs.rng.randrange(49152, 65536), dst, 443, "tcp", "ssl",
                      f"{duration:.3f}", up, down, "SF"))


def evidence(folder: Path) -> Path:
    """Fourteen days: workstations browsing and downloading updates, servers fetching updates, the weekly
    backup (days 4, 8, 12), a workstation's 900 kB upload to a new site (day 5), the server's single upload
    (day 10) and the night transfer (day 8 -> 9)."""
    logs = Logs(23)
    rng = logs.rng
    for day in range(14):
        for ws in WORKSTATIONS:
            for _ in range(4):
                ip, _name = rng.choice(SITES)
                _conn(logs, T0 + day * DAY + rng.uniform(0, DAY), ws, ip, rng.randrange(800, 30_000),
                      rng.randrange(5_000, 400_000))
            _conn(logs, T0 + day * DAY + rng.uniform(0, DAY), ws, UPDATES, rng.randrange(2_000, 9_000),
                  rng.randrange(5_000_000, 60_000_000))
        for host in (SERVER, NIGHT, BACKUP):
            _conn(logs, T0 + day * DAY + rng.uniform(3600, 7200), host, UPDATES, 4_000, 8_000_000)
        if day in (4, 8, 12):  # a new address after the case's first days: only the schedule keeps it out
            _conn(logs, T0 + day * DAY + 3 * 3600, BACKUP, VAULT, 2_000_000_000 + day, 600_000, 1800.0)
    _conn(logs, T0 + 5 * DAY + 9 * 3600, WORKSTATIONS[5], "198.51.100.7", 900_000, 3_000)
    _conn(logs, T0 + 10 * DAY + 2 * 3600, SERVER, DROP, SINGLE, 40_000, 900.0)
    for i in range(6):
        _conn(logs, NIGHT_START + i * 360, NIGHT, NIGHT_DST, PART, 20_000, 60.0)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conn.log").write_text(_log("conn", CONN, logs.conn))
    return folder


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    tmp = tmp_path_factory.mktemp("single")
    run_ingest([evidence(tmp / "zeek")], tmp / "case")
    return find_incident(InvestigateRequest(tmp / "case"))[0]


def test_a_single_large_upload_to_a_new_address_is_a_data_movement(incident: Incident) -> None:
    moves = [m for m in incident.data_movements if m.kind == "exfiltration" and m.src_ip == SERVER]
    assert [(m.dst_ip, m.bytes) for m in moves] == [(DROP, SINGLE)]
    assert {e.ip: e.role for e in incident.external}[DROP] == "exfiltration"


def test_a_transfer_across_midnight_is_one_movement(incident: Incident) -> None:
    moves = [m for m in incident.data_movements if m.kind == "exfiltration" and m.src_ip == NIGHT]
    assert [(m.dst_ip, m.bytes) for m in moves] == [(NIGHT_DST, 6 * PART)]
    assert moves[0].start == datetime.fromtimestamp(NIGHT_START, UTC)
    assert moves[0].end == datetime.fromtimestamp(NIGHT_START + 5 * 360 + 60, UTC)


def test_the_weekly_backup_browser_upload_and_updates_are_not_reported(incident: Incident) -> None:
    assert {m.src_ip for m in incident.data_movements} == {SERVER, NIGHT}
    assert {e.ip for e in incident.external} == {DROP, NIGHT_DST}

"""The external detector's bulk transfers on Zeek logs written here and ingested: files sent by FTP to a server
outside, one passive data connection per file beside the control connection on 21, are one data movement with
the bytes summed and the files named by ftp.log's STOR lines (and found from conn.log's bytes alone too). The
backup server's weekly upload over parallel connections and the update service every workstation downloads
from are not reported. The Spark parity is in test_investigate_spark.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from breachscope.investigate.pipeline import InvestigateRequest, find_incident
from breachscope.model.incident import Incident
from tests.conftest import run_ingest
from tests.test_investigate_exfil_channels import CONN, DAY, SITES, T0, Logs, _log

UPDATES = "198.18.200.20"  # the software update service: every workstation downloads, in several connections
BACKUP, VAULT = "10.0.1.20", "198.18.210.9"  # the weekly backup set, four parallel uploads each time
SERVER, FTP_SERVER = "10.0.1.50", "192.0.2.206"
FILES = [("ctr_0204.csv", 1_210_000), ("export_0205.csv", 930_000), ("inv_0206.csv", 712_345)]
CONTROL_UP, CONTROL_DOWN = 300, 1_020
FTP = (("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
       ("id.resp_p", "port"), ("user", "string"), ("password", "string"), ("command", "string"),
       ("arg", "string"), ("mime_type", "string"), ("file_size", "count"), ("reply_code", "count"),
       ("reply_msg", "string"))


def _conn(logs: Logs, ts: float, src: str, dst: str, port: int, service: str, up: int, down: int) -> str:
    uid = logs.uid()
    logs.conn.append((f"{ts:.6f}", uid, src, logs.rng.randrange(49152, 65536), dst, port, "tcp", service, "3.0", up,
                      down, "SF"))
    return uid


def evidence(folder: Path, ftp_log: bool = True) -> Path:
    """Fourteen days: 20 workstations browsing and downloading updates, the backup server's weekly upload over
    four connections, and on day 10 a server that sends three files by FTP to a new address outside."""
    logs = Logs(11)
    rng = logs.rng
    workstations = [f"10.0.3.{i}" for i in range(10, 30)]
    for day in range(14):
        for ws in workstations:
            for _ in range(4):
                ip, _name = rng.choice(SITES)
                _conn(logs, T0 + day * DAY + rng.uniform(0, DAY), ws, ip, 443, "ssl", rng.randrange(800, 30_000),
                      rng.randrange(5_000, 400_000))
            for _ in range(3):  # the day's updates: small requests, large answers
                _conn(logs, T0 + day * DAY + rng.uniform(0, DAY), ws, UPDATES, 443, "ssl", rng.randrange(2_000, 9_000),
                      rng.randrange(5_000_000, 60_000_000))
        _conn(logs, T0 + day * DAY + rng.uniform(0, DAY), SERVER, UPDATES, 443, "ssl", 4_000, 8_000_000)
        if day % 6 == 0:  # days 0, 6 and 12
            for part in range(4):
                _conn(logs, T0 + day * DAY + 3 * 3600 + part, BACKUP, VAULT, 443, "ssl",
                      1_500_000_000 + day * 1_000 + part, 600_000)
    t = T0 + 10 * DAY + 2 * 3600.0
    control = _conn(logs, t, SERVER, FTP_SERVER, 21, "ftp", CONTROL_UP, CONTROL_DOWN)
    ftp: list[tuple[Any, ...]] = []
    for i, (name, size) in enumerate(FILES):
        at = t + 2 + 3 * i
        _conn(logs, at, SERVER, FTP_SERVER, 40_000 + i, "ftp-data", size, 0)
        ftp.append((f"{at + 1:.6f}", control, SERVER, 50_000, FTP_SERVER, 21, "drop", "<hidden>", "STOR",
                    f"ftp://{FTP_SERVER}/./in/{name}", "text/plain", size, 226, "Transfer complete."))
    logs.write(folder)
    if ftp_log:
        (folder / "ftp.log").write_text(_log("ftp", FTP, ftp))
    else:  # conn.log only: what Zeek wrote without its FTP analyzer
        (folder / "conn.log").write_text(_log("conn", CONN, logs.conn))
    return folder


@pytest.fixture(scope="module", params=[True, False], ids=["with-ftp-log", "conn-only"])
def incident(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Incident, bool]:
    tmp = tmp_path_factory.mktemp("bulk")
    run_ingest([evidence(tmp / "zeek", request.param)], tmp / "case")
    return find_incident(InvestigateRequest(tmp / "case"))[0], request.param


def test_the_ftp_upload_is_one_data_movement_with_the_bytes_summed(incident: tuple[Incident, bool]) -> None:
    inc, with_ftp = incident
    moves = [m for m in inc.data_movements if m.kind == "exfiltration"]
    assert [(m.src_ip, m.dst_ip) for m in moves] == [(SERVER, FTP_SERVER)]
    assert moves[0].bytes == sum(size for _, size in FILES) + CONTROL_UP  # the control and data connections
    assert {e.ip: e.role for e in inc.external}[FTP_SERVER] == "exfiltration"
    if with_ftp:
        assert sorted(moves[0].files) == sorted(name for name, _ in FILES)


def test_the_weekly_backup_and_the_update_service_are_not_reported(incident: tuple[Incident, bool]) -> None:
    inc, _ = incident
    assert {e.ip for e in inc.external} == {FTP_SERVER}
    assert not [m for m in inc.data_movements if m.src_ip in (BACKUP,) or m.dst_ip in (VAULT, UPDATES)]

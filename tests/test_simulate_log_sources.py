"""What an organization collects (`network.log_sources`, issue 16): a source left out writes no file, the
Zeek sensors see only what their placement lets them see, and the truth says what the attack left in logs
nobody kept."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from breachscope.model.errors import ConfigError
from breachscope.simulate import sources
from breachscope.simulate.scenario_file import LogSources, load_scenario
from breachscope.simulate.scenarios import shipped
from tests.simcase import Sim, simulated

EDGE_ONLY = {"windows_security": ["dc", "servers"], "sysmon": ["servers"], "zeek": ["internet", "10.40.2.0/24"],
             "netflow": False}


def _scenario(log_sources: dict[str, Any]) -> dict[str, Any]:
    data = yaml.safe_load(shipped()["ntt-2025"].read_text(encoding="utf-8"))
    data["name"] = "ntt-collected"
    data["network"]["log_sources"] = log_sources
    return dict(data)


def _inside(addr: str) -> bool:
    return ipaddress.ip_address(addr).is_private and not any(
        ipaddress.ip_address(addr) in ipaddress.ip_network(n)
        for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15"))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with simulated(tmp_path_factory.mktemp("edge"), _scenario(EDGE_ONLY), events=8_000, seed=6) as sim:
        yield sim


def _zeek_line(orig: str, resp: str) -> str:
    return f"1738714812.500100\tCx\t{orig}\t50000\t{resp}\t443\ttcp\n"


def test_a_sensor_sees_what_its_placement_lets_it_see() -> None:
    lines = pa.array([_zeek_line("10.20.0.15", "10.10.0.10"), _zeek_line("10.20.0.15", "203.0.113.80"),
                      _zeek_line("10.40.2.12", "10.10.0.10"), _zeek_line("198.51.100.7", "10.40.2.12"),
                      _zeek_line("fe80::1", "fe80::2"), "garbage without tabs\n"])
    view = sources.collection(LogSources(zeek=("internet",)), [])
    assert view.zeek_visible(lines).tolist() == [False, True, False, True, True, True]  # not inside: seen
    view = sources.collection(LogSources(zeek=("10.40.2.0/24",)), [])
    assert view.zeek_visible(lines).tolist() == [False, False, True, True, False, False]
    view = sources.collection(LogSources(zeek=("internet",)), ["198.51.100.7"])  # an address of the org's own
    assert view.zeek_visible(lines)[3] == False  # noqa: E712 - a numpy bool
    assert sources.collection(LogSources(), []).zeek_visible(lines).all()


def test_sources_map_to_the_files() -> None:
    c = sources.collection(LogSources(**EDGE_ONLY), [])
    assert c.collects("win.dc.security") and c.collects("win.servers.security")
    assert not c.collects("win.workstations.security") and not c.collects("win.workstations.sysmon")
    assert c.collects("win.servers.sysmon") and c.collects("zeek.conn") and not c.collects("flow.wan-rtr01")
    assert c.collects("pg.ord-db01") and c.collects("ios.core-rtr01") and c.collects("asa.fw-edge01")
    assert not sources.collection(LogSources(zeek=()), []).collects("zeek.dns")


def test_sources_not_collected_write_no_file(edge: Sim) -> None:
    ev = edge.out / "evidence"
    assert (ev / "windows" / "servers").is_dir() and (ev / "windows" / "dc").is_dir()
    assert not (ev / "windows" / "workstations").exists() and not (ev / "flows").exists()
    assert list((ev / "windows" / "servers").rglob("*sysmon*")), "servers' Sysmon is collected"


def test_the_sensor_wrote_only_what_it_could_see(edge: Sim) -> None:
    watched = ipaddress.ip_network("10.40.2.0/24")
    rows = edge.rows('SELECT "id.orig_h" AS o, "id.resp_h" AS r FROM zeek_conn')
    assert rows
    for r in rows:
        ends = [r["o"], r["r"]]
        assert not all(_inside(a) for a in ends) or any(ipaddress.ip_address(a) in watched for a in ends), r
    assert any(all(_inside(a) for a in (r["o"], r["r"])) for r in rows)  # the watched subnet's own traffic


def test_the_truth_says_what_the_attack_left_where_nobody_looked(edge: Sim) -> None:
    t = edge.truth
    assert t["log_sources"]["zeek"] == ["internet", "10.40.2.0/24"] and t["log_sources"]["netflow"] is False
    missing = t["evidence"]["not_collected"]
    assert missing and all(n > 0 for n in missing.values()), missing
    for r in t["evidence"]["records"]:  # every record the truth lists is in a file that was written
        path = edge.out / r["file"]
        assert path.is_file(), r
        assert not r["file"].startswith(("evidence/windows/workstations", "evidence/flows")), r


def test_collecting_everything_is_the_default_and_not_in_the_truth() -> None:
    assert load_scenario("ntt-2025").network.log_sources == LogSources()


@pytest.fixture(scope="module")
def per_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    data = _scenario({"not_from": {"ORD-MNT01": ["sysmon", "windows_security"], "wan-rtr01": ["router_syslog"],
                                   "PC10001": ["sysmon"]}})
    assert data["network"]["story_hosts"]["device_b"] == "ORD-MNT01"
    with simulated(tmp_path_factory.mktemp("per-host"), data, events=8_000, seed=6) as sim:
        yield sim


def test_a_host_left_out_writes_none_of_its_records(per_host: Sim) -> None:
    """`not_from`: device B's Windows logs and one router's syslog are not collected; the other servers' logs
    and the other routers' files are, and the truth counts the attack's records left out."""
    ev = per_host.out / "evidence"
    servers = "".join(p.read_text(encoding="utf-8") for p in (ev / "windows" / "servers").rglob("*.ndjson"))
    assert '"computer_name":"ORD-MNT01.' not in servers and '"computer_name":"ORD-AP02.' in servers
    assert not (ev / "network" / "wan-rtr01").exists() and (ev / "network" / "core-rtr01").is_dir()
    assert per_host.rows("SELECT count(*) AS n FROM windows WHERE host LIKE 'ORD-MNT01%'")[0]["n"] == 0
    missing = per_host.truth["evidence"]["not_collected"]
    assert missing.get("attack:lateral_movement", 0) > 0 or missing.get("attack:staging", 0) > 0, missing
    assert per_host.truth["log_sources"]["not_from"] == {"ORD-MNT01": ["sysmon", "windows_security"],
                                                         "wan-rtr01": ["router_syslog"], "PC10001": ["sysmon"]}
    stations = "".join(p.read_text(encoding="utf-8") for p in (ev / "windows" / "workstations").rglob("*sysmon*"))
    assert '"computer_name":"PC10001.' not in stations and '"computer_name":"PC10002.' in stations


@pytest.mark.parametrize(("log_sources", "message"), [
    ({"not_from": {"NOPE01": ["sysmon"]}}, "no server, device or workstation named 'NOPE01'"),
    ({"not_from": {"PC10024": ["linux_syslog"]}}, r"PC10024 \(windows\) writes no linux_syslog"),
    ({"not_from": {"wan-rtr01": ["sysmon"]}}, r"wan-rtr01 \(router\) writes no sysmon"),
    ({"zeek": ["edge"]}, "not all, internet or an IPv4 network"),
    ({"sysmon": ["dc"]}, "sysmon"),
    ({"netflow": "maybe"}, "netflow"),
])
def test_wrong_sources_are_refused_with_their_line(tmp_path: Path, log_sources: dict[str, Any], message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario(log_sources), sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        load_scenario(str(path))
    assert err.value.line is not None

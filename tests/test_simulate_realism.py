"""Realism of the simulated network (issue 16's defects): every host address is a valid IPv4 host address,
workstations stay inside their /24, no two hosts share an address; `simulate` does not print the truth."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.simulate import network
from breachscope.simulate.scenario_file import load_scenario


def test_every_host_address_is_valid_and_unique_at_the_largest_network() -> None:
    spec = load_scenario("ntt-2025").network
    net = network.build(spec, 2025, 10**8)  # the most workstations the simulator makes (4,000)
    assert len(net.workstations) == network.workstation_count(spec, 10**8) == 4000
    seen: dict[str, str] = {}
    for h in net.hosts.values():
        addr = ipaddress.IPv4Address(h.ip)  # raises on 10.20.0.256
        assert h.ip not in seen, f"{h.name} and {seen[h.ip]} share {h.ip}"
        seen[h.ip] = h.name
        if h.role == "workstation":
            subnet = ipaddress.IPv4Network(f"{h.ip.rsplit('.', 1)[0]}.0/24")
            assert addr in subnet and addr not in (subnet.network_address, subnet.broadcast_address)


def test_simulate_keeps_the_affected_count_out_of_its_output(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "sim"), "--events", "2000",
                                   "--customers", "2000"])
    assert res.exit_code == 0, res.output
    assert "affected" not in res.output.lower()
    assert (tmp_path / "sim" / "truth.json").is_file()

"""port_scans: scanners found from the failed attempts they leave (Zeek conn states, flow SYNs without
ACK), inside reconnaissance high, a scheduled scanner and the Internet's background low; on a real
labelled capture (Stratosphere 008: a host on CTU's public network attacked from the Internet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from breachscope.detect.analytics import port_scans
from breachscope.detect.analytics.runner import run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.detect.casesql import DEFAULT_INTERNAL
from breachscope.engines.duckdb_case import open_case
from tests.conftest import run_ingest

HEADER = ("flowStartMilliseconds,flowEndMilliseconds,sourceIPv4Address,destinationIPv4Address,sourceTransportPort,"
          "destinationTransportPort,protocolIdentifier,octetDeltaCount,packetDeltaCount,tcpControlBits\n")
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def flow(t: datetime, src: str, dst: str, port: int, flags: int) -> str:
    ms = int(t.timestamp() * 1000)
    return f"{ms},{ms + 5},{src},{dst},{40000 + port % 20000},{port},6,60,1,{flags}\n"


def findings(case: Path, inside: tuple[str, ...] = ()) -> dict[str, dict]:
    with open_case(case) as c:
        res = run_analytics(CaseContext(c, table_columns(c), internal_networks=DEFAULT_INTERNAL + inside),
                            [port_scans.ANALYTIC])
    assert res.runs[0].status == "ran", res.runs
    return {f["src_ip"] or f["dst_ip"]: f for f in res.findings.to_pylist()}


def test_scanners_inside_and_out(tmp_path: Path) -> None:
    lines = []
    for i in range(60):  # an inside host sweeping 30 hosts on 445 and 3389 once: reconnaissance
        lines.append(flow(T0 + timedelta(seconds=i), "10.5.0.9", f"10.5.1.{i % 30 + 1}", (445, 3389)[i % 2], 2))
    for day in range(4):  # the vulnerability scanner, every night
        for i in range(40):
            lines.append(flow(T0 + timedelta(days=day, hours=14, seconds=i), "10.5.0.200", f"10.5.1.{i + 1}", 22, 2))
    for i in range(30):  # an outsider trying 30 ports of the web server
        lines.append(flow(T0 + timedelta(hours=2, seconds=i), "198.51.100.7", "10.5.2.10", 1000 + i, 2))
    for i in range(200):  # ordinary: clients on the web server, answered (SYN+ACK+...)
        lines.append(flow(T0 + timedelta(minutes=i), f"10.5.3.{i % 50 + 1}", "10.5.2.10", 443, 27))
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "flows.csv").write_text(HEADER + "".join(lines))
    run_ingest([ev], tmp_path / "case")
    found = findings(tmp_path / "case")
    assert set(found) == {"10.5.0.9", "10.5.0.200", "198.51.100.7"}
    assert found["10.5.0.9"]["level"] == "high" and found["10.5.0.9"]["rule_title"].startswith("Internal port scan")
    assert found["10.5.0.200"]["level"] == "low" and "schedule" in found["10.5.0.200"]["rule_title"]
    assert found["198.51.100.7"]["level"] == "low"
    assert found["10.5.0.9"]["evidence"] and found["10.5.0.9"]["src_file"].endswith("flows.csv")


def test_internet_background_on_a_real_capture(tmp_path: Path, datasets: Path) -> None:
    data = datasets / "stratosphere-security-datasets" / "008-zeek-mixed" / "data" / "conn.log.labeled"
    if not data.exists():
        pytest.skip(f"{data} is not in this checkout of the datasets")
    run_ingest([data], tmp_path / "case")
    found = findings(tmp_path / "case", ("147.32.0.0/16",))  # CTU's network: the attacked host's
    probed = found["147.32.81.167"]
    assert probed["rule_title"].startswith("Inbound probing of 147.32.81.167") and probed["level"] == "low"
    scanners = [f for f in found.values() if f["rule_title"].startswith("Port scan from outside")]
    assert scanners and all(f["level"] == "low" for f in scanners)
    assert not any(f["level"] in ("medium", "high", "critical") for f in found.values())

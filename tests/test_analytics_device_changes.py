"""device_changes: router configuration changes out of the organization's own practice (issue 13 item 5),
learned from the case: the change window and the usual sources, on lines built here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from breachscope.detect.analytics import device_changes
from breachscope.detect.analytics.runner import run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.engines.duckdb_case import open_case
from tests.conftest import run_ingest

START = datetime(2025, 1, 7, 13, 5, tzinfo=UTC)  # a Tuesday: the change window is Tuesdays 13:00-14:00 UTC


def line(t: datetime, device: str, seq: int, text: str) -> str:
    return (f"{t.isoformat()} {device} {seq}: {device}: {t:%b %d %H:%M:%S}.000 UTC: {text}\n")


def config_i(t: datetime, device: str, seq: int, user: str, source: str) -> list[str]:
    return [line(t, device, seq, f"%PARSER-5-CFGLOG_LOGGEDCMD: User:{user}  logged command:interface Gi0/{seq % 4}"),
            line(t + timedelta(seconds=30), device, seq + 1,
                 f"%SYS-5-CONFIG_I: Configured from console by {user} on vty0 ({source})")]


def test_changes_out_of_practice(tmp_path: Path) -> None:
    lines = []
    for week in range(8):  # routine: two admins from the admin subnet, in the window, on two routers
        t = START + timedelta(weeks=week)
        lines += config_i(t, "edge-a", 10 * week, "ops1", "10.0.9.5")
        lines += config_i(t + timedelta(minutes=20), "edge-b", 10 * week + 5, "ops2", "10.0.9.6")
    later = START + timedelta(weeks=8)
    lines += config_i(later + timedelta(minutes=10), "edge-a", 900, "ops1", "10.0.9.5")  # routine, in the window
    odd = later + timedelta(days=4, hours=-10)  # Saturday 03:05: known admin, known source, odd hour
    lines += config_i(odd, "edge-b", 910, "ops2", "10.0.9.6")
    stranger = later + timedelta(days=5, hours=-9)  # Sunday 04:05, new account from a new inside address
    lines += config_i(stranger, "edge-a", 920, "backup", "10.0.33.7")
    outside = later + timedelta(days=6)  # Monday 13:05 from outside the network
    lines += config_i(outside, "edge-b", 930, "ops2", "198.51.100.23")
    (tmp_path / "routers.log").write_text("".join(sorted(lines)))
    run_ingest([tmp_path / "routers.log"], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        res = run_analytics(CaseContext(c, table_columns(c)), [device_changes.ANALYTIC])
    found = {(f["host"], f["src_ip"]): f for f in res.findings.to_pylist()}
    assert set(found) == {("edge-b", "10.0.9.6"), ("edge-a", "10.0.33.7"), ("edge-b", "198.51.100.23")}
    assert found[("edge-b", "10.0.9.6")]["level"] == "low"  # the odd hour alone
    assert found[("edge-a", "10.0.33.7")]["level"] == "high" and found[("edge-a", "10.0.33.7")]["user"] == "backup"
    assert found[("edge-b", "198.51.100.23")]["level"] in ("medium", "high")
    assert "outside the network" in found[("edge-b", "198.51.100.23")]["description"]
    ev = found[("edge-a", "10.0.33.7")]["evidence"]
    assert len(ev) == 2 and all(e["src_file"].endswith("routers.log") for e in ev)


def test_skipped_without_device_changes(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n")
    run_ingest([tmp_path / "a.log"], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        res = run_analytics(CaseContext(c, table_columns(c)), [device_changes.ANALYTIC])
    assert res.runs[0].status == "skipped" and "configuration-change records" in (res.runs[0].reason or "")

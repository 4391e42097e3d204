"""The simulated period and time zone (issue 16): set by the scenario file's `period:`, followed by every
local-time format (summer time included), by office hours and days off, and by the daily files; checked
against Python's own tz database, not against the simulator's clock."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from breachscope.model.errors import ConfigError, UsageError
from breachscope.simulate import SimConfig, clock, run
from breachscope.simulate.scenario_file import load_scenario
from breachscope.simulate.scenarios import shipped
from tests.simcase import Sim, simulated

NEW_YORK = ZoneInfo("America/New_York")
#: the built-in story's weeks, in New York: the clock goes forward on 2025-03-09 at 02:00 (EST -> EDT)
PERIOD = {"first_day": "2025-01-13", "days": 60, "time_zone": "America/New_York",
          "holidays": ["2025-01-20", "2025-02-17"]}
SPRING_FORWARD = datetime(2025, 3, 9, 7, 0, tzinfo=UTC)


def _scenario(period: dict[str, Any] | None = PERIOD, **changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(shipped()["ntt-2025"].read_text(encoding="utf-8"))
    data["name"] = "ntt-new-york"
    data.pop("period", None)
    if period is not None:  # where the shipped files have it: after `story:`
        data = {k: v for k, v in data.items() if k not in ("network", "routine", "attack")} | {"period": period} | {
            k: data[k] for k in ("network", "routine", "attack")}
    data.update(changes)
    return data


def _write(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def new_york(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with simulated(tmp_path_factory.mktemp("new-york"), _scenario(), events=12_000, seed=5) as sim:
        yield sim


def _lines(folder: Path) -> Iterator[str]:
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            yield from f.read_text(encoding="utf-8").splitlines()


# --- the clock itself ---------------------------------------------------------------------------------------


def test_the_default_period_is_the_built_in_storys() -> None:
    assert clock.PERIOD == clock.DEFAULT
    assert int(datetime(2025, 1, 12, 15, tzinfo=UTC).timestamp()) * clock.US == clock.START
    assert clock.MINUTES == 54 * 1440
    assert load_scenario("ntt-2025").period.clock_period() == clock.DEFAULT


def test_days_and_minutes_follow_the_zones_midnights() -> None:
    period = clock.Period(date(2025, 1, 13), 60, "America/New_York", frozenset())
    with clock.using(period):
        assert clock.MINUTES == 60 * 1440 - 60  # one day had 23 hours
        for i in (0, 54, 55, 56, 59, 60):
            day = date(2025, 1, 13) + timedelta(days=i)
            midnight = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
            assert clock.day_start(i) == int(midnight.timestamp()) * clock.US
            assert clock.day_index(clock.day_start(i)) == i
            assert clock.day_index(clock.day_start(i) - 1) == i - 1
        slices = clock.plan_slices(500_000, "office")
        assert sum(s.count for s in slices) == 500_000
        assert slices[0].start == clock.START and slices[-1].end == clock.END
        assert all(a.end == b.start for a, b in itertools.pairwise(slices))
    assert clock.PERIOD == clock.DEFAULT  # restored after the block


def test_office_hours_are_local_hours_before_and_after_the_clock_change() -> None:
    period = clock.Period(date(2025, 1, 13), 60, "America/New_York", frozenset({date(2025, 2, 17)}))
    with clock.using(period):
        w = clock.minute_weights("office")

        def weight(local: datetime) -> float:
            return float(w[(int(local.timestamp()) * clock.US - clock.START) // clock.MINUTE])

        for day in (date(2025, 3, 7), date(2025, 3, 10)):  # a Friday in EST, a Monday in EDT
            at = {h: weight(datetime(day.year, day.month, day.day, h, 30, tzinfo=NEW_YORK)) for h in (3, 8, 10)}
            assert at[10] == 1.0 and at[8] == 0.7 and at[3] == 0.02, (day, at)
        holiday = weight(datetime(2025, 2, 17, 10, 30, tzinfo=NEW_YORK))
        assert holiday == weight(datetime(2025, 2, 16, 10, 30, tzinfo=NEW_YORK)) < 0.1  # as on the Sunday


def test_local_texts_carry_the_offset_and_abbreviation_of_their_moment() -> None:
    period = clock.Period(date(2025, 1, 13), 60, "America/New_York", frozenset())
    instants = [datetime(2025, 3, 9, 6, 59, 59, 250_000, tzinfo=UTC),
                datetime(2025, 3, 9, 7, 0, 0, 500_000, tzinfo=UTC)]
    us = np.array([int(t.timestamp() * 1_000_000) for t in instants], dtype=np.int64)
    with clock.using(period):
        assert clock.rfc3339_local(us).to_pylist() == ["2025-03-09T01:59:59.250000-05:00",
                                                        "2025-03-09T03:00:00.500000-04:00"]
        assert clock.pg_local(us).to_pylist() == ["2025-03-09 01:59:59.250 EST", "2025-03-09 03:00:00.500 EDT"]
        assert clock.cisco_local(us).to_pylist() == ["Mar  9 01:59:59.250 EST", "Mar  9 03:00:00.500 EDT"]
        assert clock.cisco_login_at(us).to_pylist() == ["01:59:59 EST Sun Mar 9 2025", "03:00:00 EDT Sun Mar 9 2025"]
        assert clock.zeek_open_text(int(us[1])) == "2025-03-09-03-00-00"


# --- a simulation in New York, end to end ---------------------------------------------------------------------


def test_the_truth_names_the_period_and_zone(new_york: Sim) -> None:
    p = new_york.truth["period"]
    assert p == {"start": "2025-01-13T05:00:00.000000Z", "end": "2025-03-14T04:00:00.000000Z",
                 "local_timezone": "America/New_York"}


def test_syslog_stamps_have_the_zones_offset_at_their_instant(new_york: Sim) -> None:
    ev = new_york.out / "evidence"
    seen: set[str] = set()
    for line in (*_lines(ev / "network"), *_lines(ev / "firewall"), *_lines(ev / "syslog")):
        stamp = line.split(" ", 1)[0]
        t = datetime.fromisoformat(stamp)
        assert t.utcoffset() == t.astimezone(NEW_YORK).utcoffset(), line
        seen.add(stamp[-6:])
        cisco = re.match(r"\S+ \S+ \d+: \S+: (\w{3} [ \d]\d \d\d:\d\d:\d\d)\.\d{3} (\w+): ", line)
        if cisco:  # the device clock is the collector's stamp, in the same zone, a few ms earlier at most
            local = t.astimezone(NEW_YORK)
            assert cisco.group(2) == local.tzname(), line
    assert seen == {"-05:00", "-04:00"}


def test_postgres_times_are_wall_clock_with_the_right_abbreviation(new_york: Sim) -> None:
    stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.\d{3} (\w+) \[")
    seen = set()
    for f in sorted((new_york.out / "evidence" / "db").rglob("postgresql-*.log")):
        day = f.stem.removeprefix("postgresql-")
        for line in f.read_text(encoding="utf-8").splitlines():
            m = stamp.match(line)
            if not m:
                continue
            wall = datetime.fromisoformat(m.group(1)).replace(tzinfo=NEW_YORK)
            assert wall.tzname() == m.group(2), line
            assert wall.astimezone(UTC).astimezone(NEW_YORK).replace(tzinfo=None) == wall.replace(tzinfo=None), \
                f"{line}: a wall time the clock skipped"
            assert m.group(1)[:10] == day, f"{f.name}: {line}"  # the file turns over at local midnight
            seen.add(m.group(2))
    assert seen == {"EST", "EDT"}


def test_zeek_day_folders_hold_their_local_days_records(new_york: Sim) -> None:
    days = 0
    for folder in sorted((new_york.out / "evidence" / "zeek").iterdir()):
        conn = folder / "conn.log"
        if not conn.is_file():
            continue
        days += 1
        for line in conn.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                continue
            local = datetime.fromtimestamp(float(line.split("\t", 1)[0]), NEW_YORK)
            assert local.date().isoformat() == folder.name, (folder.name, line[:40])
    assert days == 60


def test_nightly_jobs_run_at_their_local_time_across_the_change(new_york: Sim) -> None:
    """The built-in backup job starts at 01:00 local: 06:00 UTC in winter, 05:00 UTC in summer."""
    records = sorted(r["ts"] for r in new_york.truth["hard_negatives"]["records"] if r["tag"] == "benign:backup")
    starts: dict[date, datetime] = {}
    for ts in records:
        local = datetime.fromisoformat(ts).astimezone(NEW_YORK)
        starts.setdefault(local.date(), local)
    assert {s.hour for s in starts.values()} == {1}, sorted(starts.items())[:5]
    assert any(d > SPRING_FORWARD.date() for d in starts) and any(d < SPRING_FORWARD.date() for d in starts)


# --- the file's checks --------------------------------------------------------------------------------------


def test_times_are_checked_against_the_files_own_period(tmp_path: Path) -> None:
    short = {**PERIOD, "first_day": "2025-01-20", "days": 30}  # to 2025-02-18: the announcement falls outside
    with pytest.raises(ConfigError) as err:
        load_scenario(str(_write(tmp_path, _scenario(short))))
    assert "2025-03-05 15:00 is outside the simulated period, 2025-01-20 to 2025-02-18" in str(err.value)
    assert err.value.line is not None


@pytest.mark.parametrize(("period", "message"), [
    ({**PERIOD, "time_zone": "Mars/Olympus"}, "not a time zone of the IANA database"),
    ({**PERIOD, "time_zone": "../../../etc/localtime"}, "not a time zone of the IANA database"),
    ({**PERIOD, "holidays": ["2025-06-01"]}, "holidays: outside the period"),
    ({**PERIOD, "days": 3}, "greater than or equal to 7"),
])
def test_a_wrong_period_is_refused_with_its_line(tmp_path: Path, period: dict[str, Any], message: str) -> None:
    path = _write(tmp_path, _scenario(period))
    with pytest.raises(ConfigError) as err:
        load_scenario(str(path))
    assert message in str(err.value)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert err.value.line is not None and lines[err.value.line - 1].startswith("  "), err.value  # inside period:
    assert lines.index("period:") < err.value.line <= lines.index("network:")


def test_episodes_need_a_period_long_enough(tmp_path: Path) -> None:
    data = _scenario({**PERIOD, "days": 45})  # to 2025-02-26: the episodes' days 37-45 fit
    for variant, steps in data["attack"]["variants"].items():  # the announcement of 2025-03-05 does not
        data["attack"]["variants"][variant] = [s for s in steps if s["step"] != "announcement"]
    path = _write(tmp_path, data)
    SimConfig(out=tmp_path / "ok", scenario=str(path), episodes=("beacon",)).validate()
    data["period"]["days"] = 44
    path = _write(tmp_path, data)
    with pytest.raises(UsageError, match="the episodes fall on days 37 to 45 of the period; the scenario's period "
                                         "has 44 days"):
        SimConfig(out=tmp_path / "no", scenario=str(path), episodes=("beacon",)).validate()


def test_episodes_from_moves_the_episodes(tmp_path: Path) -> None:
    data = _scenario({**PERIOD, "days": 30, "holidays": ["2025-01-20"]})  # to 2025-02-11: too short for the
    # episodes' default days 37-45
    data["episodes_from"] = "2025-01-16"
    data["routine"]["admin_sweep"]["nights"] = ["2025-01-15"]
    for variant, steps in data["attack"]["variants"].items():
        data["attack"]["variants"][variant] = [s for s in steps if s["step"] in (
            "exposed_console_exploit", "vpn_rdp", "discovery", "smb_service_lateral", "wmi_lateral",
            "database_sessions", "staging", "smb_transfer", "archive_upload")]
    path = _write(tmp_path, data)
    cfg = SimConfig(out=tmp_path / "sim", scenario=str(path), events=3_000, customers=2_000, seed=3,
                    episodes=("beacon", "ddos")).validate()
    run(cfg)
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text(encoding="utf-8"))
    beacon = datetime.fromisoformat(truth["episodes"]["beacon"]["first"]).astimezone(NEW_YORK)
    assert beacon.replace(tzinfo=None) == datetime(2025, 1, 16, 9, 12, 5)  # day 0 of the episodes, 09:12:05 local
    ddos = datetime.fromisoformat(truth["episodes"]["ddos"]["start"]).astimezone(NEW_YORK)
    assert ddos.date() == date(2025, 1, 24)  # day 8

    data["episodes_from"] = "2025-02-05"  # 9 days to 2025-02-13: past the period's end
    with pytest.raises(ConfigError, match=r"the episodes' 9 days from 2025-02-05 \(to 2025-02-13\) must fall inside"):
        load_scenario(str(_write(tmp_path, data)))


def test_the_order_database_is_dated_by_the_period() -> None:
    """The NTT story's customer base moves with the period: its last update two weeks in, three months of usage
    up to that month, contracts and orders before it (the default period keeps the story's own dates)."""
    from breachscope.simulate import customers

    with clock.using(clock.Period(date(2026, 6, 1), 40, "Europe/London", frozenset())):
        db = customers.generate(3, 2_000)
        assert customers.snapshot_day() == date(2026, 6, 15)
        assert customers.report_month(date(2026, 7, 10)) == date(2026, 6, 1)
    months = sorted(set(db["service_usage"]["usage_month"].to_pylist()))
    assert months == [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]
    last = datetime(2026, 6, 15, tzinfo=UTC)
    for table, column in (("customers", "updated_at"), ("orders", "requested_at")):
        stamps = db[table][column].to_pylist()
        assert max(stamps) < last and max(stamps) > last - timedelta(days=400), (table, max(stamps))
    assert max(db["contracts"]["start_date"].to_pylist()) < date(2026, 6, 15)
    assert customers.usage_months()[-1] == date(2025, 1, 1)  # the default period again


def test_a_scenario_redraws_the_hours_of_its_noise(tmp_path: Path) -> None:
    """`period.activity`: a night-shift organization's office noise (here Zeek) falls in its local night."""
    data = yaml.safe_load(shipped()["ntt-2025"].read_text(encoding="utf-8"))
    night = [1.0] * 6 + [0.05] * 16 + [1.0] * 2  # busy 22:00-06:00
    data["period"] = {"first_day": "2025-01-13", "days": 54, "time_zone": "Asia/Tokyo",
                      "activity": {"office": {"workday": night, "day_off": night}}}
    path = tmp_path / "night.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    period = load_scenario(str(path)).period.clock_period()
    with clock.using(period):
        w = clock.minute_weights("office").reshape(-1, 24 * 60)[0].reshape(24, 60).sum(axis=1)
        assert w[2] > 10 * w[12] and clock.minute_weights("server").reshape(-1, 1440)[0][600] > 0  # others kept
    out = tmp_path / "sim"
    run(SimConfig(out=out, scenario=str(path), events=6_000, customers=2_000, seed=2, jobs=1).validate())
    hours = []
    for f in (out / "evidence" / "zeek").rglob("conn.log"):
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                hours.append(datetime.fromtimestamp(float(line.split("\t")[0]), ZoneInfo("Asia/Tokyo")).hour)
    at_night = sum(h >= 22 or h < 6 for h in hours)
    assert len(hours) > 500 and at_night > 0.7 * len(hours), (at_night, len(hours))
    data["period"]["activity"] = {"office": {"workday": [0] * 24, "day_off": night}}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"night\.yaml:\d+: .*needs some activity"):
        load_scenario(str(path))

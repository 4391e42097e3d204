"""Scenario files (issue 16): the shipped ntt-2025 file, errors with their line, the published JSON Schema,
and a network with other names, addresses, domain and accounts replayed end to end: its evidence ingests with
no reject and names nothing of the built-in network."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from breachscope.cli.schemas import config_schemas
from breachscope.ingest.pipeline import ingest
from breachscope.model.errors import ConfigError, UsageError
from breachscope.simulate import SimConfig, run
from breachscope.simulate.config import EPISODES
from breachscope.simulate.scenario_file import load_scenario
from breachscope.simulate.scenarios import shipped
from tests.simcase import assert_scope_exact, replay

NTT = shipped()["ntt-2025"]


def _ntt() -> dict[str, Any]:
    data = yaml.safe_load(NTT.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, data: dict[str, Any], name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_scenario_loads_and_matches_the_published_schema() -> None:
    spec = load_scenario("ntt-2025")
    assert spec.name == "ntt-2025" and spec.network.story_hosts["device_a"] == "ORD-AP02"
    schema = json.loads((Path(__file__).parents[1] / "docs/schemas/scenario.schema.json").read_text("utf-8"))
    assert schema == json.loads(json.dumps(config_schemas()["scenario.schema.json"]))
    jsonschema.validate(_ntt(), schema)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["network"]["servers"][2].update(adress="10.1.1.1"), r"s\.yaml:\d+: .*unknown key"),
    (lambda d: d["network"]["servers"][0].update(address="10.10.0.256"), "not a valid IPv4 address"),
    (lambda d: d["network"]["servers"][1].update(address="10.10.0.10"), "addresses used by two hosts: 10.10.0.10"),
    (lambda d: d["network"]["story_hosts"].update(db="DC01"), "story_hosts: db: DC01 has role dc, not db"),
    (lambda d: d["network"]["story_hosts"].pop("firewall"), "story_hosts: firewall is missing"),
    (lambda d: d["network"]["accounts"].update(stolen_admin="nobody"), "stolen_admin 'nobody' is not one of"),
    (lambda d: d["network"]["servers"].append({"name": "X1", "address": "10.20.0.12", "role": "server"}),
     "inside the workstations' network"),
    (lambda d: d["network"]["workstations"].update(network="10.20.0.0/24"), "do not fit in 10.20.0.0/24"),
    (lambda d: d["attack"]["variants"]["pivot"][2].update(step="teleport"), r"pivot\.2.*does not match|teleport"),
    (lambda d: d["attack"]["variants"]["pivot"][2].update(at="2025-06-01 01:00"), "outside the simulated period"),
    (lambda d: d["attack"]["variants"]["pivot"][2].update(at="2025-02-30 01:00"), "day is out of range"),
    (lambda d: d["attack"]["variants"]["pivot"][2].update(target="device_c"), "device_c"),
    (lambda d: d["attack"]["variants"]["pivot"].insert(2, {"step": "config_file_password", "at": "2025-01-23 01:00",
                                                           "account": "nobody"}),
     r"variants\.pivot\[2\]\.config_file_password\.account: nobody is not an account of the network"),
    (lambda d: d["attack"]["variants"]["pivot"].pop(3), "no database_sessions step"),
    (lambda d: d["routine"]["admin_sweep"].update(nights=["2024-12-24"]), "outside the simulated period"),
    (lambda d: d["routine"]["change_window"].update(weekdays=["tuesday"]), r"routine\.change_window\.weekdays"),
])
def test_a_wrong_scenario_is_refused_with_its_line(tmp_path: Path, change: Any, message: str) -> None:
    data = _ntt()
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_scenario(str(path))
    assert re.search(message, str(err.value)), str(err.value)
    assert err.value.line is not None and err.value.line > 1, str(err.value)


def test_an_unknown_scenario_name_says_what_exists(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="ntt-2025"):
        load_scenario("no-such-breach")
    with pytest.raises(UsageError, match="destination, pivot"):
        SimConfig(out=tmp_path / "x", variant="sideways").validate()


# --- another attack: other times, addresses, fewer steps -------------------------------------------------------
def _shifted(text: str, days: int) -> str:
    from datetime import datetime, timedelta

    return (datetime.strptime(text, "%Y-%m-%d %H:%M") + timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def test_an_attack_with_other_times_addresses_and_steps(tmp_path: Path) -> None:
    data = _ntt()
    attack = data["attack"]
    attack["external"].update(initial_access="192.0.2.140", later_attempts="192.0.2.141", c2_address="192.0.2.150",
                              c2_name="cdn-sync.example.com")
    keep = ("exposed_console_exploit", "discovery", "smb_service_lateral", "database_sessions", "staging",
            "smb_transfer", "archive_upload", "isolate_host")
    steps = []
    for step in attack["variants"]["destination"]:
        if step["step"] not in keep:
            continue
        step = dict(step)
        for key in ("at", "noticed_at"):
            if key in step:
                step[key] = _shifted(step[key], 3)
        if "sessions" in step:
            step["sessions"] = [_shifted(t, 3) for t in step["sessions"]]
        steps.append(step)
    attack["variants"] = {"quiet": steps}
    out = tmp_path / "sim"
    run(SimConfig(out=out, scenario=str(_write(tmp_path, data)), events=5_000, customers=2_000, seed=9,
                  variant="quiet", jobs=1).validate())
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    stages = [e["stage"] for e in truth["timeline"]]
    assert "denied_attempt" not in stages and "c2" not in stages and "restriction" not in stages, stages
    assert stages[0] == "initial_access" and "exfiltration" in stages and stages[-1] == "isolation", stages
    assert truth["timeline"][0]["ts"].startswith("2025-01-23T16:12"), truth["timeline"][0]  # 01-24 01:12 JST
    assert truth["exfiltration"]["destination_ip"] == "192.0.2.150"
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (out / "evidence").rglob("*.log"))
    assert "cdn-sync.example.com" in text and "192.0.2.140" in text
    assert "203.0.113.45" not in text and "update-check.example.net" not in text
    summary = ingest([str(out / "evidence")], tmp_path / "case", jobs=1)
    assert summary.rejected == 0


def test_relative_times_count_from_the_time_written_before_them(tmp_path: Path) -> None:
    data = _ntt()
    steps = data["attack"]["variants"]["destination"]
    steps[1]["at"] = "+23h28m"  # 2025-01-21 01:12 -> 2025-01-22 00:40
    steps[2]["at"] = "+5d50m"  # -> 2025-01-27 01:30
    steps[3]["sessions"] = ["+1d25m", "+23h25m", "+1d15m", "+1d30m", "+2d23h40m", "+1d25m", "+4m"]
    relative = load_scenario(str(_write(tmp_path, data, "relative.yaml")))
    assert relative.attack.variants == load_scenario("ntt-2025").attack.variants

    steps[0]["at"] = "+1h"  # nothing before it
    with pytest.raises(ConfigError, match=r"relative\.yaml:\d+: .*a relative time \(\+1h\) needs a time before it"):
        load_scenario(str(_write(tmp_path, data, "relative.yaml")))
    steps[0]["at"] = "2025-01-21 01:12"
    steps[2]["at"] = "+60d"  # past the period's end
    with pytest.raises(ConfigError, match=r"destination\[2\].*2025-03-23 00:40 is outside the simulated period"):
        load_scenario(str(_write(tmp_path, data, "relative.yaml")))


def test_the_routine_jobs_are_the_scenarios_own(tmp_path: Path) -> None:
    """Hard negatives: only the jobs the file lists run, at its times; the truth describes exactly those."""
    data = _ntt()
    data["routine"] = {"backup": {"at": "04:30"}, "change_window": {"at": "21:00", "weekdays": ["wed"]}}
    out = tmp_path / "sim"
    run(SimConfig(out=out, scenario=str(_write(tmp_path, data)), events=5_000, customers=2_000, seed=4,
                  jobs=1).validate())
    hard = json.loads((out / "truth.json").read_text(encoding="utf-8"))["hard_negatives"]
    assert set(hard["descriptions"]) == set(hard["counts_by_tag"]) == {"benign:backup", "benign:change_window"}
    assert hard["descriptions"]["benign:backup"].startswith("04:30 every night")
    assert hard["descriptions"]["benign:change_window"].startswith("Wednesday 21:00-22:30")
    starts: dict[str, str] = {}  # the first record of each night's backup: 04:30 JST = 19:30 UTC the day before
    for r in hard["records"]:
        if r["tag"] == "benign:backup":
            starts[r["ts"][:10]] = min(starts.get(r["ts"][:10], r["ts"]), r["ts"])
    assert len(starts) >= 50 and {t[11:16] for t in starts.values()} <= {"19:30", "19:31"}, starts  # 90 s jitter


# --- another organization ------------------------------------------------------------------------------------
def _renamed() -> tuple[dict[str, Any], dict[str, str]]:
    """The built-in network with every name, address, account and the domain changed."""
    data = _ntt()
    net = data["network"]
    names: dict[str, str] = {}
    for i, h in enumerate(net["servers"]):
        new = f"{h['role'].upper()}-{i:02d}" if h.get("os", "windows") == "windows" else f"{h['role']}-{i:02d}"
        names[h["name"]] = new
        h["name"] = new
    for i, d in enumerate(net["devices"]):
        names[d["name"]] = new = f"{d['role'][:2]}-edge{i}"
        d["name"] = new

    def moved(addr: str) -> str:  # 10.a.b.c -> 172.(16 + a % 16).b.c
        o = [int(x) for x in addr.split(".")]
        return f"172.{16 + o[1] % 16}.{o[2]}.{o[3]}"

    for h in [*net["servers"], *net["devices"]]:
        h["address"] = moved(h["address"])
    net["log_collector"], net["admin_ssh_source"] = moved(net["log_collector"]), moved(net["admin_ssh_source"])
    net["domain"] = {"netbios": "MEDI", "dns": "medi.example.org", "sid": "S-1-5-21-111111111-222222222-333333333"}
    net["public_address"], net["payment_address"] = "198.51.100.110", "198.51.100.210"
    net["portal"], net["maintenance_console"] = "orders-web", "ops-console"
    net["workstations"].update(name="WS-{number}", first_number=500, network="172.20.0.0/16")
    admins = ["it_ops1", "it_ops2", "dom_admin", "ops_admin3", "net_ops"]
    net["accounts"] = {"admins": admins, "services": ["app_svc", "job_svc", "bkp_svc", "rpt_svc", "db_svc",
                                                      "patch_svc", "mfp_svc"],
                       "first_rid": 2001, "stolen_admin": "dom_admin", "network_admin": "net_ops"}
    net["story_hosts"] = {k: names[v] for k, v in net["story_hosts"].items()}
    data["name"] = "renamed"
    return data, names


@pytest.fixture(scope="module")
def renamed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Any]:
    tmp = tmp_path_factory.mktemp("renamed")
    data, names = _renamed()
    out = tmp / "sim"
    run(SimConfig(out=out, scenario=str(_write(tmp, data, "renamed.yaml")), events=20_000, customers=2_000,
                  seed=5, episodes=EPISODES, jobs=1).validate())
    summary = ingest([str(out / "evidence")], tmp / "case", jobs=1)
    return out, names, summary


def test_another_network_replays_into_evidence_that_ingests_without_reject(renamed_run: Any) -> None:
    out, names, summary = renamed_run
    assert summary.records > 10_000 and summary.rejected == 0, [f for f in summary.files if f.rejected]
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["scenario"] == "renamed"
    assert truth["hosts"]["device_a"]["name"] == names["ORD-AP02"] == "APP-05"
    assert truth["hosts"]["device_a"]["ip"] == "172.24.2.12"
    assert truth["hosts"]["device_b"]["name"] == names["ORD-MNT01"]


def test_another_network_names_nothing_of_the_built_in_one(renamed_run: Any) -> None:
    out, names, _ = renamed_run
    old_ips = [h["address"] for h in [*_ntt()["network"]["servers"], *_ntt()["network"]["devices"]]]
    forbidden = re.compile("|".join([
        *(rf"(?<![\w-]){re.escape(n)}(?![\w-])" for n in names),  # old host names as whole names
        *(rf"(?<![\d.]){re.escape(ip)}(?![\d])" for ip in old_ips),
        r"(?<![\d.])10\.20\.\d+\.\d+", r"corp\.example\.jp", r"(?-i:CORP\\\\)",
        r"(?<![\d.])198\.51\.100\.(10|200)(?!\d)",
        r"(?<!\w)(adm_suzuki|adm_tanaka|netadmin|svc_sql|svc_backup)(?!\w)", r"(?<!\w)PC1\d{4}(?!\w)",
        r"ord-portal", r"ord-maint",
    ]), re.IGNORECASE)
    found: dict[str, str] = {}
    for path in sorted((out / "evidence").rglob("*")):
        if path.is_file() and path.suffix in (".log", ".ndjson", ".json", ".csv", ""):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                m = forbidden.search(line)
                if m:
                    found.setdefault(m.group(0), f"{path.relative_to(out)}: {line[:200]}")
    assert not found, found


def test_the_steps_jitter_is_the_scenarios(tmp_path: Path) -> None:
    """`attack.jitter` delays each written step time by up to its value (0.9 s by default)."""
    data = _ntt()
    data["attack"]["jitter"] = "5m"
    written = datetime.fromisoformat("2025-01-20T16:12:00+00:00")  # the first step, 2025-01-21 01:12 JST
    delays = []
    for seed in (1, 2, 3):
        out = tmp_path / f"s{seed}"
        run(SimConfig(out=out, scenario=str(_write(tmp_path, data)), events=3_000, customers=2_000, seed=seed,
                      jobs=1).validate())
        first = json.loads((out / "truth.json").read_text(encoding="utf-8"))["timeline"][0]
        delays.append(datetime.fromisoformat(first["ts"]) - written)
    assert all(timedelta(0) <= d < timedelta(minutes=5) for d in delays), delays
    assert max(delays) > timedelta(seconds=1), delays  # beyond the default's 0.9 s
    data["attack"]["jitter"] = "15m"
    with pytest.raises(ConfigError, match=r"s\.yaml:\d+: .*jitter 15m: between 1ms and 10m"):
        load_scenario(str(_write(tmp_path, data)))


def test_the_database_step_sets_the_page_size_and_the_probe(tmp_path: Path) -> None:
    """`database_sessions: {page_size, probe_limit}`: the script pages by that many rows; probe_limit 0 sends no
    LIMIT without ORDER BY, so nothing is potential, and scope is still exact."""
    data = _ntt()
    step = next(s for s in data["attack"]["variants"]["destination"] if s["step"] == "database_sessions")
    step.update(page_size=1_000, probe_limit=0)
    done = replay(tmp_path, str(_write(tmp_path, data)), events=4_000, seed=3, customers=3_000)
    statements = done.truth["database"]["statements"]
    assert {s["kind"] for s in statements} >= {"page_customers", "copy_export"}
    assert "probe_limit" not in {s["kind"] for s in statements}
    assert all(s["params"][2] == 1_000 for s in statements if s["kind"].startswith("page_"))
    assert not done.truth["affected"]["potential"]["organizations"] and "probe_from" not in \
        done.truth["database"]["ranges"]
    assert_scope_exact(done)
    step.update(page_size=None, probe_limit=5_000)
    with pytest.raises(UsageError, match="probe_limit 5000 is too large"):
        run(SimConfig(out=tmp_path / "big", scenario=str(_write(tmp_path, data, "big.yaml")), events=2_000,
                      customers=2_000, seed=3, jobs=1).validate())

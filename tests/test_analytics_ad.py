"""Active Directory analytics (kerberoasting, dcsync, golden_ticket) on a small domain the tests build
(tests/ad_events.py), with its hard negatives: DCs replicating with each other, a synchronisation service
that replicates every day, a legacy application that gets RC4 tickets for its services every day. Then
real samples (OTRF, EVTX-ATTACK-SAMPLES) and a small simulation scored like check_analytics."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from breachscope.detect.analytics import ANALYTICS
from breachscope.detect.analytics.base import Analytic
from breachscope.detect.analytics.runner import AnalyticsResult, run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.engines.duckdb_case import open_case
from tests.ad_events import (
    DC1,
    DC2,
    LEGACY,
    ROASTABLE,
    SYNC,
    Evidence,
    at,
    ordinary_domain,
)
from tests.conftest import run_ingest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ATTACKER = ("ws07", "10.0.2.17", "o'hara")  # a hostile quote in the user name: data, never SQL


def analyse(case: Path, *names: str) -> AnalyticsResult:
    with open_case(case) as c:
        return run_analytics(CaseContext(c, table_columns(c)), [ANALYTICS[n] for n in names])


def findings(case: Path, name: str) -> list[dict[str, Any]]:
    result = analyse(case, name)
    assert result.runs[0].status == "ran", result.runs[0]
    return list(result.findings.to_pylist())


def kerberoast(ev: Evidence, minute: float, ip: str = ATTACKER[1], user: str = ATTACKER[2]) -> None:
    for k, svc in enumerate(ROASTABLE):  # one ticket every 8 s, RC4, on the DC the tool asks
        ev.tgs(at(minute) + timedelta(seconds=8 * k), DC1, user, ip, svc, enc="0x17")


def test_registered() -> None:
    for name in ("kerberoasting", "dcsync", "golden_ticket"):
        a: Analytic = ANALYTICS[name]
        assert a.name == name and a.attack and a.tables


# --- kerberoasting -------------------------------------------------------------------------------------
def test_kerberoasting_burst_is_found_and_the_legacy_application_is_not(tmp_path: Path) -> None:
    ev = Evidence()
    ordinary_domain(ev)
    kerberoast(ev, 3 * 24 * 60 + 14 * 60)
    case = ev.case(tmp_path)
    found = findings(case, "kerberoasting")
    roast = [f for f in found if f["level"] in ("high", "medium")]
    assert len(roast) == 1, [f["rule_title"] for f in found]
    f = roast[0]
    assert f["rule_title"] == "Kerberoasting from 10.0.2.17 (o'hara): 5 RC4 service tickets for 5 services in 32 s"
    assert f["level"] == "high" and f["src_ip"] == "10.0.2.17" and f["user"] == "o'hara"
    event = json.loads(f["event"])
    assert event["seen_by"] == ["windows", "zeek"] and event["new_services"] == sorted(ROASTABLE)
    assert {e["table_name"] for e in f["evidence"]} == {"windows", "zeek_kerberos"} and len(f["evidence"]) == 10
    # the legacy server gets RC4 tickets for 3 services together every day: routine, one informational finding
    legacy = [x for x in found if x["src_ip"] == LEGACY]
    title = "RC4 service tickets from 10.0.5.5 (appsvc): 3 services together on 4 day(s), routine for it"
    assert [(x["level"], x["rule_title"]) for x in legacy] == [("informational", title)]


def test_kerberoasting_counts_services_not_tickets(tmp_path: Path) -> None:
    ev = Evidence()
    ordinary_domain(ev, days=2, legacy=("svc_legacy1",))
    for k in range(30):  # one legacy service asked 30 times in a minute: many tickets, one service
        ev.tgs(at(26 * 60) + timedelta(seconds=2 * k), DC2, "appsvc", LEGACY, "svc_legacy1", enc="0x17")
    for k, svc in enumerate(["FS01$", "krbtgt", "svc_one"]):  # machine accounts and krbtgt are not roastable
        ev.tgs(at(27 * 60) + timedelta(seconds=k), DC2, "user01", "10.0.2.11", svc, enc="0x17")
    assert findings(ev.case(tmp_path), "kerberoasting") == []


def test_kerberoasting_skips_without_service_tickets(tmp_path: Path) -> None:
    ev = Evidence()
    ev.logon(at(1), DC1[0], "user01", "10.0.2.11", "0x1")
    result = analyse(ev.case(tmp_path), "kerberoasting")
    assert result.runs[0].status == "skipped" and "no Kerberos service tickets" in str(result.runs[0].reason)


# --- dcsync --------------------------------------------------------------------------------------------
def test_dcsync_from_a_workstation_and_not_between_domain_controllers(tmp_path: Path) -> None:
    ev = Evidence()
    ordinary_domain(ev)
    t = at(2 * 24 * 60 + 10 * 60)
    ev.logon(t, DC1[0], "svc_backup", ATTACKER[1], "0xbeef")
    ev.replication(t + timedelta(seconds=1), DC1, "svc_backup", "0xBEEF")  # logon ids are compared ignoring case
    ev.drs(t + timedelta(seconds=1), ATTACKER[1], DC1[1])
    found = findings(ev.case(tmp_path), "dcsync")
    high = [f for f in found if f["level"] == "high"]
    assert [f["rule_title"] for f in high] == [
        "DCSync: directory replication requested by svc_backup from 10.0.2.17, not a domain controller"]
    event = json.loads(high[0]["event"])
    assert event["source_from"] == "its logon session and Zeek dce_rpc"
    assert event["rights"] == ["DS-Replication-Get-Changes", "DS-Replication-Get-Changes-All"]
    assert event["known_dc_addresses"] == sorted([DC1[1], DC2[1]]) and event["known_dc_names"] == ["dc1", "dc2"]
    assert {e["table_name"] for e in high[0]["evidence"]} == {"windows", "zeek_dce_rpc"}
    # DC1$/DC2$ replicate four times a day: nothing. MSOL_ replicates every day from the sync server: kept low
    rest = [f for f in found if f not in high]
    assert [(f["user"], f["src_ip"], f["level"]) for f in rest] == [("MSOL_1a2b3c", SYNC[1], "informational")]
    assert rest[0]["rule_title"].endswith("(routine: on 4 days)") and json.loads(rest[0]["event"])["runs"] == 4


def test_dcsync_source_from_the_accounts_logon_just_before(tmp_path: Path) -> None:
    ev = Evidence()
    ordinary_domain(ev, days=1)
    t = at(15 * 60)
    ev.logon(t, DC2[0], "helpdesk", ATTACKER[1], "0x111")
    ev.replication(t + timedelta(seconds=3), DC2, "helpdesk", "0x222")  # another logon id: joined by account
    ev.replication(at(16 * 60), DC2, "auditor", "0x333")  # no logon at all: source unknown
    found = {f["user"]: f for f in findings(ev.case(tmp_path), "dcsync")}
    assert found["helpdesk"]["src_ip"] == ATTACKER[1] and found["helpdesk"]["score"] >= 90
    assert "the same account's logon just before" in found["helpdesk"]["description"]
    assert found["auditor"]["rule_title"] == "DCSync: directory replication requested by user account auditor on " \
                                             "DC2.corp.test"
    assert found["auditor"]["level"] == "high" and found["auditor"]["src_ip"] is None


def test_dcsync_seen_by_zeek_only(tmp_path: Path) -> None:
    ev = Evidence()
    for d in range(2):
        ev.drs(at(d * 1440 + 60), DC1[1], DC2[1])
        ev.drs(at(d * 1440 + 61), DC2[1], DC1[1])
        ev.zeek_log("kerberos", at(d * 1440 + 62), "10.0.2.11", DC1[1], 88, request_type="TGS",
                    client="user01/CORP.TEST", service="cifs/fs1", success=True, cipher="aes256-cts-hmac-sha1-96")
    ev.drs(at(1500), ATTACKER[1], DC2[1], calls=5)
    found = findings(ev.case(tmp_path), "dcsync")
    assert [(f["rule_title"], f["level"], f["event_count"]) for f in found] == [
        ("DCSync: DRSGetNCChanges from 10.0.2.17, not a domain controller, to 10.0.0.11", "high", 5)]


def test_dcsync_says_why_it_cannot_run(tmp_path: Path) -> None:
    ev = Evidence()
    ev.logon(at(1), "WS01", "user01", "10.0.2.11", "0x1")
    result = analyse(ev.case(tmp_path), "dcsync")
    assert result.runs[0].status == "skipped" and "4662" in str(result.runs[0].reason)


# --- golden tickets ------------------------------------------------------------------------------------
def test_golden_ticket_service_tickets_without_a_tgt(tmp_path: Path) -> None:
    ev = Evidence()
    ordinary_domain(ev)
    for k in range(3):  # a forged TGT: service tickets, never a 4768
        ev.tgs(at(3 * 1440 + 9 * 60 + k), DC2, "administrator", ATTACKER[1], ["cifs", "host", "ldap"][k] + "_dc")
    found = findings(ev.case(tmp_path), "golden_ticket")
    assert [(f["user"], f["src_ip"], f["event_count"], f["level"]) for f in found] == [
        ("administrator", ATTACKER[1], 3, "high")]
    assert found[0]["rule_title"].startswith("Golden ticket sign: 3 service ticket(s) for administrator")
    assert json.loads(found[0]["event"])["never_had_tgt"] is True


def test_golden_ticket_says_when_the_tgts_are_not_in_the_evidence(tmp_path: Path) -> None:
    ev = Evidence()
    ordinary_domain(ev, tgt_dcs=(DC1,))  # DC2's TGTs are missing: half the service tickets lack theirs
    result = analyse(ev.case(tmp_path / "half"), "golden_ticket")
    assert result.runs[0].status == "skipped" and "TGT logs are incomplete" in str(result.runs[0].reason)
    ev = Evidence()
    ordinary_domain(ev, days=2, tgt_dcs=())
    result = analyse(ev.case(tmp_path / "none"), "golden_ticket")
    assert result.runs[0].status == "skipped" and "no Kerberos TGT requests" in str(result.runs[0].reason)


def test_golden_ticket_odd_lifetime_in_zeek(tmp_path: Path) -> None:
    ev = Evidence()
    for k in range(400):  # ordinary requests: 10 h tickets, or "as long as possible" (Windows asks for 2037)
        t = at(k)
        till = t + (timedelta(hours=10) if k % 2 else timedelta(days=4400))
        ev.zeek_log("kerberos", t, f"10.0.2.{10 + k % 12}", DC1[1], 88, request_type="TGS", client="u/CORP",
                    service="cifs/fs1", success=True, cipher="aes256-cts-hmac-sha1-96", till=till.timestamp())
    ev.zeek_log("kerberos", at(401), ATTACKER[1], DC1[1], 88, request_type="TGS", client="administrator/CORP",
                service="cifs/dc1", success=True, cipher="aes256-cts-hmac-sha1-96",
                till=(at(401) + timedelta(days=3)).timestamp())
    found = findings(ev.case(tmp_path), "golden_ticket")
    assert [(f["src_ip"], f["level"]) for f in found] == [(ATTACKER[1], "low")]
    assert "odd ticket lifetime of 72 h" in found[0]["rule_title"]


# --- real samples ----------------------------------------------------------------------------------------
OTRF = DATASETS / "otrf-security-datasets" / "datasets" / "atomic" / "windows" / "credential_access" / "host"
EVTX = DATASETS / "evtx-attack-samples" / "Credential Access"


@pytest.mark.parametrize(("path", "user", "source"), [
    (OTRF / "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip", "pgustavo", "172.18.39.5"),
    (EVTX / "CA_DCSync_4662.evtx", "Administrator", None),
])
def test_dcsync_real_samples(tmp_path: Path, path: Path, user: str, source: str | None) -> None:
    if not path.exists():
        pytest.skip(f"shared dataset not present: {path}")
    run_ingest([path], tmp_path / "case")
    found = [f for f in findings(tmp_path / "case", "dcsync") if f["level"] == "high"]
    assert [(f["user"], f["src_ip"]) for f in found] == [(user, source)]
    assert found[0]["rule_title"].startswith("DCSync")


# --- simulation ------------------------------------------------------------------------------------------
def test_simulated_ad_episode_is_found_and_its_hard_negatives_stay_low(tmp_path: Path) -> None:
    from breachscope.detect.packs import RULES_DIR
    from breachscope.detect.sigma.hunt import hunt
    from breachscope.simulate import SimConfig
    from breachscope.simulate import run as simulate

    simulate(SimConfig(out=tmp_path / "sim", events=60_000, customers=2_000, episodes=("ad-2020",), seed=11,
                       jobs=1))
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())["episodes"]["ad-2020"]
    run_ingest([tmp_path / "sim" / "evidence"], tmp_path / "case")
    result = analyse(tmp_path / "case", "kerberoasting", "dcsync", "golden_ticket")
    with open_case(tmp_path / "case") as c:
        rules = hunt(c, [RULES_DIR / "windows_ad"])
    assert not rules.problems
    found = [json.loads(json.dumps(f, default=str)) for f in
             [*result.findings.to_pylist(), *rules.findings.to_pylist()]]
    ws, user, account = truth["workstation"]["ip"], truth["user"].lower(), truth["dcsync_account"].lower()

    def text(f: dict[str, Any]) -> str:
        return json.dumps(f, ensure_ascii=False).lower()

    assert any("kerberoast" in text(f) and (ws in text(f) or user in text(f)) for f in found)
    assert any("dcsync" in text(f) and account in text(f) for f in found)
    assert any(f["rule_id"] == "analytic:kerberoasting" and ws in text(f) and f["level"] == "high" for f in found)
    assert any(f["rule_id"] == "analytic:dcsync" and ws in text(f) and f["level"] == "high" for f in found)
    # everything else the pack and the analytics say about this network stays low
    others = [f for f in found if not (ws in text(f) or user in text(f) or account in text(f))]
    assert all(f["level"] in ("low", "informational") for f in others), [f["rule_title"] for f in others]
    assert {r.name: r.status for r in result.runs}["golden_ticket"] == "skipped"

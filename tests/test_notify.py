"""`notify`: obligations from the rule files, deadlines from the time of awareness, drafts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.model.errors import UsageError
from breachscope.notify.rules import NO, UNKNOWN, YES, Facts, evaluate, load_rules

JST = timezone(timedelta(hours=9))
AWARE = datetime(2025, 3, 5, 10, 0, tzinfo=JST)


def facts(persons: int = 2000, orgs: int = 1500, categories: tuple[str, ...] = ("email", "phone"),
          unlawful: bool = True, juris: str = "JP", sectors: tuple[str, ...] = ()) -> Facts:
    return Facts({juris: {"organizations": orgs, "persons": persons}}, categories, unlawful, sectors, bool(sectors))


def by_id(obs: list) -> dict:
    return {(o.rule, o.obligation): o for o in obs}


def test_every_rule_cites_its_sources() -> None:
    rules = load_rules()
    assert {r["id"] for r in rules} == {"jp_appi", "jp_telecom_mic", "eu_gdpr", "us_ca", "us_ny", "us_tx"}
    for r in rules:
        assert r["sources"] and all(s["title"] and s["text"] for s in r["sources"])


def test_appi_deadlines_30_or_60_days_and_preliminary() -> None:
    obs = by_id(evaluate(load_rules(), facts(unlawful=False), AWARE, None))
    assert obs[("jp_appi", "ppc_final")].owed == YES  # more than 1,000 persons
    assert obs[("jp_appi", "ppc_final")].deadline == "2025-04-03T23:59:59+09:00"  # day 1 = 5 March
    assert obs[("jp_appi", "ppc_preliminary")].deadline == "2025-03-10T23:59:59+09:00"
    obs = by_id(evaluate(load_rules(), facts(persons=10), AWARE, None))
    final = obs[("jp_appi", "ppc_final")]
    assert final.owed == YES and final.deadline == "2025-05-03T23:59:59+09:00"  # unauthorized access: 60 days
    assert any("unlawful purpose" in w for w in final.why)


def test_appi_not_owed_without_trigger() -> None:
    obs = by_id(evaluate(load_rules(), facts(persons=10, unlawful=False), AWARE, None))
    assert obs[("jp_appi", "ppc_final")].owed == NO and obs[("jp_appi", "ppc_final")].deadline is None
    obs = by_id(evaluate(load_rules(), facts(persons=10, unlawful=False, categories=("payment_card",)), AWARE, None))
    assert obs[("jp_appi", "ppc_final")].owed == YES


def test_telecom_duty_depends_on_the_controller() -> None:
    assert by_id(evaluate(load_rules(), facts(), AWARE, None))[("jp_telecom_mic", "mic_final")].owed == UNKNOWN
    obs = by_id(evaluate(load_rules(), facts(sectors=("telecommunications",)), AWARE, None))
    assert obs[("jp_telecom_mic", "mic_final")].owed == YES
    obs = by_id(evaluate(load_rules(), facts(sectors=("retail",)), AWARE, None))
    assert ("jp_telecom_mic", "mic_final") not in obs


def test_gdpr_72_hours_and_us_states() -> None:
    obs = by_id(evaluate(load_rules(), facts(juris="DE"), AWARE, None))
    assert obs[("eu_gdpr", "art33_authority")].deadline == (AWARE + timedelta(hours=72)).isoformat()
    assert obs[("eu_gdpr", "art34_subjects")].owed == UNKNOWN  # high risk: the controller's assessment
    assert ("jp_appi", "ppc_final") not in obs
    obs = by_id(evaluate(load_rules(), facts(juris="US-CA"), AWARE, None))
    assert obs[("us_ca", "residents")].owed == NO  # email and phone are not covered elements
    obs = by_id(evaluate(load_rules(), facts(juris="US-TX", persons=300, categories=("payment_card",)), AWARE, None))
    assert obs[("us_tx", "attorney_general")].owed == YES
    assert obs[("us_tx", "consumer_reporting_agencies")].owed == NO
    assert obs[("us_tx", "individuals")].deadline.startswith("2025-05-03T23:59:59")
    obs = by_id(evaluate(load_rules(), facts(juris="US-NY", categories=("credentials",)), AWARE, ["US-NY"]))
    assert set(obs) == {("us_ny", "residents"), ("us_ny", "state_agencies"), ("us_ny", "consumer_reporting_agencies")}


def test_notify_cli_writes_drafts(tmp_path: Path) -> None:
    case = tmp_path / "case"
    (case / "exposure").mkdir(parents=True)
    summary = {"organizations": {"confirmed_exfiltrated": 3, "confirmed_accessed": 1200, "potential": 7,
                                 "total": 1210},
               "persons": {"confirmed_exfiltrated": 2, "confirmed_accessed": 900, "potential": 150, "total": 1052},
               "categories": ["email", "organization_name"], "category_levels": {"email": "CONFIRMED_EXFILTRATED",
                                                                                "organization_name": "POTENTIAL"},
               "excluded": {"organizations": 4, "persons": 0, "policies": {}},
               "statements": {"replayed": 10, "potential": 1, "ignored": 2}, "jurisdictions":
               {"JP": {"organizations": 1210, "persons": 1052}}, "suspects": {"hosts": ["10.0.0.9"], "users": []},
               "controller": {"country": "JP", "sectors": []}, "snapshot": "parquet:x", "inventory": "t",
               "files": {"scanned": 1}}
    (case / "exposure" / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    res = CliRunner().invoke(app, ["notify", "--case", str(case), "--aware-at", "2025-03-05T10:00:00+09:00",
                                   "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {o["obligation"] for o in out["obligations"]} >= {"ppc_preliminary", "ppc_final", "individuals"}
    ja = (case / "notify" / "appi_report_ja.md").read_text(encoding="utf-8")
    for item in ("## 1. 概要", "## 5. 二次被害", "## 9. その他参考となる事項", "| 持ち出しを確認 | 2 | 3 |",
                 "| 漏えいのおそれ | 150 | 7 |", "メールアドレス（持ち出しを確認）", "【要確認】"):
        assert item in ja
    assert sum(line.startswith("## ") for line in ja.splitlines()) == 9
    en = (case / "notify" / "notice_en.md").read_text(encoding="utf-8")
    assert "potential: 7 organization(s), 150 individual(s)" in en and "[UNKNOWN" in en
    assert json.loads((case / "notify" / "obligations.json").read_text())["aware_at"].startswith("2025-03-05T10")


def test_notify_without_exposure_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["notify", "--case", str(tmp_path), "--aware-at", "2025-03-05"])
    assert isinstance(res.exception, UsageError)


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01"])
def test_aware_at_must_be_a_time(tmp_path: Path, bad: str) -> None:
    res = CliRunner().invoke(app, ["notify", "--case", str(tmp_path), "--aware-at", bad])
    assert isinstance(res.exception, UsageError)


def _exposure(case: Path, persons: int, suspects: dict, categories: tuple[str, ...] = ("email",)) -> None:
    """Commit an exposure run through scope's writer (a summary and no subject rows)."""
    from breachscope.model.exposure import ExposureSummary, LevelCounts
    from breachscope.scope.outputs import write_outputs
    from breachscope.scope.pipeline import ScopeResult
    from breachscope.scope.staged import StagedSubjects

    counts = LevelCounts(confirmed_accessed=persons)
    summary = ExposureSummary(organizations=LevelCounts(), persons=counts, categories=categories,
                              category_levels={c: "CONFIRMED_ACCESSED" for c in categories},
                              excluded={"organizations": 0, "persons": 0, "policies": {}},
                              statements={"replayed": 1 if persons else 0, "potential": 0, "ignored": 0},
                              jurisdictions={"JP": {"organizations": 0, "persons": persons}} if persons else {},
                              suspects=suspects, controller={"country": "JP", "sectors": ["retail"]})
    write_outputs(case, ScopeResult(summary, StagedSubjects.empty(), [], []), {})


def _notify(case: Path, *extra: str) -> object:
    return CliRunner().invoke(app, ["notify", "--case", str(case), "--aware-at", "2025-03-05T10:00:00+09:00", *extra])


def test_drafts_and_deadlines_come_from_one_decision(tmp_path: Path) -> None:
    """Suspect sessions (no host, no user): the 60-day deadline and the drafts both say unauthorized access."""
    _exposure(tmp_path, 10, {"hosts": [], "users": [], "sessions": ["30080"], "since": [], "until": []})
    res = _notify(tmp_path, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    final = next(o for o in out["obligations"] if o["obligation"] == "ppc_final")
    assert final["deadline"] == "2025-05-03T23:59:59+09:00"  # the unauthorized-access deadline...
    report = (tmp_path / "notify" / "appi_report_en.md").read_text(encoding="utf-8")
    assert "[UNKNOWN] Overview" not in report and "(unauthorized access)" in report  # ...and the drafts say so
    assert "through unauthorized access" in (tmp_path / "notify" / "notice_en.md").read_text(encoding="utf-8")
    assert "不正アクセス" in (tmp_path / "notify" / "appi_report_ja.md").read_text(encoding="utf-8")
    assert out["facts"]["unlawful_purpose"] is True
    saved = json.loads((tmp_path / "notify" / "obligations.json").read_text(encoding="utf-8"))
    assert saved["facts"] == out["facts"] and saved["drafts"] == out["drafts"]


def test_a_later_run_owing_nothing_leaves_no_earlier_draft(tmp_path: Path) -> None:
    _exposure(tmp_path, 2000, {"hosts": ["10.0.0.9"]})
    assert _notify(tmp_path).exit_code == 0
    first = sorted(p.name for p in (tmp_path / "notify").iterdir())
    assert first == ["appi_report_en.md", "appi_report_ja.md", "notice_en.md", "notice_ja.md", "obligations.json"]
    _exposure(tmp_path, 10, {})  # a rescoped exposure: ten persons, no suspect, nothing sensitive
    res = _notify(tmp_path)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "notify").iterdir()) == ["obligations.json"]
    assert "nothing owed: no obligation is owed: no trigger of this rule applies" in res.stdout.replace("\n", " ")
    saved = json.loads((tmp_path / "notify" / "obligations.json").read_text(encoding="utf-8"))
    assert saved["owed"] == NO and saved["drafts"] == [] and all(o["owed"] == NO for o in saved["obligations"])
    runs = sorted((tmp_path / "runs").glob("*-notify-*"))
    assert len(runs) == 2 and (runs[0] / "notify" / "appi_report_ja.md").is_file()  # history keeps them


def test_jurisdiction_without_rules_is_an_error(tmp_path: Path) -> None:
    _exposure(tmp_path, 2000, {"hosts": ["10.0.0.9"]})
    res = _notify(tmp_path, "--jurisdictions", "FR")
    assert res.exception is not None and getattr(res.exception, "exit_code", None) == 1
    msg = str(res.exception)
    assert "FR" in msg and "EU, JP, US-CA, US-NY, US-TX" in msg and "covered by EU" in msg
    assert not (tmp_path / "notify").exists()


def test_nothing_owed_says_why(tmp_path: Path) -> None:
    _exposure(tmp_path, 0, {"hosts": ["10.0.0.9"]})  # the suspects' statements reached nobody
    res = _notify(tmp_path)
    assert res.exit_code == 0, res.output
    assert "nothing owed: the exposure has no affected subject (0 statement(s) replayed" in res.stdout
    out = json.loads(_notify(tmp_path, "--json").stdout)
    assert out["obligations"] == [] and out["owed"] == NO and "no affected subject" in out["reason"]
    _exposure(tmp_path, 2000, {"hosts": ["10.0.0.9"]})
    res = _notify(tmp_path, "--jurisdictions", "US-CA")
    assert res.exit_code == 0, res.output
    assert "nothing owed: no rule among US-CA applies to where the affected subjects are (JP: 0 organization(s), " \
           "2,000 person(s))" in res.stdout.replace("\n", " ")


def test_every_trigger_condition_of_the_schema_has_a_test() -> None:
    """A condition the rule files may name (rule_file.TriggerWhen) and TRIGGERS cannot drift apart."""
    from breachscope.notify.rule_file import TriggerWhen
    from breachscope.notify.triggers import TRIGGERS, fires

    assert set(TRIGGERS) == set(TriggerWhen.model_fields)
    facts = Facts(jurisdictions={"JP": {"persons": 3}}, categories=("email",), unlawful_purpose=False,
                  sectors=(), sectors_known=False)
    assert fires({"categories_any": ["phone", "email"]}, facts, 3)
    assert not fires({"categories_any": ["phone"], "unlawful_purpose": True, "persons_over": 3}, facts, 3)
    assert fires({"persons_over": 2, "categories_any": None}, facts, 3)

"""Rules given to breachscope are hostile or mistyped input: `--rules` takes several paths and a missing
one is a usage error naming it; YAML aliases cannot blow a rule up (billion laughs, recursion); an
edited or damaged cache entry is rebuilt, never used."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breachscope.cli.hunt_cmd import expand_multi_value
from breachscope.cli.main import app
from breachscope.detect.sigma import ruleset as ruleset_module
from breachscope.detect.sigma.loader import compile_file, content_key
from breachscope.detect.sigma.ruleset import load_ruleset
from breachscope.model.errors import UsageError
from tests.conftest import run_ingest
from tests.test_sigma_engine import FAILED, SUCCESS, logon


def bs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def case_and_rules(tmp_path: Path) -> tuple[Path, list[Path]]:
    ev = tmp_path / "ev.json"
    ev.write_text("\n".join([logon(1, 4625, "alice"), logon(2, 4624, "alice")]) + "\n")
    run_ingest([ev], tmp_path / "case")
    third = SUCCESS.replace("successful_logon", "any_logon").replace("sel: {EventID: 4624}", "sel: {LogonType: 3}") \
        .replace("10000000-0000-0000-0000-000000000002", "10000000-0000-0000-0000-000000000003")
    rules = []
    for name, text in (("failed.yml", FAILED), ("success.yml", SUCCESS), ("any.yml", third)):
        (tmp_path / name).write_text(text)
        rules.append(tmp_path / name)
    return tmp_path / "case", rules


def test_expand_multi_value() -> None:
    assert expand_multi_value(["c", "--rules", "a", "b", "--json", "x"], "--rules") == [
        "c", "--rules", "a", "--rules", "b", "--json", "x"]
    assert expand_multi_value(["--rules=a", "b", "--", "c"], "--rules") == ["--rules=a", "--rules", "b", "--", "c"]
    assert expand_multi_value(["--rules", "a", "--rules", "b", "c"], "--rules", lambda a: a == "c") == [
        "--rules", "a", "--rules", "b", "c"]
    assert expand_multi_value(["--rules", "--json"], "--rules") == ["--rules", "--json"]  # click reports it


@pytest.mark.parametrize("form", ["multi", "repeated", "before-case", "dashdash"])
def test_every_rules_path_runs(case_and_rules: tuple[Path, list[Path]], form: str) -> None:
    case, (a, b, c) = case_and_rules
    args = {
        "multi": [str(case), "--rules", str(a), str(b), str(c), "--json"],
        "repeated": [str(case), "--rules", str(a), "--rules", str(b), "--rules", str(c), "--json"],
        "before-case": ["--rules", str(a), str(b), str(c), str(case), "--json"],  # a case is never a rules path
        "dashdash": ["--json", "--rules", str(a), str(b), str(c), "--", str(case)],
    }[form]
    r = CliRunner().invoke(app, ["hunt", "--no-builtin-rules", "--analytics", "none", *args])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["rules"]["files"] == 3 and summary["rules"]["run"] == 3
    assert summary["findings"] == 4  # 1 failed + 1 successful + 2 with LogonType 3


def test_missing_rules_path_is_a_usage_error(case_and_rules: tuple[Path, list[Path]], tmp_path: Path) -> None:
    case, (a, _b, _c) = case_and_rules
    missing = tmp_path / "no such rules"
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["hunt", str(case), "--rules", str(a), str(missing)], ["rules", "check", str(missing)],
                 ["rules", "coverage", str(missing), "--out", str(tmp_path / "l.json")],
                 ["hunt", str(case), "--rules", str(empty)]):
        r = bs(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr
        assert str(missing if "empty" not in args[-1] else empty) in r.stderr.replace("\n", ""), r.stderr
    # evidence taken for rules by mistake: said so, before anything is ingested
    r = bs("hunt", "--rules", str(a), str(tmp_path / "ev.json"))
    assert r.returncode == 2 and "before --rules" in r.stderr.replace("\n", " ").replace("│", "")


def _laughs(levels: int) -> str:
    body = "  a: &a ['lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol']\n"
    names = "abcdefghijklmnop"
    for i in range(1, levels):
        body += f"  {names[i]}: &{names[i]} [{', '.join([f'*{names[i - 1]}'] * 10)}]\n"
    return (f"title: laughs\nid: 40000000-0000-0000-0000-000000000001\nstatus: test\n"
            f"logsource: {{product: windows, service: security}}\ndetection:\n{body}"
            f"  sel: {{CommandLine|contains: *{names[levels - 1]}}}\n  condition: sel\n")


# aliases as rule authors use them: one list shared by two selections (within bounds: a rule like any other)
SHARED_LIST = ("title: aliases ok\nid: 40000000-0000-0000-0000-000000000003\n"
               "logsource: {product: windows, service: security}\ndetection:\n"
               "  sel: {TargetUserName: &users [alice, bob]}\n  sel2: {SubjectUserName: *users}\n"
               "  condition: sel or sel2\n")
RECURSIVE = ("title: self\nid: 40000000-0000-0000-0000-000000000002\nlogsource: {product: windows, service: security}\n"
             "detection:\n  sel: &s {CommandLine: [x, *s]}\n  condition: sel\n")


def test_yaml_alias_bombs_cost_their_rule_only(tmp_path: Path) -> None:
    path = tmp_path / "bombs.yml"
    path.write_text("\n---\n".join([_laughs(9), RECURSIVE, FAILED, SHARED_LIST]))
    started = time.perf_counter()
    rs = load_ruleset([path], use_cache=False)
    assert time.perf_counter() - started < 30  # a billion 'lol's were never built
    assert sorted(r.title for r in rs.rules) == ["Failed logon", "aliases ok"]
    reasons = {p.title: p.reason for p in rs.problems}
    assert set(reasons) == {"laughs", "self"}
    assert "expand to more than" in reasons["laughs"] and "recursive YAML alias" in reasons["self"]
    assert [p.line for p in rs.problems] == [1, _laughs(9).count("\n") + 3]  # each at its document


def test_rules_check_reports_the_bomb_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text(_laughs(9) + "\n---\n" + FAILED)
    r = bs("rules", "check", str(path), "--json")
    assert r.returncode == 1, r.stderr  # a rule failed to load
    report = json.loads(r.stdout)
    assert report["compiled"] == 1 and "expand to more than" in report["failed"][0]["reason"]


def test_edited_cache_entry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREACHSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    rule = tmp_path / "r.yml"
    rule.write_text(FAILED)
    first = load_ruleset([rule])
    assert (first.compiled, first.from_cache, first.cache_rebuilt) == (1, 0, 0)
    again = load_ruleset([rule])
    assert (again.compiled, again.from_cache) == (0, 1)
    entry = ruleset_module._cache_path(content_key(rule.read_bytes(), {}))
    (whole,) = (tmp_path / "cache" / "sets").iterdir()  # the set's one file, read first
    # an attacker (or a bad disk) changes what the cached rule matches: EventID 4625 -> 4624
    whole.write_text(whole.read_text().replace("4625", "4624"))
    from_set = load_ruleset([rule])  # the set file fails its check: the rule's own entry is used
    assert (from_set.compiled, from_set.from_cache) == (0, 1)
    assert "4625" in json.dumps(from_set.rules[0].condition) and "4625" in whole.read_text()  # rewritten
    whole.unlink()
    entry.write_text(entry.read_text().replace("4625", "4624"))
    edited = load_ruleset([rule])
    assert (edited.compiled, edited.from_cache, edited.cache_rebuilt) == (1, 0, 1)
    assert "4625" in json.dumps(edited.rules[0].condition)
    assert "4625" in entry.read_text()  # rewritten
    for damage in (b"", b"{not json", json.dumps({"key": "x", "sha256": "y", "entry": {}}).encode()):
        entry.write_bytes(damage)
        whole.unlink()
        rebuilt = load_ruleset([rule])
        assert (rebuilt.compiled, rebuilt.cache_rebuilt, len(rebuilt.rules)) == (1, 1, 1)


def test_rule_files_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such rule file or folder"):
        load_ruleset([tmp_path / "missing"])


def test_correlations_the_engine_cannot_run_are_problems_that_say_why() -> None:
    base = ("title: c\nname: c\ncorrelation:\n  rules: [a, b]\n  group-by: [User]\n  timespan: 5m\n")
    boolean = compile_file("c.yml", (base + "  type: temporal\n  condition: a and b\n").encode(), {})
    assert boolean["rules"] == []
    assert [p["reason"] for p in boolean["problems"]] == [
        "boolean correlation conditions are not supported: 'a and b'"]
    several = compile_file("c.yml", (base + "  type: value_count\n  condition: {gte: 2, field: [Image, User]}\n")
                           .encode(), {})
    assert several["rules"] == []
    assert [p["reason"] for p in several["problems"]] == [
        "a correlation condition on several fields is not supported: ['Image', 'User']"]

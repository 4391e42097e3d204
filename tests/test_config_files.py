"""Configuration files (inventory, notification rules, placeholders): validated by their pydantic models,
unknown keys refused with the file's line, JSON Schemas published in docs/schemas that match the models."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from breachscope.cli.schemas import config_schemas, render
from breachscope.model.errors import ConfigError, UsageError
from breachscope.model.inventory import load_inventory, parse_inventory
from breachscope.model.placeholders import load_placeholders
from breachscope.notify.rule_file import load_rule_file
from breachscope.notify.rules import load_rules
from breachscope.simulate import inventory as sim_inventory
from tests import scopedata
from tests.conftest import run_ingest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"
RULES = resources.files("breachscope.notify") / "rules"


def bs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def inventory_error(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    return info.value


@pytest.fixture(scope="module")
def small_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cfg")
    ev = root / "ev.json"
    ev.write_text(json.dumps({"EventID": 4624, "Channel": "Security", "Hostname": "WS1",
                              "@timestamp": "2025-02-05T01:00:00Z", "RecordNumber": 1}) + "\n")
    run_ingest([ev], root / "case")
    return root / "case"


def test_inventory_exclusion_typo_is_refused_with_its_line(tmp_path: Path, small_case: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(scopedata.INVENTORY, encoding="utf-8")
    assert [e.name for e in load_inventory(good).exclusions] == ["docomo_provided_mobile"]
    bad_text = scopedata.INVENTORY.replace("exclusions:", "exclusion:")
    bad = tmp_path / "inventory.yaml"
    bad.write_text(bad_text, encoding="utf-8")
    r = bs("scope", "--case", str(small_case), "--inventory", str(bad), "--snapshot", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"inventory.yaml:{line_of(bad_text, 'exclusion:')}: inventory: exclusion: unknown key" in r.stderr
    assert "did you mean 'exclusions'?" in r.stderr


@pytest.mark.parametrize(("edit", "needle", "words"), [
    (("    columns:\n      contract_no:", "    colums: {}\n    columns:\n      contract_no:"),
     "colums:", "datasets[1].colums: unknown key (did you mean 'columns'?)"),
    (("  person:", "  persn:"), "persn:", "subjects.persn: unknown key (did you mean 'person'?)"),
    (("match_keys: [corporate_number, customer_id]", "match_keys: {a: b}"), "match_keys",
     "subjects.organization.match_keys: input should be a valid list"),
    (("  - table: contracts", "  - table: contracts; DROP"), "contracts; DROP",
     "datasets[1].table: not a table name (got 'contracts; DROP')"),
    (("default_jurisdiction: JP", "default_jurisdiction: Japan"), "default_jurisdiction",
     "default_jurisdiction: not a country code"),
    (("    subject: person", "    subject: people"), "subject: people", "datasets[2].subject: input should be"),
    (("    subject_key: contact_id\n", ""), "- table: contacts", "datasets[2].subject_key: missing"),
])
def test_inventory_errors_name_key_and_line(tmp_path: Path, edit: tuple[str, str], needle: str, words: str) -> None:
    text = scopedata.INVENTORY.replace(*edit)
    assert text != scopedata.INVENTORY
    err = inventory_error(tmp_path, text)
    assert err.line == line_of(text, needle), str(err)
    assert words in str(err), str(err)
    assert isinstance(err, UsageError) and err.exit_code == 2


def test_inventory_alias_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = "version: 1\n" + "\n".join(levels) + "\n"
    started = time.perf_counter()
    err = inventory_error(tmp_path, text)
    assert "anchors and aliases" in str(err) and time.perf_counter() - started < 30


def test_inventory_files_we_write_and_document_are_valid(tmp_path: Path) -> None:
    schema = json.loads((SCHEMAS / "inventory.schema.json").read_text(encoding="utf-8"))
    doc_example = re.search(r"```yaml\n(.*?)```", (ROOT / "docs" / "inventory.md").read_text(encoding="utf-8"),
                            re.S)
    assert doc_example is not None
    for doc in (yaml.safe_load(scopedata.INVENTORY), sim_inventory.build(), yaml.safe_load(doc_example.group(1))):
        jsonschema.validate(doc, schema)  # what an editor checks
        assert parse_inventory(doc).datasets  # what breachscope checks
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**yaml.safe_load(scopedata.INVENTORY), "exclusion": []}, schema)


def test_shipped_notification_rules_are_valid() -> None:
    schema = json.loads((SCHEMAS / "notify-rule.schema.json").read_text(encoding="utf-8"))
    files = sorted(e for e in RULES.iterdir() if e.name.endswith(".yaml"))
    assert len(load_rules()) == len(files) >= 6
    for entry in files:
        jsonschema.validate(yaml.safe_load(entry.read_text(encoding="utf-8")), schema)


@pytest.mark.parametrize(("edit", "needle", "words"), [
    (("triggers:", "trigger:"), "trigger:", "unknown key (did you mean 'triggers'?)"),
    (("    deadline: {days: 5,", "    deadlines: {days: 5,"), "deadlines:", "obligations[0].deadlines: unknown key"),
    (("zone: Asia/Tokyo,\n               text: \"promptly", "zone: Asia/Tokio,\n               text: \"promptly"),
     "Asia/Tokio", "obligations[0].deadline.zone: not an IANA time zone"),
    (("drafts: [notice_ja, notice_en]", "drafts: [notice_ja, notice_fr]"), "notice_fr", "no template notice_fr.md.j2"),
    (("jurisdiction: JP", "jurisdiction: Japan"), "jurisdiction: Japan", "jurisdiction: not a jurisdiction"),
    (("    when: {persons_over: 1000}", "    when: {}"), "when: {}", "a trigger needs a condition"),
])
def test_notification_rule_errors_name_key_and_line(tmp_path: Path, edit: tuple[str, str], needle: str,
                                                    words: str) -> None:
    original = (RULES / "jp_appi.yaml").read_text(encoding="utf-8")
    text = original.replace(*edit, 1)
    assert text != original
    path = tmp_path / "jp_appi.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rule_file(path)
    assert info.value.line == line_of(text, needle), str(info.value)
    assert words in str(info.value), str(info.value)


def test_placeholders(tmp_path: Path, small_case: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("Admins_Workstations: [WS-ADM01, 42]\nDomain_Controllers: DC01\n", encoding="utf-8")
    assert load_placeholders(good) == {"Admins_Workstations": ["WS-ADM01", "42"], "Domain_Controllers": ["DC01"]}
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert load_placeholders(empty) == {}
    bad = tmp_path / "bad.yml"
    bad.write_text("Admins: [a]\nServers:\n  prod: [s1]\n", encoding="utf-8")
    rule = tmp_path / "r.yml"
    rule.write_text("title: t\nid: 30000000-0000-0000-0000-000000000001\nlogsource: {product: windows, service: "
                    "security}\ndetection: {sel: {EventID: 4624}, condition: sel}\nlevel: low\n", encoding="utf-8")
    r = bs("hunt", str(small_case), "--rules", str(rule), "--placeholders", str(bad))
    assert r.returncode == 2 and "bad.yml:2: placeholders: Servers:" in r.stderr, r.stderr
    ok = bs("hunt", str(small_case), "--rules", str(rule), "--placeholders", str(good), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["findings"] == 1, ok.stderr


def test_published_schemas_match_the_models() -> None:
    published = {p.name for p in SCHEMAS.glob("*.json")}
    generated = config_schemas()
    assert set(generated) <= published
    for name, schema in generated.items():
        assert (SCHEMAS / name).read_text(encoding="utf-8") == render(schema), (
            f"docs/schemas/{name} is stale: run `.venv/bin/python -m breachscope.cli.schemas docs/schemas`")

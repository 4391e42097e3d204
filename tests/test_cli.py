"""One command line: the same exit codes everywhere (README "Exit codes"), -h and --version, usage errors
for bad paths, no third-party noise on stderr, start-up without the heavy libraries, progress on a
terminal and never in a pipe, and no folder of the user's overwritten."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from breachscope import __version__
from breachscope.cli.demo_cmd import prepare
from breachscope.model.errors import UsageError
from breachscope.model.outdir import MARKER, claim_folder
from tests.conftest import run_ingest

COMMANDS = [["ingest"], ["query"], ["hunt"], ["rules"], ["rules", "check"], ["rules", "coverage"], ["demo"],
            ["simulate"], ["scope"], ["notify"]]
RULE = """
title: Successful logon
id: 40000000-0000-0000-0000-000000000001
status: test
level: low
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4624}, condition: sel}
"""
BAD_REGEX_RULE = RULE.replace("4000", "4001").replace("{EventID: 4624}", "{CommandLine|re: '(?<=a)b'}")


def bs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    ev = root / "ev.json"
    ev.write_text("\n".join(json.dumps({"EventID": 4624, "Channel": "Security", "Hostname": "WS1",
                                        "@timestamp": f"2025-02-05T01:00:0{i}Z", "RecordNumber": i})
                            for i in range(3)) + "\n")
    (root / "rules").mkdir()
    (root / "rules" / "ok.yml").write_text(RULE)
    run_ingest([ev], root / "case")
    inv = root / "inventory.yaml"
    inv.write_text("version: 1\n")
    return {"root": root, "ev": ev, "rules": root / "rules", "case": root / "case", "inventory": inv}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_short_and_long(command: list[str]) -> None:
    for flag in ("-h", "--help"):
        r = bs(*command, flag)
        assert r.returncode == 0 and r.stdout.startswith("Usage: breachscope"), r.stderr


def test_version() -> None:
    r = bs("--version")
    assert r.returncode == 0 and r.stdout == f"breachscope {__version__}\n"


def test_missing_case_is_exit_2_in_every_command(work: dict[str, Path]) -> None:
    nope = str(work["root"] / "no-such-case")
    runs = {
        "query": bs("query", "--case", nope, "SELECT 1"),
        "hunt": bs("hunt", nope, "--rules", str(work["rules"])),
        "scope": bs("scope", "--case", nope, "--inventory", str(work["inventory"]), "--snapshot", nope),
        "notify": bs("notify", "--case", nope, "--aware-at", "2025-02-05T17:00:00+09:00"),
    }
    for name, r in runs.items():
        assert r.returncode == 2, (name, r.stderr)
        assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr, (name, r.stderr)
    not_a_case = bs("query", "--case", str(work["rules"]), "SELECT 1")
    assert not_a_case.returncode == 2 and "not a breachscope case" in not_a_case.stderr


def test_usage_errors_for_bad_paths_and_values(work: dict[str, Path]) -> None:
    case, rules, root = str(work["case"]), str(work["rules"]), work["root"]
    runs = {
        "unknown option": bs("query", "--case", case, "--nope", "SELECT 1"),
        "bad format": bs("query", "--case", case, "--format", "xml", "SELECT 1"),
        "hunt --out in a missing folder": bs("hunt", case, "--rules", rules, "--out", str(root / "no" / "f.csv")),
        "hunt --out is a folder": bs("hunt", case, "--rules", rules, "--out", str(root)),
        "missing placeholders": bs("hunt", case, "--rules", rules, "--placeholders", str(root / "none.yml")),
        "missing inventory": bs("scope", "--case", case, "--inventory", str(root / "none.yml"), "--snapshot", case),
        "coverage --out in a missing folder": bs("rules", "coverage", rules, "--out", str(root / "no" / "l.json")),
        "ingest into a user's folder": bs("ingest", str(work["ev"]), "--case", str(work["rules"])),
    }
    for name, r in runs.items():
        assert r.returncode == 2, (name, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (name, r.stderr)
    assert not (root / "rules" / "case.json").exists() and sorted(p.name for p in work["rules"].iterdir()) == ["ok.yml"]
    failed = bs("query", "--case", case, "SELEC nonsense")
    assert failed.returncode == 1 and failed.stderr.startswith("error: query failed")


def test_no_third_party_log_noise(work: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(BAD_REGEX_RULE)
    r = bs("rules", "check", str(tmp_path / "bad.yml"), env={"BREACHSCOPE_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 1 and "invalid perl operator" in r.stdout  # the rule problem is reported...
    assert "absl" not in r.stderr and "re2.cc" not in r.stderr and "WARNING" not in r.stderr  # ...once, by us
    assert r.stderr.count("\n") == 1, r.stderr
    # DuckDB draws its own progress bar on stdout (into a pipe too) for queries over 2 s: off
    q = bs("query", "--case", str(work["case"]), "SELECT current_setting('enable_progress_bar') AS bar", "--json")
    assert q.returncode == 0 and json.loads(q.stdout) == [{"bar": False}]


def test_help_loads_no_heavy_library() -> None:
    """Start-up stays fast (`--help` under 0.5 s, bench/startup_bench.py) because nothing heavy is imported."""
    code = ("import sys\nsys.argv = ['breachscope', '--help']\nfrom breachscope.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = ('duckdb', 'pyarrow', 'numpy', 'sigma', 'sqlglot', 'pydantic', 'rich',"
            " 'breachscope.ingest', 'breachscope.scope', 'breachscope.detect', 'breachscope.engines',"
            " 'breachscope.simulate.scenario')\n"
            "sys.stderr.write(repr(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy"
            " or any(m.startswith(h + '.') for h in heavy))))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "[]", r.stderr


def _on_terminal(args: list[str]) -> str:
    """Run with stderr on a pseudo-terminal (stdout piped); everything written to the terminal."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "BREACHSCOPE_NO_PROGRESS"}
    proc = subprocess.Popen([sys.executable, "-m", "breachscope.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=slave, env={**env, "TERM": "xterm", "COLUMNS": "120"})
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0, out
    return out.decode("utf-8", "replace")


def test_progress_on_a_terminal_only(work: dict[str, Path], tmp_path: Path) -> None:
    hunt = ["hunt", str(work["case"]), "--rules", str(work["rules"]), "--format", "csv", "--out",
            str(tmp_path / "f.csv")]
    shown = _on_terminal(hunt)
    assert "loading rules" in shown and "building findings" in shown
    piped = bs(*hunt)
    assert piped.returncode == 0 and "loading rules" not in piped.stderr and "\x1b" not in piped.stderr
    ingest = ["ingest", str(work["ev"]), "--case", str(tmp_path / "c2")]
    assert "ingest" in _on_terminal(ingest) and "━" in _on_terminal(["ingest", str(work["ev"]), "--case",
                                                                      str(tmp_path / "c3")])
    quiet = bs("ingest", str(work["ev"]), "--case", str(tmp_path / "c4"))
    assert quiet.returncode == 0 and "━" not in quiet.stderr and "\x1b" not in quiet.stderr


def test_output_folders_are_claimed_never_clobbered(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    r = bs("demo", "--out", str(mine))
    assert r.returncode == 2 and "not empty" in r.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and (mine / "notes.txt").read_text() == "the user's"
    new = tmp_path / "new"
    assert claim_folder(new, "demo") is False and (new / MARKER).is_file()  # created and marked
    (new / "scenario").mkdir()
    (new / "case").mkdir()
    (new / "case" / "x").write_text("from an earlier demo")
    (new / "keep.txt").write_text("added by the user later")
    scenario, case = prepare(new)  # an earlier demo's folder: only what the demo wrote goes
    assert not scenario.exists() and not case.exists() and (new / "keep.txt").read_text() == "added by the user later"
    with pytest.raises(UsageError):
        claim_folder(new, "simulate")  # another command's folder
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim_folder(empty, "simulate") is False
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError):
        claim_folder(tmp_path / "file", "demo")

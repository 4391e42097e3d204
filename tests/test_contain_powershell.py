"""The PowerShell plan: every string from the evidence is a single-quoted literal with its quotes doubled (or
[char] codes for characters outside ASCII), no quote is left open, only the expected commands run, the
captures come before a gate and krbtgt is reset twice with a gate between. pwsh's own parser checks the
scripts too when it is installed (it is not on every machine: the Python checks stand on their own)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from breachscope.contain.formats.powershell import complement, literal, render, rollback
from breachscope.contain.plan import build_plan
from breachscope.model.containment import ContainmentPlan
from tests.contain_incidents import DCSYNC, HOSTILE_NAMES, hostile, ntt

COMMANDS = ("Invoke-Command ", "    param(", "    Set-NetFirewallProfile ", "    Remove-NetFirewallRule ",
            "    New-NetFirewallRule ", "} -ArgumentList ", "Disable-ADAccount ", "Set-ADAccountPassword ",
            "Enable-ADAccount ", "Wait-BreachscopeConfirmation ", "$ErrorActionPreference = ", "#Requires ")


def tokens(line: str) -> tuple[str, list[str]]:
    """(the code outside strings and comments, the single-quoted literals' values) of one line; an open quote
    or a double-quoted string fails."""
    code, literals, i = [], [], 0
    while i < len(line):
        c = line[i]
        if c == "#":
            break
        if c == '"':
            raise AssertionError(f"double-quoted string (expands variables): {line}")
        if c != "'":
            code.append(c)
            i += 1
            continue
        value, i = [], i + 1
        while True:
            assert i < len(line), f"unbalanced quote: {line}"
            if line[i] == "'" and i + 1 < len(line) and line[i + 1] == "'":
                value.append("'")
                i += 2
            elif line[i] == "'":
                i += 1
                break
            else:
                value.append(line[i])
                i += 1
        literals.append("".join(value))
        code.append("'S'")
    return "".join(code), literals


def value_of(expression: str) -> str:
    """What PowerShell makes of a literal written by `literal`: 'text' or ('' + [char]0x3042 + 'text')."""
    if expression.startswith("("):
        parts = expression[1:-1].split(" + ")
        out = []
        for p in parts:
            if p.startswith("[char]0x"):
                out.append(chr(int(p[8:], 16)))
            else:
                out.append(tokens(p)[1][0])
        return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")
    return tokens(expression)[1][0]


PLANS = {"ntt": lambda: build_plan(ntt(dc_rules=(DCSYNC,)), keep_access=("10.9.9.9",)),
         "hostile": lambda: build_plan(hostile(), keep_access=("10.9.9.9",))}


@pytest.mark.parametrize("name", PLANS)
@pytest.mark.parametrize("script", [render, rollback])
def test_every_string_is_single_quoted_and_closed(name: str, script: object) -> None:
    text = script(PLANS[name]())  # type: ignore[operator]
    assert text.isascii()
    prelude = False
    for line in text.splitlines():
        assert all(0x20 <= ord(c) < 0x7F for c in line), line
        code, _ = tokens(line)
        if line.startswith("function ") or line == "$ErrorActionPreference = 'Stop'":
            prelude = True
        if prelude:  # the script's own functions: fixed text
            prelude = line != "}"
            continue
        if code.strip():
            assert line.startswith(COMMANDS), line
        for bad in ("rm -rf", "Remove-Item", "$(", "<script>", "reload", ";"):
            assert bad not in code, (bad, line)


def test_evidence_strings_are_literals_with_their_value() -> None:
    plan = PLANS["hostile"]()
    text = render(plan)
    identities = [m.group(1) for m in re.finditer(r"^Disable-ADAccount -Identity (.+)$", text, re.M)]
    assert sorted(value_of(i) for i in identities) == sorted(["o'brien", "\u2018quote\u2019", "山田"])
    assert "Disable-ADAccount -Identity 'o''brien'" in text
    assert "('' + [char]0x2018 + 'quote' + [char]0x2019)" in text  # PowerShell takes curly quotes for quotes
    computers = [value_of(m.group(1)) for m in re.finditer(r"^Invoke-Command -ComputerName (\S+) ", text, re.M)]
    assert computers and all(re.fullmatch(r"[A-Za-z0-9.-]+|[0-9.]+", c) for c in computers), computers
    for bad in HOSTILE_NAMES:
        assert bad not in computers
    for value in ("x'y", "a;b", "''", "\u3042'\u2019", "\U0001f600", ""):
        assert value_of(literal(value)) == value


def test_order_gates_and_krbtgt_twice() -> None:
    text = render(PLANS["ntt"]())
    lines = text.splitlines()
    gate = [i for i, line in enumerate(lines) if line.startswith("Wait-BreachscopeConfirmation ")]
    krbtgt = [i for i, line in enumerate(lines) if line.startswith("Set-ADAccountPassword -Identity 'krbtgt'")]
    first_change = min(i for i, line in enumerate(lines) if line.startswith(("Invoke-Command", "Disable-ADAccount")))
    assert len(gate) == 2 and len(krbtgt) == 2
    assert gate[0] < first_change, "the captures' gate comes before anything changes"
    assert krbtgt[0] < gate[1] < krbtgt[1], "the replication gate sits between the two resets"
    assert "-Word 'CAPTURED'" in lines[gate[0]] and "-Word 'REPLICATED'" in lines[gate[1]]
    assert lines[0] == "#Requires -Modules ActiveDirectory"
    no_dc = render(build_plan(ntt()))
    assert "'krbtgt'" not in "\n".join(tokens(line)[0] + " ".join(tokens(line)[1]) for line in no_dc.splitlines())
    undo = rollback(PLANS["ntt"]())
    assert "Enable-ADAccount -Identity 'adm_suzuki'" in undo and "Remove-NetFirewallRule -Group" in undo
    assert "Set-ADAccountPassword" not in undo


def test_isolation_blocks_everything_but_the_kept_addresses() -> None:
    assert complement(["10.1.1.5"]) == ["0.0.0.0-10.1.1.4", "10.1.1.6-255.255.255.255",
                                        "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]
    assert complement(["0.0.0.0/0", "::/0"]) == []
    text = render(PLANS["ntt"]())
    assert "-ArgumentList (,[string[]]@('0.0.0.0-10.9.9.8', '10.9.9.10-255.255.255.255'," in text
    assert text.count("-Direction Outbound -Action Block -RemoteAddress $Remote") == 2  # the two isolated hosts


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="pwsh is not installed: the Python checks above stand")
@pytest.mark.parametrize("name", PLANS)
def test_pwsh_parses_the_scripts(name: str, tmp_path: Path) -> None:
    plan: ContainmentPlan = PLANS[name]()
    for i, text in enumerate((render(plan), rollback(plan))):
        path = tmp_path / f"plan{i}.ps1"
        path.write_text(text, encoding="ascii")
        check = ("$e = $null; [System.Management.Automation.Language.Parser]::ParseFile("
                 f"'{path}', [ref]$null, [ref]$e) | Out-Null; if ($e) {{ $e; exit 1 }}")
        done = subprocess.run(["pwsh", "-NoProfile", "-Command", check], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stdout + done.stderr

"""`breachscope demo` end to end (what `make demo` runs), on a smaller noise volume."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from breachscope.cli.main import app


def test_demo_finds_the_17891_organizations(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--events", "20000"])
    assert res.exit_code == 0, res.output
    assert "17891" in res.output.replace(",", "")
    # nobody told it where to look: the investigation found device A and device B, and says when
    assert "investigating: from the evidence alone" in res.output
    assert "before NTT Com found device A" in res.output and "before NTT Com found device B" in res.output
    summary = json.loads((tmp_path / "demo" / "case" / "exposure" / "summary.json").read_text())
    orgs = summary["organizations"]
    assert orgs["confirmed_exfiltrated"] + orgs["confirmed_accessed"] == 17_891
    assert (tmp_path / "demo" / "case" / "notify" / "appi_report_ja.md").exists()

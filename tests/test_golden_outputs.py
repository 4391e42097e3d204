"""Outputs of every stage on a fixed case, held to recorded digests: a restructuring of the code must
leave them byte for byte (after normalizing what differs by run: the temporary folder, the shared
datasets' location, run ids, timings).

The case: the simulated NTT breach (small, fixed seed) plus real samples of every evidence family from
../shared/datasets, ingested with a fixed --year and --tz (nothing depends on file times); hunt with a
fixed set of SigmaHQ rules; scope with the simulation's investigation inputs; notify.

When a change is meant to change outputs, regenerate and review the diff of tests/golden/outputs.json:
    BREACHSCOPE_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_outputs.py
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from tests.conftest import DATASETS, SHARED

GOLDEN = Path(__file__).parent / "golden" / "outputs.json"
EVIDENCE = ("deepbluecli-evtx/evtx", "evtx-attack-samples/Lateral Movement", "wrccdc-zeek-sample",
            "cisco-ios-syslog-samples", "db-audit-samples",
            "stratosphere-slips-dataset/dataset/test2-malicious.binetflow")
RULES = ("rules/windows/process_creation", "rules/windows/builtin", "rules/network", "rules/linux/builtin")
#: Values that differ by run, never by what the code computes.
VOLATILE = frozenset({"run_id", "exposure_run", "started_at", "committed_at", "seconds", "timings", "duration_s",
                      "argv", "python", "breachscope", "created"})

runner = CliRunner()
pytestmark = pytest.mark.slow


def _invoke(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.stdout


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("golden")
    sim, case = tmp / "sim", tmp / "case"
    _invoke("simulate", "--out", str(sim), "--customers", "3000", "--events", "30000", "--json")
    truth = json.loads((sim / "truth.json").read_text(encoding="utf-8"))
    evidence = [str(sim / "evidence"), *(str(DATASETS / e) for e in EVIDENCE)]
    _invoke("ingest", *evidence, "--case", str(case), "--year", "2025", "--tz", "UTC", "--json")
    _invoke("hunt", str(case), "--no-builtin-rules", "--analytics", "none", "--rules",
            *(str(SHARED / "sigma" / r) for r in RULES), "--json")
    inputs = truth["investigation_inputs"]
    scope = ["scope", "--case", str(case), "--inventory", str(sim / "inventory.yaml"), "--snapshot",
             str(sim / "snapshot"), "--since", inputs["time_window"]["start"], "--until", inputs["time_window"]["end"],
             "--json"]
    for s in inputs["database_sessions"]:
        scope += ["--suspect-session", s]
    _invoke(*scope)
    _invoke("notify", "--case", str(case), "--aware-at", "2025-02-05T17:00+09:00", "--json")
    norm = _Normalizer(tmp)
    return _digests(case, norm)


class _Normalizer:
    """Paths that depend on where the test runs become placeholders."""

    def __init__(self, tmp: Path) -> None:
        self.subs = sorted({(str(tmp.resolve()), "<tmp>"), (str(tmp), "<tmp>"), (str(SHARED.resolve()), "<shared>"),
                            (str(SHARED), "<shared>")}, key=lambda p: -len(p[0]))

    def text(self, s: str) -> str:
        for old, new in self.subs:
            s = s.replace(old, new)
        return s

    def value(self, v: Any) -> Any:
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items() if k not in VOLATILE}
        if isinstance(v, list | tuple):
            return [self.value(x) for x in v]
        if hasattr(v, "isoformat"):
            return v.isoformat()
        return v


def _table_digest(table: pa.Table, norm: _Normalizer) -> str:
    cols = [c for c in table.column_names if c not in VOLATILE]
    rows = [json.dumps(norm.value({c: r[c] for c in cols}), sort_keys=True, default=str)
            for r in table.select(cols).to_pylist()]
    return _sha("\n".join(sorted(rows)) + f"\ncolumns: {','.join(cols)}")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _digests(case: Path, norm: _Normalizer) -> dict[str, str]:
    from breachscope.engines.duckdb_case import open_case

    out: dict[str, str] = {}
    with open_case(case) as c:
        for t in [*c.event_tables, "rejects"]:
            out[f"table {t}"] = _table_digest(c.sql(f'SELECT * FROM "{t}"').to_arrow_table(), norm)
        manifest = c.sql("SELECT * EXCLUDE (duration_s) FROM manifest").to_arrow_table()
        out["manifest"] = _table_digest(manifest, norm)
    out["findings"] = _table_digest(pq.read_table(case / "findings.parquet"), norm)
    for name in ("subjects", "statements", "review"):
        out[f"exposure {name}"] = _table_digest(pq.read_table(case / "exposure" / f"{name}.parquet"), norm)
    rows = list(csv.reader(io.StringIO((case / "exposure" / "affected_subjects.csv").read_text(encoding="utf-8"))))
    out["exposure affected_subjects.csv"] = _sha(norm.text(json.dumps([rows[0], *sorted(rows[1:])])))
    summary = json.loads((case / "exposure" / "summary.json").read_text(encoding="utf-8"))
    out["exposure summary.json"] = _sha(json.dumps(norm.value(summary), sort_keys=True))
    for f in sorted((case / "notify").iterdir()):
        text = f.read_text(encoding="utf-8")
        body = json.dumps(norm.value(json.loads(text)), sort_keys=True) if f.suffix == ".json" else norm.text(text)
        out[f"notify {f.name}"] = _sha(body)
    return out


def test_outputs_match_the_recorded_digests(outputs: dict[str, str]) -> None:
    if os.environ.get("BREACHSCOPE_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(outputs) == sorted(recorded), "artifacts differ: " + ", ".join(sorted(set(outputs) ^ set(recorded)))
    changed = [k for k in sorted(outputs) if outputs[k] != recorded[k]]
    assert not changed, f"outputs changed: {changed}"

"""The analytics contract (issue 13 item 1): the runner, the registry, accumulation of findings per family,
`hunt --analytics`, `analytics list`, and `investigate` hunting by itself when no hunt ran."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from breachscope.detect.analytics import ANALYTICS, select
from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped
from breachscope.detect.analytics.runner import run_analytics
from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.engines.duckdb_case import open_case
from breachscope.model.findings import FINDINGS_SCHEMA, iter_findings
from tests.conftest import run_ingest
from tests.test_ingest_robustness import cli

HEADER = ("flowStartMilliseconds,flowEndMilliseconds,sourceIPv4Address,destinationIPv4Address,sourceTransportPort,"
          "destinationTransportPort,protocolIdentifier,octetDeltaCount,packetDeltaCount,tcpControlBits\n")
T0 = 1_738_368_000_000


def flows(tmp_path: Path) -> Path:
    """40 small flows of 10.9.0.1 to 192.0.2.1 a minute apart, and one of 10.9.0.2 to 192.0.2.2."""
    lines = [f"{T0 + i * 60_000},{T0 + i * 60_000 + 500},10.9.0.1,192.0.2.1,{40000 + i},443,6,900,3,27\n"
             for i in range(40)]
    lines.append(f"{T0},{T0 + 100},10.9.0.2,192.0.2.2,40000,443,6,100,1,27\n")
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "flows.csv").write_text(HEADER + "".join(lines))
    return ev


def pairs(ctx: CaseContext) -> list[Hit]:
    """A toy analytic: one hit per flow pair with more than one flow."""
    out = []
    for r in ctx.rows("SELECT src_ip, dst_ip, min(ts) AS t0, max(ts) AS t1, count(*) AS n FROM flow GROUP BY ALL "
                      "HAVING count(*) > 1"):
        where = f"src_ip = '{r['src_ip']}' AND dst_ip = '{r['dst_ip']}'"
        out.append(Hit(f"pair {r['src_ip']} -> {r['dst_ip']}", f"{r['n']} flows", 70.0, r["t0"], r["t1"],
                       key=(r["src_ip"], r["dst_ip"]), src_ip=r["src_ip"], dst_ip=r["dst_ip"], event_count=r["n"],
                       entities={"flows": r["n"]}, evidence=(EvidenceQuery("flow", where),)))
    return out


def broken(ctx: CaseContext) -> list[Hit]:
    ctx.rows("SELECT no_such_column FROM flow")
    return []


def lacking(ctx: CaseContext) -> list[Hit]:
    raise Skipped("needs what this case does not hold")


TOY = Analytic("toy_pairs", "Toy pairs", "pairs with several flows", ("flow",), pairs, ("T1071",))
BROKEN = Analytic("toy_broken", "Broken", "fails", ("flow",), broken)
LACKING = Analytic("toy_lacking", "Lacking", "skips", ("flow",), lacking)
ABSENT = Analytic("toy_absent", "Absent", "reads a table the case lacks", ("zeek_conn",), pairs)


def test_runner_reports_every_analytic_and_keeps_evidence(tmp_path: Path) -> None:
    run_ingest([flows(tmp_path)], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        res = run_analytics(CaseContext(c, table_columns(c)), [BROKEN, TOY, LACKING, ABSENT])
    status = {r.name: (r.status, r.findings) for r in res.runs}
    assert status == {"toy_broken": ("failed", 0), "toy_pairs": ("ran", 1), "toy_lacking": ("skipped", 0),
                      "toy_absent": ("skipped", 0)}
    assert "no_such_column" in (res.runs[0].reason or "")
    assert "zeek_conn" in (res.runs[3].reason or "")
    assert res.findings.schema.equals(FINDINGS_SCHEMA)
    (f,) = list(iter_findings(res.findings))
    assert (f.kind, f.rule_id, f.level, f.score, f.event_count) == ("analytic", "analytic:toy_pairs", "medium",
                                                                    70.0, 40)
    assert f.attack == ("T1071",) and f.tags == ("attack.t1071",)
    assert f.evidence is not None and len(f.evidence) == 20  # the first 20 of 40, oldest first
    assert [e.src_record for e in f.evidence] == sorted(e.src_record for e in f.evidence)
    assert f.src_file and f.src_file.endswith("flows.csv") and f.src_record == f.evidence[0].src_record
    assert f.ts == datetime.fromtimestamp(T0 / 1000, UTC) and json.loads(f.event or "{}") == {"flows": 40}
    with open_case(tmp_path / "case") as c:
        rerun = run_analytics(CaseContext(c, table_columns(c)), [TOY])
    assert rerun.findings.column("finding_id").to_pylist() == res.findings.column("finding_id").to_pylist()


def test_select_names() -> None:
    assert select("all") == list(ANALYTICS.values()) and select("none") == []
    with pytest.raises(ValueError, match="unknown analytic"):
        select("no_such_analytic")


def test_every_registered_analytic_is_documented() -> None:
    assert ANALYTICS, "no analytic registered"
    for name, a in ANALYTICS.items():
        assert a.name == name and a.title and len(a.about) > 30 and a.tables, name
        assert all(t.startswith("T") for t in a.attack), name
    done = cli("analytics", "list", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [a["name"] for a in listed["analytics"]] == list(ANALYTICS)


def test_hunt_runs_families_side_by_side(tmp_path: Path) -> None:
    """A rerun of the analytics replaces analytic findings only; the Sigma findings stay, and back."""
    ev = flows(tmp_path)
    (ev / "auth.log").write_text("<34>Feb  1 00:00:00 h1 sshd[1]: Failed password for root from 10.9.0.3 port 22 "
                                 "ssh2\n")
    rule = tmp_path / "r.yml"
    rule.write_text("title: failed root\nid: 0d3c1b8e-7a0e-4b57-9a59-0c1f1d7f0a11\nlogsource: {product: linux, "
                    "service: sshd}\ndetection: {sel: {'|contains': 'Failed password'}, condition: sel}\n"
                    "level: medium\n")
    case = tmp_path / "case"
    first = cli("hunt", str(ev), "--case", str(case), "--rules", str(rule), "--no-builtin-rules", "--analytics",
                "none", "--json")
    assert first.returncode == 0, first.stderr
    name = next(iter(ANALYTICS))
    second = cli("hunt", str(case), "--no-builtin-rules", "--analytics", name, "--json")
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert [a["name"] for a in summary["analytics"]["analytics"]] == [name]
    with open_case(case) as c:
        kinds = dict(c.rows("SELECT kind, count(*) FROM findings GROUP BY 1"))
    assert kinds.get("sigma") == 1  # the first hunt's Sigma finding is still there
    bad = cli("hunt", str(case), "--analytics", "nope")
    assert bad.returncode == 2 and "unknown analytic" in bad.stderr
    nothing = cli("hunt", str(case), "--no-builtin-rules", "--analytics", "none")
    assert nothing.returncode == 2 and "nothing to run" in nothing.stderr


def test_investigate_hunts_when_no_hunt_ran(tmp_path: Path) -> None:
    run_ingest([flows(tmp_path)], tmp_path / "case")
    done = cli("investigate", "--case", str(tmp_path / "case"))
    assert done.returncode == 0, done.stderr
    assert "hunt:" in done.stderr and "analytics" in done.stderr
    with open_case(tmp_path / "case") as c:
        sources = {r[0] for r in c.rows("SELECT source FROM runs WHERE artifact = 'findings'")}
    assert sources == {"sigma", "analytics"} or sources == {"analytics"}


def test_findings_table_reads_version_one(tmp_path: Path) -> None:
    from breachscope.model.findings import findings_table

    old = pa.table({n: pa.nulls(0, FINDINGS_SCHEMA.field(n).type) for n in FINDINGS_SCHEMA.names
                    if n not in ("score", "last_ts", "evidence")})
    assert findings_table(old).schema.names == FINDINGS_SCHEMA.names


def test_assets_say_which_public_network_is_inside(tmp_path: Path, datasets: Path) -> None:
    """The Slips test-cc capture (curl every 2 s from a host of CTU's public 147.32.0.0/16): no address is
    inside by RFC 1918, so no beacon can be told; with the network in assets.yaml the beacon is found."""
    capture = datasets / "stratosphere-slips-dataset" / "dataset" / "test-cc" / "test-cc-capture-1.pcap"
    if not capture.exists():
        pytest.skip(f"{capture} is not in this checkout of the datasets")
    run_ingest([capture], tmp_path / "case")
    (tmp_path / "assets.yaml").write_text("internal_networks: [147.32.0.0/16]\n")
    titles = {}
    for label, extra in (("plain", []), ("assets", ["--assets", str(tmp_path / "assets.yaml")])):
        done = cli("hunt", str(tmp_path / "case"), "--no-builtin-rules", "--analytics", "beaconing", "--format",
                   "jsonl", *extra)
        assert done.returncode == 0, done.stderr
        titles[label] = [json.loads(x)["rule_title"] for x in done.stdout.splitlines() if x.strip()]
    assert not any("Beaconing" in t for t in titles["plain"])
    assert any(t.startswith("Beaconing 147.32.80.37 -> ") for t in titles["assets"]), titles

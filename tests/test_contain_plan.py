"""The containment plan from the incident: order that keeps the evidence, krbtgt twice only on DCSync or a
golden ticket, accounts not disabled blindly, hostile values refused, the same plan for the same incident,
the JSON document its schema describes, and the command line (usage errors, --out, end to end)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from breachscope.cli.main import app
from breachscope.contain.formats import FORMATS
from breachscope.contain.plan import build_plan
from breachscope.model.containment import PHASES, ContainmentPlan
from breachscope.model.errors import BreachscopeError
from breachscope.model.incident import Alert, EvidenceRef, Incident
from breachscope.model.jsondoc import ArtifactError
from tests.contain_incidents import (
    C2,
    DCSYNC,
    ENTRY_FROM,
    ENTRY_IP,
    GOLDEN_SIGMA,
    LATER,
    PIVOT_IP,
    STAGING_IP,
    WEAK_DCSYNC,
    T,
    hostile,
    ntt,
)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def actions(plan: ContainmentPlan) -> list[tuple[str, str]]:
    return [(s.action, s.target) for s in plan.steps]


def test_order_keeps_the_evidence() -> None:
    plan = build_plan(ntt(), keep_access=("10.9.9.9",))
    assert [s.order for s in plan.steps] == list(range(1, len(plan.steps) + 1))
    phases = [s.phase for s in plan.steps]
    assert phases == sorted(phases, key=PHASES.index), "phases run in their order"
    # memory of every host to cut off (and of the entry host) before any disk, every capture before the network
    captured = ["ORD-AP02", "ORD-MNT01", "FS02"]
    assert actions(plan)[:6] == [("capture_memory", h) for h in captured] + [("capture_disk", h) for h in captured]
    first_network = min(s.order for s in plan.steps if s.system == "network")
    assert all(s.order < first_network for s in plan.steps if s.phase == "preserve")
    isolated = [s.target for s in plan.steps if s.action == "isolate_host"]
    assert isolated == ["ORD-MNT01", "FS02"]  # pivot, staging, exfiltration source; not the entry, not the DB
    for s in plan.steps:
        if s.action == "isolate_host":
            assert any(c.action == "capture_memory" and c.target == s.target and c.order < s.order for c in plan.steps)
    assert [s.addresses for s in plan.steps if s.action == "isolate_host"] == [(PIVOT_IP,), (STAGING_IP,)]
    assert all(s.allowed == ("10.9.9.9",) for s in plan.steps if s.action == "isolate_host")
    assert all(s.reason and s.rollback for s in plan.steps)
    assert all(s.evidence for s in plan.steps if s.phase != "verify")
    assert plan.steps[-1].action == "verify_containment"


def test_blocks_restricts_and_notes() -> None:
    plan = build_plan(ntt())
    blocked = [s.addresses[0] for s in plan.steps if s.action == "block_address"]
    assert blocked == [ENTRY_FROM, C2, LATER]  # initial access, C2 and exfiltration, the later attempt
    restrict = [s for s in plan.steps if s.action == "restrict_service"]
    assert [(s.target, s.service, s.addresses) for s in restrict] == [
        ("ORD-AP02", "tcp/8443", (ENTRY_IP,)), ("ORD-AP02", "udp/500", (ENTRY_IP,))]
    assert restrict[0].allowed == ("10.0.0.0/8", "192.168.0.0/16", "fc00::/7")
    assert {e.src_record for e in restrict[0].evidence} == {12, 40}  # the inbound connections behind it
    notes = "\n".join(plan.notes)
    assert "192.0.2.99: role involved, not blocked" in notes
    assert "host ORD-DB01: not isolated (holds the data at stake" in notes
    assert "host DC1: not isolated" in notes


def test_entry_service_unknown_restricts_every_service_and_says_so() -> None:
    inc = ntt()
    inc = replace(inc, external=tuple(replace(e, services=()) for e in inc.external))
    restrict = [s for s in build_plan(inc).steps if s.action == "restrict_service"]
    assert len(restrict) == 1 and restrict[0].service is None
    assert "does not say which of its services" in restrict[0].reason


def test_no_external_address_is_a_note() -> None:
    plan = build_plan(replace(ntt(), external=()))
    assert not [s for s in plan.steps if s.action == "block_address"]
    assert any(n.startswith("no external address to block") for n in plan.notes)


def test_krbtgt_twice_only_on_dcsync_or_golden_ticket() -> None:
    assert not [s for s in build_plan(ntt()).steps if s.action == "reset_krbtgt"]
    assert any("krbtgt: no DCSync or golden-ticket sign" in n for n in build_plan(ntt()).notes)
    for rules in ((DCSYNC,), (GOLDEN_SIGMA,), (DCSYNC, GOLDEN_SIGMA)):
        plan = build_plan(ntt(dc_rules=rules))
        krbtgt = [s for s in plan.steps if s.action == "reset_krbtgt"]
        assert len(krbtgt) == 2 and krbtgt[1].order == krbtgt[0].order + 1
        assert all(s.target == "krbtgt" and s.system == "directory" for s in krbtgt)
        assert "replicated to every domain controller" in krbtgt[1].reason  # the wait between the two
        assert {e.src_record for e in krbtgt[0].evidence} == {e.src_record for r in rules for e in r.evidence}
        last_account = max(s.order for s in plan.steps if s.action in ("disable_account", "reset_password"))
        assert krbtgt[0].order > last_account and plan.steps[-1].action == "verify_containment"
    weak = build_plan(ntt(dc_rules=(WEAK_DCSYNC,)))
    assert not [s for s in weak.steps if s.action == "reset_krbtgt"]
    assert any("weak sign" in n and "analytic:dcsync" in n for n in weak.notes)


def test_krbtgt_from_the_alerts_of_an_incident_without_rules() -> None:
    """Incidents written before hosts carried their rules: the sigma alerts' reasons, as investigate writes them."""
    def sigma(reason: str) -> Alert:
        return Alert(ts=T, kind="sigma", stage="execution", host="dc1", src_ip=None, dst_ip=None, dst_host=None,
                     user=None, session_id=None, score=30.0, reason=reason, evidence=(EvidenceRef("windows", "s", 5),))

    strong = sigma("Analytic: DCSync: directory replication requested by x from 10.0.2.17, not a domain controller "
                   "(high, 2 event(s); fires on 1 host(s))")
    routine = sigma("Analytic: Directory replication by machine account DC2$ on domain controller DC1 "
                    "(informational, 4 event(s); fires on 1 host(s))")
    forged = sigma("Sigma: run dcsync (cmd.exe /c echo DCSync) (low, 1 event(s); fires on 1 host(s))")
    assert len([s for s in build_plan(ntt(), [strong]).steps if s.action == "reset_krbtgt"]) == 2
    assert not [s for s in build_plan(ntt(), [routine, forged]).steps if s.action == "reset_krbtgt"]
    # an incident that carries rules is read from them only
    assert not [s for s in build_plan(ntt(dc_rules=(WEAK_DCSYNC,)), [strong]).steps if s.action == "reset_krbtgt"]


def test_accounts_not_disabled_blindly() -> None:
    plan = build_plan(ntt())
    acts = [(s.action, s.system, s.target) for s in plan.steps if s.phase == "accounts"]
    assert ("disable_account", "directory", "adm_suzuki") in acts
    assert ("reset_password", "directory", "adm_suzuki") in acts
    assert len([a for a in acts if a[2] == "adm_suzuki"]) == 2  # CORP\adm_suzuki and adm_suzuki: one account
    assert ("reset_password", "database", "app_order") in acts  # the application's login: rotated, not disabled
    assert ("disable_account", "database", "app_order") not in acts
    assert ("reset_password", "directory", "Administrator") in acts
    assert ("disable_account", "directory", "Administrator") not in acts
    assert ("disable_account", "directory", "山田") in acts and ("disable_account", "directory", "o'brien") in acts
    assert not any(t in ("SYSTEM", "OrderMaint", "ORD-MNT01$") for _, _, t in acts)
    notes = "\n".join(plan.notes)
    for why in ("NT AUTHORITY\\SYSTEM: a Windows service identity", "IIS APPPOOL\\OrderMaint: a Windows service",
                "ORD-MNT01$: a machine account, not disabled blindly", "Administrator (directory): not disabled",
                "app_order (database): not disabled: the application's own database login"):
        assert why in notes


def test_same_incident_same_plan() -> None:
    one = build_plan(ntt(dc_rules=(DCSYNC,)), keep_access=("10.9.9.9", "10.8.0.0/16"))
    two = build_plan(ntt(dc_rules=(DCSYNC,)), keep_access=("10.9.9.9", "10.8.0.0/16"))
    assert one == two and one.to_json() == two.to_json()
    for f in FORMATS.values():
        assert f.render(one) == f.render(two) and f.rollback(one) == f.rollback(two)
    assert one.incident_generated_at == T
    later = build_plan(ntt(dc_rules=(DCSYNC,), generated_at=T + timedelta(days=1)), keep_access=("10.9.9.9",
                                                                                                  "10.8.0.0/16"))
    assert later.steps == one.steps  # only the incident's identity differs


def test_hostile_values_never_reach_a_plan_address() -> None:
    import ipaddress

    plan = build_plan(hostile(), keep_access=("10.9.9.9", "1.2.3.4;reboot"))
    for s in plan.steps:
        for a in (*s.addresses, *s.allowed):
            ipaddress.ip_network(a)  # every address a step carries is one
            assert "%" not in a and "\n" not in a
        assert s.service in (None, "tcp/8443", "udp/500")
    for a in (*plan.keep_access, *plan.internal_networks):
        ipaddress.ip_network(a)
    blocked = [s.addresses[0] for s in plan.steps if s.action == "block_address"]
    assert blocked == [ENTRY_FROM, "203.0.113.81", "203.0.113.82"]  # the IPv4-mapped address as IPv4
    notes = "\n".join(plan.notes)
    assert "'203.0.113.9\\nreload': not an address" in notes and "'1.2.3.4;reboot' is not an address" in notes
    assert "'10.0.0.1; reboot' is not an address" in notes and "'fe80::1%eth0' is not an address" in notes
    assert "'tcp/8443;reboot' reached from outside is not tcp/udp" in notes
    assert "'not a network; reboot' is not an address" in notes
    assert "'evil;rm': not a valid logon name" in notes and "'bad\\nname': not a valid logon name" in notes
    evil = next(s for s in plan.steps if s.action == "isolate_host" and s.target == "EVIL")
    assert evil.addresses == ("10.40.9.77",)
    # the plan survives its own JSON
    assert ContainmentPlan.from_json(plan.to_json()) == plan


def test_json_document_matches_its_schema() -> None:
    schema = json.loads((ROOT / "docs" / "artifacts" / "containment-plan.schema.json").read_text(encoding="utf-8"))
    for plan in (build_plan(ntt(dc_rules=(DCSYNC,)), keep_access=("10.9.9.9",)), build_plan(hostile())):
        jsonschema.Draft202012Validator(schema).validate(json.loads(plan.to_json()))
        assert ContainmentPlan.from_json(plan.to_json()) == plan
    with pytest.raises(ArtifactError, match="newer breachscope"):
        ContainmentPlan.from_json(json.dumps({**json.loads(plan.to_json()), "version": 2}))


def test_old_incident_documents_still_read() -> None:
    """incident.json written before rules, services and internal_networks: read, and planned with defaults."""
    doc = json.loads(ntt().to_json())
    del doc["internal_networks"]
    for h in doc["hosts"]:
        del h["rules"]
    for e in doc["external"]:
        del e["services"]
    inc = Incident.from_json(json.dumps(doc))
    plan = build_plan(inc)
    assert plan.internal_networks == ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
    assert any("private ranges are assumed" in n for n in plan.notes)
    assert [s.service for s in plan.steps if s.action == "restrict_service"] == [None]


# --- the command line -----------------------------------------------------------------------------------------
def _case(tmp_path: Path, incident: Incident | None) -> Path:
    from tests.conftest import run_ingest

    ev = tmp_path / "ev.log"
    ev.write_text("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n")
    case = tmp_path / "case"
    run_ingest([ev], case)
    if incident is not None:
        from breachscope.model.case import CaseLayout

        layout = CaseLayout(case)
        layout.investigation.mkdir(parents=True, exist_ok=True)
        layout.incident.write_text(incident.to_json(), encoding="utf-8")
    return case


def test_cli_usage_errors_are_clear(tmp_path: Path) -> None:
    case = _case(tmp_path, None)
    cases = [
        (["contain", "--case", str(case), "--format", "nftables"], "has no investigation; run `breachscope"),
        (["contain", "--case", str(tmp_path / "nope"), "--format", "json"], "case folder not found"),
        (["contain", "--case", str(case)], "--format is required"),
        (["contain", "--case", str(case), "--format", "junos"], "--format must be one of nftables"),
        (["contain", "--case", str(case), "--format", "json", "--keep-access", "10.0.0.1;reboot"],
         "--keep-access: not an address or a network: '10.0.0.1;reboot'"),
        (["contain", "--case", str(case), "--format", "json", "--out", str(tmp_path)], "is a folder"),
    ]
    for args, message in cases:
        res = runner.invoke(app, args)
        assert isinstance(res.exception, BreachscopeError) and res.exception.exit_code == 2, (args, res.output)
        assert message in str(res.exception), (args, res.exception)
    done = _bs("contain", "--case", str(case), "--format", "nftables")  # what a user sees: one line, exit 2
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "has no investigation" in done.stderr
    assert "Traceback" not in done.stderr and not done.stdout


def test_cli_writes_every_format_atomically(tmp_path: Path) -> None:
    case = _case(tmp_path, ntt(dc_rules=(DCSYNC,)))
    for fmt in FORMATS:
        out = tmp_path / f"plan.{fmt}"
        res = runner.invoke(app, ["contain", "--case", str(case), "--format", fmt, "--out", str(out),
                                  "--keep-access", "10.9.9.9"])
        assert res.exit_code == 0, res.output
        plan = build_plan(Incident.read(case / "investigation" / "incident.json"), keep_access=("10.9.9.9",))
        assert out.read_text(encoding="utf-8") == FORMATS[fmt].render(plan)
        res = runner.invoke(app, ["contain", "--case", str(case), "--format", fmt, "--rollback"])
        assert res.exit_code == 0 and FORMATS[fmt].rollback(build_plan(Incident.read(
            case / "investigation" / "incident.json"))) in res.stdout
    assert not list(tmp_path.glob(".*.tmp"))
    res = runner.invoke(app, ["contain", "--case", str(case), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["version"] == 1


def _bs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "breachscope.cli.main", *args], capture_output=True, text=True,
                          check=False)


def test_cli_reads_the_alerts_of_an_incident_without_rules(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from breachscope.model.incident import alerts_table

    case = _case(tmp_path, ntt())  # no host carries rules: written before they were recorded
    strong = Alert(ts=T, kind="sigma", stage="execution", host="dc1", src_ip=None, dst_ip=None, dst_host=None,
                   user=None, session_id=None, score=30.0, evidence=(EvidenceRef("windows", "dc1.json", 4662),),
                   reason="Analytic: DCSync: directory replication requested by x from 10.0.2.17, not a domain "
                          "controller (high, 2 event(s); fires on 1 host(s))")
    pq.write_table(alerts_table([strong]), case / "investigation" / "alerts.parquet")
    res = runner.invoke(app, ["contain", "--case", str(case), "--format", "json"])
    assert res.exit_code == 0, res.output
    krbtgt = [s for s in ContainmentPlan.from_json(res.stdout).steps if s.action == "reset_krbtgt"]
    assert len(krbtgt) == 2 and krbtgt[0].evidence == (EvidenceRef("windows", "dc1.json", 4662),)


def test_cli_damaged_incident_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    case = _case(tmp_path, ntt())
    (case / "investigation" / "incident.json").write_text('{"version": 1, "hosts": 3}', encoding="utf-8")
    done = _bs("contain", "--case", str(case), "--format", "nftables")
    assert done.returncode == 1 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_contain_imports_the_model_only() -> None:
    import ast

    for path in sorted((ROOT / "src" / "breachscope" / "contain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for n in names:
                if n.startswith("breachscope."):
                    assert n.startswith(("breachscope.model", "breachscope.contain")), (path.name, n)


# --- end to end ---------------------------------------------------------------------------------------------------
def test_end_to_end_dcsync_case_gets_krbtgt_twice(tmp_path: Path) -> None:
    """A small domain with a DCSync from a workstation (tests/ad_events.py): investigate (its own hunt) puts the
    analytic and the Sigma rule on the domain controller; the plan resets krbtgt twice."""
    from tests.ad_events import DC1, Evidence, at, ordinary_domain

    ev = Evidence()
    ordinary_domain(ev)
    t = at(2 * 24 * 60 + 10 * 60)
    ev.logon(t, DC1[0], "svc_backup", "10.0.2.17", "0xbeef")
    ev.replication(t + timedelta(seconds=1), DC1, "svc_backup", "0xBEEF")
    ev.drs(t + timedelta(seconds=1), "10.0.2.17", DC1[1])
    case = ev.case(tmp_path)
    assert runner.invoke(app, ["investigate", "--case", str(case)]).exit_code == 0
    inc = Incident.read(case / "investigation" / "incident.json")
    dc = next(h for h in inc.hosts if h.name == "DC1")
    assert any(r.rule_id == "analytic:dcsync" and r.level == "high" and r.evidence for r in dc.rules)
    res = runner.invoke(app, ["contain", "--case", str(case), "--format", "json"])
    assert res.exit_code == 0, res.output
    plan = ContainmentPlan.from_json(res.stdout)
    assert [s.action for s in plan.steps] == ["reset_krbtgt", "reset_krbtgt", "verify_containment"]


def test_end_to_end_simulated_breach(tmp_path: Path) -> None:
    """The simulated NTT breach (destination variant): investigate records the service the outside reached on
    the entry host and the internal networks; the plan restricts that service, blocks the attack's addresses
    and isolates the host the data left from, with captures first; every format renders it."""
    from breachscope.ingest.pipeline import ingest
    from breachscope.investigate.pipeline import InvestigateRequest, investigate
    from breachscope.model.inventory import load_inventory
    from breachscope.simulate import SimConfig, run

    run(SimConfig(out=tmp_path / "sim", events=30_000, seed=5, variant="destination", jobs=1).validate())
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())
    ingest([str(tmp_path / "sim" / "evidence")], tmp_path / "case", jobs=1)
    database = load_inventory(tmp_path / "sim" / "inventory.yaml").database
    inc = investigate(InvestigateRequest(tmp_path / "case", database=database)).incident
    assert inc.internal_networks and any(e.services for e in inc.external if e.role == "initial_access")
    plan = build_plan(inc)
    entry = next(h for h in inc.hosts if h.role == "entry")
    restrict = [s for s in plan.steps if s.action == "restrict_service"]
    assert restrict and all(s.target == entry.name and s.service for s in restrict)
    blocked = {s.addresses[0] for s in plan.steps if s.action == "block_address"}
    assert truth["hosts"]["external"]["c2_and_exfiltration"] in blocked
    isolated = [s for s in plan.steps if s.action == "isolate_host"]
    assert isolated and all(any(c.action == "capture_memory" and c.target == s.target and c.order < s.order
                                for c in plan.steps) for s in isolated)
    assert all(s.evidence for s in plan.steps if s.phase in ("block", "restrict", "isolate"))
    for f in FORMATS.values():
        assert f.render(plan) and f.rollback(plan)
    assert build_plan(Incident.read(tmp_path / "case" / "investigation" / "incident.json")) == plan

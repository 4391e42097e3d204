"""The database log's noise of a data story other than the NTT one: the application's statements, bind values
and names come from its `Workload` (dbqueries.py), on each engine, without the order database's facts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from breachscope.simulate import schedule
from breachscope.simulate.config import SimConfig
from breachscope.simulate.dbqueries import Template, Workload
from breachscope.simulate.network import build as build_network
from breachscope.simulate.noise.postgres import DbRefs, Postgres
from breachscope.simulate.scenario_file import load_scenario
from breachscope.simulate.story import Story
from breachscope.simulate.streams import Context, run_group

SQL = "SELECT patient_id, full_name FROM patients WHERE patient_id = $1"
IDS = ("700101", "700202", "700303")
WORKLOAD = Workload(
    database="clinic", app_user="app_booking", app_name="booking-api",
    app_templates=(Template("patient_by_id", SQL, ("public.patients",), params=("pool:patient",), weight=1),),
    pools={"patient": pa.array(list(IDS))}, numeric_pools=frozenset({"patient"}))


def _noise(engine: str, folder: Path, workload: Workload = WORKLOAD) -> str:
    """The database log the noise group writes for `workload` on `engine` (no story records)."""
    spec = load_scenario("ntt-2025").network.model_copy(update={"database": engine})
    cfg = SimConfig(out=folder, events=3_000, customers=1_000, seed=5)
    net = build_network(spec, cfg.seed, cfg.events)
    group = Postgres(Context(cfg, net, 600, refs=DbRefs(workload=workload)))  # no NTT facts: no contracts
    result = run_group(cfg, group, 600, {})
    assert result.noise_records > 0
    files = sorted(p for p in (folder / "evidence" / "db").rglob("*") if p.is_file())
    assert files
    return "".join(p.read_text(encoding="utf-8") for p in files)


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "mariadb"])
def test_the_noise_sends_the_workloads_statements(engine: str, tmp_path: Path) -> None:
    text = _noise(engine, tmp_path)
    assert "orders" not in text and "app_order" not in text and "order-api" not in text
    assert "customers" not in text and "contracts" not in text
    if engine == "postgresql":
        # user@database, application, the statement with its $1, the value in the PARAMETER field
        assert re.search(r"app_booking@clinic", text) and "booking-api" in text
        assert "READ,SELECT,TABLE,public.patients," in text and SQL in text
        values = re.findall(r'patient_id = \$1",([^,\n]*)$', text, re.M)
    elif engine == "mysql":  # the user and database on Connect only; the value inside the text, bare (numeric)
        assert "Connect\tapp_booking@" in text and " on clinic" in text
        values = re.findall(r"WHERE patient_id = ([^\s]*)$", text, re.M)
    else:  # server_audit: user and database on every record, a READ record for the table
        assert ",app_booking," in text and ",READ,clinic,patients," in text and ",QUERY,clinic," in text
        values = re.findall(r"WHERE patient_id = ([^']*)',0$", text, re.M)
    assert values and set(values) <= set(IDS), set(values) - set(IDS)
    assert len(set(values)) > 1  # drawn from the pool, not one value


def test_a_pool_value_with_a_quote_is_escaped_in_mysqls_text(tmp_path: Path) -> None:
    """A pool that is not numeric is quoted, and a quote inside a value escaped as the MySQL connectors do."""
    tpl = Template("patient_by_name", "SELECT patient_id FROM patients WHERE full_name = $1", ("public.patients",),
                   params=("pool:name",), weight=1)
    text = _noise("mysql", tmp_path, Workload(database="clinic", app_user="app_booking", app_name="booking-api",
                                             app_templates=(tpl,), pools={"name": pa.array(["O'Brien"])}))
    assert "WHERE full_name = 'O\\'Brien'" in text


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_the_scheduled_jobs_send_the_workloads_statements(engine: str) -> None:
    """The nightly export, the reports (without parameters) and the backup of a workload's tables."""
    spec = load_scenario("ntt-2025")
    net = build_network(spec.network.model_copy(update={"database": engine}), 5, 3_000)
    export = Template("nightly_export", "COPY (SELECT patient_id, full_name FROM patients ORDER BY patient_id) TO "
                      "STDOUT WITH (FORMAT csv, HEADER)", ("public.patients",),
                      mysql="SELECT patient_id, full_name FROM patients ORDER BY patient_id")
    report = Template("report_visits", "SELECT ward, count(*) AS n\n  FROM visits\n GROUP BY ward\n ORDER BY 2 DESC",
                      ("public.visits",))
    w = Workload(database="clinic", app_user="app_booking", app_name="booking-api", nightly_export=export,
                 export_rows=1_000, export_program="C:\\Jobs\\clinic-export.exe", export_file="patients_{stamp}.csv",
                 bi_reports=(report,), backup_tables=(("patients", ("patient_id", "full_name")),
                                                     ("visits", ("visit_id", "patient_id", "ward"))),
                 what="all patients and their visits")
    story = Story(net, np.random.default_rng(3))
    schedule.add(story, net, w, 10_000_000, spec.routine)
    story.render()
    db_text = "".join(r.text for r in story.records[f"pg.{net.host('db').name}"])
    assert "orders" not in db_text and "customers" not in db_text
    if engine == "postgresql":
        assert "batch_export@clinic" in db_text and "booking-export" in db_text and "bi_reader@clinic" in db_text
        assert "COPY public.visits (visit_id, patient_id, ward) TO stdout;" in db_text
        assert "GROUP BY ward" in db_text and "<none>" in db_text
    else:
        assert "batch_export@" in db_text and " on clinic" in db_text
        assert "SHOW CREATE DATABASE IF NOT EXISTS `clinic`" in db_text and "* FROM `visits`" in db_text
    everything = "".join(r.text for recs in story.records.values() for r in recs)
    assert "patients_2025" in everything and "OrderExport" not in everything
    assert "C:\\\\Jobs\\\\clinic-export.exe" in everything and "Clinic export" in everything  # Sysmon's JSON
    said = schedule.descriptions(net, spec.routine, w.what, w.database)
    assert "exports all patients and their visits" in said["benign:nightly_export"]
    assert "pg_dump of the clinic database" in said["benign:backup"]

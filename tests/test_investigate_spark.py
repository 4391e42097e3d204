"""`investigate --engine spark` gives the same incident as DuckDB on a small case: the detectors' SQL is
written once and translated by sqlglot (Spark local mode)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from breachscope.investigate.pipeline import InvestigateRequest, find_incident
from breachscope.model.incident import Incident


def _comparable(incident: Incident) -> dict:
    doc = json.loads(incident.to_json())
    doc.pop("generated_at")
    return doc


def same_on_both_engines(evidence: Callable[[Path], Path], tmp_path: Path) -> Incident:
    """Ingest a test's Zeek logs, investigate on DuckDB and on Spark; the same incident and alerts (DuckDB's)."""
    from tests.conftest import run_ingest

    run_ingest([evidence(tmp_path / "zeek")], tmp_path / "case")
    on_duckdb, alerts_duckdb = find_incident(InvestigateRequest(tmp_path / "case"))
    on_spark, alerts_spark = find_incident(InvestigateRequest(tmp_path / "case", engine="spark"))
    assert all(c.status != "failed" for c in on_spark.coverage), on_spark.coverage
    assert _comparable(on_spark) == _comparable(on_duckdb)
    assert alerts_spark == alerts_duckdb
    return on_duckdb


def test_spark_gives_the_same_incident(tmp_path: Path) -> None:
    from breachscope.ingest.pipeline import ingest
    from breachscope.simulate import SimConfig, run

    run(SimConfig(out=tmp_path / "sim", events=20_000, seed=3, variant="pivot", jobs=1).validate())
    ingest([str(tmp_path / "sim" / "evidence")], tmp_path / "case", jobs=1)
    on_duckdb, alerts_duckdb = find_incident(InvestigateRequest(tmp_path / "case", database="orders"))
    on_spark, alerts_spark = find_incident(InvestigateRequest(tmp_path / "case", database="orders", engine="spark"))
    assert all(c.status != "failed" for c in on_spark.coverage), on_spark.coverage
    assert len(on_duckdb.suspects.sessions) == 7
    assert _comparable(on_spark) == _comparable(on_duckdb)
    assert alerts_spark == alerts_duckdb


def test_spark_finds_the_same_dns_tunnel_and_cloud_upload(tmp_path: Path) -> None:
    """exfil_channels' SQL (the analytic's registered domains, the tunnel's names per client and server, the
    storage uploads) on a case that has both channels and the weekly backup."""
    from tests.test_investigate_exfil_channels import BUCKET_IP, NAME_SERVER, evidence

    on_duckdb = same_on_both_engines(evidence, tmp_path)
    assert {m.dst_ip for m in on_duckdb.data_movements if m.kind == "exfiltration"} == {NAME_SERVER, BUCKET_IP}


def test_spark_finds_the_same_bulk_ftp_upload(tmp_path: Path) -> None:
    """external's bulk transfers (a session's connections to a rare server summed) and ftp.log's stored files."""
    from tests.test_investigate_bulk_uploads import FTP_SERVER, evidence

    on_duckdb = same_on_both_engines(evidence, tmp_path)
    assert {m.dst_ip for m in on_duckdb.data_movements if m.kind == "exfiltration"} == {FTP_SERVER}


def test_spark_finds_the_same_single_upload_and_night_transfer(tmp_path: Path) -> None:
    """external's sessions (window functions over a pair's connections) and one-connection uploads."""
    from tests.test_investigate_single_uploads import DROP, NIGHT_DST, evidence

    on_duckdb = same_on_both_engines(evidence, tmp_path)
    assert {m.dst_ip for m in on_duckdb.data_movements if m.kind == "exfiltration"} == {DROP, NIGHT_DST}


def test_spark_leaves_out_the_same_dns_sequence_label(tmp_path: Path) -> None:
    """exfil_channels' first-label sequence number (the regular expression in the per-client SQL)."""
    from tests.test_investigate_dns_counter import HOST, evidence

    on_duckdb = same_on_both_engines(evidence, tmp_path)
    assert [m.src_ip for m in on_duckdb.data_movements] == [HOST]

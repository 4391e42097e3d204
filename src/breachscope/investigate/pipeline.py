"""`investigate`: the case -> alerts -> the incident, written as a run (runs/<run_id>/investigation/,
copied to CASE/investigation/): incident.json and alerts.parquet."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from breachscope.entities.hosts import is_address
from breachscope.investigate.build import build
from breachscope.investigate.context import DEFAULT_INTERNAL, Context, host_key, host_key_sql
from breachscope.investigate.detectors import DETECTORS
from breachscope.investigate.detectors.base import Skipped
from breachscope.investigate.devices import device_addresses
from breachscope.model.assets import Assets
from breachscope.model.incident import Alert, DetectorRun, Incident, alerts_table
from breachscope.model.runs import INCIDENT
from breachscope.model.runstore import RunWriter, write_parquet
from breachscope.model.sql import quote_literal


@dataclass(frozen=True)
class InvestigateRequest:
    case: Path
    since: datetime | None = None
    until: datetime | None = None
    assets: Assets | None = None
    database: str | None = None  # the inventory's database: its server is a crown jewel
    engine: str = "duckdb"


@dataclass(frozen=True)
class InvestigateResult:
    incident: Incident
    alerts: int
    run_id: str
    seconds: float


def investigate(request: InvestigateRequest) -> InvestigateResult:
    started = time.monotonic()
    incident, alerts = find_incident(request)
    params: dict[str, Any] = {"since": request.since, "until": request.until, "engine": request.engine,
                              "database": request.database, "assets": request.assets is not None}
    with RunWriter(request.case, "investigate", INCIDENT, "investigate", params) as run:
        run.paths.investigation.mkdir(parents=True)
        run.paths.incident.write_text(incident.to_json(), encoding="utf-8")
        write_parquet(run.paths.alerts, alerts_table(alerts))
        record = run.commit({"alerts": len(alerts), "hosts": len(incident.hosts),
                             "suspect_sessions": len(incident.suspects.sessions)})
    return InvestigateResult(incident, len(alerts), record.run_id, time.monotonic() - started)


def find_incident(request: InvestigateRequest) -> tuple[Incident, list[Alert]]:
    """The incident and its alerts, without writing anything into the case."""
    if request.engine == "spark":
        from breachscope.engines.duckdb_case import open_case
        from breachscope.engines.spark_case import open_spark_case

        with open_case(request.case) as names_case, open_spark_case(request.case) as spark:
            return run_detectors(spark, names_case, request)
    from breachscope.engines.duckdb_case import open_case

    with open_case(request.case) as case:
        return run_detectors(case, case, request)


def run_detectors(engine: Any, names_case: Any, request: InvestigateRequest) -> tuple[Incident, list[Alert]]:
    """Every detector over `engine`; `names_case` (DuckDB) gives the host names behind addresses."""
    from breachscope.entities.hosts import address_names

    assets = request.assets or Assets()
    ctx = Context.of(engine, since=request.since, until=request.until,
                     internal_networks=DEFAULT_INTERNAL + tuple(assets.internal_networks))
    ctx.artifacts = names_case
    _findings_columns(ctx)
    ctx.names = address_names(names_case)
    # routers and switches are named by their syslog only: their logins give their addresses
    ctx.names.update(device_addresses(ctx))
    ctx.engine.register("_inv_names", pa.table({
        "address": pa.array(list(ctx.names), pa.string()),
        "hkey": pa.array([host_key(n) for n in ctx.names.values()], pa.string())}))
    _display_names(ctx)
    _crown_jewels(ctx, assets, request.database)
    _functions(ctx, assets)
    alerts: list[Alert] = []
    coverage = []
    for det in DETECTORS:
        missing = [ctx.missing(t, *cols) for t, cols in det.needs if not ctx.has(t, *cols)]
        missing += [f"{t} has no rows in this case" for t, _ in det.needs if not missing and not _rows(ctx, t)]
        if missing:
            coverage.append(DetectorRun(det.name, "skipped", 0, "; ".join(missing)))
            continue
        try:
            found = det.run(ctx)
        except Skipped as why:
            coverage.append(DetectorRun(det.name, "skipped", 0, str(why)))
            continue
        except Exception as exc:  # a detector that cannot read this case says so; the others go on
            if _debug():
                raise
            coverage.append(DetectorRun(det.name, "failed", 0, f"{type(exc).__name__}: {str(exc)[:300]}"))
            print(f"investigate: detector {det.name} failed: {type(exc).__name__}: {str(exc)[:300]}",
                  file=sys.stderr)
            continue
        coverage.append(DetectorRun(det.name, "ran", len(found), det.about))
        alerts.extend(found)
    ctx.engine.drop("_inv_names")
    alerts.sort(key=lambda a: (a.ts is None, a.ts, -a.score, a.kind))
    return build(ctx, alerts, coverage, str(request.case)), alerts


def _rows(ctx: Context, table: str) -> bool:
    """Whether a table holds any row (findings are read on the DuckDB case, see _findings_columns)."""
    if table == "findings":
        return True
    return bool(ctx.rows(f"SELECT count(*) AS n FROM (SELECT 1 FROM {ctx.ident(table)} LIMIT 1) AS t")[0]["n"])


def _findings_columns(ctx: Context) -> None:
    """Earlier hunts' findings join when the case has some (its `findings` view, read on DuckDB)."""
    try:
        table = (ctx.artifacts or ctx.engine).query("SELECT * FROM findings LIMIT 1")
    except Exception:  # a case without the view: the sigma detector says it was skipped
        return
    if table.num_rows:
        ctx.columns["findings"] = set(table.schema.names)


def _debug() -> bool:
    import os

    return bool(os.environ.get("BREACHSCOPE_DEBUG"))


def _display_names(ctx: Context) -> None:
    """Host key -> the name as written (first label): Windows computer names first, then the address map."""
    for name in ctx.names.values():
        key = host_key(name)
        if key and not ctx.is_internal(name):
            ctx.display.setdefault(key, name.split(".")[0].rstrip("$"))
    if ctx.has("windows", "host"):
        for r in ctx.rows("SELECT DISTINCT split_part(host, '.', 1) AS n FROM windows WHERE host IS NOT NULL"):
            key = host_key(r["n"])
            if key:
                ctx.display[key] = r["n"]


def _crown_jewels(ctx: Context, assets: Assets, database: str | None) -> None:
    for item in assets.crown_jewels:
        if is_address(item):
            ctx.crown_jewel_ips.add(item)
            key = host_key(ctx.name_of(item))
            if key:
                ctx.crown_jewel_hosts.add(key)
        else:
            ctx.crown_jewel_hosts.add(host_key(item) or item)
    if assets.crown_jewels or not ctx.has("db_audit", "host"):
        return
    where = f"lower(database) = lower({quote_literal(database)})" if database and ctx.has("db_audit", "database") \
        else "true"
    sql = f"SELECT DISTINCT {host_key_sql('host')} AS k FROM db_audit WHERE host IS NOT NULL AND {where}"
    for r in ctx.rows(sql):
        if r["k"]:
            ctx.crown_jewel_hosts.add(r["k"])


def _functions(ctx: Context, assets: Assets) -> None:
    """What each host is, from behaviour (assets.yaml roles override): the database server receives the
    audited connections; its steady clients under one account are application servers; a host that
    opens remote sessions to many servers is an admin host; a syslog source writing Cisco mnemonics is
    a network device."""
    fn: dict[str, str] = {k: "database server" for k in ctx.crown_jewel_hosts}
    if ctx.has("db_audit", "src_ip", "session_id"):
        for r in ctx.rows("SELECT src_ip, count(DISTINCT session_id) AS s, count(DISTINCT CAST(ts AS DATE)) AS d "
                          "FROM db_audit WHERE src_ip IS NOT NULL GROUP BY ALL "
                          "HAVING count(DISTINCT session_id) >= 20"):
            key = host_key(ctx.name_of(r["src_ip"]))
            if key:
                fn.setdefault(key, "application server")
    if ctx.has("windows", "LogonType", "src_ip"):
        for r in ctx.rows("SELECT src_ip, count(DISTINCT host) AS n FROM windows WHERE EventID = 4624 "
                          "AND LogonType = '10' GROUP BY ALL HAVING count(DISTINCT host) >= 5"):
            key = host_key(ctx.name_of(r["src_ip"]))
            if key:
                fn.setdefault(key, "admin host")
    if ctx.has("syslog", "cisco_mnemonic"):
        for r in ctx.rows("SELECT DISTINCT host FROM syslog WHERE cisco_mnemonic IS NOT NULL AND host IS NOT NULL"):
            key = host_key(r["host"])
            if key:
                fn.setdefault(key, "network device")
    for name, role in assets.roles.items():
        key = host_key(name)
        if key:
            fn[key] = role
    ctx.facts["functions"] = fn

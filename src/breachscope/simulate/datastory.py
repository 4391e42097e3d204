"""The data the attack reads, for either kind of story: the NTT order database (customers.py, attackdb.py), or
a database built from the scenario's data inventory (datamodel.py, datagen.py, dataplan.py). Either gives the
same artifacts to the rest of the run: the snapshot and its dump schema, the inventory, the attacker's
statements with their results and the subjects they expose, and what the database's own clients send."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from breachscope.model.errors import UsageError
from breachscope.simulate import attackdb, customers, datagen, dataplan, exposure, inventory, snapshot
from breachscope.simulate import dataexposure as dx
from breachscope.simulate.attack_file import DatabaseSessions
from breachscope.simulate.attackdb import Query
from breachscope.simulate.config import SimConfig
from breachscope.simulate.datamodel import DataModel, TableModel, build, ident
from breachscope.simulate.dbengine import engine
from breachscope.simulate.dbqueries import Template, Workload
from breachscope.simulate.exposure import Scope, StatementResult
from breachscope.simulate.noise.postgres import DbRefs
from breachscope.simulate.text import strs

MAX_ROWS = 30_000_000  # rows of all tables of an inventory story (held in memory while generated)


@dataclass
class DataStory:
    database: str
    tables: dict[str, pa.Table]
    dump: snapshot.DumpSchema
    inventory: dict[str, Any]
    queries: list[Query]
    results: dict[str, StatementResult]
    scope: Scope
    ranges: dict[str, Any]  # as the truth reports them
    probe_order: str  # the order the server returned the probe's rows in (truth)
    refs: DbRefs  # what the noise and the scheduled jobs need of the database

    @property
    def dump_bytes(self) -> int:
        return sum(t.nbytes for t in self.tables.values())

    def without_tables(self) -> DataStory:
        """What the truth needs, without the rows (freed before the log writers start)."""
        return replace(self, tables={}, results={})


def build_story(cfg: SimConfig, folder: Path) -> DataStory:
    """Generate the database, write its snapshot (Parquet) and inventory.yaml into `folder`, plan and run the
    attacker's statements; the exposed subjects of the main kind must be the configured target."""
    spec = cfg.scenario_spec
    dialect = engine(spec.network.database).sql_dialect
    story = _inventory_story(cfg, folder, dialect) if spec.data else _ntt_story(cfg, folder, dialect)
    found = len(story.scope.organizations) or len(story.scope.persons)
    if found != cfg.target_organizations:
        raise RuntimeError(f"the attacker's statements expose {found} subjects, not {cfg.target_organizations}")
    return story


def plan_options(cfg: SimConfig) -> attackdb.PlanOptions:
    """The variant's say in the attacker's plan (its database_sessions step)."""
    step = next(s for s in cfg.scenario_spec.attack.variants[cfg.variant] if s.step == "database_sessions")
    assert isinstance(step, DatabaseSessions)
    return attackdb.PlanOptions(step.page_size, step.probe_limit)


def _ntt_story(cfg: SimConfig, folder: Path, dialect: str) -> DataStory:
    db = customers.generate(cfg.seed, cfg.customers)
    snapshot.write_parquet(db, folder / "snapshot")
    inv = inventory.write(folder / "inventory.yaml")
    ranges, queries = attackdb.plan(db, cfg.target_organizations, dialect, plan_options(cfg))
    con = exposure.connect(folder / "snapshot")
    try:
        results = {q.ref: exposure.run(con, q, keep_rows=bool(q.output_file)) for q in queries}
        scope = exposure.resolve(con, list(results.values()), {q.ref: q.certain for q in queries}, inv)
    finally:
        con.close()
    ids = np.asarray(db["customers"]["customer_id"])
    shown = {"first_customer": ranges.a0, "export_to": ranges.e1, "contacts_to": ranges.c1, "pages_to": ranges.a1,
             "contracts_copy_to": ranges.b1, **({"probe_from": ranges.u0, "probe_to": ranges.u1}
                                                if ranges.probe_limit else {})}
    corp = db["customers"]["corporate_number"].drop_null().combine_chunks()
    refs = DbRefs(customers.FIRST_CUSTOMER_ID, db["customers"].num_rows, db["contracts"].num_rows,
                  db["contracts"]["contract_no"].combine_chunks(), corp.slice(0, 50_000),
                  int(np.asarray(db["orders"]["order_id"]).max()) + 1,
                  workload=customers.workload(db, cfg.scenario_spec.attack.database_user))
    return DataStory("orders", db.tables, snapshot.ORDERS, inv, queries, results, scope,
                     {**{k: int(ids[v]) for k, v in shown.items()}, "page_size": ranges.page,
                      "probe_limit": ranges.probe_limit},
                     "customer_id, contact_id (the rows the server returned for the LIMIT without ORDER BY)", refs)


def _inventory_story(cfg: SimConfig, folder: Path, dialect: str) -> DataStory:
    data = cfg.scenario_spec.data
    assert data is not None
    model = build(data.inventory, data.rows, data.types, "data.inventory")
    rows = round(cfg.customers * sum(t.rows_per_subject for t in model.tables))
    if rows > MAX_ROWS:
        raise UsageError(f"--customers {cfg.customers} with data.rows makes {rows:,} rows in all; at most "
                         f"{MAX_ROWS:,} (lower --customers or data.rows)")
    tables = datagen.generate(model, cfg.seed, cfg.customers)
    out = folder / "snapshot"
    out.mkdir(parents=True, exist_ok=True)
    snapshot.write_parquet_tables(tables, out)
    text = yaml.safe_dump(model.document, sort_keys=False, allow_unicode=True, width=120)
    (folder / "inventory.yaml").write_text(f"# Data inventory of the simulated database (breachscope simulate, "
                                           f"{cfg.scenario_spec.name})\n" + text, encoding="utf-8")
    ranges, queries = dataplan.plan(model, tables, cfg.target_organizations, dialect, plan_options(cfg))
    con = exposure.connect(out, tuple(t.name for t in model.tables))
    try:
        results = dx.results(con, model, queries)
        scope = dx.resolve(con, model, list(results.values()), {q.ref: q.certain for q in queries})
    finally:
        con.close()
    main = model.main_table
    refs = DbRefs(workload=workload(model, tables, cfg.scenario_spec.attack.database_user))
    return DataStory(model.database, tables, dump_schema(model), model.document, queries, results, scope, ranges,
                     f"{main.key} (the rows the server returned for the LIMIT without ORDER BY)", refs)


def dump_schema(model: DataModel) -> snapshot.DumpSchema:
    return snapshot.DumpSchema(
        model.database,
        tuple((t.name, tuple((c.name, c.sql_type, c.not_null) for c in t.columns)) for t in model.tables),
        tuple((t.name, t.key) for t in model.tables),
        indexes=tuple((t.name, c.name) for t in model.tables for c in t.columns if c.references),
        foreign_keys=tuple((t.name, c.name, c.references) for t in model.tables for c in t.columns if c.references))


def _template(name: str, sql: str, relations: tuple[str, ...], **kw: Any) -> Template:
    """A statement in PostgreSQL's text, and MySQL's where quoted names differ."""
    mysql = attackdb.backquoted(kw.pop("mysql", sql))
    return Template(name, sql, relations, mysql=mysql if mysql != sql else "", **kw)


def workload(model: DataModel, tables: dict[str, pa.Table], app_user: str) -> Workload:
    """The application's lookups by the main subject's key (one template per table that holds it), an update
    of the main table's timestamp where it has one, the nightly export of the main table, a report per table
    counting by a column that is not personal, and the backup of every table."""
    main = model.main_table
    key, table = ident(main.key), ident(main.name)

    def cols(t: TableModel) -> str:
        return ", ".join(ident(c) for c in dict.fromkeys([t.key, *(c.name for c in t.columns)]))

    templates = [_template(f"{main.name}_by_key", f"SELECT {cols(main)} FROM {table} WHERE {key} = $1",
                           (f"public.{ident(main.name)}",), params=("pool:key",), weight=30)]
    for t in dataplan.linked(model):
        owner = ident(str(model.owner_column(t)))
        templates.append(_template(f"{t.name}_of_subject", f"SELECT {cols(t)} FROM {ident(t.name)} WHERE {owner} = $1 "
                                   f"ORDER BY {ident(t.key)}", (f"public.{ident(t.name)}",), params=("pool:key",),
                                   weight=15))
    stamp = next((c.name for c in main.columns if c.sql_type.startswith("timestamp") and not c.categories), "")
    if stamp:
        templates.append(_template(f"touch_{main.name}", f"UPDATE {table} SET {ident(stamp)} = $1 WHERE {key} = $2",
                                   (f"public.{ident(main.name)}",), klass="WRITE", command="UPDATE",
                                   params=("now", "pool:key"), weight=8))
    inner = f"SELECT {cols(main)} FROM {table} ORDER BY {key}"
    export = _template("nightly_export", f"COPY ({inner}) TO STDOUT WITH (FORMAT csv, HEADER)",
                       (f"public.{ident(main.name)}",), mysql=inner)
    reports = []
    for t in model.tables:
        group = next((c.name for c in t.columns if c.sql_type == "text" and not c.categories), "")
        if group:
            reports.append(_template(f"report_{t.name}", f"SELECT {ident(group)}, count(*) AS n\n  FROM "
                                     f"{ident(t.name)}\n GROUP BY {ident(group)}\n ORDER BY 2 DESC",
                                     (f"public.{ident(t.name)}",)))
    return Workload(
        database=model.database, app_user=app_user, app_name=f"{model.database}-api", app_templates=tuple(templates),
        pools={"key": strs(np.asarray(tables[main.name][main.key]))}, numeric_pools=frozenset({"key"}),
        nightly_export=export, export_rows=tables[main.name].num_rows,
        export_program=f"C:\\Jobs\\{model.database}-export.exe", export_file=f"{main.name}_{{stamp}}.csv",
        bi_reports=tuple(reports[:2]),
        backup_tables=tuple((t.name, tuple(ident(c.name) for c in t.columns)) for t in model.tables),
        what=f"all {main.name}")

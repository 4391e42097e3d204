"""The case's artifacts as DuckDB views, each with the `run_id` that produced its rows:

- `findings`, `subjects`, `obligations`, `alerts` (the investigation's): the runs the case shows (the
  latest per artifact; findings of each detector family side by side), or the case as it stood at a run
  (`open_case(dir, run=ID)`);
- `exposure_statements`, `exposure_review`: the shown exposure run's other tables;
- `all_findings`, `all_subjects`, `all_obligations`, `all_alerts`: every committed run, to compare runs;
- `runs`: every committed run with its parameters, counts and inputs, and whether the views show it.

A case from before run history keeps its top-level files (findings.parquet, exposure/, notify/): they
are shown with a null run_id until a run of the same artifact is committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.model.case import CaseLayout
from breachscope.model.exposure import REVIEW_SCHEMA, STATEMENTS_SCHEMA, SUBJECTS_SCHEMA
from breachscope.model.findings import FINDINGS_SCHEMA
from breachscope.model.incident import ALERTS_SCHEMA
from breachscope.model.runs import EXPOSURE, FINDINGS, INCIDENT, OBLIGATIONS, History, RunRecord
from breachscope.model.sql import quote_ident, quote_literal

RUN_VIEWS = ("findings", "subjects", "obligations", "exposure_statements", "exposure_review", "alerts",
             "all_findings", "all_subjects", "all_obligations", "all_alerts", "runs")

# obligations.json -> rows: the columns read, typed (model.obligations.Notification / Obligation)
_OBLIGATION_FIELDS = (("rule", "VARCHAR"), ("jurisdiction", "VARCHAR"), ("obligation", "VARCHAR"),
                      ("to", "VARCHAR"), ("what", "VARCHAR"), ("owed", "VARCHAR"), ("why", "VARCHAR[]"),
                      ("deadline", "VARCHAR"), ("deadline_text", "VARCHAR"), ("persons", "BIGINT"),
                      ("organizations", "BIGINT"), ("drafts", "VARCHAR[]"))
_NOTIFICATION_COLUMNS = {
    "aware_at": "VARCHAR", "exposure_run": "VARCHAR",
    "obligations": "STRUCT(" + ", ".join(f"{quote_ident(n)} {t}" for n, t in _OBLIGATION_FIELDS) + ")[]",
}

_RUNS_SCHEMA = pa.schema([
    pa.field("run_id", pa.string()), pa.field("artifact", pa.string()), pa.field("source", pa.string()),
    pa.field("command", pa.string()), pa.field("started_at", pa.string()), pa.field("committed_at", pa.string()),
    pa.field("parameters", pa.string()), pa.field("counts", pa.map_(pa.string(), pa.int64())),
    pa.field("inputs", pa.list_(pa.string())), pa.field("files", pa.list_(pa.string())),
    pa.field("breachscope", pa.string()), pa.field("shown", pa.bool_()),
])


def _lit(text: str | None) -> str:
    return "NULL::VARCHAR" if text is None else quote_literal(text)


def _cols(schema: pa.Schema) -> str:
    return ", ".join(quote_ident(n) for n in schema.names)


Part = tuple[str | None, Path]  # (run id, file); a file from before run history has no run id


def create_run_views(con: duckdb.DuckDBPyConnection, layout: CaseLayout, history: History) -> None:
    everything = history.runs

    def parts(artifact: str, path_of: Callable[[str], Path], legacy: Path) -> tuple[list[Part], list[Part]]:
        """(shown, every run) files of an artifact; the top-level file of a case from before run history."""
        old: list[Part] = [] if any(r.artifact == artifact for r in everything) or not legacy.is_file() \
            else [(None, legacy)]
        shown: list[Part] = [(r.run_id, path_of(r.run_id)) for r in history.of(artifact)]
        every: list[Part] = [(r.run_id, path_of(r.run_id)) for r in everything if r.artifact == artifact]
        return shown + old, every + old

    tables = (
        (FINDINGS, "findings", lambda r: layout.run(r).findings, layout.findings, FINDINGS_SCHEMA),
        (EXPOSURE, "subjects", lambda r: layout.run(r).subjects, layout.subjects, SUBJECTS_SCHEMA),
        (EXPOSURE, "exposure_statements", lambda r: layout.run(r).scope_statements, layout.scope_statements,
         STATEMENTS_SCHEMA),
        (EXPOSURE, "exposure_review", lambda r: layout.run(r).scope_review, layout.scope_review, REVIEW_SCHEMA),
        (INCIDENT, "alerts", lambda r: layout.run(r).alerts, layout.alerts, ALERTS_SCHEMA),
    )
    for artifact, view, path_of, legacy, schema in tables:
        shown, every = parts(artifact, path_of, legacy)
        _parquet_view(con, view, shown, schema)
        if not view.startswith("exposure_"):
            _parquet_view(con, f"all_{view}", every, schema)
    shown, every = parts(OBLIGATIONS, lambda r: layout.run(r).obligations, layout.obligations)
    _obligations_view(con, "obligations", shown)
    _obligations_view(con, "all_obligations", every)
    shown_ids = {r.run_id for r in history.shown}
    con.register("runs_arrow", pa.Table.from_pylist([_run_row(r, r.run_id in shown_ids) for r in everything],
                                                    schema=_RUNS_SCHEMA))
    con.execute("CREATE VIEW runs AS SELECT * EXCLUDE (started_at, committed_at), "
                "started_at::TIMESTAMPTZ AS started_at, committed_at::TIMESTAMPTZ AS committed_at FROM runs_arrow")


def _run_row(r: RunRecord, shown: bool) -> dict[str, object]:
    return {"run_id": r.run_id, "artifact": r.artifact, "source": r.source, "command": r.command,
            "started_at": r.started_at, "committed_at": r.committed_at,
            "parameters": json.dumps(r.parameters, ensure_ascii=False, sort_keys=True),
            "counts": list(r.counts.items()), "inputs": list(r.inputs), "files": list(r.files),
            "breachscope": r.breachscope, "shown": shown}


def _parquet_view(con: duckdb.DuckDBPyConnection, view: str, parts: Sequence[Part],
                  schema: pa.Schema) -> None:
    """One SELECT of the artifact's columns per run. A column the artifact gained after a file was written
    is NULL for that file's rows (the typed empty table gives every column its type), so a case written
    by an earlier breachscope still opens."""
    empty = pa.schema([pa.field("run_id", pa.string()), *schema]).empty_table()
    con.register(f"{view}_empty", empty)
    selects = [f"SELECT * FROM {view}_empty"]
    for run_id, path in parts:
        try:
            present = set(pq.read_schema(path).names)
        except (OSError, pa.ArrowInvalid):
            present = set(schema.names)  # unreadable: the query says so when the view is read
        cols = ", ".join(quote_ident(n) for n in schema.names if n in present)
        selects.append(f"SELECT {_lit(run_id)} AS run_id{', ' + cols if cols else ''} "
                       f"FROM read_parquet({_lit(str(path))})")
    con.execute(f"CREATE VIEW {view} AS " + " UNION ALL BY NAME ".join(selects))


def _obligations_view(con: duckdb.DuckDBPyConnection, view: str, parts: Sequence[Part]) -> None:
    spec = "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in _NOTIFICATION_COLUMNS.items()) + "}"
    selects = [f"SELECT run_id, aware_at, exposure_run, o.* FROM (SELECT {_lit(run_id)} AS run_id, aware_at, "
               f"exposure_run, unnest(obligations) AS o "
               f"FROM read_json({_lit(str(path))}, columns = {spec}, format = 'auto'))" for run_id, path in parts]
    if not selects:
        typed = ", ".join(f"NULL::{t} AS {quote_ident(n)}" for n, t in _OBLIGATION_FIELDS)
        selects = [f"SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS aware_at, NULL::VARCHAR AS exposure_run, "
                   f"{typed} WHERE false"]
    con.execute(f"CREATE VIEW {view} AS " + " UNION ALL BY NAME ".join(selects))

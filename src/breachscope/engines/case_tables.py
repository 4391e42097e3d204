"""The tables a case folder holds, as every engine opens them: the event tables the manifest commits
(validated names), the fixed tables (always there, if only empty), `rejects`; and their merged schemas
(DuckDB's union_by_name merge of the parts, the one every engine shows: names matched ignoring case, a
later name differing only in case renamed `Name_1`, types widened), with the event field of each column."""

from __future__ import annotations

import pyarrow as pa

from breachscope.engines import local
from breachscope.engines.run_views import RUN_VIEWS
from breachscope.engines.table_fields import part_schemas, with_fields
from breachscope.model.case_folder import CaseFolder
from breachscope.model.errors import CaseError
from breachscope.model.schema import FIXED_SCHEMAS, valid_table_name
from breachscope.model.sql import quote_literal

#: Tables of a case that hold no events (not in `events`, not given to rules).
NON_EVENT_TABLES = frozenset({"rejects"})


def case_tables(folder: CaseFolder) -> dict[str, list[str]]:
    """Table -> its Parquet part files; the fixed tables with no part have none."""
    tables: dict[str, list[str]] = {}
    for table, files in folder.part_files().items():
        if not valid_table_name(table) or table in RUN_VIEWS:
            raise CaseError(f"manifest names an invalid table: {table!r}")
        tables[table] = files
    for table in FIXED_SCHEMAS:
        tables.setdefault(table, [])
    return tables


def event_table_names(tables: dict[str, list[str]]) -> list[str]:
    return sorted(t for t in tables if t not in NON_EVENT_TABLES)


def parquet_list(files: list[str]) -> str:
    """The SQL list of files read_parquet takes."""
    return "[" + ", ".join(quote_literal(f) for f in files) + "]"


def merged_schemas(tables: dict[str, list[str]]) -> dict[str, pa.Schema]:
    """Arrow schema of every event table as DuckDB merges its parts (a case opened in DuckDB shows the
    same: DuckDBEngine.schemas), for engines that read the parts themselves (Spark)."""
    con = local.connect(utc=True)  # TIMESTAMPTZ columns come out as Arrow timestamps in the session's zone
    try:
        out = {}
        for t in event_table_names(tables):
            files = tables[t]
            if files:
                rel = con.sql(f"SELECT * FROM read_parquet({parquet_list(files)}, union_by_name = true) LIMIT 0")
            else:
                con.register("bs_empty_table", FIXED_SCHEMAS[t].empty_table())
                rel = con.sql("SELECT * FROM bs_empty_table LIMIT 0")
            schema = rel.to_arrow_table().schema
            if not files:
                con.unregister("bs_empty_table")
            out[t] = with_fields(t, schema, part_schemas(t, files))
        return out
    finally:
        con.close()

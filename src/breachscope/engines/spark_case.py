"""A case opened in Spark (`hunt --engine spark`): the engine protocol of engines/protocol.py (dialect,
schemas, query, register, materialize, drop) on PySpark, so the same compiled rules give the same findings.

Where it runs: local mode on every core of this machine by default, or the cluster named by `master=`
or the BREACHSCOPE_SPARK_MASTER environment variable (`spark://host:7077`, `yarn`, `k8s://...`). On a
cluster the case folder must be readable at the same path on every node (shared file system), and the
executors' Python needs pyarrow and duckdb (regex leaves run there, see below).

Tables: one temporary view per event table over the parts the case manifest commits. The columns are
the ones the DuckDB engine shows for the same case (its union_by_name merge of the parts: names matched
ignoring case, a later name that differs only in case renamed `Name_1`, types widened): same schemas,
same TableInfo, same compiled SQL on both engines. Parts with the same schema are read together, each
group with its own schema, then cast and aligned to the table's columns.

Session settings that make Spark SQL mean what the DuckDB SQL means: UTC session time zone; ANSI mode
off (a cast, map lookup or array index on a hostile value yields NULL instead of failing the run);
case-sensitive identifiers (columns may differ only in case; Sigma field names and map keys are case
sensitive); backslash escapes in string literals (what model.sql.quote_backslash_literal writes).

Regular expressions never run on java.util.regex (backtracking: `(a+)+b` on a long value would hang a
task, and its syntax and flags differ from RE2). The dialect's regex template calls `bs_re2(text,
pattern)`, registered here: an Arrow-batched Python UDF that evaluates each distinct value of a batch
with DuckDB's regexp_matches, i.e. RE2 (linear time), the engine the rule loader validated the pattern
with and the one the fast path decides values with (leaves.py).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from contextlib import suppress
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.engines.case_tables import case_tables, event_table_names, merged_schemas
from breachscope.engines.spark_stages import staged
from breachscope.model.case_folder import CaseFolder
from breachscope.model.errors import BreachscopeError
from breachscope.model.sql import quote_ident

MASTER_ENV = "BREACHSCOPE_SPARK_MASTER"
REGEX_UDF = "bs_re2"
TIMESTAMP_UDF = "bs_timestamptz"

# per session (a SparkEngine owns a session of its own on a shared context)
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.caseSensitive": "true",
    "spark.sql.parser.escapedStringLiterals": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # constraint inference over wide projections and long OR chains takes minutes (measured: 200 s to 12 s)
    "spark.sql.constraintPropagation.enabled": "false",
}
# per context, only when this module starts it
CONTEXT_CONF = {
    "spark.app.name": "breachscope",
    "spark.ui.showConsoleProgress": "false",
}
DRIVER_MEMORY_ENV = "BREACHSCOPE_SPARK_DRIVER_MEMORY"
# only in local mode (the JVM is ours): lower() of non-ASCII text must not follow a Turkish locale; a JVM
# out of heap exits (else a thread dies and the query waits for it for ever); the driver is the executor
# too here, so it gets more than Spark's 1 GB default
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.driver.extraJavaOptions": "-Duser.language=en -Duser.country=US -XX:+ExitOnOutOfMemoryError",
    "spark.executor.extraJavaOptions": "-Duser.language=en -Duser.country=US",
}
DRIVER_MEMORY = "2g"


class SparkUnavailable(BreachscopeError):
    """Spark cannot run here (pyspark not installed, no Java, the master cannot be reached)."""


def check_available() -> None:
    """Fail early, with what to do, when pyspark or Java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable("--engine spark needs pyspark: pip install 'breachscope[spark]'") from exc
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and shutil.which("java") is None:
        raise SparkUnavailable("--engine spark needs Java 17 or later: install it, or set JAVA_HOME")


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> tuple[Any, bool]:
    """(session, started here): the active Spark session, else a new one on `master` (default: the
    BREACHSCOPE_SPARK_MASTER environment variable, else local[*])."""
    check_available()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    master = master or os.environ.get(MASTER_ENV) or "local[*]"
    settings = dict(CONTEXT_CONF)
    if master.startswith("local"):
        settings.update(LOCAL_CONF)
        settings["spark.driver.memory"] = os.environ.get(DRIVER_MEMORY_ENV) or DRIVER_MEMORY
        # Python workers must be this interpreter (pyarrow, duckdb); a cluster sets its own
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings.update(conf or {})
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start or the master is unreachable
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SparkUnavailable(f"cannot start Spark on {master}: {first[:300]}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session, True


class SparkEngine:
    """A Spark session of its own (on a shared context) with event tables as temporary views."""

    dialect = "spark"

    def __init__(self, session: Any, owns_context: bool = False) -> None:
        self.spark = session.newSession()
        for key, value in SESSION_CONF.items():
            self.spark.conf.set(key, value)
        _register_functions(self.spark)
        self.owns_context = owns_context
        self.tables: dict[str, pa.Schema] = {}
        self._views: set[str] = set()
        self._cached: dict[str, Any] = {}
        self._queries = 0  # names each query's stages apart

    @classmethod
    def from_arrow(cls, tables: Mapping[str, pa.Table], session: Any = None) -> SparkEngine:
        """An engine over in-memory tables (tests, notebooks)."""
        owns = False
        if session is None:
            session, owns = spark_session()
        engine = cls(session, owns)
        for name, table in tables.items():
            engine.register(name, table)
            engine.tables[name] = table.schema
        return engine

    def schemas(self) -> dict[str, pa.Schema]:
        """Arrow schema of every event table (what rule compilation needs to know)."""
        return dict(self.tables)

    def query(self, sql: str) -> pa.Table:
        self._queries += 1
        plan = staged(sql, f"bs_stage_{self._queries}_")
        try:
            for view, body in plan.stages:
                # a checkpoint, not a cache: the later stages' plans start from its rows, not its plan
                self.spark.sql(body).localCheckpoint(eager=True).createOrReplaceTempView(view)
            return self.spark.sql(plan.final).toArrow()
        except Exception as exc:
            if not _jvm_gone(exc):
                raise
            raise SparkUnavailable(f"Spark's JVM stopped during a query ({type(exc).__name__}); in local mode it "
                                   f"is most often out of heap: set {DRIVER_MEMORY_ENV} above "
                                   f"{os.environ.get(DRIVER_MEMORY_ENV) or DRIVER_MEMORY}") from exc
        finally:
            for view, _ in plan.stages:
                with suppress(Exception):
                    self.spark.catalog.dropTempView(view)

    def register(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(_spark_ready(table)).createOrReplaceTempView(name)
        self._views.add(name)

    def add_view(self, name: str, frame: Any, schema: pa.Schema) -> None:
        """An event table: a DataFrame with its Arrow schema (what rule compilation is given)."""
        frame.createOrReplaceTempView(name)
        self._views.add(name)
        self.tables[name] = schema

    def materialize(self, name: str, sql: str) -> int:
        """Run sql into a cached temporary view `name`; return its row count."""
        df = self.spark.sql(sql).persist()
        df.createOrReplaceTempView(name)
        self._views.add(name)
        self._cached[name] = df
        return int(df.count())

    def drop(self, name: str) -> None:
        cached = self._cached.pop(name, None)
        if cached is not None:
            cached.unpersist()
        self._views.discard(name)
        self.spark.catalog.dropTempView(name)

    def hold_in_memory(self) -> list[str]:
        """Cache the event tables (memory, spilling to disk) for a run of many queries."""
        for name in self.tables:
            self.spark.table(_ident(name)).persist()
        return sorted(self.tables)

    def close(self) -> None:
        for name in list(self._views):
            with suppress(Exception):
                self.drop(name)
        with suppress(Exception):
            self.spark.catalog.clearCache()
        if self.owns_context:
            try:
                self.spark.stop()
            except Exception as exc:  # a JVM that already exited (see query) has nothing left to stop
                if not _jvm_gone(exc):
                    raise

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SparkCase:
    """A case folder on Spark: the folder (model/case_folder.py) and the Spark engine its tables (the
    ones the manifest commits, read as the DuckDB engine reads them) are views in; it answers the
    engine's calls (engines/protocol.py) by handing them to it."""

    dialect = "spark"

    def __init__(self, path: str | Path, session: Any = None, master: str | None = None) -> None:
        self.folder = CaseFolder.open(path)
        tables = case_tables(self.folder)
        schemas = merged_schemas(tables)  # what a case opened in DuckDB shows: the same compiled SQL
        owns = False
        if session is None:
            session, owns = spark_session(master)
        self.engine = SparkEngine(session, owns)
        try:
            for name in event_table_names(tables):
                self.engine.add_view(name, _table_frame(self.engine.spark, tables[name], schemas[name]),
                                     schemas[name])
        except BaseException:
            self.engine.close()
            raise

    @property
    def root(self) -> Path:
        return self.folder.root

    @property
    def spark(self) -> Any:
        return self.engine.spark

    @property
    def tables(self) -> dict[str, pa.Schema]:
        return self.engine.tables

    def schemas(self) -> dict[str, pa.Schema]:
        return self.engine.schemas()

    def query(self, sql: str) -> pa.Table:
        return self.engine.query(sql)

    def register(self, name: str, table: pa.Table) -> None:
        self.engine.register(name, table)

    def materialize(self, name: str, sql: str) -> int:
        return self.engine.materialize(name, sql)

    def drop(self, name: str) -> None:
        self.engine.drop(name)

    def hold_in_memory(self) -> list[str]:
        return self.engine.hold_in_memory()

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> SparkCase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_spark_case(case_dir: str | Path, master: str | None = None, session: Any = None) -> SparkCase:
    """Open a case folder on Spark: `with open_spark_case("case") as sc: sc.query("SELECT ...")`."""
    return SparkCase(case_dir, session=session, master=master)


# --- tables ----------------------------------------------------------------------------------------
def _jvm_gone(exc: BaseException) -> bool:
    # py4j is pyspark's dependency, imported only when Spark is used
    return isinstance(exc, ConnectionError) or type(exc).__name__ == "Py4JNetworkError"


def _ident(name: str) -> str:
    return quote_ident(name, "`")


def _spark_ready(table: pa.Table) -> pa.Table:
    """Spark has no column of type null (an empty or all-None Python list): make those strings."""
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def dedupe_names(names: list[str]) -> list[str]:
    """DuckDB's names for a file's columns: a name equal to an earlier one ignoring case becomes Name_1
    (Name_2, ...)."""
    seen: set[str] = set()
    out = []
    for name in names:
        new, i = name, 0
        while new.lower() in seen:
            i += 1
            new = f"{name}_{i}"
        seen.add(new.lower())
        out.append(new)
    return out


def _table_frame(spark: Any, files: list[str], target: pa.Schema) -> Any:
    """One DataFrame with the table's merged columns over its Parquet parts."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, from_arrow_type

    if not files:
        return spark.createDataFrame(_spark_ready(target.empty_table()))
    groups: dict[str, tuple[pa.Schema, list[str]]] = {}
    for f in files:
        schema = pq.read_schema(f)
        key = repr([(x.name, str(x.type)) for x in schema])
        groups.setdefault(key, (schema, []))[1].append(f)
    frames = []
    wanted = {f.name.lower() for f in target}
    for schema, paths in groups.values():
        plain = pa.schema([pa.field(f.name, f.type) for f in schema])  # Parquet field metadata dropped
        source = {new.lower(): old for new, old in zip(dedupe_names(schema.names), schema.names, strict=True)}
        unknown = set(source) - wanted
        if unknown:
            raise BreachscopeError(f"cannot align Parquet columns {sorted(unknown)[:5]} with the table's schema")
        df = spark.read.schema(from_arrow_schema(plain, prefer_timestamp_ntz=False)).parquet(*paths)
        cols = []
        for field in target:
            typ = from_arrow_type(field.type, prefer_timestamp_ntz=False)
            old = source.get(field.name.lower())
            col = F.col(_ident(old)) if old is not None else F.lit(None)
            cols.append(col.cast(typ).alias(field.name))
        frames.append(df.select(*cols))
    return reduce(lambda a, b: a.unionAll(b), frames)


# --- functions evaluated by DuckDB ------------------------------------------------------------------
# name -> (DuckDB SQL over column v and parameter $1, Spark return type, arity). Templates of the Spark
# dialect call these where Spark SQL has no exact equivalent (dialects.py).
DUCKDB_FUNCTIONS = {
    REGEX_UDF: ("regexp_matches(v, $1)", "boolean", 2),  # RE2: linear time, DuckDB's syntax and flags
    # DuckDB's (liberal) timestamp grammar; its infinite timestamps have no parts (NULL)
    TIMESTAMP_UDF: ("CASE WHEN isfinite(TRY_CAST(v AS TIMESTAMPTZ)) THEN TRY_CAST(v AS TIMESTAMPTZ) END",
                    "timestamp", 1),
}


def _register_functions(spark: Any) -> None:
    for name, (sql, return_type, arity) in DUCKDB_FUNCTIONS.items():
        spark.udf.register(name, _duckdb_udf(sql, return_type, arity))


def _duckdb_udf(sql: str, return_type: str, arity: int) -> Any:
    """An Arrow-batched UDF computing `sql` with DuckDB once per distinct value of a batch (log values
    repeat). A closure, so that it is shipped to the executors by value: they need pyarrow and duckdb."""
    from pyspark.sql.pandas.functions import arrow_udf  # where it is defined (and typed)

    state: dict[str, Any] = {}

    def evaluate(values: pa.Array, param: str | None) -> pa.Array:
        import duckdb
        import pyarrow as pa
        import pyarrow.compute as pc

        if "con" not in state:
            state["con"] = duckdb.connect()
            state["con"].execute("SET TimeZone = 'UTC'")
        con = state["con"]
        encoded = pc.dictionary_encode(values)
        con.register("bs_udf_values", pa.table({"v": encoded.dictionary}))
        try:
            query = f"SELECT {sql} FROM bs_udf_values"
            result = con.sql(query, params=[param]) if param is not None else con.sql(query)
            column = result.to_arrow_table().column(0).combine_chunks()
        finally:
            con.unregister("bs_udf_values")
        return pc.take(column, encoded.indices)

    def unary(values: pa.Array) -> pa.Array:
        return evaluate(values, None)

    def binary(values: pa.Array, params: pa.Array) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        distinct = pc.unique(params).to_pylist()
        if len(distinct) == 1:  # the parameter is a literal: the usual case
            if distinct[0] is None:
                return pa.nulls(len(values), pa.bool_())
            return evaluate(values, distinct[0])
        out: list[object] = [None] * len(values)
        for param in distinct:
            if param is None:
                continue
            rows = pc.indices_nonzero(pc.equal(params, param))
            for i, v in zip(rows.to_pylist(), evaluate(values.take(rows), param).to_pylist(), strict=True):
                out[i] = v
        return pa.array(out, pa.bool_())

    # its stubs require functionType, which it infers from the annotations (pa.Array -> pa.Array: scalar)
    make_udf: Any = arrow_udf
    return make_udf(unary if arity == 1 else binary, return_type)

"""The replay sandbox: which statements may run against the snapshot (docs/scope.md, "The replay sandbox").

A logged statement was written by the attacker. It is replayed only when every node of its tree is on
an allowlist: row sources that are tables of the inventory (or CTEs, subqueries, VALUES, unnest),
columns, operators, casts to built-in types, and functions known to be pure and deterministic on both
engines. Anything else (file, network, large-object, admin, session, sleep, random, environment
functions; functions the allowlist does not know; user-defined functions or operators of the
snapshot) is never sent to a backend: the caller reports the statement POTENTIAL with the reason
`check` returns, which names the function.

Functions whose value the audit record fixes (now(), current_user, ...) are replaced by literals in
scope/bindings.py *before* the check; the check then refuses whatever is left of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    from sqlglot.expressions.datatypes import DType

#: Typed sqlglot functions that are pure and deterministic (the same rows on any server at any time).
ALLOWED_FUNCS: frozenset[type[exp.Expr]] = frozenset({
    # logic, conditionals, casts
    exp.And, exp.Or, exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least, exp.Nvl2, exp.Exists,
    exp.Cast, exp.TryCast, exp.Collate,
    # aggregates and windows
    exp.Count, exp.CountIf, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.ArrayAgg, exp.GroupConcat, exp.AnyValue,
    exp.Stddev, exp.StddevPop, exp.StddevSamp, exp.Variance, exp.VariancePop, exp.ApproxDistinct,
    exp.LogicalAnd, exp.LogicalOr, exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Corr, exp.CovarPop,
    exp.CovarSamp, exp.ArgMax, exp.ArgMin, exp.BitwiseAndAgg, exp.BitwiseOrAgg, exp.BitwiseXorAgg, exp.Mode,
    exp.JSONObjectAgg, exp.JSONBObjectAgg, exp.JSONArrayAgg, exp.Grouping, exp.GroupingId,
    exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue,
    exp.NthValue, exp.PercentRank, exp.CumeDist,
    # text
    exp.Lower, exp.Upper, exp.Length, exp.ByteLength, exp.BitLength, exp.Substring, exp.SubstringIndex,
    exp.Trim, exp.Concat, exp.ConcatWs, exp.Left, exp.Right, exp.Replace, exp.Pad, exp.Initcap, exp.Reverse,
    exp.StrPosition, exp.SplitPart, exp.Split, exp.StartsWith, exp.EndsWith, exp.Contains, exp.Translate,
    exp.Ascii, exp.Chr, exp.Unicode, exp.MD5, exp.MD5Digest, exp.SHA, exp.SHA2, exp.Encode, exp.Hex, exp.Unhex,
    exp.ToBase64, exp.FromBase64, exp.Levenshtein, exp.Overlay, exp.RegexpLike, exp.RegexpILike,
    exp.RegexpReplace, exp.RegexpExtract, exp.RegexpExtractAll, exp.RegexpSplit, exp.RegexpCount,
    exp.Normalize, exp.StringToArray, exp.ArrayToString,
    # numbers
    exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Trunc, exp.Sign, exp.Sqrt, exp.Cbrt, exp.Exp, exp.Ln, exp.Log,
    exp.Pow, exp.Pi, exp.Degrees, exp.Radians, exp.Sin, exp.Cos, exp.Tan, exp.Asin, exp.Acos, exp.Atan,
    exp.Atan2, exp.IsNan, exp.IsInf, exp.WidthBucket,
    # dates and times (of their arguments: the current time is bound, never read)
    exp.Extract, exp.DateTrunc, exp.TimestampTrunc, exp.DatetimeTrunc, exp.TimeTrunc, exp.Date, exp.DateAdd,
    exp.DateSub, exp.DateDiff, exp.TimestampAdd, exp.TimestampSub, exp.TimestampDiff, exp.DatetimeAdd,
    exp.DatetimeSub, exp.DatetimeDiff, exp.TsOrDsAdd, exp.TsOrDsDiff, exp.TsOrDsToDate, exp.TsOrDsToTimestamp,
    exp.TsOrDsToDateStr, exp.TimeStrToTime, exp.TimeStrToDate, exp.StrToDate, exp.StrToTime, exp.StrToUnix,
    exp.TimeToStr, exp.TimeToUnix, exp.UnixToTime, exp.UnixToStr, exp.ToChar, exp.ToNumber, exp.Year,
    exp.Month, exp.Day, exp.DayOfWeek, exp.DayOfMonth, exp.DayOfYear, exp.WeekOfYear, exp.Week, exp.Quarter,
    exp.Hour, exp.Minute, exp.Second, exp.LastDay, exp.AddMonths, exp.MonthsBetween, exp.MakeInterval,
    exp.JustifyDays, exp.JustifyHours, exp.JustifyInterval, exp.DateFromParts, exp.TimestampFromParts,
    exp.TimeFromParts, exp.UnixSeconds, exp.UnixMillis, exp.UnixMicros,
    # JSON and arrays
    exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar, exp.JSONBContains,
    exp.JSONBExists, exp.JSONObject, exp.JSONArray, exp.JSONFormat, exp.ParseJSON, exp.Array, exp.ArrayContains,
    exp.ArrayContainsAll, exp.ArrayOverlaps, exp.ArraySize, exp.ArrayConcat, exp.ArrayAppend, exp.ArrayPrepend,
    exp.ArraySlice, exp.ArraySort, exp.ArrayDistinct, exp.Explode, exp.Unnest,
})

#: Functions sqlglot leaves untyped (exp.Anonymous) that are pure and deterministic.
ALLOWED_NAMES: frozenset[str] = frozenset({
    "btrim", "ltrim", "rtrim", "char_length", "character_length", "octet_length", "strpos", "lpad", "rpad",
    "substr", "instr", "locate", "lcase", "ucase", "mid", "ifnull", "date_part", "to_timestamp", "to_date",
    "to_number", "quote_ident", "quote_literal", "quote_nullable", "format_type", "array_length", "cardinality",
    "array_position", "array_upper", "array_lower", "jsonb_extract_path_text", "json_extract_path_text",
    "jsonb_extract_path", "json_extract_path", "jsonb_typeof", "json_typeof", "abs", "div", "mod",
})

#: Why a function is refused, for the report (the allowlist decides; this only names the danger).
KINDS: dict[str, tuple[str, ...]] = {
    "file access": ("pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
                    "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_file_write", "pg_file_rename",
                    "pg_file_unlink", "pg_logdir_ls", "read_csv", "read_csv_auto", "read_text", "read_blob",
                    "read_json", "read_json_auto", "read_ndjson", "read_ndjson_auto", "read_parquet",
                    "parquet_scan", "parquet_metadata", "glob", "load_file", "sqlite_scan", "to_file"),
    "large object": ("lo_import", "lo_export", "lo_from_bytea", "lo_create", "lo_creat", "lo_unlink", "lo_put",
                     "lo_get", "lo_open", "lo_close", "lo_truncate", "lowrite", "loread", "lo_lseek", "lo_tell"),
    "server administration": ("pg_reload_conf", "pg_terminate_backend", "pg_cancel_backend", "pg_rotate_logfile",
                              "pg_switch_wal", "pg_promote", "pg_create_restore_point", "pg_backup_start",
                              "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "set_config",
                              "pg_advisory_lock", "pg_advisory_xact_lock", "pg_try_advisory_lock", "pg_notify",
                              "pg_create_logical_replication_slot", "pg_drop_replication_slot", "pg_stat_reset",
                              "pg_log_backend_memory_contexts", "nextval", "setval", "get_lock", "release_lock",
                              "sys_exec", "sys_eval"),
    "network": ("dblink", "dblink_exec", "dblink_connect", "dblink_send_query", "http_get", "http_post",
                "inet_server_addr", "inet_client_addr", "inet_server_port", "inet_client_port"),
    "sleep": ("pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark"),
    "random": ("random", "rand", "setseed", "gen_random_uuid", "uuid_generate_v4", "uuid", "random_uuid",
               "randn", "randstr", "uniform", "normal", "zipf", "shuffle"),
    "session or environment": ("current_setting", "pg_backend_pid", "pg_postmaster_start_time",
                               "pg_conf_load_time", "current_schema", "current_schemas", "current_role",
                               "pg_current_xact_id", "txid_current", "currval", "lastval", "clock_timestamp",
                               "timeofday", "connection_id", "last_insert_id", "found_rows", "row_count",
                               "pg_my_temp_schema", "has_table_privilege", "pg_has_role", "age"),
}
_KIND_OF = {name: kind for kind, names in KINDS.items() for name in names}
#: Typed functions refused with a kind (the rest of the non-allowed ones are "not on the allowlist").
_TYPED_KIND: dict[type[exp.Expr], str] = {
    exp.Rand: "random", exp.Randn: "random", exp.Uuid: "random", exp.Randstr: "random", exp.Uniform: "random",
    exp.Normal: "random", exp.Zipf: "random", exp.Shuffle: "random",
    exp.ReadCSV: "file access", exp.ReadParquet: "file access", exp.ToFile: "file access",
    exp.NextValueFor: "server administration",
    exp.GenerateSeries: "row generator", exp.ExplodingGenerateSeries: "row generator",
    exp.GenerateDateArray: "row generator", exp.GenerateTimestampArray: "row generator",
    exp.Generator: "row generator",
}
#: Built-in types a cast may name (user-defined types run their own input functions).
_TYPES = exp.DataType.Type
ALLOWED_TYPES: frozenset[DType] = frozenset(
    t for t in _TYPES if t.name not in ("USERDEFINED", "UNKNOWN", "FILE", "AGGREGATEFUNCTION",
                                       "SIMPLEAGGREGATEFUNCTION", "NESTED", "DYNAMIC")
)
#: PostgreSQL operator names of the operator nodes (to refuse those a snapshot redefines).
_SYMBOLS: dict[type[exp.Expr], str] = {
    exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=", exp.Add: "+",
    exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.DPipe: "||", exp.Like: "~~", exp.ILike: "~~*",
    exp.RegexpLike: "~", exp.RegexpILike: "~*", exp.BitwiseAnd: "&", exp.BitwiseOr: "|", exp.BitwiseXor: "#",
    exp.Neg: "-", exp.JSONExtract: "->", exp.JSONExtractScalar: "->>", exp.ArrayContainsAll: "@>",
    exp.ArrayOverlaps: "&&", exp.JSONBContains: "?",
}
#: Schemas whose qualified function calls are the built-ins.
_BUILTIN_SCHEMAS = frozenset({"pg_catalog"})


def prepare(tree: exp.Expr) -> list[str]:
    """Drop what does not change the rows returned but cannot run read-only (row locks). Returns the
    reasons that make the replay inexact (SKIP LOCKED depends on other sessions' locks)."""
    reasons = []
    for sel in list(tree.find_all(exp.Select)):
        locks = sel.args.get("locks") or []
        if any(lock.args.get("wait") is False for lock in locks):
            reasons.append("SKIP LOCKED: the rows returned depended on other sessions' locks")
        if locks:
            sel.set("locks", None)
    return reasons


def check(tree: exp.Expr, shadowed: frozenset[str] = frozenset(), dialect: str = "postgres",
          operators: frozenset[str] = frozenset()) -> str | None:
    """None when every node is allowed, else the reason (naming the function) the statement is not run.

    shadowed, operators: names of functions and operators the snapshot itself defines (a PostgreSQL
    snapshot's user-defined ones, not an extension's): a call or an operator by such a name may resolve
    to them, so it is refused even where a built-in has the name."""
    for node in tree.walk():
        why = _node(node, shadowed, dialect)
        if not why and operators and type(node) in _SYMBOLS and _SYMBOLS[type(node)] in operators:
            why = f"operator {_SYMBOLS[type(node)]} is defined in the snapshot itself"
        if why:
            return why
    return None


def _node(node: exp.Expr, shadowed: frozenset[str], dialect: str) -> str | None:
    if isinstance(node, exp.Func):
        return _func(node, shadowed, dialect)
    if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier | exp.Unnest | exp.Values):
        inner = node.this
        if isinstance(inner, exp.Func):
            return _func(inner, shadowed, dialect, "table function") or None
        return f"row source not allowed: {_short(node, dialect)}"
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        schema = node.this.name.lower() if isinstance(node.this, exp.Identifier | exp.Column) else ""
        if schema not in _BUILTIN_SCHEMAS:
            return f"schema-qualified function not allowed: {_short(node, dialect)}"
        return None
    if isinstance(node, exp.DataType):
        if node.this not in ALLOWED_TYPES:
            return f"cast to a type that is not built in: {_short(node, dialect)}"
        return None
    if isinstance(node, exp.ObjectIdentifier):
        return f"cast to {node.name.upper()} (a catalog lookup)"
    if isinstance(node, exp.Operator):
        return f"user-defined operator: {_short(node, dialect)}"
    if isinstance(node, exp.SessionParameter):
        return f"session variable (environment): {_short(node, dialect)}"
    if isinstance(node, exp.TableSample):
        return "TABLESAMPLE (random rows)"
    if isinstance(node, exp.Command | exp.Lock | exp.Into):
        return f"not allowed in a replay: {_short(node, dialect)}"
    return None


def _func(node: exp.Func, shadowed: frozenset[str], dialect: str, what: str = "function") -> str | None:
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name in shadowed:
            return f"{what} not allowed: {name} (defined in the snapshot itself)"
        if name in ALLOWED_NAMES:
            return None
        kind = _KIND_OF.get(name, "not on the allowlist of pure functions")
        return f"{what} not allowed: {name} ({kind})"
    name = _name(node, dialect)
    if type(node) in ALLOWED_FUNCS:
        if name in shadowed:
            return f"{what} not allowed: {name} (defined in the snapshot itself)"
        return None
    kind = _TYPED_KIND.get(type(node)) or _KIND_OF.get(name) or (
        "session or environment" if type(node).__name__.startswith(("Current", "Utc", "Localtime", "Systimestamp"))
        else "not on the allowlist of pure functions")
    return f"{what} not allowed: {name} ({kind})"


def _name(node: exp.Func, dialect: str) -> str:
    """The function's name as the dialect writes it (random, not RAND)."""
    try:
        text = node.sql(dialect=dialect)
    except Exception:
        text = ""
    head = text.split("(", 1)[0].strip()
    return (head if head and len(head) <= 64 and " " not in head else node.sql_name()).lower()


def _short(node: exp.Expr, dialect: str) -> str:
    try:
        text = node.sql(dialect=dialect)
    except Exception:
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."

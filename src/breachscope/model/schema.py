"""Schemas of the case's event tables.

Every table starts with the same core columns (provenance included); each family adds its own typed
columns. Fields that a family cannot know in advance (Windows EventData, vendor extras) go into one
`extra` MAP(VARCHAR, VARCHAR) column instead of growing the table (a 700-column sparse table was
measured at 41 s and 4.9 GB for 1M events; see docs/schema.md).

Two namespaces live in one table: core columns (derived, the same in every table) and the event's own
fields (what Sigma rules name). DuckDB and Spark match column names ignoring case, so every table's
column names are unique ignoring case (checked here for the fixed schemas and by `unique_column` for
the names a reader makes from evidence); an event field whose name collides keeps its name as a field
but is stored under another column name, recorded in the column's Arrow metadata (FIELD_META), which
Parquet keeps: `field_columns(schema)` gives the map detection resolves rule fields with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pyarrow as pa

from breachscope.model.errors import BreachscopeError

TS = pa.timestamp("us", tz="UTC")
EXTRA_TYPE = pa.map_(pa.string(), pa.string())

#: Core columns, in order, present in every event table and in the `events` view.
CORE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("ts", TS),
    pa.field("family", pa.string()),
    pa.field("host", pa.string()),
    pa.field("user", pa.string()),
    pa.field("src_ip", pa.string()),
    pa.field("src_port", pa.int32()),
    pa.field("dst_ip", pa.string()),
    pa.field("dst_port", pa.int32()),
    pa.field("message", pa.string()),
    pa.field("src_file", pa.string()),
    pa.field("src_sha256", pa.string()),
    pa.field("src_record", pa.int64()),
)
CORE_NAMES: tuple[str, ...] = tuple(f.name for f in CORE_FIELDS)
PROVENANCE_NAMES = ("src_file", "src_sha256", "src_record")
_CORE_KEYS = frozenset(n.casefold() for n in CORE_NAMES)
#: Arrow field metadata key: the event field a column holds, when the column's name is not the field's.
FIELD_META = b"breachscope.field"
#: Arrow schema metadata key of every event table: its layout version. Layout 2 keeps column names
#: unique ignoring case; parts without it were written by an earlier breachscope (layout 1).
LAYOUT_META = b"breachscope.layout"
LAYOUT_VERSION = b"2"


def table_schema(fields: Iterable[pa.Field]) -> pa.Schema:
    """An event table's schema (with its layout version; Parquet keeps it in each part)."""
    return pa.schema(list(fields), metadata={LAYOUT_META: LAYOUT_VERSION})


class SchemaError(BreachscopeError):
    """A table layout whose column names are not unique ignoring case (a bug, or a case written by an
    earlier breachscope)."""


def column(name: str, typ: pa.DataType, field: str | None = None) -> pa.Field:
    """A column `name` holding the event field `field` (default: the field of the same name)."""
    if field is None or field == name:
        return pa.field(name, typ)
    return pa.field(name, typ, metadata={FIELD_META: field.encode()})


def field_of(f: pa.Field) -> str:
    """The event field a column holds (its own name unless its metadata says otherwise)."""
    meta: dict[bytes, bytes] = f.metadata or {}  # pyarrow is untyped: its field metadata is bytes -> bytes
    return meta[FIELD_META].decode() if FIELD_META in meta else str(f.name)


def field_columns(schema: pa.Schema, table: str) -> dict[str, str]:
    """Event field -> column, for every column of `table` that holds an event field (a field stored
    twice, as a hostile Zeek header can make it: its first column). Core columns are fields only where
    CORE_EVENT_FIELDS says so: a rule's field never reads a derived core column."""
    family = table_family(table)
    core = set(CORE_NAMES) - CORE_EVENT_FIELDS[family] if family else set()
    out: dict[str, str] = {}
    for f in schema:
        if f.name not in core:
            out.setdefault(field_of(f), f.name)
    return out


def case_collisions(names: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of names equal ignoring case (empty for a valid table layout)."""
    seen: dict[str, str] = {}
    out = []
    for name in names:
        first = seen.setdefault(name.casefold(), name)
        if first is not name:
            out.append((first, name))
    return out


def require_unique(schema: pa.Schema | Iterable[str], table: str) -> None:
    names = schema.names if isinstance(schema, pa.Schema) else list(schema)
    clashes = case_collisions(names)
    if clashes:
        pairs = ", ".join(f"{a}/{b}" for a, b in clashes[:5])
        raise SchemaError(f"table {table}: column names equal ignoring case ({pairs}): DuckDB and Spark "
                          "would see one column under another's name")


def unique_column(name: str, taken: set[str], renames: Mapping[str, str] | None = None,
                  prefix: str = "", fields: Iterable[str] = ()) -> str:
    """A column name for the event field `name`, equal ignoring case to no core column and to no name in
    `taken` (the casefolded names already used; the caller adds the result). A field named like a
    core column is stored under its `renames` entry (keys casefolded), else as `prefix + name`; a
    name still taken gets `_2`, `_3`... A made-up name also avoids the table's other `fields`, which
    keep their own names."""
    if name.casefold() not in _CORE_KEYS and name.casefold() not in taken:
        return name
    avoid = taken | {f.casefold() for f in fields} | _CORE_KEYS
    col = name
    if name.casefold() in _CORE_KEYS:
        wanted = (renames or {}).get(name.casefold())
        col = wanted if wanted is not None and wanted.casefold() not in avoid else prefix + name
    base, k = col, 2
    while col.casefold() in avoid:
        col, k = f"{base}_{k}", k + 1
    return col


# --- Windows -------------------------------------------------------------------------------------
#: System fields, named as in the Sigma taxonomy (Provider_Name, EventID, Channel, Computer...).
WINDOWS_SYSTEM_FIELDS: tuple[pa.Field, ...] = (
    pa.field("EventID", pa.int32()),
    pa.field("Channel", pa.string()),
    pa.field("Provider_Name", pa.string()),
    pa.field("Provider_Guid", pa.string()),
    pa.field("Computer", pa.string()),
    pa.field("EventRecordID", pa.int64()),
    pa.field("Level", pa.int32()),
    pa.field("Task", pa.int32()),
    pa.field("Opcode", pa.int32()),
    pa.field("Keywords", pa.string()),
    pa.field("Version", pa.int32()),
    # System/Execution/@ProcessID, @ThreadID: named by their XML path (as Provider_Name, Security_UserID),
    # so that neither is taken for EventData's ProcessId (Sysmon) or ProcessID (Security 5156)
    pa.field("Execution_ProcessID", pa.int64()),
    pa.field("Execution_ThreadID", pa.int64()),
    pa.field("Security_UserID", pa.string()),
    pa.field("source_format", pa.string()),
)

#: EventData/UserData fields stored as their own columns: the fields SigmaHQ's Windows rules use
#: most (counted over rules*/windows), plus those the core columns are derived from. Everything
#: else stays in `extra`. The list is fixed, so the table never grows with the input.
WINDOWS_PROMOTED: tuple[str, ...] = (
    "Image", "CommandLine", "OriginalFileName", "ParentImage", "TargetObject", "TargetFilename",
    "ScriptBlockText", "Details", "ImageLoaded", "Description", "ParentCommandLine", "Product",
    "Initiated", "Hashes", "ImagePath", "SourceImage", "TargetImage", "ServiceName",
    "IntegrityLevel", "QueryName", "ObjectName", "Payload", "User", "Company", "DestinationHostname",
    "DestinationPort", "DestinationIp", "GrantedAccess", "ServiceFileName", "ObjectType",
    "RelativeTargetName", "PipeName", "ProcessName", "CallTrace", "SubjectUserName", "LogonType",
    "ContextInfo", "TargetUserName", "FileName", "Signed", "ShareName", "IpAddress", "IpPort",
    "AccessMask", "CurrentDirectory", "SignatureStatus", "EventType", "LogonProcessName",
    "WorkstationName", "Status", "SubjectUserSid", "AuthenticationPackageName", "SubjectDomainName",
    "TargetDomainName", "TargetUserSid", "LogonId", "SubjectLogonId", "TargetLogonId", "SourceIp",
    "SourcePort", "SourceHostname", "Protocol", "ProcessId", "ParentProcessId", "ProcessGuid",
    "ParentProcessGuid", "ParentUser", "TicketEncryptionType", "TicketOptions", "ServiceSid",
    "SamAccountName", "AccessList", "Properties", "TaskName", "SourceAddress", "DestAddress",
    "DestPort", "Application", "HostApplication", "Path", "RuleName", "UtcTime",
)
WINDOWS_PROMOTED_SET = frozenset(WINDOWS_PROMOTED)
#: Promoted EventData fields whose name equals a core column's ignoring case, and their column.
WINDOWS_RENAMED: dict[str, str] = {"User": "EventData_User"}
#: Promoted field -> its column.
WINDOWS_PROMOTED_COLUMNS: dict[str, str] = {f: WINDOWS_RENAMED.get(f, f) for f in WINDOWS_PROMOTED}

WINDOWS_SCHEMA = table_schema(
    [*CORE_FIELDS, *WINDOWS_SYSTEM_FIELDS,
     *(column(WINDOWS_PROMOTED_COLUMNS[f], pa.string(), f) for f in WINDOWS_PROMOTED),
     pa.field("extra", EXTRA_TYPE)]
)

# --- Syslog (RFC 3164, RFC 5424, Cisco) ----------------------------------------------------------
SYSLOG_SCHEMA = table_schema(
    [
        *CORE_FIELDS,
        pa.field("syslog_format", pa.string()),  # rfc3164 | rfc5424 | cisco | bare
        pa.field("facility", pa.int32()),
        pa.field("severity", pa.int32()),
        pa.field("app_name", pa.string()),
        pa.field("procid", pa.string()),
        pa.field("msgid", pa.string()),
        pa.field("structured_data", pa.string()),
        pa.field("cisco_facility", pa.string()),
        pa.field("cisco_severity", pa.int32()),
        pa.field("cisco_mnemonic", pa.string()),
        pa.field("cisco_seq", pa.int64()),
        pa.field("ts_text", pa.string()),
        pa.field("ts_resolution", pa.string()),
        pa.field("raw", pa.string()),
        pa.field("extra", EXTRA_TYPE),
    ]
)

# --- Database audit (pgAudit, MariaDB server_audit, MySQL general log) ---------------------------
DB_AUDIT_SCHEMA = table_schema(
    [
        *CORE_FIELDS,
        pa.field("dialect", pa.string()),  # pgaudit | postgresql (non-AUDIT entries) | mariadb_audit | mysql_general
        pa.field("database", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("statement_id", pa.int64()),
        pa.field("substatement_id", pa.int64()),
        pa.field("audit_type", pa.string()),  # SESSION | OBJECT | QUERY | CONNECT ...
        pa.field("audit_class", pa.string()),  # READ | WRITE | DDL | ...
        pa.field("command", pa.string()),
        pa.field("object_type", pa.string()),
        pa.field("object_name", pa.string()),
        pa.field("statement", pa.string()),
        pa.field("parameters", pa.list_(pa.string())),
        pa.field("rows", pa.int64()),
        pa.field("retcode", pa.int32()),
        pa.field("application_name", pa.string()),
        pa.field("ts_text", pa.string()),
        # how ts got its zone: MariaDB and old MySQL stamps have none, PostgreSQL's abbreviations can be ambiguous
        pa.field("ts_resolution", pa.string()),
        pa.field("extra", EXTRA_TYPE),
    ]
)

# --- Flow records (Argus binetflow, nfdump CSV, generic NetFlow/IPFIX CSV) -----------------------
FLOW_SCHEMA = table_schema(
    [
        *CORE_FIELDS,
        pa.field("flow_format", pa.string()),
        pa.field("end_ts", TS),
        pa.field("duration", pa.float64()),
        pa.field("proto", pa.string()),
        pa.field("direction", pa.string()),
        pa.field("state", pa.string()),
        pa.field("packets", pa.int64()),
        pa.field("bytes", pa.int64()),
        pa.field("src_bytes", pa.int64()),
        pa.field("dst_bytes", pa.int64()),
        pa.field("src_packets", pa.int64()),
        pa.field("dst_packets", pa.int64()),
        pa.field("tcp_flags", pa.string()),
        pa.field("label", pa.string()),
        # how ts got its zone: epoch | zone_in_text | zone_from_option | zone_assumed_utc | exporter_uptime
        # (Argus and nfdump print local times without a zone)
        pa.field("ts_resolution", pa.string()),
        pa.field("extra", EXTRA_TYPE),
    ]
)

#: Tables with a fixed schema. Zeek tables (`zeek_<log type>`) take their columns from the log's
#: own header, typed by ZEEK_TYPES, after the core columns.
FIXED_SCHEMAS: dict[str, pa.Schema] = {
    "windows": WINDOWS_SCHEMA,
    "syslog": SYSLOG_SCHEMA,
    "db_audit": DB_AUDIT_SCHEMA,
    "flow": FLOW_SCHEMA,
}

ZEEK_TYPES: dict[str, pa.DataType] = {
    "time": TS,
    "interval": pa.float64(),
    "double": pa.float64(),
    "count": pa.int64(),  # uint64 in Zeek; values above 2**63 are clamped to null and reported
    "int": pa.int64(),
    "port": pa.int32(),
    "bool": pa.bool_(),
    "addr": pa.string(),
    "subnet": pa.string(),
    "string": pa.string(),
    "enum": pa.string(),
    "pattern": pa.string(),
}
#: Zeek fields whose names collide with core columns are stored under these names (the core column
#: keeps its meaning); any other colliding field as `zeek_<field>` (see unique_column).
ZEEK_RENAMES: dict[str, str] = {"host": "host_header", "user": "username", "message": "msg_text"}

#: Core columns that are also the event's own fields, under the same name, per family. The others are
#: derived (Windows `user` is TargetUserName, else User, else SubjectUserName) and answer no rule field.
_PLUMBING = frozenset({"family", *PROVENANCE_NAMES})
CORE_EVENT_FIELDS: dict[str, frozenset[str]] = {
    "windows": frozenset(),
    "zeek": frozenset({"ts"}),  # Zeek's own ts; its other core columns copy fields kept as columns
    # the readers take these from the record itself (Sigma's firewall taxonomy names src_ip, dst_port...)
    "syslog": frozenset(CORE_NAMES) - _PLUMBING,
    "db_audit": frozenset(CORE_NAMES) - _PLUMBING,
    "flow": frozenset(CORE_NAMES) - _PLUMBING,
}


def table_family(table: str) -> str | None:
    """The evidence family of a case table (None for tables that are not event tables of a case)."""
    if table in FIXED_SCHEMAS:
        return table
    return "zeek" if table.startswith("zeek_") else None


for _name, _schema in FIXED_SCHEMAS.items():  # a fixed layout with a case-insensitive clash cannot load
    require_unique(_schema, _name)

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def valid_table_name(name: str) -> bool:
    """Table names come partly from evidence (Zeek `#path`): only safe identifiers are allowed."""
    return bool(_TABLE_NAME.match(name))


def zeek_type(zeek_type_name: str) -> pa.DataType:
    """Arrow type of a Zeek column type (`set[string]` and `vector[...]` become lists)."""
    if zeek_type_name.startswith(("set[", "vector[")):
        return pa.list_(ZEEK_TYPES.get(zeek_type_name[zeek_type_name.index("[") + 1 : -1], pa.string()))
    return ZEEK_TYPES.get(zeek_type_name, pa.string())

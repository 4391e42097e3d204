"""Schemas of the case's event tables.

Every table starts with the same core columns (provenance included); each family adds its own typed
columns. Fields that a family cannot know in advance (Windows EventData, vendor extras) go into one
`extra` MAP(VARCHAR, VARCHAR) column instead of growing the table (a 700-column sparse table was
measured at 41 s and 4.9 GB for 1M events; see docs/schema.md).
"""

from __future__ import annotations

import re

import pyarrow as pa

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


def _strings(*names: str) -> list[pa.Field]:
    return [pa.field(n, pa.string()) for n in names]


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
    pa.field("ProcessID", pa.int64()),
    pa.field("ThreadID", pa.int64()),
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

WINDOWS_SCHEMA = pa.schema(
    [*CORE_FIELDS, *WINDOWS_SYSTEM_FIELDS, *_strings(*WINDOWS_PROMOTED), pa.field("extra", EXTRA_TYPE)]
)

# --- Syslog (RFC 3164, RFC 5424, Cisco) ----------------------------------------------------------
SYSLOG_SCHEMA = pa.schema(
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
DB_AUDIT_SCHEMA = pa.schema(
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
FLOW_SCHEMA = pa.schema(
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
#: Zeek fields whose names collide with core columns are renamed (the core column keeps its meaning).
ZEEK_RENAMES: dict[str, str] = {"host": "host_header", "user": "username", "message": "msg_text"}

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def valid_table_name(name: str) -> bool:
    """Table names come partly from evidence (Zeek `#path`): only safe identifiers are allowed."""
    return bool(_TABLE_NAME.match(name))


def zeek_type(zeek_type_name: str) -> pa.DataType:
    """Arrow type of a Zeek column type (`set[string]` and `vector[...]` become lists)."""
    if zeek_type_name.startswith(("set[", "vector[")):
        return pa.list_(ZEEK_TYPES.get(zeek_type_name[zeek_type_name.index("[") + 1 : -1], pa.string()))
    return ZEEK_TYPES.get(zeek_type_name, pa.string())

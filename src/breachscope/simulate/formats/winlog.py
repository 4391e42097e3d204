"""Windows events as Winlogbeat 8 writes them (ECS JSON, one event per line)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pyarrow as pa

from breachscope.simulate.clock import iso_utc_ms_parts
from breachscope.simulate.text import Col, join, json_escape, strs

SECURITY = ("Security", "Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-a5ba-3e3b0328c30d}")
SYSMON = ("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}")
AGENT_VERSION = "8.12.2"

#: event id -> (task name, short message, keywords) for the events written.
EVENTS: dict[int, tuple[str, str, str]] = {
    4624: ("Logon", "An account was successfully logged on.", "Audit Success"),
    4625: ("Logon", "An account failed to log on.", "Audit Failure"),
    4634: ("Logoff", "An account was logged off.", "Audit Success"),
    4647: ("Logoff", "User initiated logoff:", "Audit Success"),
    4648: ("Logon", "A logon was attempted using explicit credentials.", "Audit Success"),
    4662: ("Directory Service Access", "An operation was performed on an object.", "Audit Success"),
    4663: ("File System", "An attempt was made to access an object.", "Audit Success"),  # a file's SACL
    4672: ("Special Logon", "Special privileges assigned to new logon.", "Audit Success"),
    4688: ("Process Creation", "A new process has been created.", "Audit Success"),
    4697: ("Security System Extension", "A service was installed in the system.", "Audit Success"),
    4725: ("User Account Management", "A user account was disabled.", "Audit Success"),
    4738: ("User Account Management", "A user account was changed.", "Audit Success"),
    4768: ("Kerberos Authentication Service", "A Kerberos authentication ticket (TGT) was requested.",
           "Audit Success"),
    4769: ("Kerberos Service Ticket Operations", "A Kerberos service ticket was requested.", "Audit Success"),
    4776: ("Credential Validation", "The computer attempted to validate the credentials for an account.",
           "Audit Success"),
    4778: ("Other Logon/Logoff Events", "A session was reconnected to a Window Station.", "Audit Success"),
    5140: ("File Share", "A network share object was accessed.", "Audit Success"),
    5145: ("Detailed File Share", "A network share object was checked to see whether client can be granted "
           "desired access.", "Audit Success"),
    1: ("Process Create (rule: ProcessCreate)", "Process Create:", ""),
    3: ("Network connection detected (rule: NetworkConnect)", "Network connection detected:", ""),
    5: ("Process terminated (rule: ProcessTerminate)", "Process terminated:", ""),
    10: ("Process accessed (rule: ProcessAccess)", "Process accessed:", ""),
    11: ("File created (rule: FileCreate)", "File created:", ""),
    13: ("Registry value set (rule: RegistryEvent)", "Registry value set:", ""),
    22: ("Dns query (rule: DnsQuery)", "Dns query:", ""),
}

#: an EventData entry: (name, JSON-escaped value), or (None, a pre-rendered run of `"name":"value"` pairs)
Field: TypeAlias = tuple[str | None, Col]


def host_fragment(fqdn: str, pid: int | str) -> str:
    """The host-dependent middle of an event (one vocabulary entry per host, see `lines`)."""
    return (f'"host":{{"name":"{json_escape(fqdn)}"}},"winlog":{{"computer_name":"{json_escape(fqdn)}",'
            f'"process":{{"pid":{pid},"thread":{{"id":')


def lines(ts_us: np.ndarray, event_id: int, sysmon: bool, host: Col, record_id: np.ndarray, tid: Col,
          data: Sequence[Field], failure: bool = False) -> pa.Array:
    """Events of one id. `host` is `host_fragment(fqdn, pid)` of each event's host; `data` is the EventData
    in order: (name, value) with JSON-escaped values, or (None, raw) for a pre-rendered run of
    `"name":"value"` pairs (several fields that depend on the same thing, e.g. a process)."""
    channel, provider, guid = SYSMON if sysmon else SECURITY
    task, message, keywords = EVENTS[event_id]
    if failure:
        keywords = "Audit Failure"
    kw = f'["{keywords}"]' if keywords else "[]"
    parts: list[Col] = ['{"@timestamp":"', *iso_utc_ms_parts(ts_us),
                        f'","agent":{{"type":"winlogbeat","version":"{AGENT_VERSION}"}},"ecs":{{"version":"8.0.0"}},'
                        f'"event":{{"code":"{event_id}","kind":"event","provider":"{provider}"}},'
                        f'"log":{{"level":"information"}},"message":"{json_escape(message)}",', host, tid,
                        f'}}}},"api":"wineventlog","channel":"{channel}","event_data":{{']
    for i, (key, value) in enumerate(data):
        sep = "," if i else ""
        parts += [sep, value] if key is None else [f'{sep}"{key}":"', value, '"']
    parts += [f'}},"event_id":"{event_id}","keywords":{kw},"opcode":"Info","provider_guid":"{guid}",'
              f'"provider_name":"{provider}","record_id":', strs(record_id), f',"task":"{json_escape(task)}"}}}}\n']
    return join(*parts)


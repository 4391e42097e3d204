"""Windows events as JSON lines: Winlogbeat/ECS, NXLog (OTRF/Mordor flattened style) and Splunk exports.

The three shapes differ only in where the System fields and the EventData live; each is mapped to
the same System dict + flat EventData dict that the EVTX reader produces (windows/events.py).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import orjson

from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import decode, head_text, iter_lines
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.timeparse import dt_to_us, parse_iso_us
from breachscope.ingest.windows.events import TABLE, WindowsBuilder, builder_for, flatten_user_data

_KEY = r'"{}"\s*:'
_SNIFF = [
    re.compile(_KEY.format("winlog")),  # Winlogbeat (nested)
    re.compile(r'"winlog\.(?:event_id|channel|event_data)'),  # Winlogbeat (dotted keys)
    re.compile(_KEY.format("log_name") + r"[\s\S]*?" + _KEY.format("event_id")
               + "|" + _KEY.format("event_id") + r"[\s\S]*?" + _KEY.format("log_name")),  # Winlogbeat 6
    re.compile(_KEY.format("EventID") + r"[\s\S]*?" + _KEY.format("(?:Channel|SourceName|Hostname)")
               + "|" + _KEY.format("(?:Channel|SourceName|Hostname)") + r"[\s\S]*?" + _KEY.format("EventID")),
    re.compile(_KEY.format("EventCode") + r"|<Event xmlns=\\?[\"']http://schemas.microsoft.com/win/2004/08/events/event"),
]

#: NXLog im_msvistalog (and Logstash) keys that are not EventData.
NXLOG_SYSTEM = frozenset({
    "EventTime", "EventReceivedTime", "Hostname", "SourceName", "ProviderGuid", "Channel", "EventID",
    "Severity", "SeverityValue", "EventType", "Keywords", "Version", "Task", "Category", "OpcodeValue",
    "Opcode", "RecordNumber", "ActivityID", "RelatedActivityID", "ExecutionProcessID", "ThreadID",
    "Domain", "AccountName", "UserID", "AccountType", "SourceModuleName", "SourceModuleType", "Message",
    "@version", "@timestamp", "tags", "host", "port", "TimeCreated", "Level", "EventTypeOrignal",
    "ERROR_EVT_UNRESOLVED",
})
CANONICAL_CHANNELS = {c.lower(): c for c in (
    "Security", "System", "Application", "Setup", "Windows PowerShell", "Microsoft-Windows-Sysmon/Operational",
    "Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-TaskScheduler/Operational",
    "Microsoft-Windows-Windows Defender/Operational", "Microsoft-Windows-WMI-Activity/Operational",
    "Microsoft-Windows-Bits-Client/Operational", "Microsoft-Windows-DNS-Client/Operational",
)}


def sniff(head: bytes, name: str) -> bool:
    text = head_text(head).lstrip()
    if not text.startswith("{"):
        return False
    first = text.split("\n", 1)[0]
    return any(p.search(first) for p in _SNIFF)


_CHANNEL_SEEN: dict[str, str] = {}


def canonical_channel(channel: Any) -> Any:
    """Channel names are case-insensitive in Windows; well-known ones get their usual spelling."""
    if channel.__class__ is not str:
        return channel
    seen = _CHANNEL_SEEN.get(channel)
    if seen is None:
        seen = _CHANNEL_SEEN[channel] = CANONICAL_CHANNELS.get(channel.lower(), channel)
    return seen


def _int(value: Any) -> int | None:
    if value.__class__ is int:
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            return None
    if isinstance(value, float):
        return int(value)
    return None


def _keywords(value: Any) -> str | None:
    if isinstance(value, int):
        return f"0x{value & 0xFFFFFFFFFFFFFFFF:016x}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


class _NxlogTime:
    """NXLog writes EventTime in the collector's local time without a zone; the zone offset is the
    difference between @timestamp (UTC) and EventReceivedTime (local) for the same moment, rounded
    to a quarter hour. Both lookups are cached: many events share an hour and a second."""

    def __init__(self) -> None:
        self.offsets: dict[tuple[str, str], int | None] = {}
        self.times: dict[tuple[str, int], int | None] = {}

    def utc_us(self, d: dict[str, Any]) -> Any:
        created = d.get("TimeCreated")
        if isinstance(created, str):
            return created
        event_time, received, stamp = d.get("EventTime"), d.get("EventReceivedTime"), d.get("@timestamp")
        if isinstance(event_time, str) and isinstance(received, str) and isinstance(stamp, str):
            key = (received[:13], stamp[:13])
            off = self.offsets.get(key, -1)
            if off == -1:
                off = self.offsets[key] = self._offset(received, stamp)
            if off is not None:
                tkey = (event_time, off)
                us = self.times.get(tkey, -1)
                if us == -1:
                    if len(self.times) > 100_000:
                        self.times.clear()
                    us = self.times[tkey] = self._local_us(event_time, off)
                if us is not None:
                    return us
        return stamp

    @staticmethod
    def _offset(received_local: str, stamp_utc: str) -> int | None:
        try:
            local = datetime.fromisoformat(received_local)
            utc = datetime.fromisoformat(stamp_utc).astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            return None
        return round((utc - local).total_seconds() / 900) * 900 * 1_000_000

    @staticmethod
    def _local_us(event_time: str, offset_us: int) -> int | None:
        try:
            return dt_to_us(datetime.fromisoformat(event_time)) + offset_us
        except ValueError:
            return None


def _nxlog(d: dict[str, Any], clock: _NxlogTime) -> tuple[Any, tuple[Any, ...], Any]:
    system = (
        _int(d.get("EventID")), canonical_channel(d.get("Channel")), d.get("SourceName"), d.get("ProviderGuid"),
        d.get("Hostname"), _int(d.get("RecordNumber")), _int(d.get("Level")), _int(d.get("Task")),
        _int(d.get("OpcodeValue")), _keywords(d.get("Keywords")), _int(d.get("Version")),
        _int(d.get("ExecutionProcessID")), _int(d.get("ThreadID")), d.get("UserID"),
    )
    return clock.utc_us(d), system, d.get("Message")


def _unflatten_winlog(d: dict[str, Any]) -> dict[str, Any]:
    """Winlogbeat exports sometimes use dotted keys ("winlog.event_data.User"): nest them back."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = node[p] = {}
            node = nxt
        node[parts[-1]] = value
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _winlogbeat(d: dict[str, Any]) -> tuple[Any, tuple[Any, ...], dict[str, Any], Any]:
    """Winlogbeat 7+/ECS (`winlog` object) and Winlogbeat 6 (`event_id`, `log_name` at top level)."""
    if "winlog" not in d and "log_name" not in d:
        d = _unflatten_winlog(d)
    w = _dict(d.get("winlog")) if "winlog" in d else d
    process = _dict(w.get("process"))
    host = d.get("host")
    event = _dict(d.get("event"))
    level = w.get("level")
    system = (
        _int(w.get("event_id", event.get("code"))),
        canonical_channel(w.get("channel", w.get("log_name"))),
        w.get("provider_name", w.get("source_name")) or event.get("provider"),
        w.get("provider_guid"),
        w.get("computer_name") or (host.get("name") if isinstance(host, dict) else host),
        _int(w.get("record_id", w.get("record_number"))),
        None if isinstance(level, str) else _int(level),
        _int(w.get("task")),
        _int(w.get("opcode")),
        _keywords(w.get("keywords")),
        _int(w.get("version")),
        _int(process.get("pid", w.get("process_id"))),
        _int(_dict(process.get("thread")).get("id", w.get("thread_id"))),
        _dict(w.get("user")).get("identifier"),
    )
    data = _dict(w.get("event_data"))
    if w.get("user_data"):
        data = {**data, **flatten_user_data(w["user_data"])}
    return d.get("@timestamp") or event.get("created"), system, data, d.get("message")


def _xml_event(raw: str) -> tuple[Any, tuple[Any, ...], dict[str, Any]] | None:
    """A Windows event in its XML rendering (Splunk XmlWinEventLog `_raw`)."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return None
    ns = {"e": "http://schemas.microsoft.com/win/2004/08/events/event"}
    sysel = root.find("e:System", ns)
    if sysel is None:
        return None

    def child(tag: str) -> ET.Element | None:
        return sysel.find(f"e:{tag}", ns)

    def txt(tag: str) -> str | None:
        el = child(tag)
        return el.text if el is not None else None

    def attr(tag: str, name: str) -> str | None:
        el = child(tag)
        return el.get(name) if el is not None else None

    system = (
        _int(txt("EventID")), canonical_channel(txt("Channel")), attr("Provider", "Name"),
        attr("Provider", "Guid"), txt("Computer"), _int(txt("EventRecordID")), _int(txt("Level")),
        _int(txt("Task")), _int(txt("Opcode")), txt("Keywords"), _int(txt("Version")),
        _int(attr("Execution", "ProcessID")), _int(attr("Execution", "ThreadID")), attr("Security", "UserID"),
    )
    data: dict[str, Any] = {}
    unnamed: list[str] = []
    for section in ("EventData", "UserData"):
        sec = root.find(f"e:{section}", ns)
        if sec is None:
            continue
        for el in sec.iter():
            if el is sec or len(el):
                continue
            name = el.get("Name") or (el.tag.split("}", 1)[-1] if section == "UserData" else None)
            if name:
                data[name] = el.text or ""
            else:
                unnamed.append(el.text or "")
    if unnamed:
        data["Data"] = "\n".join(unnamed)
    return attr("TimeCreated", "SystemTime"), system, data


SPLUNK_SYSTEM = {"EventCode": "EventID", "LogName": "Channel", "SourceName": "Provider_Name",
                 "ComputerName": "Computer", "RecordNumber": "EventRecordID"}
SPLUNK_NOT_DATA = frozenset({"Message", "host", "source", "sourcetype"})


def _splunk(d: dict[str, Any]) -> tuple[str, Any, tuple[Any, ...], dict[str, Any], Any] | None:
    """Splunk exports: XmlWinEventLog (`_raw` holds the event XML) or classic WinEventLog fields."""
    r = d["result"] if isinstance(d.get("result"), dict) else d
    raw = r.get("_raw")
    if isinstance(raw, str) and raw.lstrip().startswith("<Event"):
        parsed = _xml_event(raw)
        if parsed is not None:
            ts, system, data = parsed
            return "splunk_xml", ts or r.get("_time"), system, data, r.get("Message")
    found: dict[str, Any] = {}
    data = {}
    for k, v in r.items():
        if k in SPLUNK_SYSTEM:
            found[SPLUNK_SYSTEM[k]] = v
        elif not k.startswith("_") and k not in SPLUNK_NOT_DATA:
            data[k] = v
    if "EventID" not in found:
        return None
    system = (_int(found["EventID"]), canonical_channel(found.get("Channel")), found.get("Provider_Name"), None,
              found.get("Computer"), _int(found.get("EventRecordID")), None, None, None, None, None, None, None,
              None)
    return "splunk", r.get("_time"), system, data, r.get("Message") or raw


def read(ctx: ReadContext) -> Batches:
    builders: dict[str, WindowsBuilder] = {}  # by source format, shared with the job (builder_for)
    clock = _NxlogTime()
    loads = orjson.loads
    batch_rows = ctx.options.batch_rows
    zone = ctx.options.zone
    skip: frozenset[str] = frozenset()
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        try:
            d = loads(raw)
        except orjson.JSONDecodeError:
            if not raw.strip():
                continue
            try:
                d = loads(decode(raw, ctx))
            except orjson.JSONDecodeError as exc:
                ctx.reject(f"line {lineno}", f"invalid JSON: {str(exc).split(':')[0]}", raw)
                continue
        if d.__class__ is not dict:
            ctx.reject(f"line {lineno}", "JSON line is not an object", raw)
            continue
        if "EventID" in d:
            fmt = "nxlog"
            ts, system, message = _nxlog(d, clock)
            data, skip = d, NXLOG_SYSTEM
        elif "winlog" in d or "log_name" in d or "winlog.event_id" in d or "winlog.channel" in d:
            fmt = "winlogbeat"
            ts, system, data, message = _winlogbeat(d)
            skip = frozenset()
        else:
            got = _splunk(d)
            if got is None:
                ctx.reject(f"line {lineno}", "JSON object is not a Windows event (no event id)", raw)
                continue
            fmt, ts, system, data, message = got
            skip = frozenset()
        if ts.__class__ is str:
            ts = parse_iso_us(ts, zone)
        if ts is None:
            ctx.warn("events without a readable timestamp (ts is null)")
        builder = builders.get(fmt)
        if builder is None:
            builder = builders[fmt] = builder_for(ctx, fmt)
        builder.add(lineno, ts, system, data, message if message.__class__ is str else None, skip)
        if builder.n >= batch_rows:
            yield TABLE, builder.flush()


READER = Reader(
    name="windows_json",
    family="windows",
    description="Windows events as JSON lines (Winlogbeat/ECS and 6.x, NXLog/OTRF, Splunk export)",
    sniff=sniff,
    read=read,
)

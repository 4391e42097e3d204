"""Windows events as JSON lines: Winlogbeat/ECS, NXLog (OTRF/Mordor flattened style) and Splunk exports.

The three shapes differ only in where the System fields and the EventData live; each is mapped to
the same System dict + flat EventData dict that the EVTX reader produces (ingest/windows.py).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import decode, head_text, iter_lines
from breachscope.ingest.reader import Batches, Reader
from breachscope.ingest.timeparse import dt_to_us, parse_iso_us
from breachscope.ingest.windows import TABLE, WindowsBuilder, flatten_user_data

_KEY = r'"{}"\s*:'
_SNIFF = [
    re.compile(_KEY.format("winlog")),  # Winlogbeat (nested)
    re.compile(r'"winlog\.(?:event_id|channel|event_data)'),  # Winlogbeat (dotted keys)
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


def canonical_channel(channel: Any) -> Any:
    if isinstance(channel, str):
        return CANONICAL_CHANNELS.get(channel.lower(), channel)
    return channel


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


class _LocalOffsets:
    """NXLog writes EventTime in the collector's local time without a zone; the zone offset is the
    difference between @timestamp (UTC) and EventReceivedTime (local) for the same moment, rounded
    to a quarter hour. Cached per hour so that the cost is one lookup per event."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], timedelta | None] = {}

    def offset(self, received_local: str, stamp_utc: str) -> timedelta | None:
        key = (received_local[:13], stamp_utc[:13])
        if key not in self.cache:
            self.cache[key] = self._compute(received_local, stamp_utc)
        return self.cache[key]

    @staticmethod
    def _compute(received_local: str, stamp_utc: str) -> timedelta | None:
        try:
            local = datetime.fromisoformat(received_local)
            utc = datetime.fromisoformat(stamp_utc).astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            return None
        quarters = round((utc - local).total_seconds() / 900)
        return timedelta(minutes=15 * quarters)


def _nxlog(d: dict[str, Any], offsets: _LocalOffsets) -> tuple[Any, dict[str, Any], dict[str, Any], Any]:
    ts: Any = d.get("TimeCreated")
    if not isinstance(ts, str):
        ts = None
        event_time, received, stamp = d.get("EventTime"), d.get("EventReceivedTime"), d.get("@timestamp")
        if isinstance(event_time, str) and isinstance(received, str) and isinstance(stamp, str):
            off = offsets.offset(received, stamp)
            if off is not None:
                try:
                    ts = dt_to_us(datetime.fromisoformat(event_time) + off)
                except ValueError:
                    ts = None
        if ts is None:
            ts = stamp
    system = {
        "EventID": _int(d.get("EventID")),
        "Channel": canonical_channel(d.get("Channel")),
        "Provider_Name": d.get("SourceName"),
        "Provider_Guid": d.get("ProviderGuid"),
        "Computer": d.get("Hostname"),
        "EventRecordID": _int(d.get("RecordNumber")),
        "Level": _int(d.get("Level")),
        "Task": _int(d.get("Task")),
        "Opcode": _int(d.get("OpcodeValue")),
        "Keywords": _keywords(d.get("Keywords")),
        "Version": _int(d.get("Version")),
        "ProcessID": _int(d.get("ExecutionProcessID")),
        "ThreadID": _int(d.get("ThreadID")),
        "Security_UserID": d.get("UserID"),
        "source_format": "nxlog",
    }
    data = {k: v for k, v in d.items() if k not in NXLOG_SYSTEM}
    return ts, system, data, d.get("Message")


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


def _winlogbeat(d: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any], Any]:
    if "winlog" not in d:
        d = _unflatten_winlog(d)
    w = d.get("winlog") or {}
    process = w.get("process") or {}
    thread = process.get("thread") or {}
    host = d.get("host") or {}
    event = d.get("event") or {}
    system = {
        "EventID": _int(w.get("event_id", event.get("code"))),
        "Channel": canonical_channel(w.get("channel")),
        "Provider_Name": w.get("provider_name") or event.get("provider"),
        "Provider_Guid": w.get("provider_guid"),
        "Computer": w.get("computer_name") or (host.get("name") if isinstance(host, dict) else host),
        "EventRecordID": _int(w.get("record_id")),
        "Level": _int(w.get("level")) if not isinstance(w.get("level"), str) else None,
        "Task": _int(w.get("task")),
        "Opcode": _int(w.get("opcode")),
        "Keywords": _keywords(w.get("keywords")),
        "Version": _int(w.get("version")),
        "ProcessID": _int(process.get("pid")),
        "ThreadID": _int(thread.get("id")),
        "Security_UserID": (w.get("user") or {}).get("identifier"),
        "source_format": "winlogbeat",
    }
    data = dict(w.get("event_data") or {})
    if w.get("user_data"):
        data.update(flatten_user_data(w["user_data"]))
    message = d.get("message")
    return d.get("@timestamp") or event.get("created"), system, data, message


def _xml_event(raw: str) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
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

    system = {
        "EventID": _int(txt("EventID")), "Channel": canonical_channel(txt("Channel")),
        "Provider_Name": attr("Provider", "Name"), "Provider_Guid": attr("Provider", "Guid"),
        "Computer": txt("Computer"), "EventRecordID": _int(txt("EventRecordID")),
        "Level": _int(txt("Level")), "Task": _int(txt("Task")), "Opcode": _int(txt("Opcode")),
        "Keywords": txt("Keywords"), "Version": _int(txt("Version")),
        "ProcessID": _int(attr("Execution", "ProcessID")), "ThreadID": _int(attr("Execution", "ThreadID")),
        "Security_UserID": attr("Security", "UserID"), "source_format": "splunk_xml",
    }
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


def _splunk(d: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any], Any] | None:
    r = d.get("result") if isinstance(d.get("result"), dict) else d
    raw = r.get("_raw")
    if isinstance(raw, str) and raw.lstrip().startswith("<Event"):
        parsed = _xml_event(raw)
        if parsed is not None:
            ts, system, data = parsed
            return ts or r.get("_time"), system, data, r.get("Message")
    system: dict[str, Any] = {"source_format": "splunk"}
    data = {}
    for k, v in r.items():
        if k in SPLUNK_SYSTEM:
            system[SPLUNK_SYSTEM[k]] = v
        elif not k.startswith("_") and k not in ("Message", "host", "source", "sourcetype"):
            data[k] = v
    if "EventID" not in system:
        return None
    system["EventID"] = _int(system["EventID"])
    system["EventRecordID"] = _int(system.get("EventRecordID"))
    system["Channel"] = canonical_channel(system.get("Channel"))
    return r.get("_time"), system, data, r.get("Message") or raw


def read(ctx: ReadContext) -> Batches:
    builder_by_format: dict[str, WindowsBuilder] = {}
    offsets = _LocalOffsets()
    loads = orjson.loads
    batch_rows = ctx.options.batch_rows
    zone = ctx.options.zone
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if not raw.strip():
            continue
        try:
            d = loads(raw)
        except orjson.JSONDecodeError:
            try:
                d = loads(decode(raw, ctx))
            except orjson.JSONDecodeError as exc:
                ctx.reject(f"line {lineno}", f"invalid JSON: {str(exc).split(':')[0]}", raw)
                continue
        if not isinstance(d, dict):
            ctx.reject(f"line {lineno}", "JSON line is not an object", raw)
            continue
        if "winlog" in d or "winlog.event_id" in d or "winlog.channel" in d:
            ts, system, data, message = _winlogbeat(d)
        elif "EventID" in d:
            ts, system, data, message = _nxlog(d, offsets)
        else:
            got = _splunk(d)
            if got is None:
                ctx.reject(f"line {lineno}", "JSON object is not a Windows event (no event id)", raw)
                continue
            ts, system, data, message = got
        if isinstance(ts, str):
            ts = parse_iso_us(ts, zone)
        if ts is None:
            ctx.warn("events without a readable timestamp (ts is null)")
        fmt = system["source_format"]
        builder = builder_by_format.get(fmt)
        if builder is None:
            builder = builder_by_format[fmt] = WindowsBuilder(ctx, fmt)
        builder.add(lineno, ts, system, data, message if isinstance(message, str) else None)
        if builder.n >= batch_rows:
            yield TABLE, builder.flush()
    for builder in builder_by_format.values():
        if builder.n:
            yield TABLE, builder.flush()


READER = Reader(
    name="windows_json",
    family="windows",
    description="Windows events as JSON lines (Winlogbeat/ECS, NXLog/OTRF, Splunk export)",
    sniff=sniff,
    read=read,
)

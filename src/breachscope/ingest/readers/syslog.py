"""Syslog lines: RFC 3164 (BSD), RFC 5424, Cisco IOS / IOS-XE / NX-OS / IOS-XR and ASA/FTD; one record per line.

A line is read in layers, outermost first: an optional `<PRI>`, an optional relay prefix (Kiwi's
`Original Address=`), a standard header (RFC 5424, or BSD `Mmm dd hh:mm:ss host` and its year-first,
year-after-day and ISO variants, possibly nested once by a relay), then the Cisco part
(`seq: host: *Mmm dd hh:mm:ss.mmm ZONE: %FAC-SEV-MNEMONIC: text`), either as the whole line or inside
the header's message. A line that is none of these is kept as a 'bare' record with the line as its
message, as a relay would. The rules (and which timestamp wins) are in docs/formats/syslog.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

import pyarrow as pa

from breachscope.ingest.batch import make_batch
from breachscope.ingest.context import ReadContext
from breachscope.ingest.lines import decode, head_text, iter_lines
from breachscope.ingest.reader import HEAD_BYTES, Batches, Reader
from breachscope.ingest.timeparse import MONTHS, YearResolver, dt_to_us
from breachscope.model.schema import SYSLOG_SCHEMA

TABLE = "syslog"
MNEMONIC_WINDOW = 512  # a `%FAC-SEV-MNEMONIC:` further into a line than this is message text
EXTRACT_CHARS = 4096  # user/address extraction looks at the start of the message only (bounded work)
SNIFF_LINES = 20
SNIFF_SHARE = 0.8  # share of the first non-empty lines that must parse as syslog
CONTROL_BYTES = bytes(c for c in range(32) if c != 9)

#: Row layout produced by the parser, in this order (family and provenance are added per batch).
COLUMNS = ("ts", "host", "user", "src_ip", "src_port", "dst_ip", "dst_port", "message", "syslog_format",
           "facility", "severity", "app_name", "procid", "msgid", "structured_data", "cisco_facility",
           "cisco_severity", "cisco_mnemonic", "cisco_seq", "ts_text", "ts_resolution", "raw", "extra")

# --- line grammar ------------------------------------------------------------------------------------
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# [*.][yyyy ]Mmm dd [yyyy ]hh:mm:ss[.fff]; '*' = clock never set, '.' = clock lost its sync (Cisco)
_CLOCK = (r"(?P<mark>[*.])?(?:(?P<y1>\d{4}) +)?(?P<mon>" + _MON + r") +(?P<day>\d{1,2}) +"
          r"(?:(?P<y2>\d{4}) +)?(?P<hh>\d{1,2}):(?P<mi>\d\d):(?P<ss>\d\d)(?P<frac>\.\d{1,9})?")
_MNEMONIC = r"%(?P<fac>[A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*?)-(?P<sev>[0-7])-(?P<mn>[A-Z0-9_]+) ?: ?"
_PRI = re.compile(r"<(\d{1,3})>")
_MNEMONIC_AT = re.compile(_MNEMONIC)
_CLOCK_ZONE = re.compile(_CLOCK + r"(?: (?P<zone>[A-Za-z]{1,7}(?:[+-]\d{1,2}(?::?\d\d)?)?))?")
_UPTIME = re.compile(r"\d+y\d+w|\d+w\d+d|\d+d\d+h|\d{1,2}:\d\d:\d\d(?:\.\d+)?")  # 2y10w, 1w2d, 3d04h, 00:00:46
_HOSTNAME = re.compile(r"[A-Za-z0-9_][\w.-]{0,254}")
_PROCESS = re.compile(r"([A-Za-z_][\w.-]*)\[(\d+)\]")  # IOS-XR ipv4_acl_mgr[310]
_MNEMONIC_ANYWHERE = re.compile(r"(?:(?<=[\s:])|^)" + _MNEMONIC)
_BSD = re.compile(
    r"(?P<time>" + _CLOCK
    + r"|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)))"
    r" +(?P<host>\S+)(?: +|$)"
)
_TAG = re.compile(r"(?P<app>[A-Za-z_][\w./-]{0,63})(?:\[(?P<pid>[^\]\s]{1,32})\])?:(?: |$)")
_ISO_DATE = re.compile(r"\d{4}-\d\d-\d\dT")
_SD = re.compile(r'(?:\[[^\s\]="]+(?: [^\s\]="]+="(?:[^"\\]|\\.)*")* ?\])+')
_SD_ELEMENT = re.compile(r'\[([^\s\]="]+)((?: [^\s\]="]+="(?:[^"\\]|\\.)*")*) ?\]')
_SD_PARAM = re.compile(r'([^\s\]="]+)="((?:[^"\\]|\\.)*)"')
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')
_KIWI = "Original Address="


class Parsed:
    """The syntactic pieces of one line (no time resolution yet; sniffing needs only `fmt`).

    Defaults live on the class and a line sets only what it has: cheaper than a full __init__."""

    fmt: str = "bare"
    pri: int | None = None
    host: str | None = None
    app: str | None = None
    procid: str | None = None
    msgid: str | None = None
    sd: str | None = None
    message: str | None = None
    cisco: bool = False  # a Cisco part was found (its fields below)
    seq1: str | None = None  # first number (message counter when two)
    seq2: str | None = None  # number after the first one or after the host (service sequence-numbers)
    task: str | None = None
    node: str | None = None  # IOS-XR node (RP/0/RSP0/CPU0)
    clock: re.Match[str] | None = None  # the device's wall-clock time (_CLOCK_ZONE fullmatch)
    up: str | None = None  # device uptime stamp
    fac: str | None = None
    sev: str | None = None
    mn: str | None = None
    hdr: re.Match[str] | None = None  # BSD header match (its clock groups)
    hdr_iso: str | None = None  # ISO header time (RFC 5424 or BSD with an RFC 3339 time)
    relay: re.Match[str] | None = None  # outer BSD header when a relay nested two
    extra: dict[str, str] | None = None

    def put(self, key: str, value: str) -> None:
        if self.extra is None:
            self.extra = {key: value}
        else:
            self.extra[key] = value


_MONTH_NAMES = frozenset(m.capitalize() for m in MONTHS)
_CISCO_FIRST = frozenset("0123456789:*.%")  # how a Cisco part can start (else it has a '%' mnemonic)
_CLOCK_FIRST = frozenset("0123456789JFMASOND")  # first characters a BSD header can have


def parse_line(s: str) -> Parsed:
    """Split one line into header, Cisco part and message; never fails."""
    p = Parsed()
    rest = s
    if s.startswith("<"):
        m = _PRI.match(s)
        if m is not None and int(m.group(1)) <= 191:
            p.pri = int(m.group(1))
            rest = s[m.end():]
    if rest.startswith(_KIWI):  # Kiwi Syslog Server puts the sender's address before the header
        addr, _, rest = rest[len(_KIWI):].partition(" ")
        p.put("original_address", addr)
    body: str | None = None
    if rest.startswith("1 ") and _rfc5424(rest, p):
        p.fmt = "rfc5424"
        body = p.message
    else:
        m = _BSD.match(rest)  # fails on the first characters unless the line starts with a time
        host = m.group("host") if m is not None else None
        if (host is None or host.endswith(":")) and _cisco(rest, p):  # or Cisco's `time[ zone]: `
            p.fmt = "cisco"
            return p
        if m is not None:
            body = _bsd(m, host, rest, p)  # type: ignore[arg-type]
    if body is None:
        if p.pri is not None:  # `<PRI>text`: syslog without a header
            p.fmt = "rfc3164"
            body = rest
        else:
            if not _mnemonic_anywhere(rest, p):
                p.message = s
            return p
    if (body[:1] in _CISCO_FIRST or body.find("%", 0, MNEMONIC_WINDOW) >= 0) and (
            _cisco(body, p) or _mnemonic_anywhere(body, p)):
        return p
    t = _TAG.match(body)
    if t is not None:
        if p.app is None:
            p.app, p.procid = t.group("app", "pid")
        p.message = body[t.end():]
    else:
        p.message = body
    return p


def _rfc5424(rest: str, p: Parsed) -> bool:
    parts = rest.split(" ", 6)
    if len(parts) < 6:
        return False
    _, ts, host, app, procid, msgid = parts[:6]
    if ts != "-" and _ISO_DATE.match(ts) is None:
        return False
    p.hdr_iso = None if ts == "-" else ts
    p.host = None if host == "-" else host
    p.app = None if app == "-" else app
    p.procid = None if procid == "-" else procid
    p.msgid = None if msgid == "-" else msgid
    tail = parts[6] if len(parts) == 7 else ""
    if tail == "-" or tail.startswith("- "):
        tail = tail[2:]
    elif tail.startswith("["):
        m = _SD.match(tail)
        if m is not None:
            p.sd = m.group()
            _sd_params(p.sd, p)
            tail = tail[m.end():]
            if tail.startswith(" "):
                tail = tail[1:]
        else:
            p.put("sd_error", "structured data not well formed; kept in the message")
    else:  # some relays (Kiwi) leave STRUCTURED-DATA out
        p.put("sd_error", "structured data missing")
    p.message = tail[1:] if tail.startswith("\ufeff") else tail
    return True


def _sd_params(sd: str, p: Parsed) -> None:
    for element in _SD_ELEMENT.finditer(sd):
        sd_id = element.group(1)
        for name, value in _SD_PARAM.findall(element.group(2)):
            p.put(f"{sd_id}.{name}", _SD_UNESCAPE.sub(r"\1", value) if "\\" in value else value)


def _bsd(m: re.Match[str], host: str, rest: str, p: Parsed) -> str:
    """The message after a BSD header (`time host `); a relay's second header is unwrapped once."""
    p.fmt = "rfc3164"
    if host.endswith(":"):  # `time tag: msg`: no hostname
        body = rest[m.start("host"):]
    else:
        p.host = host
        body = rest[m.end():]
    p.hdr, p.hdr_iso = m, m.group("iso")
    inner = _BSD.match(body) if body[:1] in _CLOCK_FIRST else None
    if inner is not None and not inner.group("host").endswith(":"):  # a relay put its header in front
        p.put("relay_time", m.group("time"))
        if p.host is not None:
            p.put("relay_host", p.host)
        p.host = inner.group("host")
        p.relay = m
        p.hdr, p.hdr_iso = inner, inner.group("iso")
        body = body[inner.end():]
    return body


def _cisco(text: str, p: Parsed) -> bool:
    """The Cisco form at the start of `text`: `seq: host: *time zone: proc[pid]: %FAC-SEV-MNEMONIC: msg`,
    every field optional. It needs the mnemonic, or else a wall-clock time (known zone, if any) and its colon.

    The fields before the mnemonic are split on ': ' and classified one by one with string tests and
    small anchored regexes (a single regex with ten optional groups was the slowest part of a line)."""
    pos = text.find("%", 0, MNEMONIC_WINDOW)
    m = _MNEMONIC_AT.match(text, pos) if pos >= 0 else None
    if m is None and pos >= 0:
        m = _MNEMONIC_ANYWHERE.search(text, pos + 1, MNEMONIC_WINDOW + 64)
    if m is not None:
        prefix = text[: m.start()]
        if prefix and (not prefix.endswith(": ") or not _cisco_fields(prefix.split(": ")[:-1], p, True)):
            return False
        p.fac, p.sev, p.mn = m.group("fac", "sev", "mn")
        p.message = text[m.end():].lstrip(" ")
        if p.fac == "IOSXE" and p.mn == "PLATFORM":  # the data plane's message rides inside
            _inner_mnemonic(p)
        return True
    fields = text.split(": ", 6)  # no mnemonic: fields up to a wall-clock time, then the message
    for i in range(1, len(fields)):
        if _cisco_fields(fields[:i], p, False):
            p.message = text[sum(len(f) for f in fields[:i]) + 2 * i:].lstrip(" ")
            return True
    return False


def _cisco_fields(fields: list[str], p: Parsed, with_mnemonic: bool) -> bool:
    """Classify the ': '-separated fields before the mnemonic (or the message); False if one is foreign."""
    host = seq1 = seq2 = task = node = clock = up = proc = None
    for i, f in enumerate(fields):
        if not f:
            if i == 0:  # `<189>: host: ...`
                continue
            return False
        f = f.rstrip(" ")  # IOS-XR writes `time : proc`
        if clock is not None or up is not None:  # after the time only IOS-XR's process[pid]
            if proc is not None or (got := _PROCESS.fullmatch(f)) is None:
                return False
            proc = got
            continue
        c = f[0]
        if c.isdigit() and f.isdigit():
            if seq1 is None:
                seq1 = f
            elif seq2 is None:
                seq2 = f
            else:
                return False
            continue
        if c == "*" and " " not in f:  # wireless controller task, *Dot1x_NW_MsgTask_0
            task = f
            continue
        if "/" in f and ":" in f:  # IOS-XR node glued to the time: RP/0/RSP0/CPU0:Oct  7 ...
            node, _, f = f.partition(":")
            c = f[:1]
        if c.isdigit() and f[4:5] != " ":
            up = _UPTIME.fullmatch(f)
            if up is None:
                return False
            continue
        if c in "*." or c.isdigit() or f[:3] in _MONTH_NAMES:
            clock = _CLOCK_ZONE.fullmatch(f)
            if clock is not None:
                continue
        if host is None and seq2 is None and _HOSTNAME.fullmatch(f):
            host = f
            continue
        return False
    if not with_mnemonic:
        if clock is None or proc is not None:
            return False
        zone = clock.group("zone")
        if zone is not None and zone_offset(zone) is None:
            return False
    p.cisco = True
    p.seq1, p.seq2, p.task, p.node, p.clock = seq1, seq2, task, node, clock
    if up is not None:
        p.up = up.group()
    if host is not None:
        if p.host is not None and p.host != host:
            p.put("relay_host", p.host)
        p.host = host
    if proc is not None:
        if p.app is None:
            p.app, p.procid = proc.groups()
        else:
            p.put("process", proc.group())
    return True


def _inner_mnemonic(p: Parsed) -> None:
    msg = p.message or ""
    inner = _MNEMONIC_ANYWHERE.search(msg, 0, MNEMONIC_WINDOW)
    if inner is not None:
        p.put("outer_mnemonic", f"{p.fac}-{p.sev}-{p.mn}")
        p.put("platform_prefix", msg[: inner.start()].rstrip())
        p.fac, p.sev, p.mn = inner.group("fac", "sev", "mn")
        p.message = msg[inner.end():].lstrip(" ")


def _mnemonic_anywhere(text: str, p: Parsed) -> bool:
    """A mnemonic after text that no rule explains (unknown relay wrapping): keep that text in extra."""
    pos = text.find("%", 0, MNEMONIC_WINDOW)
    if pos < 0:
        return False
    m = _MNEMONIC_ANYWHERE.search(text, pos, MNEMONIC_WINDOW + 64)
    if m is None:
        return False
    if p.fmt == "bare":
        p.fmt = "cisco"
    if m.start():
        p.put("cisco_prefix", text[: m.start()].rstrip())
    p.fac, p.sev, p.mn = m.group("fac", "sev", "mn")
    p.message = text[m.end():].lstrip(" ")
    return True


# --- time zones --------------------------------------------------------------------------------------
#: Abbreviations Cisco devices print (`clock timezone`), in minutes east of UTC. Ambiguous ones take
#: the meaning listed here (US for CST/AST, Irish/British for IST/BST); the file's warnings say so.
ZONE_MINUTES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "IST": 60, "CET": 60, "MET": 60,
    "CEST": 120, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "PKT": 300, "ICT": 420, "WIB": 420,
    "HKT": 480, "SGT": 480, "AWST": 480, "PHT": 480, "JST": 540, "KST": 540, "ACST": 570, "ACDT": 630,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "HST": -600, "AKST": -540, "AKDT": -480,
    "PST": -480, "PDT": -420, "MST": -420, "MDT": -360, "CST": -360, "CDT": -300, "EST": -300,
    "EDT": -240, "AST": -240, "ADT": -180, "NST": -210, "NDT": -150, "BRT": -180, "ART": -180,
}
AMBIGUOUS_ZONES = frozenset({"IST", "BST", "CST", "AST"})
_OFFSET = re.compile(r"(?:UTC|GMT)(?:([+-])(\d{1,2})(?::?(\d\d))?)?")


@lru_cache(maxsize=1024)
def zone_offset(label: str) -> timezone | None:
    """The fixed offset a zone label in a Cisco timestamp stands for (None: unknown label)."""
    upper = label.upper()
    minutes = ZONE_MINUTES.get(upper)
    if minutes is None:
        m = _OFFSET.fullmatch(upper)
        if m is None:
            return None
        sign, hours, mins = m.groups()
        minutes = (int(hours or 0) * 60 + int(mins or 0)) * (-1 if sign == "-" else 1)
        if abs(minutes) > 14 * 60:
            return None
    return timezone(timedelta(minutes=minutes))


# --- addresses, ports, users -------------------------------------------------------------------------
@lru_cache(maxsize=1 << 16)
def ip_or_none(text: str | None) -> str | None:
    """The address in normal form when `text` is an IPv4/IPv6 address, else None."""
    if not text or len(text) > 45:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def port_or_none(text: str | None) -> int | None:
    if text and text.isdigit() and len(text) <= 5:
        value = int(text)
        return value if value <= 65535 else None
    return None


def endpoint(token: str) -> tuple[str | None, int | None]:
    """(ip, port) from `ip(port)`, `ip/port`, `iface:ip/port`, `iface/ip(port)`, `ipv4:port` or `ip`."""
    t = token.strip("[]<>'\",;")
    if t.startswith("(") and t.endswith(")"):
        t = t[1:-1]
    port = None
    if "(" in t:
        addr, _, p = t.partition("(")
        port = port_or_none(p.rstrip(")"))
    elif "/" in t:
        addr, _, p = t.rpartition("/")
        port = port_or_none(p)
        if port is None and ip_or_none(p) is not None:  # iface/ip
            addr = p
    elif t.count(":") == 1 and "." in t:
        addr, _, p = t.partition(":")
        port = port_or_none(p)
    else:
        addr = t
    ip = ip_or_none(addr)
    if ip is None and ":" in addr:  # ASA interface prefix: outside:10.0.0.1
        ip = ip_or_none(addr.split(":", 1)[1])
    if ip is None and "/" in addr:  # ASA 106100 interface prefix: outside/10.0.0.1
        ip = ip_or_none(addr.rsplit("/", 1)[1])
    return ip, (port if ip is not None else None)


def user_or_none(text: str | None) -> str | None:
    if not text or text in ("<unknown>", "unknown", "-") or not text.strip("*"):
        return None  # ASA masks rejected names as '*****'
    return text


Anchor = tuple[int, int, str]  # (year, month, how) of a full date on the same line
# Extraction result: user, src_ip, src_port, dst_ip, dst_port, extra fields
Extracted = tuple[str | None, str | None, int | None, str | None, int | None, dict[str, str] | None]
Extractor = Callable[[str], Extracted | None]

_RE_LOGIN = re.compile(r"\[user: ?([^\]]*)\] ?\[Source: ?([^\]]*)\](?: ?\[localport: ?(\d+)\])?"
                       r"(?: ?\[Reason: ?([^\]]*)\])?(?:.*? at (\d{1,2}:\d\d:\d\d \S+ \w{3} " + _MON
                       + r" +\d{1,2} \d{4}))?")
_RE_CONFIG = re.compile(r"Configured from (\S+) by (\S+)(?: on (\S+))?(?: \(([^)\s]+)\))?")
_LINE_NAME = re.compile(r"(?:vty|tty|con|console|aux)\d*$")
_RE_CFGLOG = re.compile(r"User: ?(\S+?)\s+logged command: ?(.*)")
_RE_LOGOUT = re.compile(r"User (\S+) has exited tty session \d+\(([^)]*)\)")
_RE_TTY_EXPIRE = re.compile(r"tty \d+ \(([^)]*)\)\), user (\S+)")
_RE_QUOTED_USER = re.compile(r"[Uu]ser '([^']*)'")
_RE_FROM = re.compile(r"from '?([0-9A-Fa-f.:]+)'?(?: port (\d+))?")
_RE_FROM_TO = re.compile(r"from (\S+) to (\S+)")
_RE_ACL = re.compile(r"list (\S+) (\S+) (\S+) (.{0,300}?) ?-> ?(\S+)")  # also matches access-list
_RE_PACKETS = re.compile(r"(\d+) packets?\b")
_RE_IPS = re.compile(r"\[(\S+) -> (\S+)\]")
_RE_FW_DROP = re.compile(r"Dropping \S+ (?:session|pkt from \S+) (\S+) (?:=> )?([0-9A-Fa-f.:]+)")
_RE_FW_AUDIT = re.compile(r"initiator \(([^)]*)\).*?responder \(([^)]*)\)")
_RE_ASA_BUILT = re.compile(r"Built (inbound|outbound) (\S+) connection (\S+) for (\S+) \(([^)]*)\)(?: ?\(([^)]*)\))?"
                           r" to (\S+) \(([^)]*)\)(?: ?\(([^)]*)\))?")
_RE_ASA_TEARDOWN = re.compile(r"Teardown (\S+) connection (\S+) for (\S+) to (\S+)(?: duration (\S+))?"
                              r"(?: bytes (\d+))?")
_RE_ASA_SRC_DST = re.compile(r"Deny (\S+) src (\S+) dst (\S+)(?: \(type \d+, code \d+\))?"
                             r"(?: by access-group \"([^\"]*)\")?")
_RE_ASA_LOGIN = re.compile(r"Login (permitted|denied) from (\S+) to (\S+) for user \"([^\"]*)\"")
_RE_ASA_EXEC = re.compile(r"User '([^']*)'(?:, running '[^']*' from IP (\S+),)? executed (?:the |cmd: )?'?(.*?)'?"
                          r"(?: command\.?)?$")
_RE_ASA_AAA = re.compile(r"user = ([^:]*?) ?(?::|$)")
_RE_ASA_USER_IP = re.compile(r"user IP = ([0-9A-Fa-f.:]+)")
_RE_ASA_UNAME = re.compile(r"Uname: ([^\s,]+)")
_RE_ASA_IP_ADDRESS = re.compile(r"IP address: ([0-9A-Fa-f.:]+)")
_RE_ASA_GROUP_USER = re.compile(r"User <([^>]*)> IP <([^>]*)>")
_RE_SSHD = re.compile(r"(Accepted|Failed) (\S+) for (?:invalid user )?(\S+) from (\S+) port (\d+)")
_RE_SSHD_INVALID = re.compile(r"Invalid user (\S*) from (\S+)(?: port (\d+))?")
_RE_SSHD_CLOSED = re.compile(r"(?:Connection closed|Disconnected) (?:by|from) (?:authenticating |invalid )?user "
                             r"(\S+) (\S+) port (\d+)")
_RE_PAM_SESSION = re.compile(r"session (opened|closed) for user ([^\s(]+)(?:\(uid=\d+\))?(?: by ([^\s(]*))?")
_RE_PAM_FAILURE = re.compile(r"authentication failure;.*?rhost=(\S*)(?:\s+user=(\S+))?")
_RE_SUDO = re.compile(r"^\s*(\S+) : .*?USER=(\S+) ; COMMAND=(.*)$")


def _x_login(msg: str) -> Extracted | None:
    m = _RE_LOGIN.search(msg)
    if m is None:
        return None
    user, src, lport, reason, when = m.groups()
    extra = {}
    if reason:
        extra["reason"] = reason
    if when:
        extra["login_time"] = when
    return user_or_none(user), ip_or_none(src), None, None, port_or_none(lport), extra or None


def _x_config(msg: str) -> Extracted | None:
    m = _RE_CONFIG.search(msg)
    if m is None:
        return None
    source, by, on, addr = m.groups()
    extra = {"config_source": source}
    user: str | None = by
    if on is None and _LINE_NAME.match(by):  # no AAA: `by vty0 (10.1.1.1)` names the line, not a user
        user = None
        extra["line"] = by
    elif on is not None:
        if "@" in on:  # NX-OS: `on 10.1.1.1@pts/0`
            on_addr, _, line = on.partition("@")
            extra["line"] = line
            addr = addr or on_addr
        else:
            extra["line"] = on
    return user_or_none(user), ip_or_none(addr), None, None, None, extra


def _x_cfglog(msg: str) -> Extracted | None:
    m = _RE_CFGLOG.search(msg)
    if m is None:
        return None
    return user_or_none(m.group(1)), None, None, None, None, {"command": m.group(2)}


def _x_logout(msg: str) -> Extracted | None:
    m = _RE_LOGOUT.search(msg)
    return None if m is None else (user_or_none(m.group(1)), ip_or_none(m.group(2)), None, None, None, None)


def _x_tty_expire(msg: str) -> Extracted | None:
    m = _RE_TTY_EXPIRE.search(msg)
    return None if m is None else (user_or_none(m.group(2)), ip_or_none(m.group(1)), None, None, None, None)


def _x_quoted_user(msg: str) -> Extracted | None:
    """IOS SSH and IOS-XR SECURITY/MGBL messages: `user 'name'` and `from 'ip'` / `from ip port n`."""
    if "sshd[" in msg:  # IOS-XR relays sshd's own text
        return _x_sshd(msg)
    u = _RE_QUOTED_USER.search(msg)
    f = _RE_FROM.search(msg)
    if u is None and f is None:
        return None
    src = ip_or_none(f.group(1)) if f else None
    sport = port_or_none(f.group(2)) if f and src else None
    return user_or_none(u.group(1) if u else None), src, sport, None, None, None


def _x_from_to(msg: str) -> Extracted | None:
    m = _RE_FROM_TO.search(msg)
    if m is None:
        return None
    (sip, sport), (dip, dport) = endpoint(m.group(1)), endpoint(m.group(2))
    return None, sip, sport, dip, dport, None


def _x_acl(msg: str) -> Extracted | None:
    m = _RE_ACL.search(msg)
    if m is None:
        return None
    acl, action, proto, src_part, dst = m.groups()
    sip = sport = None
    for token in src_part.split():
        sip, sport = endpoint(token)
        if sip is not None:
            break
    dip, dport = endpoint(dst)
    extra = {"acl": acl, "action": action, "proto": proto}
    packets = _RE_PACKETS.search(msg, m.end())
    if packets is not None:
        extra["packets"] = packets.group(1)
    return None, sip, sport, dip, dport, extra


def _x_ips(msg: str) -> Extracted | None:
    m = _RE_IPS.search(msg)
    if m is None:
        return None
    (sip, sport), (dip, dport) = endpoint(m.group(1)), endpoint(m.group(2))
    return None, sip, sport, dip, dport, None


def _x_fw_drop(msg: str) -> Extracted | None:
    m = _RE_FW_DROP.search(msg)
    if m is None:
        return None
    (sip, sport), (dip, dport) = endpoint(m.group(1)), endpoint(m.group(2))
    return None, sip, sport, dip, dport, None


def _x_fw_audit(msg: str) -> Extracted | None:
    m = _RE_FW_AUDIT.search(msg)
    if m is None:
        return None
    (sip, sport), (dip, dport) = endpoint(m.group(1)), endpoint(m.group(2))
    return None, sip, sport, dip, dport, None


def _x_asa_built(msg: str) -> Extracted | None:
    m = _RE_ASA_BUILT.search(msg)
    if m is None:
        return None
    direction, proto, conn, first, _, first_user, second, _, second_user = m.groups()
    if direction == "outbound":  # the local side (after 'to') started it
        first, second, first_user = second, first, second_user
    (sip, sport), (dip, dport) = endpoint(first), endpoint(second)
    extra = {"direction": direction, "proto": proto.lower(), "connection_id": conn}
    user = first_user if first_user and "/" not in first_user else None
    return user_or_none(user), sip, sport, dip, dport, extra


def _x_asa_teardown(msg: str) -> Extracted | None:
    m = _RE_ASA_TEARDOWN.search(msg)
    if m is None:
        return None
    proto, conn, first, second, duration, nbytes = m.groups()
    (sip, sport), (dip, dport) = endpoint(first), endpoint(second)
    extra = {"proto": proto.lower(), "connection_id": conn}
    if duration:
        extra["duration"] = duration
    if nbytes:
        extra["bytes"] = nbytes
    return None, sip, sport, dip, dport, extra


def _x_asa_src_dst(msg: str) -> Extracted | None:
    m = _RE_ASA_SRC_DST.search(msg)
    if m is None:
        return None
    proto, src, dst, acl = m.groups()
    (sip, sport), (dip, dport) = endpoint(src), endpoint(dst)
    extra = {"proto": proto, "action": "deny"}
    if acl:
        extra["acl"] = acl
    return None, sip, sport, dip, dport, extra


def _x_asa_login(msg: str) -> Extracted | None:
    m = _RE_ASA_LOGIN.search(msg)
    if m is None:
        return None
    result, src, dst, user = m.groups()
    (sip, sport), (dip, _) = endpoint(src), endpoint(dst)
    service = dst.rpartition("/")[2]
    return user_or_none(user), sip, sport, dip, None, {"result": result, "service": service}


def _x_asa_exec(msg: str) -> Extracted | None:
    m = _RE_ASA_EXEC.search(msg)
    if m is None:
        return None
    return user_or_none(m.group(1)), ip_or_none(m.group(2)), None, None, None, {"command": m.group(3)}


def _x_asa_aaa(msg: str) -> Extracted | None:
    u = _RE_ASA_AAA.search(msg)
    a = _RE_ASA_USER_IP.search(msg)
    if u is None and a is None:
        return None
    return user_or_none(u.group(1) if u else None), ip_or_none(a.group(1) if a else None), None, None, None, None


def _x_asa_uname(msg: str) -> Extracted | None:
    u = _RE_ASA_UNAME.search(msg)
    a = _RE_ASA_IP_ADDRESS.search(msg)
    if u is None:
        return None
    return user_or_none(u.group(1)), ip_or_none(a.group(1) if a else None), None, None, None, None


def _x_asa_group_user(msg: str) -> Extracted | None:
    m = _RE_ASA_GROUP_USER.search(msg)
    return None if m is None else (user_or_none(m.group(1)), ip_or_none(m.group(2)), None, None, None, None)


def _x_sshd(msg: str) -> Extracted | None:
    m = _RE_SSHD.search(msg)
    if m is not None:
        result, method, user, src, sport = m.groups()
        return (user_or_none(user), ip_or_none(src), port_or_none(sport), None, None,
                {"auth_result": result.lower(), "auth_method": method})
    m = _RE_SSHD_INVALID.search(msg)
    if m is not None:
        return user_or_none(m.group(1)), ip_or_none(m.group(2)), port_or_none(m.group(3)), None, None, None
    m = _RE_SSHD_CLOSED.search(msg)
    if m is not None:
        return user_or_none(m.group(1)), ip_or_none(m.group(2)), port_or_none(m.group(3)), None, None, None
    return _x_pam(msg)


def _x_pam(msg: str) -> Extracted | None:
    m = _RE_PAM_SESSION.search(msg)
    if m is not None:
        return user_or_none(m.group(2)), None, None, None, None, {"session": m.group(1)}
    m = _RE_PAM_FAILURE.search(msg)
    if m is not None:
        return user_or_none(m.group(2)), ip_or_none(m.group(1)), None, None, None, {"auth_result": "failure"}
    return None


def _x_su(msg: str) -> Extracted | None:
    """su: the acting user is the one after 'by'; the account switched to is kept as target_user."""
    m = _RE_PAM_SESSION.search(msg)
    if m is None:
        return _x_pam(msg)
    target, actor = m.group(2), m.group(3)
    return user_or_none(actor) or user_or_none(target), None, None, None, None, {"target_user": target}


def _x_sudo(msg: str) -> Extracted | None:
    m = _RE_SUDO.search(msg)
    if m is None:
        return _x_pam(msg)
    return user_or_none(m.group(1)), None, None, None, None, {"target_user": m.group(2), "command": m.group(3)}


_BY_MNEMONIC: dict[str, Extractor] = {
    "LOGIN_SUCCESS": _x_login, "LOGIN_FAILED": _x_login, "CONFIG_I": _x_config, "VSHD_SYSLOG_CONFIG_I": _x_config,
    "CFGLOG_LOGGEDCMD": _x_cfglog, "LOGOUT": _x_logout, "TTY_EXPIRE_TIMER": _x_tty_expire,
    "BADAUTH": _x_from_to, "SIGNATURE": _x_ips, "DROP_PKT": _x_fw_drop, "SESS_AUDIT_TRAIL": _x_fw_audit,
    "SYSTEM_MSG": _x_sshd, "DB_COMMIT": _x_quoted_user,
}
_ASA_FACILITIES = frozenset({"ASA", "FTD", "PIX", "FWSM"})
_BY_ASA_ID: dict[str, Extractor] = {
    "302013": _x_asa_built, "302015": _x_asa_built, "302014": _x_asa_teardown, "302016": _x_asa_teardown,
    "106001": _x_from_to, "106006": _x_from_to, "106007": _x_from_to, "106015": _x_from_to,
    "710003": _x_from_to, "710005": _x_from_to, "106014": _x_asa_src_dst, "106023": _x_asa_src_dst,
    "106100": _x_acl, "605004": _x_asa_login, "605005": _x_asa_login, "111008": _x_asa_exec,
    "111009": _x_asa_exec, "111010": _x_asa_exec, "113004": _x_asa_aaa, "113005": _x_asa_aaa,
    "113012": _x_asa_aaa, "113015": _x_asa_aaa, "611101": _x_asa_uname, "611102": _x_asa_uname,
    "502103": _x_asa_uname, "716001": _x_asa_group_user, "716002": _x_asa_group_user,
    "722022": _x_asa_group_user, "722023": _x_asa_group_user, "722051": _x_asa_group_user,
    "113039": _x_asa_group_user,
}
_BY_APP: dict[str, Extractor] = {"sshd": _x_sshd, "sshd-session": _x_sshd, "su": _x_su, "sudo": _x_sudo,
                                 "login": _x_pam}


def extractor_for(fac: str | None, mn: str | None, app: str | None) -> Extractor | None:
    """Which message text extraction applies (by Cisco mnemonic, ASA message id, or program name)."""
    if fac is not None and mn is not None:
        if fac in _ASA_FACILITIES:
            return _BY_ASA_ID.get(mn)
        if "ACCESSLOG" in mn:
            return _x_acl
        found = _BY_MNEMONIC.get(mn)
        if found is not None:
            return found
        if fac == "SSH" or fac.startswith(("SECURITY", "MGBL-CONFIG")):
            return _x_quoted_user
        return None
    return _BY_APP.get(app) if app is not None else None


# --- timestamps --------------------------------------------------------------------------------------
_YEAR_WARNINGS = {
    "year_from_option": "timestamps without a year: year taken from the --year option",
    "year_from_file_content": "timestamps without a year: year taken from an earlier full date in the file",
    "year_from_file_name": "timestamps without a year: year taken from the file name",
    "year_from_file_mtime": "timestamps without a year: year taken from the file's modification time",
    "year_from_clock": "timestamps without a year: year taken from today's date (no other clue)",
    "year_from_header": "timestamps without a year: year taken from a full date in a header of the same line",
    "year_from_message": "timestamps without a year: year taken from a full date in the message of the same line",
}


class TimeResolver:
    """Turns the timestamp texts of one file into UTC microseconds and says how (`ts_resolution`).

    Each kind of assumption is reported once per file through ctx.warn (the row says it for every line)."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.years = YearResolver(ctx.options.year, ctx.source.display, ctx.source.mtime)
        self.zone: tzinfo = ctx.options.zone
        self.zone_name = ctx.options.tz or "UTC"
        given = ctx.options.tz is not None
        self.tz_how = "tz_from_option" if given else "tz_assumed_utc"
        self.unknown_how = "tz_unknown_label_from_option" if given else "tz_unknown_label_assumed_utc"
        self._hours: dict[tuple[Any, ...], int] = {}
        self._labels: dict[str, tuple[tzinfo, str | None]] = {}
        self._hows: dict[tuple[str | None, str | None], str] = {}
        self._warned: set[str] = set()
        self._last_resolved: tuple[int, tuple[int, str]] | None = None

    def full_date(self, year: int, month: int) -> None:
        self.years.saw_full_date(year, month)
        self._last_resolved = None

    def resolve_year(self, month: int) -> tuple[int, str]:
        """YearResolver.resolve, skipped while the month and the file's context do not change."""
        last = self._last_resolved
        if last is not None and last[0] == month:
            return last[1]
        got = self.years.resolve(month)
        self._last_resolved = (month, got)
        return got

    def warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.ctx.warn(message)

    def how(self, year_how: str | None, tz_how: str | None) -> str:
        """The ts_resolution text for a pair of assumptions (the first time: tell the manifest)."""
        key = (year_how, tz_how)
        found = self._hows.get(key)
        if found is None:
            if year_how is not None:
                self.warn_once(_YEAR_WARNINGS.get(year_how, year_how))
            if tz_how == self.tz_how:
                self.warn_once(f"timestamps without a time zone: taken as {self.zone_name}"
                               + (" (--tz)" if self.ctx.options.tz else " (no --tz given)"))
            found = self._hows[key] = "+".join(h for h in key if h) or "exact"
        return found

    def label_zone(self, label: str) -> tuple[tzinfo, str | None]:
        """(zone, assumption) for a zone label in a timestamp; unknown labels take the --tz zone."""
        found = self._labels.get(label)
        if found is None:
            tz = zone_offset(label)
            if tz is None:
                self.warn_once(f"unknown time zone labels in timestamps (e.g. {label[:8]!r}): "
                               f"taken as {self.zone_name}")
                found = (self.zone, self.unknown_how)
            else:
                if label.upper() in AMBIGUOUS_ZONES:
                    self.warn_once("ambiguous zone abbreviations read as BST/IST=UTC+01:00, CST=UTC-06:00, "
                                   "AST=UTC-04:00")
                found = (tz, None)
            if len(self._labels) < 1000:  # hostile input cannot grow this without bound
                self._labels[label] = found
        return found

    def local_us(self, year: int, month: int, day: str, hour: str, minute: str, second: str,
                 frac: str | None, tz: tzinfo) -> int | None:
        """Microseconds of a wall-clock time in `tz`; the zone offset is looked up once per hour."""
        key = (year, month, day, hour, tz)
        base = self._hours.get(key)
        if base is None:
            try:
                base = dt_to_us(datetime(year, month, int(day), int(hour), tzinfo=tz))
            except (ValueError, OverflowError):
                self.warn_once("impossible dates or times (e.g. Feb 30, 25:00): ts is null, ts_text kept")
                return None
            if len(self._hours) > 50_000:
                self._hours.clear()
            self._hours[key] = base
        mi, ss = int(minute), int(second)
        if mi > 59 or ss > 60:
            self.warn_once("impossible dates or times (e.g. Feb 30, 25:00): ts is null, ts_text kept")
            return None
        us = base + (mi * 60 + ss) * 1_000_000
        if frac:
            us += int((frac[1:] + "00000")[:6])
        return us

    def clock(self, m: re.Match[str], label: str | None = None,
              anchor: Anchor | None = None) -> tuple[int | None, str]:
        """A `_CLOCK` match (Cisco or BSD) and its zone label: what the text lacks is resolved and recorded."""
        y1, mon, day, y2, hh, mi, ss, frac = m.group("y1", "mon", "day", "y2", "hh", "mi", "ss", "frac")
        month = _MONTH_NUMBER[mon]
        y = y1 or y2
        year_how: str | None = None
        if y is not None:
            year = int(y)
            self.full_date(year, month)
        elif anchor is not None:  # a full date elsewhere on the line, across a year boundary too
            year = anchor[0] + (-1 if month - anchor[1] > 6 else 1 if anchor[1] - month > 6 else 0)
            year_how = anchor[2]
        else:
            year, year_how = self.resolve_year(month)
        if label is None:
            tz, tz_how = self.zone, self.tz_how
        else:
            tz, tz_how = self.label_zone(label)
        us = self.local_us(year, month, day, hh, mi, ss, frac, tz)
        return (us, self.how(year_how, tz_how)) if us is not None else (None, "invalid")

    def iso(self, text: str) -> tuple[int | None, str, Anchor | None]:
        """An RFC 3339 time: (us, how, (year, month) anchor for year-less times on the same line)."""
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            self.warn_once("impossible dates or times (e.g. Feb 30, 25:00): ts is null, ts_text kept")
            return None, "invalid", None
        self.full_date(dt.year, dt.month)
        how = "exact"
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.zone)
            how = self.how(None, self.tz_how)
        return dt_to_us(dt), how, (dt.year, dt.month, "year_from_header")

    def anchor(self, p: Parsed) -> Anchor | None:
        """A full date on the line besides the chosen clock: a relay's outer header, a login message's."""
        relay = p.relay
        if relay is not None:
            y = relay.group("y1") or relay.group("y2")
            if y is not None:
                return self._seen(int(y), _MONTH_NUMBER[relay.group("mon")], "year_from_header")
            iso = relay.group("iso")
            if iso:
                return self._seen(int(iso[:4]), int(iso[5:7]), "year_from_header")
        when = p.extra.get("login_time") if p.extra else None
        if when is not None:
            parts = when.split()
            return self._seen(int(parts[5]), _MONTH_NUMBER[parts[3]], "year_from_message")
        return None

    def _seen(self, year: int, month: int, how: str) -> Anchor:
        self.full_date(year, month)
        return year, month, how

    def login_time(self, text: str) -> tuple[int | None, str]:
        """`07:57:58 VIENNA Thu Jan 27 2022` from a Cisco login message (for lines with only an uptime)."""
        hms, label, _, mon, day, year = text.split()
        month = _MONTH_NUMBER[mon]
        self.full_date(int(year), month)
        tz, tz_how = self.label_zone(label)
        hh, mi, ss = hms.split(":")
        us = self.local_us(int(year), month, day, hh, mi, ss, None, tz)
        if us is None:
            return None, "invalid"
        return us, "from_message" + (f"+{tz_how}" if tz_how else "")


_MONTH_NUMBER = {m.capitalize(): n for m, n in MONTHS.items()}


# --- the reader --------------------------------------------------------------------------------------
class RowBuilder:
    """Parsed lines to row tuples in COLUMNS order: picks the timestamp, extracts users and addresses."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.times = TimeResolver(ctx)
        self._extractors: dict[tuple[str | None, str | None, str | None], Extractor | None] = {}

    def row(self, s: str, p: Parsed) -> tuple[Any, ...]:
        fac, mn, message = p.fac, p.mn, p.message
        user = src_ip = src_port = dst_ip = dst_port = None
        key = (fac, mn, p.app)
        extract = self._extractors.get(key, _UNSET)
        if extract is _UNSET:
            extract = self._extractor(key)
        if extract is not None and message:
            got = extract(message if len(message) <= EXTRACT_CHARS else message[:EXTRACT_CHARS])
            if got is not None:
                user, src_ip, src_port, dst_ip, dst_port, more = got
                if more:
                    if p.extra is None:
                        p.extra = more
                    else:
                        p.extra.update(more)
        seq = None
        if not p.cisco:
            ts, ts_text, how = self._header_time(p)
        else:
            n1, n2, task, node, clock = p.seq1, p.seq2, p.task, p.node, p.clock
            mark = clock.group("mark") if clock is not None else None
            ts, ts_text, how = self._cisco_time(p, clock, mark)
            if n1 is not None or n2 is not None:
                if n1 is not None and n2 is not None:
                    p.put("message_count", n1)
                n = n2 or n1 or ""
                if len(n) <= 18:
                    seq = int(n)
                else:
                    p.put("cisco_seq_text", n)
            if task:
                p.put("task", task)
            if node:
                p.put("node", node)
            if mark:
                p.put("clock", "unsynchronized" if mark == "*" else "sync_lost")
        pri, sev = p.pri, p.sev
        return (ts, p.host, user, src_ip, src_port, dst_ip, dst_port, message, p.fmt,
                None if pri is None else pri >> 3, None if pri is None else pri & 7, p.app, p.procid, p.msgid,
                p.sd, fac, None if sev is None else int(sev), mn, seq, ts_text, how, s, p.extra)

    def _extractor(self, key: tuple[str | None, str | None, str | None]) -> Extractor | None:
        if len(self._extractors) > 10_000:  # hostile input with endless distinct mnemonics
            self._extractors.clear()
        found = self._extractors[key] = extractor_for(*key)
        return found

    def _header_time(self, p: Parsed) -> tuple[int | None, str | None, str | None]:
        """No Cisco part with a clock: the (innermost) header's time, else a login message's time."""
        times = self.times
        anchor = times.anchor(p) if (p.relay is not None or p.extra is not None) else None
        if p.hdr_iso is not None:
            us, how, _ = times.iso(p.hdr_iso)
            return us, p.hdr_iso, how
        if p.hdr is not None:
            us, how = times.clock(p.hdr, None, anchor)
            return us, p.hdr.group("time"), how
        if anchor is not None and anchor[2] == "year_from_message":
            when = p.extra["login_time"]  # type: ignore[index]
            us, how = times.login_time(when)
            return us, when, how
        return (None, None, None) if p.fmt == "bare" else (None, None, "missing")

    def _cisco_time(self, p: Parsed, clock: re.Match[str] | None,
                    mark: str | None) -> tuple[int | None, str | None, str | None]:
        """The device's own clock unless it says it was never set ('*') and a header has a time; then
        the header's; then a login message's time; else the uptime (ts null)."""
        has_hdr = p.hdr is not None or p.hdr_iso is not None
        if clock is not None and (mark != "*" or not has_hdr):
            times = self.times
            anchor = None
            if p.hdr_iso is not None:
                _, _, anchor = times.iso(p.hdr_iso)
            elif p.relay is not None or p.extra is not None:
                anchor = times.anchor(p)
            if has_hdr:
                p.put("header_time", p.hdr_iso if p.hdr is None else p.hdr.group("time"))
            us, how = times.clock(clock, clock.group("zone"), anchor)
            return us, clock.group(), how
        up = p.up
        if up is not None:
            p.put("uptime", up)
        if clock is not None:
            p.put("device_time", clock.group())
        ts, ts_text, how = self._header_time(p)
        if ts_text is None and up is not None:
            self.times.warn_once("Cisco uptime stamps without a wall-clock time: ts is null "
                                 "(ts_resolution uptime_only)")
            return None, up, "uptime_only"
        return ts, ts_text, how


_UNSET: Any = object()


def sniff(head: bytes, name: str) -> bool:
    """Most of the first non-empty lines (>= 80% of up to 20) must parse as one of the syslog forms."""
    lines = head_text(head).split("\n")
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines.pop()  # cut at the 64 KiB boundary
    sample = []
    for line in lines:
        line = line.strip("\r\x00")
        if line.strip():
            sample.append(line[:4096])
            if len(sample) >= SNIFF_LINES:
                break
    if not sample:
        return False
    good = sum(1 for line in sample if parse_line(line).fmt != "bare")
    return good >= SNIFF_SHARE * len(sample)


def _broken(raw: bytes) -> tuple[bytes | None, str | None]:
    """(line to keep, reject reason) for a line holding NUL bytes: NUL padding (left by a crash in a
    preallocated log file) is cut; a line that is then empty, or still >= 25% control bytes, is binary."""
    kept = raw.strip(b"\x00")
    if not kept.strip():
        return None, "line of NUL bytes"
    controls = len(kept) - len(kept.translate(None, CONTROL_BYTES))
    if controls * 4 >= len(kept):
        return None, "binary data (NUL or control bytes)"
    return kept, None


def read(ctx: ReadContext) -> Batches:
    builder = RowBuilder(ctx)
    batch_rows = ctx.options.batch_rows
    rows: list[tuple[Any, ...]] = []
    records: list[int] = []
    for lineno, raw in iter_lines(ctx.source.path, ctx):
        if not raw or raw.isspace():
            continue  # blank lines are not records
        nul_cut = 0
        if b"\x00" in raw:
            kept, reason = _broken(raw)
            if kept is None:
                ctx.reject(f"line {lineno}", reason or "binary data", raw)
                continue
            nul_cut, raw = len(raw) - len(kept), kept
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            s = decode(raw, ctx)  # replaces the bad bytes and notes it in the manifest
        try:
            p = parse_line(s)
            if nul_cut:
                p.put("nul_bytes_removed", str(nul_cut))
            row = builder.row(s, p)
        except Exception as exc:  # a parser bug must not lose the line: keep it bare and say so
            builder.times.warn_once("lines the syslog parser failed on were kept as 'bare' records")
            row = _bare(s, {"parse_error": type(exc).__name__})
        rows.append(row)
        records.append(lineno)
        if len(rows) >= batch_rows:
            yield TABLE, _batch(rows, records, ctx)
            rows, records = [], []
    if rows:
        yield TABLE, _batch(rows, records, ctx)


def _bare(s: str, extra: dict[str, str]) -> tuple[Any, ...]:
    row: list[Any] = [None] * len(COLUMNS)
    row[COLUMNS.index("message")] = s
    row[COLUMNS.index("syslog_format")] = "bare"
    row[COLUMNS.index("raw")] = s
    row[COLUMNS.index("extra")] = extra
    return tuple(row)


def _batch(rows: list[tuple[Any, ...]], records: list[int], ctx: ReadContext) -> pa.RecordBatch:
    n = len(rows)
    columns: dict[str, Any] = dict(zip(COLUMNS, zip(*rows, strict=True), strict=True))
    columns["family"] = pa.repeat("syslog", n)
    return make_batch(SYSLOG_SCHEMA, columns, n, ctx, records)


READER = Reader(
    name="syslog",
    family="syslog",
    description="Syslog text: RFC 3164, RFC 5424, Cisco IOS/IOS-XE/NX-OS/IOS-XR and ASA/FTD",
    sniff=sniff,
    read=read,
)

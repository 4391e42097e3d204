"""Syslog headers: `<PRI>`, a relay prefix (Kiwi), RFC 5424 (with STRUCTURED-DATA) and BSD (RFC 3164
and its year-first, year-after-day and ISO variants, nested once by a relay), then the BSD tag; the
Cisco part, at the start of the line or of the header's message, is read by cisco.py."""

from __future__ import annotations

import re

from breachscope.ingest.syslog.cisco import cisco_part, mnemonic_anywhere
from breachscope.ingest.syslog.grammar import CLOCK, MNEMONIC_WINDOW, Parsed

_PRI = re.compile(r"<(\d{1,3})>")
_BSD = re.compile(
    r"(?P<time>" + CLOCK
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
        if (host is None or host.endswith(":")) and cisco_part(rest, p):  # or Cisco's `time[ zone]: `
            p.fmt = "cisco"
            return p
        if m is not None:
            body = _bsd(m, m.group("host"), rest, p)  # (the host group is not optional: set when m is)
    if body is None:
        if p.pri is not None:  # `<PRI>text`: syslog without a header
            p.fmt = "rfc3164"
            body = rest
        else:
            if not mnemonic_anywhere(rest, p):
                p.message = s
            return p
    if (body[:1] in _CISCO_FIRST or body.find("%", 0, MNEMONIC_WINDOW) >= 0) and (
            cisco_part(body, p) or mnemonic_anywhere(body, p)):
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

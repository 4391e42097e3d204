"""The Cisco part of a syslog line: `seq: host: *time zone: proc[pid]: %FAC-SEV-MNEMONIC: text`
(IOS, IOS-XE, NX-OS, IOS-XR, ASA/FTD), at the start of a line or of a header's message, and a
mnemonic found further into a line that no rule explains."""

from __future__ import annotations

import re

from breachscope.ingest.syslog.grammar import CLOCK, MNEMONIC, MNEMONIC_WINDOW, Parsed
from breachscope.ingest.syslog.times import zone_offset
from breachscope.ingest.timeparse import MONTHS

_MNEMONIC_AT = re.compile(MNEMONIC)
_CLOCK_ZONE = re.compile(CLOCK + r"(?: (?P<zone>[A-Za-z]{1,7}(?:[+-]\d{1,2}(?::?\d\d)?)?))?")
_UPTIME = re.compile(r"\d+y\d+w|\d+w\d+d|\d+d\d+h|\d{1,2}:\d\d:\d\d(?:\.\d+)?")  # 2y10w, 1w2d, 3d04h, 00:00:46
_HOSTNAME = re.compile(r"[A-Za-z0-9_][\w.-]{0,254}")
_PROCESS = re.compile(r"([A-Za-z_][\w.-]*)\[(\d+)\]")  # IOS-XR ipv4_acl_mgr[310]
_MNEMONIC_ANYWHERE = re.compile(r"(?:(?<=[\s:])|^)" + MNEMONIC)
_MONTH_NAMES = frozenset(m.capitalize() for m in MONTHS)


def cisco_part(text: str, p: Parsed) -> bool:
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


def mnemonic_anywhere(text: str, p: Parsed) -> bool:
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

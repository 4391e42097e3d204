"""Syslog line grammar shared by the header and Cisco parsers, and `Parsed`, what a parse yields."""

from __future__ import annotations

import re

MNEMONIC_WINDOW = 512  # a `%FAC-SEV-MNEMONIC:` further into a line than this is message text

MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# [*.][yyyy ]Mmm dd [yyyy ]hh:mm:ss[.fff]; '*' = clock never set, '.' = clock lost its sync (Cisco)
CLOCK = (r"(?P<mark>[*.])?(?:(?P<y1>\d{4}) +)?(?P<mon>" + MON + r") +(?P<day>\d{1,2}) +"
         r"(?:(?P<y2>\d{4}) +)?(?P<hh>\d{1,2}):(?P<mi>\d\d):(?P<ss>\d\d)(?P<frac>\.\d{1,9})?")
MNEMONIC = r"%(?P<fac>[A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*?)-(?P<sev>[0-7])-(?P<mn>[A-Z0-9_]+) ?: ?"


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

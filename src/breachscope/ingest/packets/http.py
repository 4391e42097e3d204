"""HTTP/1.x request and response heads to the fields of Zeek's http.log, from the TCP segment that starts
them (a head cut by the segment or the snap length gives what it holds). Bounded, never raises; text
outside printable ASCII is written `\\xNN`. The body is never looked at, nor is anything evaluated.
"""

from __future__ import annotations

import base64
import binascii

from breachscope.ingest.packets.dns import escape

MAX_HEAD = 16 << 10
MAX_FIELD = 4 << 10  # characters kept of a request line part or header value

METHODS = frozenset({
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"TRACE", b"PATCH", b"PROPFIND",
    b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"SEARCH", b"REPORT", b"SUBSCRIBE",
    b"UNSUBSCRIBE", b"NOTIFY", b"MKACTIVITY", b"CHECKOUT", b"MERGE", b"M-SEARCH", b"PURGE", b"BPROPFIND",
    b"RPC_IN_DATA", b"RPC_OUT_DATA",
})
#: request headers kept, by lower-case name -> http.log field
_HEADERS = {b"host": "host", b"user-agent": "user_agent", b"referer": "referrer", b"origin": "origin"}


def _text(raw: bytes) -> str:
    return escape(raw[:MAX_FIELD])


def looks_like_request(payload: bytes) -> bool:
    sp = payload.find(b" ", 0, 16)
    return sp > 0 and payload[:sp] in METHODS


def _lines(payload: bytes) -> list[bytes]:
    head = payload[:MAX_HEAD]
    end = head.find(b"\r\n\r\n")
    if end < 0:
        end = head.find(b"\n\n")
    if end >= 0:
        head = head[:end]
    return [line.rstrip(b"\r") for line in head.split(b"\n")]


def request(payload: bytes) -> dict[str, object] | None:
    """http.log fields of the request head at the start of `payload` (None: not a request)."""
    if not looks_like_request(payload):
        return None
    lines = _lines(payload)
    parts = lines[0].split(b" ")
    row: dict[str, object] = {"method": _text(parts[0])}
    if len(parts) >= 2:
        row["uri"] = _text(parts[1])
    if len(parts) >= 3 and parts[-1].startswith(b"HTTP/"):
        row["version"] = _text(parts[-1][5:])
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower()
        field = _HEADERS.get(key)
        if field is not None and field not in row:
            row[field] = _text(value.strip())
        elif key == b"authorization":
            user = _basic_user(value.strip())
            if user is not None:
                row["username"] = user
    return row


def _basic_user(value: bytes) -> str | None:
    """The user name of `Authorization: Basic ...` (Zeek logs it; the password is never kept)."""
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(token.strip()[:MAX_FIELD], validate=False)
    except (binascii.Error, ValueError):
        return None
    return _text(decoded.partition(b":")[0])


def response(payload: bytes) -> tuple[int, str] | None:
    """(status code, reason) of the response head at the start of `payload`, or None."""
    if not payload.startswith(b"HTTP/"):
        return None
    line = _lines(payload[:1024])[0]
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit() or len(parts[1]) > 3:
        return None
    return int(parts[1]), _text(parts[2]) if len(parts) > 2 else ""

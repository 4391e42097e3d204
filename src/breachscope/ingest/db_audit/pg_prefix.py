"""The stderr log's `log_line_prefix`, whatever it is: the timestamp split off, then the tokens read one by
one (`[pid]`, `user@db`, `host(port)`, `key=value` lists, session id...) into `PrefixInfo`."""

from __future__ import annotations

import re

from breachscope.ingest.db_audit.common import is_ip
from breachscope.ingest.db_audit.pg_entry import ISO_IN_PREFIX

_PREFIX_KV = re.compile(r"(?<!\w)(\w+)=([^,\s]*)")
_SESSION_ID = re.compile(r"^[0-9a-f]{1,16}\.[0-9a-f]{1,16}$")
_HOST_PORT = re.compile(r"^(.+)\((\d{1,5})\)$")
_PID_TOKEN = re.compile(r"^\[(\d+)(?:-\d+)?\]:?$")

_KEY_NAMES = {
    "user": "user", "usr": "user", "u": "user", "username": "user", "db": "database", "database": "database",
    "dbname": "database", "d": "database", "app": "app", "application": "app", "application_name": "app",
    "a": "app", "client": "client", "host": "client", "remote": "client", "h": "client", "r": "client",
    "ip": "client", "client_addr": "client", "session": "session", "session_id": "session", "sess": "session",
    "c": "session", "pid": "pid", "p": "pid",
}
_UNKNOWN = ("[unknown]", "")


def split_prefix_ts(prefix: str) -> tuple[str | None, str]:
    """(timestamp text, rest of the prefix) of a log_line_prefix rendering."""
    n = len(prefix)
    if n >= 19 and prefix[4] == "-" and prefix[10] in " T" and prefix[13] == ":":
        end = 19
        if end < n and prefix[end] == ".":
            end += 1
            while end < n and prefix[end].isdigit():
                end += 1
        if end < n and prefix[end] in "+-Z":  # an ISO offset glued to the time (not PostgreSQL's own)
            k = prefix.find(" ", end)
            end = n if k < 0 else k
        elif end < n and prefix[end] == " ":
            k = prefix.find(" ", end + 1)
            k = n if k < 0 else k
            cand = prefix[end + 1:k]
            if (cand.isalpha() and cand.isupper() and len(cand) <= 6) or (
                    cand[:1] in ("+", "-") and cand[1:].replace(":", "").isdigit()):
                end = k
        return prefix[:end], prefix[end:]
    if n > 11 and prefix[10] == "." and prefix[:10].isdigit():  # %n: epoch with milliseconds
        k = prefix.find(" ")
        k = n if k < 0 else k
        return prefix[:k], prefix[k:]
    m = ISO_IN_PREFIX.search(prefix)
    if m:
        return m.group(0), prefix[: m.start()] + prefix[m.end():]
    return None, prefix


class PrefixInfo:
    """What a log_line_prefix rendering (without its timestamp) says about the backend."""

    __slots__ = ("app", "client", "database", "pid", "port", "session", "unparsed", "user")

    def __init__(self) -> None:
        self.user: str | None = None
        self.database: str | None = None
        self.pid: str | None = None
        self.session: str | None = None
        self.client: str | None = None
        self.port: int | None = None
        self.app: str | None = None
        self.unparsed: str | None = None


def _value(text: str) -> str | None:
    return None if text in _UNKNOWN else text


def _set_client(info: PrefixInfo, text: str) -> None:
    m = _HOST_PORT.match(text)
    if m:
        info.client, info.port = m.group(1), int(m.group(2))
    else:
        info.client = _value(text)


def parse_prefix(rest: str) -> PrefixInfo:
    """Read the tokens of a prefix: `[pid]`, `[pid-line]`, `user@db`, `host(port)`, `[local]`, session id,
    `key=value[,key=value]`; an unrecognised last token after user@db or the client is the application."""
    info = PrefixInfo()
    unparsed: list[str] = []
    seen_identity = False
    tokens = rest.split()
    for idx, token in enumerate(tokens):
        m = _PID_TOKEN.match(token)
        if m:
            if info.pid is None:
                info.pid = m.group(1)
            continue
        if "=" in token:
            kv = _PREFIX_KV.findall(token)
            if kv:
                for key, val in kv:
                    field = _KEY_NAMES.get(key.lower())
                    if field == "client":
                        _set_client(info, val)
                    elif field == "pid":
                        info.pid = val or None
                    elif field is not None:
                        setattr(info, field, _value(val))
                    else:
                        unparsed.append(f"{key}={val}")
                seen_identity = True
                continue
        if token == "[local]" or _HOST_PORT.match(token):
            _set_client(info, token)
            seen_identity = True
            continue
        if "@" in token and not token.startswith("@"):
            user, _, db = token.rpartition("@")
            info.user, info.database = _value(user), _value(db.rstrip(":"))
            seen_identity = True
            continue
        if _SESSION_ID.match(token):
            info.session = token
            continue
        if is_ip(token):
            info.client = token
            seen_identity = True
            continue
        if token.isdigit() and info.pid is None:
            info.pid = token
            continue
        if seen_identity and idx == len(tokens) - 1 and info.app is None:
            info.app = _value(token)
            continue
        if token not in _UNKNOWN:
            unparsed.append(token)
    if unparsed:
        info.unparsed = " ".join(unparsed)
    return info

"""Users and addresses named in syslog messages, by Cisco mnemonic, ASA message id or program name.

Each extractor reads the start of one message (the caller bounds its length) and returns the user,
source and destination address and port it names, plus extra fields; None when it names none.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache

from breachscope.ingest.syslog.grammar import MON

EXTRACT_CHARS = 4096  # extraction looks at the start of the message only (bounded work)

# --- addresses, ports, users -------------------------------------------------------------------------
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
_NOT_ADDRESS = str.maketrans("", "", "0123456789abcdefABCDEF.:")  # what is left of an address: nothing


@lru_cache(maxsize=1 << 16)
def ip_or_none(text: str | None) -> str | None:
    """The address in normal form when `text` is an IPv4/IPv6 address, else None."""
    if not text or len(text) > 45:
        return None
    if _IPV4.fullmatch(text):  # a dotted quad without leading zeros is its own normal form
        return text
    if "%" not in text and text.translate(_NOT_ADDRESS):  # a character that no address (but a scope) has
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


# Extraction result: user, src_ip, src_port, dst_ip, dst_port, extra fields
Extracted = tuple[str | None, str | None, int | None, str | None, int | None, dict[str, str] | None]
Extractor = Callable[[str], Extracted | None]

_RE_LOGIN = re.compile(r"\[user: ?([^\]]*)\] ?\[Source: ?([^\]]*)\](?: ?\[localport: ?(\d+)\])?"
                       r"(?: ?\[Reason: ?([^\]]*)\])?(?:.*? at (\d{1,2}:\d\d:\d\d \S+ \w{3} " + MON
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

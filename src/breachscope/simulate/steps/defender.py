"""The defenders' actions: access to a host restricted at a router (ACL), a host cut off (switch port shut),
the announcement."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import Attack, StoryInputs, cisco_at
from breachscope.simulate.attack_file import AclRestriction, Announcement, IsolateHost


def _login(w: Attack, t: int, router: str, tag: str) -> None:
    w.s.ios(t, router, "SEC_LOGIN-5-LOGIN_SUCCESS", f"Login Success [user: {w.netadmin}] [Source: {w.jump_ip}] "
            f"[localport: 22] at {cisco_at(t)}", tag)


def _command(w: Attack, t: int, router: str, command: str, tag: str) -> None:
    w.s.ios(t, router, "PARSER-5-CFGLOG_LOGGEDCMD", f"User:{w.netadmin}  logged command:{command}", tag)


def _configured(w: Attack, t: int, router: str, tag: str) -> None:
    w.s.ios(t, router, "SYS-5-CONFIG_I", f"Configured from console by {w.netadmin} on vty0 ({w.jump_ip})", tag)


def acl_restriction(w: Attack, p: AclRestriction, _: StoryInputs) -> None:
    r, a = w.host(p.router).name, w.host(p.host)
    w.note(w.jst(p.noticed_at), "detection", f"security team notices suspicious communications to {w.called(a)}",
           "defender")
    t = w.at(p.at)
    tag = f"response:restrict_{p.host}"
    _login(w, t, r, tag)
    if p.block == "internal_source":
        if p.source is None:
            raise ValueError("acl_restriction: block internal_source needs a source")
        rule = f"10 deny ip host {w.host(p.source).ip} host {a.ip} log"
    else:
        rule = f"10 deny tcp any host {a.ip} eq {w.spec.external.published_port} log"
    cmds = [f"ip access-list extended {w.entry_acl}", rule, "20 permit ip any any",
            "interface GigabitEthernet0/0/2", f"ip access-group {w.entry_acl} in"]
    for i, c in enumerate(cmds):
        _command(w, t + (20 + 9 * i) * clock.US, r, c, tag)
    _configured(w, t + 80 * clock.US, r, tag)
    w.note(t, "restriction", f"access to the entry point of {w.called(a)} restricted on {r} (ACL {w.entry_acl})",
           "defender")


def isolate_host(w: Attack, p: IsolateHost, _: StoryInputs) -> None:
    r, b = w.host(p.router).name, w.host(p.host)
    w.note(w.jst(p.noticed_at), "detection", f"unauthorized access involving {w.called(b)} found", "defender")
    t = w.at(p.at)
    tag = f"response:isolate_{p.host}"
    _login(w, t, r, tag)
    day = p.at[:10]
    for i, c in enumerate(["interface GigabitEthernet1/0/15", f"description {b.name} (isolated {day})", "shutdown"]):
        _command(w, t + (15 + 7 * i) * clock.US, r, c, tag)
    down = t + 37 * clock.US
    w.s.ios(down, r, "LINK-5-CHANGED", "Interface GigabitEthernet1/0/15, changed state to administratively down", tag)
    w.s.ios(down + clock.US, r, "LINEPROTO-5-UPDOWN", "Line protocol on Interface GigabitEthernet1/0/15, changed "
            "state to down", tag)
    _configured(w, down + 40 * clock.US, r, tag)
    w.out.silence[b.name] = down
    w.contained(down)
    w.note(down, "isolation", f"{w.called(b)} cut off the network", "defender")


def announcement(w: Attack, p: Announcement, _: StoryInputs) -> None:
    w.note(w.jst(p.at), "announcement", p.text, "defender")

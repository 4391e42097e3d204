"""Discovery on a host, ending with a search for passwords in files (credential access)."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, Attack, StoryInputs
from breachscope.simulate.attack_file import Discovery


def discovery(w: Attack, p: Discovery, _: StoryInputs) -> None:
    host = w.host(p.host).name
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    cmds = ["whoami /all", "ipconfig /all", "net group \"Domain Admins\" /domain", f"nltest /dclist:{w.dom.lower()}",
            f"net view \\\\{w.host('db').name.upper()}", f"findstr /si \"Password\" {p.search}"]
    t = w.at(p.at)
    for i, c in enumerate(cmds):
        tag = "attack:credential_access" if c.startswith("findstr") else "attack:discovery"
        w.proc(t + i * 47 * clock.US, host, IMAGE["cmd"], f"cmd.exe /c {c}", parent, user, tag)
    w.note(t, "discovery", f"discovery commands on {host}; credentials of {w.admin} found in a configuration file")

"""The syslog of the Linux servers (the database host), as their rsyslog forwards it to the collector: one
file per host and day. Only the story writes there (sshd and systemd-logind of SSH sessions); the hosts'
own daily lines (cron, systemd, the administrators' sessions) are not simulated yet, so the group draws no
noise records (share 0: the other groups' volumes stay what they were)."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.noise.devices import _daily
from breachscope.simulate.streams import Chunk, Context, Output


class LinuxSyslog:
    name = "linux"
    share = 0.0
    profile = "server"

    def __init__(self, ctx: Context) -> None:
        self.hosts = [h.name for h in ctx.net.hosts.values() if h.os == "linux"]

    def outputs(self) -> list[Output]:
        return [Output(f"syslog.{h}", _daily(f"syslog/{h}/", ".log")) for h in self.hosts]

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        return {}

"""The administrators' interactive sessions (RDP to the Windows servers, SSH to the Linux hosts and the routers,
the backup job's SSH to the Linux hosts, mistyped passwords), drawn from (seed, day) alone: Zeek, the routers
and the Linux hosts are written by different processes and slices, and each writes its side of the same
sessions (network.noise in the scenario file; docs/scenarios.md, "Noise")."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.network import Network
from breachscope.simulate.noise.common import Hosts, choose, ports
from breachscope.simulate.rng import rng_for
from breachscope.simulate.text import random_b62

KINDS = ("rdp", "ssh_linux", "ssh_router", "ssh_backup", "ssh_failed")
RDP, SSH_LINUX, SSH_ROUTER, SSH_BACKUP, SSH_FAILED = range(len(KINDS))
RATE = 0.01  # office-hours sessions per noise record (--events), spread over the workdays
WEIGHTS = (45, 25, 20, 0, 10)  # the office-hours kinds (the backup job runs once a night per Linux host)
MEDIAN_S = (1200.0, 360.0, 240.0, 150.0, 4.0)
BACKUP_AT = (1, 10)  # local time, after midnight
BACKUP_ACCOUNT = "backup"  # the local account of the backup job on the Linux hosts


@dataclass(frozen=True)
class Sessions:
    """Sessions in start order; `account` indexes `Plan.accounts`."""

    kind: np.ndarray
    start: np.ndarray  # epoch µs
    end: np.ndarray
    src: np.ndarray  # host index (Hosts)
    dst: np.ndarray
    account: np.ndarray
    sport: np.ndarray
    uid: pa.Array  # the Zeek connection uid
    up: np.ndarray  # bytes from the client
    down: np.ndarray
    pid: np.ndarray  # sshd's process on the Linux host
    session: np.ndarray  # systemd-logind's session number
    logon: np.ndarray  # the Windows logon id of an RDP session (its 4624, 4647 and 4634 on the server)

    def take(self, sel: np.ndarray) -> Sessions:
        return Sessions(self.kind[sel], self.start[sel], self.end[sel], self.src[sel], self.dst[sel],
                        self.account[sel], self.sport[sel], self.uid.take(pa.array(sel, pa.int64())), self.up[sel],
                        self.down[sel], self.pid[sel], self.session[sel], self.logon[sel])


class Plan:
    """Who logs on where and when, day by day; the same in every process (built from the seed)."""

    def __init__(self, net: Network, seed: int, events: int) -> None:
        self.h = Hosts(net)
        self.seed = seed
        self.jump = self.h.index[net.host("jump").name]
        self.backup = self.h.index[net.host("backup").name]
        # RDP to the member servers (the domain is administered from the jump host's RSAT, not on the DCs)
        self.windows = np.array([self.h.index[s.name] for s in net.servers
                                 if s.name != net.host("jump").name and s.role != "dc"])
        self.linux = np.array([i for i, x in enumerate(self.h.list) if x.os == "linux"], dtype=np.int64)
        self.routers = np.array([self.h.index[r.name] for r in net.with_role("router")], dtype=np.int64)
        server_admins = [a for a in net.spec.accounts.admins if a != net.network_admin] or [net.network_admin]
        others = net.other_admins
        router_admins = [net.network_admin, others[-1] if others else net.network_admin]  # as in Routers
        self.accounts = pa.array([*server_admins, *router_admins, BACKUP_ACCOUNT])
        self.n_server_admins = len(server_admins)
        workdays = sum(clock.is_workday(clock.day_of(clock.day_start(d))) for d in range(clock.DAYS))
        self.per_workday = events * RATE / max(1, workdays)
        self._day = lru_cache(maxsize=8)(self._draw)

    def between(self, lo: int, hi: int) -> Sessions:
        """The sessions that may have a record in [lo, hi): those started that day or the day before."""
        first = max(0, clock.day_index(lo) - 1)
        last = min(clock.DAYS - 1, clock.day_index(hi - 1))
        days = [self._day(d) for d in range(first, last + 1)]
        return _concat(days)

    def _draw(self, day: int) -> Sessions:
        rng = rng_for(self.seed, "noise", "admin sessions", day)
        base = clock.day_start(day)
        workday = clock.is_workday(clock.day_of(base))
        n = int(rng.poisson(self.per_workday * (1.0 if workday else 0.08)))
        w = np.array(WEIGHTS, dtype=float)
        if not len(self.linux):
            w[[SSH_LINUX, SSH_FAILED]] = 0
        if not len(self.routers):
            w[SSH_ROUTER] = 0
        kind = choose(rng, n, w)
        start = clock.on_day(day, 9) + (rng.random(n) * 9.5 * clock.HOUR).astype(np.int64)
        dst = np.select([kind == RDP, kind == SSH_ROUTER],
                        [self.windows[rng.integers(0, len(self.windows), n)],
                         self.routers[rng.integers(0, max(1, len(self.routers)), n) % max(1, len(self.routers))]
                         if len(self.routers) else np.zeros(n, np.int64)],
                        self.linux[rng.integers(0, max(1, len(self.linux)), n) % max(1, len(self.linux))]
                        if len(self.linux) else np.zeros(n, np.int64))
        account = np.where(kind == SSH_ROUTER, self.n_server_admins + (rng.random(n) < 0.3),
                           rng.integers(0, self.n_server_admins, n))
        src = np.full(n, self.jump)
        # the backup job: one SSH session a night to each Linux host (rsync of the configuration and logs)
        k = len(self.linux)
        kind = np.r_[kind, np.full(k, SSH_BACKUP)]
        backups = clock.on_day(day, *BACKUP_AT) + rng.integers(0, 90 * clock.US, k) + np.arange(k) * 4 * clock.MINUTE
        start = np.r_[start, backups]
        dst = np.r_[dst, self.linux]
        account = np.r_[account, np.full(k, len(self.accounts) - 1)]
        src = np.r_[src, np.full(k, self.backup)]
        m = len(kind)
        dur = np.maximum(1.0, rng.lognormal(np.log(np.array(MEDIAN_S)[kind]), 0.8))
        end = start + (dur * clock.US).astype(np.int64)
        order = np.argsort(start, kind="stable")
        up = (rng.lognormal(np.log(np.where(kind == RDP, 2e6, 2e4)), 0.9)).astype(np.int64) + 3000
        down = (rng.lognormal(np.log(np.where(kind == RDP, 9e6, 9e4)), 0.9)).astype(np.int64) + 3000
        # the logon ids from a stream of their own: the other draws stay what they were
        logon = rng_for(self.seed, "noise", "admin logon ids", day).integers(0x1000000, 0x10000000, m)
        s = Sessions(kind.astype(np.int64), start, end, src, dst, account.astype(np.int64), ports(rng, m),
                     random_b62(rng, m, 17, b"C"), up, down, rng.integers(2000, 400_000, m),
                     rng.integers(30, 4000, m), logon)
        return s.take(order)


def _concat(days: list[Sessions]) -> Sessions:
    if len(days) == 1:
        return days[0]
    cols = {f: [getattr(d, f) for d in days] for f in Sessions.__dataclass_fields__}
    return Sessions(**{f: (pa.concat_arrays(v) if f == "uid" else np.concatenate(v)) for f, v in cols.items()})

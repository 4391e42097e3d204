"""The syslog of the Linux servers (the database host, RHEL 9), as their rsyslog forwards it to the collector:
one file per host and day. The story writes there (sshd and systemd-logind of the attacker's SSH session);
with `network.noise.linux_syslog` the hosts' own day is written too: cron (cronie) and its PAM sessions,
systemd timers (sysstat, logrotate, dnf-makecache, tmpfiles, fstrim), chrony, and the sessions of
noise/sessions.py that end on a Linux host (administrators with sudo, the nightly backup job, mistyped
passwords), whose Zeek side the Zeek group writes. Off (the default), the group draws no noise records
(share 0: the other groups' volumes stay what they were)."""

from __future__ import annotations

import base64
import hashlib
import zlib

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.formats import syslog as S
from breachscope.simulate.noise.common import Hosts, audible, choose
from breachscope.simulate.noise.devices import _daily
from breachscope.simulate.noise.sessions import SSH_BACKUP, SSH_FAILED, SSH_LINUX, Plan, Sessions
from breachscope.simulate.scenario_file import NetworkSpec
from breachscope.simulate.streams import Chunk, Context, Output
from breachscope.simulate.text import join, pick, strs

SHARE_ON = 0.05
UNIT = ("Starting {u}.service - {d}...", "{u}.service: Deactivated successfully.", "Finished {u}.service - {d}.")
#: the hosts' own periodic work: (weight, period µs (0: any time), offset in the period, lines (µs after, program,
#: text)); a periodic event happens once per period (draws of the same period are one event)
EVENTS: tuple[tuple[float, int, int, tuple[tuple[int, str, str], ...]], ...] = (
    (30, clock.HOUR, 60 * clock.US, (
        (0, "CROND", "pam_unix(crond:session): session opened for user root(uid=0) by (uid=0)"),
        (2_000, "CROND", "(root) CMD (run-parts /etc/cron.hourly)"),
        (380_000, "CROND", "(root) CMDEND (run-parts /etc/cron.hourly)"),
        (381_000, "CROND", "pam_unix(crond:session): session closed for user root"))),
    *((w, p, off, tuple((dt, "systemd", t.format(u=u, d=d)) for dt, t in zip((0, 900_000, 901_000), UNIT,
                                                                              strict=True)))
      for w, p, off, u, d in (
          (40, 10 * clock.MINUTE, 0, "sysstat-collect", "system activity accounting tool"),
          (4, clock.DAY, 0, "logrotate", "Rotate log files"),
          (4, clock.DAY, 23 * clock.MINUTE, "systemd-tmpfiles-clean", "Cleanup of Temporary Directories"),
          (1, 7 * clock.DAY, 0, "fstrim", "Discard unused blocks on filesystems from /etc/fstab"),
          (4, clock.DAY, 4 * clock.HOUR + 17 * clock.MINUTE, "unbound-anchor", "update of the root trust anchor "
                                                                               "for DNSSEC validation in unbound"))),
    (12, clock.HOUR, 31 * clock.MINUTE, (
        (0, "systemd", "Starting dnf-makecache.service - dnf makecache..."),
        (2_400_000, "dnf", "Metadata cache refreshed recently."),
        (2_450_000, "systemd", "dnf-makecache.service: Deactivated successfully."),
        (2_451_000, "systemd", "Finished dnf-makecache.service - dnf makecache."))),
    (5, 0, 0, ((0, "chronyd", "Selected source {ntp} ({ntp})"),)),
)
SUDO = ("/usr/bin/systemctl status {db}", "/usr/bin/journalctl -u {db} --since today", "/usr/bin/dnf check-update",
        "/usr/bin/df -h", "/usr/bin/tail -n 200 /var/log/messages", "/usr/bin/systemctl restart chronyd")
DB_UNIT = {"postgresql": "postgresql", "mysql": "mysqld", "mariadb": "mariadb"}


def _stable(text: str, low: int, span: int) -> int:  # as steps/ssh.py: a host's logind pid, an account's uid
    return low + zlib.crc32(text.encode()) % span


class _Lines:
    """Lines of one slice, column by column."""

    def __init__(self) -> None:
        self.ts: list[np.ndarray] = []
        self.host: list[np.ndarray] = []
        self.text: list[pa.Array] = []

    def add(self, ts: np.ndarray, host: np.ndarray, program: str, pid: np.ndarray | str, text: pa.Array | str,
            names: pa.Array) -> None:
        if not len(ts):
            return
        pids = strs(pid) if isinstance(pid, np.ndarray) else pid
        self.ts.append(np.asarray(ts, dtype=np.int64))
        self.host.append(host)
        self.text.append(S.linux_lines(ts, pick(names, host), program, pids, text))


class LinuxSyslog:
    name = "linux"
    share = 0.0
    profile = "server"

    @staticmethod
    def share_for(spec: NetworkSpec) -> float:
        return SHARE_ON if spec.noise.linux_syslog else 0.0

    def __init__(self, ctx: Context) -> None:
        net = ctx.net
        self.hosts = [h.name for h in net.hosts.values() if h.os == "linux"]
        self.on = net.spec.noise.linux_syslog and bool(self.hosts)
        if not self.on:
            return
        self.h = Hosts(net)
        self.silence = ctx.silence
        self.idx = self.h.of(*self.hosts)  # Hosts index of each Linux host
        self.names = pa.array([n.lower() for n in self.hosts])
        self.plan = Plan(net, ctx.cfg.seed, ctx.cfg.events)
        self.ntp = net.with_role("dc")[0].ip
        self.logind = np.array([_stable(n, 700, 300) for n in self.hosts])
        accounts = self.plan.accounts.to_pylist()
        self.uid_n = np.array([_stable(a, 1001, 900) for a in accounts])
        self.uid_n[-1] = 990  # the backup job's local system account
        db = DB_UNIT[net.spec.database]
        self.sudo = pa.array([c.format(db=db) for c in SUDO])

    def outputs(self) -> list[Output]:
        return [Output(f"syslog.{h}", _daily(f"syslog/{h}/", ".log")) for h in self.hosts]

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        if not self.on:
            return {}
        out = _Lines()
        self._own(rng, times, out)
        self._sessions(rng, self.plan.between(sl.start, sl.end), out)
        if not out.ts:
            return {}
        ts, host = np.concatenate(out.ts), np.concatenate(out.host)
        lines = pa.concat_arrays(out.text)
        keep = (ts >= sl.start) & (ts < sl.end) & audible(ts, self.idx[host], self.h, self.silence)
        sel = np.flatnonzero(keep)
        order = sel[np.lexsort((ts[sel],))]
        ts, host, lines = ts[order], host[order], lines.take(pa.array(order))
        return {f"syslog.{h}": Chunk(ts[host == i], lines.filter(pa.array(host == i)))
                for i, h in enumerate(self.hosts)}

    def _own(self, rng: np.random.Generator, times: np.ndarray, out: _Lines) -> None:
        n = len(times)
        host = rng.integers(0, len(self.hosts), n)
        kind = choose(rng, n, [e[0] for e in EVENTS])
        for k, (_, period, offset, lines) in enumerate(EVENTS):
            sel = np.flatnonzero(kind == k)
            t, hs = times[sel], host[sel]
            if period:  # once per host and period, at its time (+ the scheduler's second or so)
                days = period // clock.DAY  # daily and weekly timers follow the local calendar
                slot = clock.day_indexes(t) // days if days else (t - clock.START) // period
                _, first = np.unique(slot * len(self.hosts) + hs, return_index=True)
                slot, hs = slot[first], hs[first]
                begin = clock.day_starts(slot * days) if days else clock.START + slot * period
                t = begin + offset + rng.integers(0, 2 * clock.US, len(slot))
            pid = rng.integers(2_000, 400_000, len(t))
            for dt, program, text in lines:
                out.add(t + dt, hs, program, "1" if program == "systemd" else pid, text.replace("{ntp}", self.ntp),
                        self.names)

    def _sessions(self, rng: np.random.Generator, s: Sessions, out: _Lines) -> None:
        linux_of = {int(h): i for i, h in enumerate(self.idx)}
        on_linux = np.isin(s.kind, [SSH_LINUX, SSH_BACKUP, SSH_FAILED]) & np.isin(s.dst, self.idx)
        s = s.take(np.flatnonzero(on_linux))
        host = np.array([linux_of[int(d)] for d in s.dst], dtype=np.int64)
        acct = pick(self.plan.accounts, s.account)
        ip = pick(self.h.ip, s.src)
        port = strs(s.sport)
        fail = s.kind == SSH_FAILED
        ok = np.flatnonzero(~fail)
        f = np.flatnonzero(fail)
        take = pa.array
        # mistyped password: OpenSSH logs the failure, the client gives up
        a = s.start[f] + 2_500_000
        out.add(a, host[f], "sshd", s.pid[f], join("Failed password for ", acct.take(take(f)), " from ",
                                                    ip.take(take(f)), " port ", port.take(take(f)), " ssh2"),
                self.names)
        out.add(a + 1_400_000, host[f], "sshd", s.pid[f],
                join("Connection closed by authenticating user ", acct.take(take(f)), " ", ip.take(take(f)),
                     " port ", port.take(take(f)), " [preauth]"), self.names)
        # a session: publickey, PAM, logind; the administrators use sudo
        keys = pa.array([base64.b64encode(hashlib.sha256(f"{a}@{self.h.list[s_].name}".encode()).digest())
                         .decode().rstrip("=") for a, s_ in zip(acct.take(take(ok)).to_pylist(),
                                                                  s.src[ok].tolist(), strict=True)], pa.string())
        a_ = acct.take(take(ok))
        uid_n = strs(self.uid_n[s.account[ok]])
        h, pid, t0, t1 = host[ok], s.pid[ok], s.start[ok] + 310_000, s.end[ok]
        ip_, port_ = ip.take(take(ok)), port.take(take(ok))
        sess = strs(s.session[ok])
        logind = self.logind[h]
        out.add(t0, h, "sshd", pid, join("Accepted publickey for ", a_, " from ", ip_, " port ", port_,
                                         " ssh2: ED25519 SHA256:", keys), self.names)
        out.add(t0 + 6_000, h, "sshd", pid, join("pam_unix(sshd:session): session opened for user ", a_, "(uid=",
                                                 uid_n, ") by (uid=0)"), self.names)
        out.add(t0 + 9_000, h, "systemd-logind", logind, join("New session ", sess, " of user ", a_, "."), self.names)
        adm = np.flatnonzero(s.kind[ok] == SSH_LINUX)
        k = len(adm)
        t_s = t0[adm] + np.minimum(rng.integers(20, 120, k) * clock.US, (t1[adm] - t0[adm]) // 2)
        sudo_pid = rng.integers(2_000, 400_000, k)
        who = a_.take(take(adm))
        out.add(t_s, h[adm], "sudo", sudo_pid, join(who, " : TTY=pts/0 ; PWD=/home/", who, " ; USER=root ; COMMAND=",
                                                    pick(self.sudo, rng.integers(0, len(self.sudo), k))), self.names)
        out.add(t_s + 4_000, h[adm], "sudo", sudo_pid, join("pam_unix(sudo:session): session opened for user root"
                                                            "(uid=0) by ", who, "(uid=", uid_n.take(take(adm)), ")"),
                self.names)
        out.add(t_s + np.minimum(900_000, (t1[adm] - t_s) // 2), h[adm], "sudo", sudo_pid,
                "pam_unix(sudo:session): session closed for user root",
                self.names)
        out.add(t1, h, "sshd", pid, join("Received disconnect from ", ip_, " port ", port_,
                                         ":11: disconnected by user"), self.names)
        out.add(t1 + 300, h, "sshd", pid, join("Disconnected from user ", a_, " ", ip_, " port ", port_), self.names)
        out.add(t1 + 2_000, h, "sshd", pid, join("pam_unix(sshd:session): session closed for user ", a_), self.names)
        out.add(t1 + 4_000, h, "systemd-logind", logind, join("Session ", sess,
                                                              " logged out. Waiting for processes to exit."),
                self.names)
        out.add(t1 + 9_000, h, "systemd-logind", logind, join("Removed session ", sess, "."), self.names)

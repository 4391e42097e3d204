"""Helpers shared by the noise generators: address vocabularies and value distributions."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from breachscope.simulate.network import Host, Network
from breachscope.simulate.text import pick, strs


class Hosts:
    """Index-addressable host vocabularies (names, FQDNs, addresses) of a network."""

    def __init__(self, net: Network) -> None:
        self.list: list[Host] = list(net.hosts.values())
        self.index = {h.name: i for i, h in enumerate(self.list)}
        self.ip = pa.array([h.ip for h in self.list])
        self.name = pa.array([h.name for h in self.list])
        self.fqdn = pa.array([h.fqdn for h in self.list])
        self.ws = np.array([self.index[h.name] for h in net.workstations])
        self.servers = np.array([self.index[h.name] for h in net.servers])
        self.dcs = np.array([self.index[h.name] for h in net.with_role("dc")])
        self.files = np.array([self.index[h.name] for h in net.with_role("file")])
        self.apps = np.array([self.index[h.name] for h in net.with_role("app")])

    def of(self, *names: str) -> np.ndarray:
        return np.array([self.index[n] for n in names])


def ports(rng: np.random.Generator, n: int) -> np.ndarray:
    """Windows ephemeral source ports."""
    return rng.integers(49152, 65536, n)


def choose(rng: np.random.Generator, n: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), n, p=w / w.sum())


def lognormal_int(rng: np.random.Generator, n: int, median: float, sigma: float, lo: int = 0) -> np.ndarray:
    return np.maximum(lo, rng.lognormal(np.log(max(median, 1e-9)), sigma, n)).astype(np.int64)


def zipf_index(rng: np.random.Generator, n: int, size: int, a: float = 1.2) -> np.ndarray:
    """Popular-first choice among `size` items (a few hosts/sites carry most of the activity)."""
    ranks = np.arange(1, size + 1, dtype=float)
    p = ranks ** -a
    return rng.choice(size, n, p=p / p.sum())


def text(values: np.ndarray) -> pa.Array:
    return strs(values)


def vocab(values: list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pick(pa.array(list(values)), idx)


def audible(ts: np.ndarray, host: np.ndarray, hosts: Hosts, silence: dict[str, list[tuple[int, int]]]) -> np.ndarray:
    """Mask of the records whose host is not silenced (cut off the network, logging switched off) at ts."""
    keep = np.ones(len(ts), dtype=bool)
    for name, periods in silence.items():
        i = hosts.index.get(name)
        if i is None:
            continue
        for start, end in periods:
            keep &= ~((host == i) & (ts >= start) & (ts < end))
    return keep


class RecordNumbers:
    """Per-device record numbers in write order: a Windows log's EventRecordID (per host and channel), a Cisco
    device's syslog sequence number. The story's records (attack, episodes, scheduled jobs) are merged between
    the noise records when written, so a slice's noise numbers leave a gap for each story record of the same
    device written among them, and the story record takes that number when written (`take`)."""

    def __init__(self, first: np.ndarray) -> None:
        self.next = np.asarray(first, dtype=np.int64).copy()
        self.story: dict[int, np.ndarray] = {}  # device -> times of its story records (write order)
        self.done: dict[int, int] = {}  # device -> how many of them have a number (given or reserved)
        self.reserved: dict[int, deque[int]] = {}

    def expect(self, device: int, times: Sequence[int]) -> None:
        """The story records of `device`, in the order they will be written (time order)."""
        self.story[device] = np.asarray(times, dtype=np.int64)
        self.done[device] = 0
        self.reserved[device] = deque()

    def number(self, device: np.ndarray, ts: np.ndarray, end: int) -> np.ndarray:
        """Numbers of a slice's noise records (rows in write order, times `ts`); story records before `end`
        are written among them: a story record follows the noise of the same time (see streams._merge)."""
        out = _ranks(device, self.next)
        for d, times in self.story.items():
            first = self.done[d]
            k = int(np.searchsorted(times, end)) - first
            if k <= 0:
                continue
            story = times[first:first + k]
            rows = np.flatnonzero(device == d)
            noise = ts[rows]
            base = self.next[d] - len(rows)
            out[rows] += np.searchsorted(story, noise, side="left")  # story records written before each row
            self.reserved[d].extend((base + np.arange(k) + np.searchsorted(noise, story, side="right")).tolist())
            self.next[d] += k
            self.done[d] += k
        return out

    def take(self, device: int) -> int:
        """The number of the device's next story record (reserved by `number`, or the next one after a slice
        without noise)."""
        reserved = self.reserved.get(device)
        if reserved:
            return reserved.popleft()
        n = int(self.next[device])
        self.next[device] += 1
        if device in self.done:
            self.done[device] += 1
        return n


def _ranks(device: np.ndarray, next_id: np.ndarray) -> np.ndarray:
    """Each row's number: its device's next number plus the rows of the same device before it. Updates next_id."""
    order = np.argsort(device, kind="stable")
    d = device[order]
    starts = np.r_[0, np.flatnonzero(d[1:] != d[:-1]) + 1]
    rank = np.arange(len(d)) - np.repeat(starts, np.diff(np.r_[starts, len(d)]))
    out = np.empty(len(d), dtype=np.int64)
    out[order] = next_id[d] + rank
    np.add.at(next_id, device, 1)
    return out


class Options:
    """For each key (0..n-1) a list of options (ints): one drawn per row, uniformly (vectorized)."""

    def __init__(self, options: Sequence[Sequence[int]]) -> None:
        self.count = np.array([len(x) for x in options])
        width = int(self.count.max())
        self.table = np.array([[*x, *[x[0]] * (width - len(x))] for x in options], dtype=np.int64)

    def draw(self, rng: np.random.Generator, keys: np.ndarray) -> np.ndarray:
        return self.table[keys, (rng.random(len(keys)) * self.count[keys]).astype(np.int64)]

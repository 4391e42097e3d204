"""Helpers shared by the noise generators: address vocabularies and value distributions."""

from __future__ import annotations

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

"""A volumetric attack on the payment platform, seen in the NetFlow of its edge router: UDP reflection
(NTP, DNS, memcached) and a SYN flood against the payment VIP, from thousands of sources."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock, episodes
from breachscope.simulate.config import SimConfig
from breachscope.simulate.formats import flows as F
from breachscope.simulate.network import Network
from breachscope.simulate.story import Story
from breachscope.simulate.text import ipv4

VECTORS = (("ntp_reflection", 17, 123, 468, 0.45), ("dns_reflection", 17, 53, 1400, 0.25),
           ("memcached_reflection", 17, 11211, 1400, 0.05), ("syn_flood", 6, 0, 60, 0.25))


def build(story: Story, net: Network, cfg: SimConfig, rng: np.random.Generator) -> dict:
    start = episodes.at(cfg, 8, 20, 5, 12.0)
    end = episodes.at(cfg, 8, 20, 47, 40.0)
    n = int(np.clip(cfg.events // 20, 5_000, 200_000))
    sources = rng.choice(np.arange(0xC6120000, 0xC6140000), size=min(6000, n // 3), replace=False)
    src = sources[rng.integers(0, len(sources), n)]
    vec = rng.choice(len(VECTORS), n, p=[v[4] for v in VECTORS])
    t0 = np.sort(rng.integers(start, end, n))
    dur = rng.integers(1_000_000, 60_000_000, n)
    proto = np.array([v[1] for v in VECTORS])[vec]
    sport = np.where(proto == 6, rng.integers(1024, 65536, n), np.array([v[2] for v in VECTORS])[vec])
    dport = np.where(proto == 6, 443, rng.integers(1024, 65536, n))
    pkts = rng.integers(200, 5000, n)  # sampled NetFlow (1:1000) already scaled back
    size = np.array([v[3] for v in VECTORS])[vec]
    octets = pkts * size
    flags = np.where(proto == 6, 2, 0)
    vip = net.spec.payment_address
    lines = F.lines(t0, t0 + dur, ipv4(src), vip, sport, dport, proto, octets, pkts, flags, "1", "2")
    tag = "episode:ddos:flood"
    story.add_many(f"flow.{net.payment_edge_router}", t0, lines, tag)
    secs = (end - start) / clock.US
    return {"target": {"host": net.host("payment").name, "vip": net.spec.payment_address, "port": 443},
            "start": int(start), "end": int(end), "flow_records": n, "sources": len(np.unique(src)),
            "vectors": {v[0]: int(np.count_nonzero(vec == i)) for i, v in enumerate(VECTORS)},
            "bytes": int(octets.sum()), "packets": int(pkts.sum()),
            "mean_bps": int(octets.sum() * 8 / secs), "exporter": net.payment_edge_router,
            "sampled": "1:1000 (counters already scaled)"}

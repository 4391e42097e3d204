"""Periodic command-and-control from a workstation: one HTTPS request a minute, ±20 % jitter."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock, episodes
from breachscope.simulate.config import SimConfig
from breachscope.simulate.formats import flows as F
from breachscope.simulate.formats import syslog as S
from breachscope.simulate.formats import zeek as Z
from breachscope.simulate.network import Network
from breachscope.simulate.story import Story
from breachscope.simulate.text import join, random_b62, strs

C2_IP = "198.51.100.77"
C2_NAME = "cdn.telemetry-sync.example.com"
PERIOD_S = 60.0
JITTER = 0.2


def build(story: Story, net: Network, cfg: SimConfig, rng: np.random.Generator) -> dict:
    host = net.workstations[min(6, len(net.workstations) - 1)]
    start = episodes.at(cfg, 0, 9, 12, 5.0)
    end = episodes.at(cfg, 3, 18, 0)
    gaps = rng.uniform(1 - JITTER, 1 + JITTER, int((end - start) / (PERIOD_S * clock.US)) + 10) * PERIOD_S
    t = start + np.cumsum(np.r_[0, gaps[:-1]] * clock.US).astype(np.int64)
    t = t[t < end]
    n = len(t)
    tag = "episode:beacon:c2"
    for ts in t[::60].tolist():  # the name is looked up again when its TTL (an hour) runs out
        story.dns(ts - 40_000, host.ip, C2_NAME, C2_IP, tag)
    sport = rng.integers(49152, 65536, n)
    up, down = rng.integers(380, 460, n), rng.integers(210, 330, n)
    dur = (rng.uniform(0.08, 0.4, n) * clock.US).astype(np.int64)
    uid = random_b62(rng, n, 17, b"C")
    opk, rpk = np.full(n, 5), np.full(n, 4)
    story.add_many("zeek.conn", t, Z.lines("conn", t, {
        "uid": uid, "id.orig_h": host.ip, "id.orig_p": strs(sport), "id.resp_h": C2_IP, "id.resp_p": "443",
        "proto": "tcp", "service": "ssl", "duration": Z.interval(dur / clock.US), "orig_bytes": strs(up),
        "resp_bytes": strs(down), "conn_state": "SF", "local_orig": "T", "local_resp": "F", "missed_bytes": "0",
        "history": "ShADadFf", "orig_pkts": strs(opk), "orig_ip_bytes": strs(up + opk * 52), "resp_pkts": strs(rpk),
        "resp_ip_bytes": strs(down + rpk * 52), "tunnel_parents": "(empty)"}), tag)
    story.add_many("zeek.ssl", t + 20_000, Z.lines("ssl", t + 20_000, {
        "uid": uid, "id.orig_h": host.ip, "id.orig_p": strs(sport), "id.resp_h": C2_IP, "id.resp_p": "443",
        "version": "TLSv13", "cipher": "TLS_AES_256_GCM_SHA384", "curve": "x25519", "server_name": C2_NAME,
        "resumed": "F", "next_protocol": "-", "established": "T", "ssl_history": "CsiI", "cert_chain_fps": "(empty)",
        "client_cert_chain_fps": "(empty)", "sni_matches_cert": "-", "validation_status": "-"}), tag)
    cid = strs(200_000_000 + np.arange(n))
    out_side = f"outside:{C2_IP}/443"
    built = join("Built outbound TCP connection ", cid, f" for {out_side} ({C2_IP}/443) to inside:{host.ip}/",
                 strs(sport), f" ({net.public_nat}/", strs(sport), ")")
    torn = join("Teardown TCP connection ", cid, f" for {out_side} to inside:{host.ip}/", strs(sport),
                " duration 0:00:00 bytes ", strs(up + down), " TCP FINs from inside")
    fw, core = net.host("firewall").name, net.host("core_router").name
    story.add_many(f"asa.{fw}", t, S.asa_lines(t, fw, "6-302013", built), tag)
    story.add_many(f"asa.{fw}", t + dur, S.asa_lines(t + dur, fw, "6-302014", torn), tag)
    story.add_many(f"flow.{core}", t, F.lines(t, t + dur, host.ip, C2_IP, sport, np.full(n, 443), np.full(n, 6),
                                                 up + 160, np.full(n, 4), np.full(n, 27), "3", "1"), tag)
    story.add_many(f"flow.{core}", t + 300, F.lines(t + 300, t + dur, C2_IP, host.ip, np.full(n, 443), sport,
                                                       np.full(n, 6), down + 120, np.full(n, 3), np.full(n, 27), "1",
                                                       "3"), tag)
    return {"host": {"name": host.name, "ip": host.ip}, "c2": {"ip": C2_IP, "name": C2_NAME, "port": 443},
            "period_seconds": PERIOD_S, "jitter": JITTER, "connections": n, "first": int(t[0]), "last": int(t[-1])}

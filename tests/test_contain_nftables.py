"""The nftables plan: `nft -c -f` accepts every script (hostile incidents included), and in network namespaces
a router that applies it drops the C2, lets ordinary traffic through, keeps the entry host's service to the
inside, cuts the isolated host off but for the kept address, counts what it dropped, and lets everything
through again after the rollback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from breachscope.contain.formats.nftables import render, rollback
from breachscope.contain.plan import build_plan
from breachscope.model.containment import ContainmentPlan
from tests.contain_incidents import C2, DCSYNC, HOSTILE_NAMES, external, host, hostile, ntt

NFT, IP = shutil.which("nft"), shutil.which("ip")
ROOT_NEEDED = "needs root and the nft and ip commands (nftables checks and network namespaces)"
needs_root = pytest.mark.skipif(os.geteuid() != 0 or NFT is None or IP is None, reason=ROOT_NEEDED)


def _code_lines(script: str) -> list[str]:
    return [line for line in script.splitlines() if not line.lstrip().startswith("#")]


def _check(tmp_path: Path, script: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([str(NFT), "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{name}: {done.stderr}"


@needs_root
@pytest.mark.parametrize("plan", [
    build_plan(ntt()), build_plan(ntt(dc_rules=(DCSYNC,)), keep_access=("10.9.9.9", "10.8.0.0/16", "fd00::/8")),
    build_plan(replace(ntt(), external=(), hosts=())), build_plan(hostile(), keep_access=("10.9.9.9",))],
    ids=["ntt", "keep-access", "empty", "hostile"])
def test_nft_accepts_the_script_and_its_rollback(tmp_path: Path, plan: ContainmentPlan) -> None:
    _check(tmp_path, render(plan), "plan.nft")
    _check(tmp_path, rollback(plan), "rollback.nft")


def test_hostile_values_stay_in_comments() -> None:
    plan = build_plan(hostile(), keep_access=("10.9.9.9",))
    script = render(plan) + rollback(plan)
    assert script.isascii()
    code = "\n".join(_code_lines(script))
    for bad in (*HOSTILE_NAMES, "rm -rf", "reboot", "<script>", "reload", "Remove-Item", "%eth0", "\x1b"):
        assert bad not in code, bad
    for line in script.splitlines():  # a comment is one line: no value of the evidence broke out of it
        assert all(0x20 <= ord(c) < 0x7F for c in line), line
    assert "a;rm -rf /" in script and "evil\\nreload" in script  # shown, escaped, in comments
    assert "set blocked_v4 { type ipv4_addr; elements = { 198.51.100.45, 203.0.113.81, 203.0.113.82 }; }" in code


def test_rollback_deletes_the_table_only() -> None:
    code = _code_lines(rollback(build_plan(ntt())))
    assert [c for c in code if c.strip()] == ["table inet breachscope_containment",
                                              "delete table inet breachscope_containment"]


# --- a real router in network namespaces ----------------------------------------------------------------------
ENTRY, ISOLATED, ROUTER_IN, LEGIT, OUTSIDE_NET = "10.99.1.2", "10.99.1.3", "10.99.1.1", "198.51.100.10", "198.51.100"
WEB, SERVICE = 8080, 8443
LISTENER = """
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(64)
while True:
    conn, _ = srv.accept()
    conn.sendall(b"ok")
    conn.close()
"""
WAIT_LISTENING = """
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.05)
"""
CONNECT = """
import socket, sys
host, port, timeout, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket()
s.settimeout(timeout)
if src:
    s.bind((src, 0))
try:
    s.connect((host, port))
    sys.exit(0 if s.recv(2) == b"ok" else 3)
except OSError:
    sys.exit(1)
"""
ALLOWED_TIMEOUT = 30.0  # returns at once when it connects
BLOCKED_TIMEOUT = 2.0  # a dropped SYN gets no answer, however long one waits


@dataclass
class Net:
    router: str
    inside: str
    outside: str

    def run(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(IP), "netns", "exec", ns, *args], capture_output=True, text=True, check=False)
        if check:
            assert done.returncode == 0, f"{ns}: {' '.join(args)}: {done.stderr}"
        return done

    def connects(self, ns: str, host: str, port: int, *, expect: bool, src: str = "") -> bool:
        timeout = ALLOWED_TIMEOUT if expect else BLOCKED_TIMEOUT
        done = self.run(ns, sys.executable, "-c", CONNECT, host, str(port), str(timeout), src, check=False)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode == 0

    def rules(self) -> list[dict[str, Any]]:
        listing = json.loads(self.run(self.router, str(NFT), "-j", "list", "table", "inet",
                                      "breachscope_containment").stdout)
        return [item["rule"] for item in listing["nftables"] if "rule" in item]

    def counters(self) -> dict[str, int]:
        """Packets counted per rule comment (summed over the three chains)."""
        out: dict[str, int] = {}
        for rule in self.rules():
            packets = sum(e["counter"]["packets"] for e in rule["expr"] if isinstance(e, dict) and "counter" in e)
            out[rule.get("comment", "")] = out.get(rule.get("comment", ""), 0) + packets
        return out


def _ip(*args: str) -> None:
    done = subprocess.run([str(IP), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr}"


@pytest.fixture
def net() -> Iterator[Net]:
    """router <-> inside (10.99.1.0/24), router <-> outside (198.51.100.0/24 with a legitimate server, and
    203.0.113.0/24 with the C2 on the same link); names unique to this run, always removed."""
    pid = os.getpid()
    n = Net(f"bs-router-{pid}", f"bs-inside-{pid}", f"bs-outside-{pid}")
    made: list[str] = []
    listeners: list[subprocess.Popen[bytes]] = []
    try:
        for ns in (n.router, n.inside, n.outside):
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", n.router, "link", "add", "r-in", "type", "veth", "peer", "name", "eth0", "netns", n.inside)
        _ip("-n", n.router, "link", "add", "r-out", "type", "veth", "peer", "name", "eth0", "netns", n.outside)
        for ns, dev, addrs in ((n.router, "r-in", (f"{ROUTER_IN}/24",)),
                               (n.router, "r-out", (f"{OUTSIDE_NET}.1/24", "203.0.113.1/24")),
                               (n.inside, "eth0", (f"{ENTRY}/24", f"{ISOLATED}/24")),
                               (n.outside, "eth0", (f"{LEGIT}/24", f"{C2}/24"))):
            for a in addrs:
                _ip("-n", ns, "addr", "add", a, "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
        _ip("-n", n.inside, "route", "add", "default", "via", ROUTER_IN)
        _ip("-n", n.outside, "route", "add", "10.99.1.0/24", "via", f"{OUTSIDE_NET}.1")
        n.run(n.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        for ns, port in ((n.outside, WEB), (n.inside, SERVICE)):
            listeners.append(subprocess.Popen([str(IP), "netns", "exec", ns, sys.executable, "-c", LISTENER,
                                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            n.run(ns, sys.executable, "-c", WAIT_LISTENING, str(port))  # it answers: the test can start
        yield n
    finally:
        for p in listeners:
            p.terminate()
            p.wait()
        for ns in made:
            subprocess.run([str(IP), "netns", "del", ns], capture_output=True, check=False)


def _incident_of_the_namespaces() -> ContainmentPlan:
    base = ntt(internal_networks=("10.0.0.0/8",))
    hosts = (host("WEB", (ENTRY,), 1, ("entry",)), host("PIVOT", (ISOLATED,), 2, ("pivot", "exfiltration_source")))
    ext = (external("192.0.2.45", "initial_access", ("WEB",), (f"tcp/{SERVICE}",)),
           external(C2, "c2_and_exfiltration", ("PIVOT",)))
    return build_plan(replace(base, hosts=hosts, external=ext, accounts=(), db_sessions=()), keep_access=(ROUTER_IN,))


@needs_root
def test_router_applies_the_plan_and_the_rollback(net: Net, tmp_path: Path) -> None:
    plan = _incident_of_the_namespaces()
    (tmp_path / "plan.nft").write_text(render(plan), encoding="utf-8")
    (tmp_path / "rollback.nft").write_text(rollback(plan), encoding="utf-8")
    # before: everything passes (the topology works)
    assert net.connects(net.inside, C2, WEB, expect=True)
    assert net.connects(net.outside, ENTRY, SERVICE, expect=True)
    assert net.connects(net.inside, LEGIT, WEB, expect=True, src=ISOLATED)

    net.run(net.router, str(NFT), "-c", "-f", str(tmp_path / "plan.nft"))
    net.run(net.router, str(NFT), "-f", str(tmp_path / "plan.nft"))
    assert not net.connects(net.inside, C2, WEB, expect=False)  # the C2, from the entry host
    assert net.connects(net.inside, LEGIT, WEB, expect=True)  # ordinary traffic
    assert not net.connects(net.outside, ENTRY, SERVICE, expect=False)  # the entry's service from outside
    assert net.connects(net.router, ENTRY, SERVICE, expect=True)  # ... and from inside
    assert not net.connects(net.inside, LEGIT, WEB, expect=False, src=ISOLATED)  # the isolated host
    assert net.connects(net.router, ISOLATED, SERVICE, expect=True)  # but for the kept address
    counted = net.counters()
    blocked = [c for c in counted if c.endswith("to blocked addresses")]
    assert blocked and sum(counted[c] for c in blocked) >= 1
    restrict = next(s for s in plan.steps if s.action == "restrict_service")
    assert counted[f"breachscope step {restrict.order}: restrict tcp/{SERVICE} of {ENTRY} to the internal "
                   "networks"] >= 1
    assert sum(v for c, v in counted.items() if c.endswith("from isolated hosts")) >= 1

    rules = len(net.rules())
    net.run(net.router, str(NFT), "-f", str(tmp_path / "plan.nft"))  # applied again: replaced, not doubled
    assert len(net.rules()) == rules

    net.run(net.router, str(NFT), "-f", str(tmp_path / "rollback.nft"))
    assert "breachscope_containment" not in net.run(net.router, str(NFT), "list", "tables").stdout
    assert net.connects(net.inside, C2, WEB, expect=True)
    assert net.connects(net.outside, ENTRY, SERVICE, expect=True)
    assert net.connects(net.inside, LEGIT, WEB, expect=True, src=ISOLATED)

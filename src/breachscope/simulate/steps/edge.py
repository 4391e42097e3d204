"""What the internet edge logs of a connection the steps make through it: the ASA's build and teardown
(the firewall gives the story's connection its next id) and the core router's NetFlow, both directions."""

from __future__ import annotations

from breachscope.simulate import clock
from breachscope.simulate.attack import Attack


def outbound(w: Attack, t: int, seconds: float, src: str, sport: int, dst: str, dport: int, up: int, down: int,
             tag: str, ref: str = "") -> None:
    """An inside host's TCP connection to the internet, translated to the public address."""
    cid = int(w.rng.integers(190_000_000, 199_000_000))
    end = t + int(seconds * clock.US)
    w.s.asa(t, "6-302013", f"Built outbound TCP connection {cid} for outside:{dst}/{dport} ({dst}/{dport}) to "
            f"inside:{src}/{sport} ({w.nat}/{w.port()})", tag, ref)
    w.s.asa(end, "6-302014", f"Teardown TCP connection {cid} for outside:{dst}/{dport} to inside:{src}/{sport} "
            f"duration {_hms(seconds)} bytes {up + down} TCP FINs from inside", tag, ref)
    flows(w, t, end, src, sport, dst, dport, up, down, tag, ref)


def inbound(w: Attack, t: int, seconds: float, src: str, sport: int, public: str, host: str, dport: int,
            size: int, reason: str, tag: str) -> None:
    """A connection from the internet to a published port (static translation to the inside host)."""
    cid = int(w.rng.integers(190_000_000, 199_000_000))
    w.s.asa(t, "6-302013", f"Built inbound TCP connection {cid} for outside:{src}/{sport} ({src}/{sport}) to "
            f"inside:{host}/{dport} ({public}/{dport})", tag)
    w.s.asa(t + int(seconds * clock.US), "6-302014", f"Teardown TCP connection {cid} for outside:{src}/{sport} to "
            f"inside:{host}/{dport} duration {_hms(seconds)} bytes {size} {reason}", tag)


def flows(w: Attack, t: int, end: int, src: str, sport: int, dst: str, dport: int, up: int, down: int, tag: str,
          ref: str = "", outward: bool = True) -> None:
    """NetFlow of the core router for the two directions (interface 3 inside, 1 towards the edge)."""
    first = (3, 1) if outward else (1, 3)
    w.s.flow(t, end, src, dst, sport, dport, 6, up + max(1, up // 1400) * 40, max(1, up // 1400), tag, ref,
             in_if=str(first[0]), out_if=str(first[1]))
    w.s.flow(t + 300, end, dst, src, dport, sport, 6, down + max(1, down // 1400) * 40, max(1, down // 1400), tag,
             ref, in_if=str(first[1]), out_if=str(first[0]))


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"

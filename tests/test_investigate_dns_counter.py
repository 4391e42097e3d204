"""The DNS tunnel's payload leaves out the tunnel's sequence label (exfil_channels._counter_position): a short
first or last label counting up query after query (DNSExfiltrator's `<n>.<data>.domain`, the `<data>.<seq>`
of other tools, in decimal, hex or base32); data labels, however short, never count up, and a name of one
label (iodine, dnscat2's hex) is all payload. End to end on Zeek dns.log written here, the decimal first
label is left out and a lookup of another name of the registered domain is not the tunnel's; the last-label
case is test_investigate_exfil_channels.py's tunnel."""

from __future__ import annotations

import base64
import random
from pathlib import Path

from breachscope.investigate.detectors.exfil_channels import _counter_position
from breachscope.investigate.pipeline import InvestigateRequest, find_incident
from tests.conftest import run_ingest
from tests.test_investigate_exfil_channels import DAY, RESOLVER, SITES, T0, Logs

HOST, ZONE, NAME_SERVER = "10.0.2.77", "x.exfil-cdn.example.org", "203.0.113.54"
LOOKUP = "10.0.3.15"
DATA = 30_000


def _b32(rng: random.Random, n: int) -> str:
    return base64.b32encode(bytes(rng.getrandbits(8) for _ in range(n))).decode().rstrip("=").lower()


def _labels(text: str, size: int = 63) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_a_sequence_label_is_found_first_or_last_in_any_base() -> None:
    rng = random.Random(3)
    data = [_labels(_b32(rng, 110)) for _ in range(200)]
    assert _counter_position([[*d, f"ab12{i:04x}"] for i, d in enumerate(data)]) == -1  # hex, after the data
    assert _counter_position([[str(i), *d] for i, d in enumerate(data)]) == 0  # DNSExfiltrator: decimal, first
    b32 = [base64.b32encode(i.to_bytes(2, "big")).decode().rstrip("=").lower() for i in range(1000, 1200)]
    assert _counter_position([[c, *d] for c, d in zip(b32, data, strict=True)]) == 0  # base32
    tool = [["init", *data[0]]] + [[str(i), *d] for i, d in enumerate(data[1:], 1)]
    assert _counter_position(tool) == 0  # a first query of another kind does not hide the count


def test_data_labels_are_never_a_sequence() -> None:
    rng = random.Random(4)
    hexed = [_labels(bytes(rng.getrandbits(8) for _ in range(rng.randrange(40, 120))).hex()) for _ in range(200)]
    assert _counter_position(hexed) is None  # dnscat2: hex split in labels, a short random last one
    short = [_labels(rng.getrandbits(80).to_bytes(10, "big").hex(), 10) for _ in range(200)]
    assert _counter_position(short) is None  # data in short labels
    assert _counter_position([[_b32(rng, 100)] for _ in range(200)]) is None  # iodine: one label
    assert _counter_position([[f"{i}", f"{i}"] for i in range(2)]) is None  # too few names to tell


def evidence(folder: Path) -> Path:
    """Three days of 20 workstations' lookups (one of a name of the tunnel's registered domain) and, on day 1,
    one host's DNSExfiltrator-style tunnel."""
    logs, rng = Logs(9), random.Random(9)
    for day in range(3):
        for ws in (f"10.0.3.{i}" for i in range(10, 30)):
            for _ in range(6):
                ip, name = rng.choice(SITES)
                logs.query(T0 + day * DAY + rng.uniform(0, DAY), ws, RESOLVER, name, answer=ip)
        # another name of the tunnel's registered domain: the workstation is no client of the tunnel
        logs.query(T0 + day * DAY + 3600, LOOKUP, RESOLVER, "ftp.lab.example.org", answer="198.18.9.9")
    text = _b32(random.Random(1), DATA)
    t = T0 + DAY + 3600.0
    for seq, pos in enumerate(range(0, len(text), 126)):
        t += rng.uniform(0.15, 0.65)
        name = ".".join([str(seq), *_labels(text[pos:pos + 126]), ZONE])
        logs.query(t, HOST, RESOLVER, name, "TXT", "TXT 6 a0")
        logs.query(t + 0.01, RESOLVER, NAME_SERVER, name, "TXT", "TXT 6 a0")
    return logs.write(folder)


def test_the_tunnels_bytes_leave_the_counter_out(tmp_path: Path) -> None:
    run_ingest([evidence(tmp_path / "zeek")], tmp_path / "case")
    inc = find_incident(InvestigateRequest(tmp_path / "case"))[0]
    moves = inc.data_movements
    assert [(m.src_ip, m.dst_ip) for m in moves] == [(HOST, NAME_SERVER)]
    assert DATA <= moves[0].bytes <= 1.005 * DATA  # base32 padding bits only: the counter is not payload

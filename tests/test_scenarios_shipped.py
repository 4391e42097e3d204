"""Every shipped scenario (simulate/scenarios/*.yaml) replayed end to end: its evidence ingests with no reject,
and `investigate` then `scope --from-investigation`, told nothing of the scenario, find the attacker's database
sessions, rank device A and B first, and give exactly the truth's exposed organizations."""

from __future__ import annotations

import ipaddress

import duckdb
import pytest

from breachscope.simulate.scenarios import shipped
from tests.simcase import Replay, assert_scope_exact, replay


def short(name: str | None) -> str:
    return str(name or "").split(".")[0].rstrip("$").lower()


def _replays() -> list[tuple[str, str]]:
    """Every shipped scenario with its first variant, and the variants that replay another attack in it."""
    extra = [("logistics-vpn", "phish")]  # phishing, DCSync, SSH, FTP, an account disabled; routine steps
    return [(name, "") for name in sorted(shipped())] + extra


@pytest.fixture(scope="module", params=_replays(), ids=lambda p: "-".join(x for x in p if x))
def replayed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    name, variant = request.param
    # customers: enough that the staged archive is an upload worth an alert (>= 100 kB, detectors/external.py)
    return replay(tmp_path_factory.mktemp(f"{name}-{variant}"), name, variant, events=20_000, seed=5,
                  customers=8_000)


def test_the_evidence_ingests_with_no_reject(replayed: Replay) -> None:
    s = replayed.summary
    assert s.records > 10_000 and s.rejected == 0, [f for f in s.files if f.rejected]


def test_the_investigation_finds_the_sessions_and_ranks_both_devices_first(replayed: Replay) -> None:
    truth, inc = replayed.truth, replayed.incident
    assert set(inc.suspects.sessions) == set(truth["investigation_inputs"]["database_sessions"])
    internal = [h for h in inc.hosts if not h.role.startswith("external")]
    assert {short(h.name) for h in internal[:2]} == {short(truth["hosts"]["device_a"]["name"]),
                                                     short(truth["hosts"]["device_b"]["name"])}, internal[:4]


def test_scope_from_the_investigation_is_exact(replayed: Replay) -> None:
    """Organizations and persons alike (clinic-web's patient database has persons only)."""
    truth = replayed.truth
    assert_scope_exact(replayed)
    assert truth["affected"]["organizations"] or truth["affected"]["persons"]


def test_the_staged_files_move_the_way_the_attack_moved_them(replayed: Replay) -> None:
    """The internal transfer of the staged files, in the direction the data went (push or pull)."""
    truth, inc = replayed.truth, replayed.incident
    a, b = short(truth["hosts"]["device_a"]["name"]), short(truth["hosts"]["device_b"]["name"])
    staged = sum(f["size"] for f in truth["evidence"]["staged_files"])
    moves = [m for m in inc.data_movements if m.kind == "internal_transfer" and m.bytes >= 0.8 * staged]
    assert moves and all((short(m.src), short(m.dst)) == (a, b) for m in moves), moves


def test_the_data_goes_out_to_the_truths_address_with_its_bytes(replayed: Replay) -> None:
    """Where the data went (the C2, a storage bucket, the DNS tunnel's name server) is an external endpoint of
    the incident, and the data movements to it carry the exfiltrated bytes (within 20 %, as the checker)."""
    truth, inc = replayed.truth, replayed.incident
    to, expected = truth["hosts"]["external"]["c2_and_exfiltration"], truth["exfiltration"]["bytes"]
    assert to == truth["exfiltration"]["destination_ip"]
    assert to in {e.ip for e in inc.external}, inc.external
    moved = sum(m.bytes for m in inc.data_movements if m.kind == "exfiltration" and m.dst_ip == to)
    assert 0.8 * expected <= moved <= 1.2 * expected, (moved, expected)


def test_zeek_calls_local_what_the_organization_owns(replayed: Replay) -> None:
    """local_orig/local_resp follow the network's addresses (RFC 1918 and its hosts), in the story's records
    as in the noise: a detector cannot tell the attack by a different flag."""
    private = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
    path = str(replayed.case / "events" / "zeek_conn" / "*.parquet").replace("'", "''")
    rows = duckdb.sql(f"SELECT DISTINCT \"id.orig_h\" AS ip, CAST(local_orig AS VARCHAR) AS flag FROM "
                      f"read_parquet('{path}') UNION SELECT DISTINCT \"id.resp_h\", CAST(local_resp AS VARCHAR) "
                      f"FROM read_parquet('{path}')").fetchall()
    assert rows
    wrong = [(ip, flag) for ip, flag in rows if flag is not None and
             (flag.lower() in ("t", "true")) != any(ipaddress.ip_address(ip) in n for n in private)]
    assert not wrong, wrong[:10]

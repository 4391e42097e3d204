"""The entry host: the first strong sign that starts the chain reaching the most suspicious host. A patch
night's logons to a domain controller before the attack (a hard negative the simulated clinic and logistics
networks have) made the controller the entry; the chain decides now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from breachscope.investigate.detectors.base import alert
from breachscope.investigate.rank import entry_host, score_hosts
from breachscope.model.incident import Alert

T0 = datetime(2025, 2, 1, tzinfo=UTC)


def _a(hours: float, kind: str, stage: str, score: float, host: str, dst: str | None = None) -> Alert:
    return alert(T0 + timedelta(hours=hours), kind, stage, score, kind, (), host=host, dst_host=dst)


def _attack() -> list[Alert]:
    return [_a(100, "inbound", "initial_access", 80, "app1"),
            _a(101, "process_tree", "execution", 90, "app1"),
            _a(120, "lateral_movement", "lateral_movement", 70, "app1", "ops1"),
            _a(130, "db_session", "collection", 95, "app1"),
            _a(140, "exfiltration", "exfiltration", 90, "ops1")]


def test_an_earlier_admin_logon_to_a_controller_does_not_start_the_incident() -> None:
    sweep = [_a(10, "lateral_movement", "lateral_movement", 75, "jump1", "dc1"),
             _a(10.2, "sigma", "execution", 55, "dc1"),  # the controller's own alerts: a candidate
             _a(10.5, "lateral_movement", "lateral_movement", 40, "jump1", "fs1")]
    hosts = score_hosts(sweep + _attack())
    assert hosts["dc1"].score >= 50 and hosts["dc1"].targeted  # strong and earliest: it was the entry before
    entry = entry_host(hosts)
    assert entry is not None and entry.key == "app1"


def test_the_entry_may_be_a_host_that_moves_to_the_top_one() -> None:
    """A VPN session onto ops1, then ops1 -> app1: ops1 is the entry although app1 scores highest."""
    alerts = [_a(90, "lateral_movement", "initial_access", 70, "10.99.0.21", "ops1"),
              _a(95, "lateral_movement", "lateral_movement", 70, "ops1", "app1"), *_attack()]
    entry = entry_host(score_hosts(alerts))
    assert entry is not None and entry.key == "ops1"


def test_with_no_chain_to_the_top_host_the_first_sign_wins() -> None:
    """The top host shows no way in and no candidate's movements reach it: the earliest candidate."""
    alerts = [_a(5, "inbound", "initial_access", 80, "web9"), _a(6, "process_tree", "execution", 90, "web9"),
              _a(50, "inbound", "initial_access", 85, "web7"), _a(51, "process_tree", "execution", 90, "web7"),
              *(a for a in _attack() if a.stage != "initial_access" and a.kind != "process_tree"),
              _a(135, "sigma", "collection", 60, "app1")]
    hosts = score_hosts(alerts)
    assert max(hosts.values(), key=lambda h: h.score).key == "app1"
    entry = entry_host(hosts)
    assert entry is not None and entry.key == "web9"


def _incident(alerts: list[Alert]) -> list[str]:
    """The hosts of the incident build() makes of the alerts, in rank order (no case needed: build reads
    the alerts and the context's names only)."""
    from breachscope.investigate.build import build
    from breachscope.investigate.context import Context

    ctx = Context(engine=None, columns={})  # type: ignore[arg-type]  # build runs no SQL
    return [h.name for h in build(ctx, alerts, [], "case").hosts]


def test_a_host_the_chain_never_reached_ranks_below_the_incidents_hosts() -> None:
    """Another incident in the same evidence (the AD episode's workstation: Kerberoasting, a credential
    switch to a controller, the analytic's finding) has more kinds of alerts than the pivot the attacker
    used quietly (one LSASS dump, the logon into it): by score alone it ranked above the pivot."""
    attack = [_a(100, "inbound", "initial_access", 80, "app1"),
              _a(101, "process_tree", "execution", 90, "app1"),
              _a(120, "lateral_movement", "lateral_movement", 75, "app1", "ops1"),
              _a(121, "process_tree", "credential_access", 55, "ops1"),
              _a(130, "db_session", "collection", 95, "app1")]
    other = [_a(60, "lateral_movement", "lateral_movement", 60, "ws24", "dc1"),
             _a(61, "process_tree", "credential_access", 50, "ws24"),
             _a(61.1, "sigma", "credential_access", 35, "ws24")]
    hosts = score_hosts(attack + other)
    assert hosts["ws24"].score > hosts["ops1"].score  # the sample's shape: more evidence on the other incident
    ranked = _incident(attack + other)
    assert ranked[:2] == ["app1", "ops1"]
    assert ranked.index("ws24") > ranked.index("ops1")


def test_without_an_entry_the_hosts_rank_by_score() -> None:
    alerts = [_a(1, "sigma", "execution", 30, "a1"), _a(2, "sigma", "execution", 40, "b1")]
    assert _incident(alerts) == ["b1", "a1"]

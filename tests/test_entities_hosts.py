"""entities/hosts.py: every kind of evidence that ties a host name to an address, on tables the test
builds with the case's column names; spans over time; hostile names and addresses are only data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from breachscope.engines.duckdb_case import DuckDBEngine
from breachscope.entities.hosts import SOURCES, resolve_hosts

T0 = datetime(2025, 2, 5, 1, 0, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def _table(rows: list[dict]) -> pa.Table:
    cols = {k for r in rows for k in r}
    out = {}
    for c in sorted(cols):
        values = [r.get(c) for r in rows]
        if c == "ts":
            out[c] = pa.array(values, TS)
        elif c in ("EventID", "src_record"):
            out[c] = pa.array(values, pa.int64())
        elif c == "answers":
            out[c] = pa.array(values, pa.list_(pa.string()))
        elif c == "extra":
            out[c] = pa.array(values, pa.map_(pa.string(), pa.string()))
        else:
            out[c] = pa.array(values, pa.string())
    return pa.table(out)


def _row(i: int, **kw: object) -> dict:
    return {"ts": T0 + timedelta(minutes=i), "src_file": f"/ev/{i}.log", "src_record": i, **kw}


@pytest.fixture
def engine() -> DuckDBEngine:
    windows = [
        _row(1, EventID=4624, WorkstationName="WS-LOGON", src_ip="10.1.0.1", TargetUserName="a", SourceHostname=None,
             SourceIp=None, DestinationHostname=None, DestinationIp=None, Computer="DC1", Initiated=None),
        _row(2, EventID=4769, WorkstationName=None, src_ip="10.1.0.2", TargetUserName="WS-KRB$", SourceHostname=None,
             SourceIp=None, DestinationHostname=None, DestinationIp=None, Computer="DC1", Initiated=None),
        _row(3, EventID=3, WorkstationName=None, src_ip="10.1.0.3", TargetUserName=None,
             SourceHostname="ws-sysmon.corp.example.jp", SourceIp="10.1.0.3", DestinationHostname="srv-dst",
             DestinationIp="10.1.0.4", Computer="WS-SYSMON.corp.example.jp", Initiated="true"),
        _row(4, EventID=4624, WorkstationName="x'); DROP TABLE windows; --", src_ip="10.1.0.9", TargetUserName="a",
             SourceHostname=None, SourceIp=None, DestinationHostname=None, DestinationIp=None, Computer="DC1",
             Initiated=None),
        _row(5, EventID=4624, WorkstationName="WS-LOOP", src_ip="127.0.0.1", TargetUserName="a", SourceHostname=None,
             SourceIp=None, DestinationHostname=None, DestinationIp=None, Computer="DC1", Initiated=None),
    ]
    dns = [_row(6, query="dns-a.corp.example.jp", answers=["10.1.0.6", "alias.example.jp"]),
           _row(7, query="7.0.1.10.in-addr.arpa", answers=["dns-ptr.corp.example.jp"]),
           _row(8, query="dns-bad.example.jp", answers=["not-an-address", "0.0.0.0"])]
    dhcp = [_row(9, host_name="dhcp-host", client_fqdn=None, assigned_addr="10.1.0.8")]
    krb = [_row(10, client="KRB-ZEEK$/CORP.EXAMPLE.JP", **{"id.orig_h": "10.1.0.10"}),
           _row(11, client="alice/CORP.EXAMPLE.JP", **{"id.orig_h": "10.1.0.11"})]
    ntlm = [_row(12, hostname="NTLM-HOST", **{"id.orig_h": "10.1.0.12"})]
    smb = [_row(13, path="\\\\SMB-SRV\\share$", **{"id.resp_h": "10.1.0.13"})]
    syslog = [_row(14, host="dhcp01", message="DHCPACK on 10.1.0.14 to aa:bb:cc:dd:ee:ff (dhcpd-client) via eth0",
                   extra={}),
              _row(15, host="dns01", message="DHCPACK(eth0) 10.1.0.15 aa:bb:cc:dd:ee:ff dnsmasq-client", extra={}),
              _row(16, host="sw01", message="%SYS-5-CONFIG_I: Configured", extra={"relay_host": "10.1.0.16"})]
    return DuckDBEngine.from_arrow({"windows": _table(windows), "zeek_dns": _table(dns), "zeek_dhcp": _table(dhcp),
                                    "zeek_kerberos": _table(krb), "zeek_ntlm": _table(ntlm),
                                    "zeek_smb_mapping": _table(smb), "syslog": _table(syslog)})


def test_every_kind_of_evidence(engine: DuckDBEngine) -> None:
    names = ["WS-LOGON", "ws-krb", "WS-SYSMON", "srv-dst", "dns-a", "dns-ptr", "dhcp-host", "krb-zeek", "ntlm-host",
             "smb-srv", "dhcpd-client", "dnsmasq-client", "SW01", "alice", "ws-loop", "dns-bad"]
    got = {r.name: [(s.address, s.kinds) for s in r.spans] for r in resolve_hosts(engine, names)}
    kind = {s.kind.split(" (")[0] for s in SOURCES}
    assert got["WS-LOGON"] == [("10.1.0.1", ("windows logon (WorkstationName, IpAddress)",))]
    assert got["ws-krb"] == [("10.1.0.2", ("windows Kerberos machine account (TargetUserName, IpAddress)",))]
    assert got["WS-SYSMON"] == [("10.1.0.3", ("windows Sysmon network connection (SourceHostname, SourceIp)",
                                              "windows event of the host's own outbound connection (Computer, "
                                              "SourceIp)"))]
    assert got["srv-dst"][0][0] == "10.1.0.4"
    assert got["dns-a"] == [("10.1.0.6", ("zeek dns answer",))]
    assert got["dns-ptr"] == [("10.1.0.7", ("zeek dns reverse lookup (PTR)",))]
    assert got["dhcp-host"][0][0] == "10.1.0.8"
    assert got["krb-zeek"][0][0] == "10.1.0.10" and got["alice"] == []  # users are not machines
    assert got["ntlm-host"][0][0] == "10.1.0.12" and got["smb-srv"][0][0] == "10.1.0.13"
    assert got["dhcpd-client"][0][0] == "10.1.0.14" and got["dnsmasq-client"][0][0] == "10.1.0.15"
    assert got["SW01"][0][0] == "10.1.0.16"
    assert got["ws-loop"] == [] and got["dns-bad"] == []  # loopback, unspecified and non-addresses ignored
    assert len(kind) >= 10


def test_hostile_names_are_data(engine: DuckDBEngine) -> None:
    (r,) = resolve_hosts(engine, ["x'); DROP TABLE windows; --"])
    assert [s.address for s in r.spans] == ["10.1.0.9"]
    assert engine.con.sql("SELECT count(*) FROM windows").fetchall() == [(5,)]


def test_spans_change_hands() -> None:
    leases = [_row(0, host_name="A", client_fqdn=None, assigned_addr="10.2.0.1"),
              _row(10, host_name="A", client_fqdn=None, assigned_addr="10.2.0.1"),
              _row(20, host_name="B", client_fqdn=None, assigned_addr="10.2.0.1"),
              _row(30, host_name="A", client_fqdn=None, assigned_addr="10.2.0.1"),
              _row(40, host_name="A", client_fqdn=None, assigned_addr="10.2.0.2")]
    engine = DuckDBEngine.from_arrow({"zeek_dhcp": _table(leases)})
    a, b = resolve_hosts(engine, ["a", "B"])
    at = {i: T0 + timedelta(minutes=i) for i in (0, 10, 20, 30, 40)}
    assert [(s.address, s.valid_from, s.valid_until, s.sightings) for s in a.spans] == [
        ("10.2.0.1", None, at[20], 2), ("10.2.0.1", at[20], None, 1), ("10.2.0.2", None, None, 1)]
    assert [(s.valid_from, s.valid_until) for s in b.spans] == [(at[10], at[30])]
    assert a.spans[0].evidence[0].src_file == "/ev/0.log" and a.spans[0].evidence[0].src_record == 0

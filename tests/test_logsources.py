"""The Sigma logsource -> table mapping (detect/sigma/logsources.py) as data: what each product,
category and service is served by, and the reason when nothing serves it."""

from __future__ import annotations

import pytest
from sigma.rule import SigmaLogSource

from breachscope.detect.sigma.logsources import GENERIC, PRODUCTS, Unserved, segments
from breachscope.model.schema import table_family


def tables(product: str | None, category: str | None, service: str | None) -> list[tuple[str, str]]:
    return [(s.table, s.name) for s in segments(SigmaLogSource(category, product, service))]


def test_products_categories_and_services_map_to_case_tables() -> None:
    assert tables("windows", "process_creation", None) == [("windows", "Sysmon 1"), ("windows", "Security 4688")]
    assert tables("windows", "process_creation", "sysmon") == [("windows", "Sysmon 1")]
    assert tables("zeek", None, "dns") == [("zeek_dns", "Zeek dns")]
    assert tables("linux", "network_connection", None) == [("windows", "Sysmon for Linux 3")]
    assert tables("linux", None, "sshd") == [("syslog", "syslog from sshd")]
    assert tables("cisco", None, "aaa") == [("syslog", "Cisco syslog (aaa)")]
    assert tables(None, "proxy", None) == [("zeek_http", "Zeek http (proxy)")]
    assert tables(None, "firewall", "whatever") == [("flow", "flow records"), ("syslog", "Cisco ASA syslog")]
    assert tables(None, "network", "connection") == [("zeek_conn", "Zeek conn"), ("flow", "flow records")]
    assert all(table_family(s.table) for segs in GENERIC.values() for s in segs)
    assert set(PRODUCTS) == {"windows", "zeek", "linux", "cisco", ""}


@pytest.mark.parametrize(("product", "category", "service", "reason"), [
    ("aws", None, "cloudtrail", "product 'aws' is not an evidence family"),
    ("cisco", None, "duo", "product 'cisco' is not an evidence family"),
    ("zeek", "dns", None, "has no defined Zeek log"),
    ("windows", "file_access", None, "Kernel-File ETW"),
    ("linux", "process_tampering", None, "needs auditd or EDR"),
    (None, "network", None, "category=network service=-"),
])
def test_unserved_logsources_say_why(product: str | None, category: str | None, service: str | None,
                                     reason: str) -> None:
    with pytest.raises(Unserved, match=reason):
        segments(SigmaLogSource(category, product, service))

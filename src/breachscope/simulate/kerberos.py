"""Kerberoasting as the logs see it, shared by the ad-2020 episode and the catalogue's step: RC4 service
tickets asked of a domain controller for the domain's service accounts (4769 0x17, Zeek conn and kerberos)."""

from __future__ import annotations

import numpy as np

from breachscope.simulate import clock
from breachscope.simulate.network import Host, Network
from breachscope.simulate.story import Story


def service_principals(net: Network) -> list[tuple[str, str]]:
    """(service account, SPN) pairs the attacker roasts: SQL on the BI server, backup, BI web, scanning, WSUS
    (each account found by its name's ending, else the services in order)."""
    f, h, services = net.fqdn, net.host, net.spec.accounts.services
    wanted = (("sql", f"MSSQLSvc/{h('bi').name}.{f}:1433"), ("backup", f"BackupExec/{h('backup').name}.{f}"),
              ("bi", f"HTTP/{h('bi').name.lower()}.{f}"), ("scan", f"scan/{h('printer').name}.{f}"),
              ("wsus", f"HTTP/{h('wsus').name.lower()}.{f}"))
    return [(next((s for s in services if s.endswith(key)), services[i % len(services)]), spn)
            for i, (key, spn) in enumerate(wanted)]


def roast(story: Story, rng: np.random.Generator, t: int, source: Host, client: str, tag: str) -> list[str]:
    """The ticket requests from `source` as `client`, 1.7 s apart from `t`; the roasted accounts."""
    net = story.net
    dc, realm = net.with_role("dc")[0], net.realm
    accounts = {u.sam: u for u in net.users}
    spns = service_principals(net)
    for i, (svc, spn) in enumerate(spns):
        ts = t + i * 1_700_000
        sport = int(rng.integers(49152, 65536))
        story.win(ts, dc.name, 4769, [
            ("TargetUserName", f"{client}@{realm}"), ("TargetDomainName", realm), ("ServiceName", svc),
            ("ServiceSid", accounts[svc].sid), ("TicketOptions", "0x40810000"), ("TicketEncryptionType", "0x17"),
            ("IpAddress", f"::ffff:{source.ip}"), ("IpPort", str(sport)), ("Status", "0x0"),
            ("LogonGuid", "{" + rng.bytes(16).hex() + "}"), ("TransmittedServices", "-")], tag)
        uid = story.conn(ts - 2_000, source.ip, sport, dc.ip, 88, "tcp", "krb_tcp", 0.01, 1_450, 1_630, tag=tag)
        story.zeek("kerberos", ts, {"uid": uid, "id.orig_h": source.ip, "id.orig_p": str(sport),
                                    "id.resp_h": dc.ip, "id.resp_p": "88", "request_type": "TGS",
                                    "client": f"{client}/{realm}", "service": spn, "success": "T",
                                    "error_msg": "-",
                                    "till": clock.epoch_s6(np.array([ts + 10 * clock.HOUR]))[0].as_py(),
                                    "cipher": "rc4-hmac", "forwardable": "T", "renewable": "T"}, tag)
    return [svc for svc, _ in spns]

"""Addresses and networks as a containment plan may use them: validated with `ipaddress` and normalized.
Evidence is attacker-written: a value that is not exactly an address (a host name such as `a;rm -rf /`,
an IPv6 scope id, an address with spaces) is refused here and never reaches a command line."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: what a plan falls back to when the incident does not say which networks are inside (RFC 1918, RFC 4193)
DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


def address(value: object) -> Address | None:
    """`value` as an address (IPv4-mapped IPv6 as IPv4), or None when it is anything else."""
    if not isinstance(value, str) or "%" in value:  # a scope id is free text: never let it through
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def network(value: object) -> Network | None:
    """`value` as a network (an address is its /32 or /128); None for anything else, host bits set included."""
    if not isinstance(value, str) or "%" in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        return None


def collapsed(networks: Iterable[Network]) -> tuple[Network, ...]:
    """Networks merged where they overlap or touch (nftables interval sets refuse overlaps), IPv4 first."""
    nets = list(networks)
    v4 = ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv4Network))
    v6 = ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv6Network))
    return (*v4, *v6)


def text(net: Network) -> str:
    """A network as plans write it: a single address without its prefix length."""
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def version(value: str) -> int:
    """4 or 6 for a validated address or network text."""
    return 6 if ":" in value else 4


def cisco(value: str, wildcard: bool) -> str:
    """An address or network in Cisco syntax: `host A`, then IPv4 `NET WILDCARD` (IOS ACLs, `wildcard`) or
    `NET MASK` (ASA object-groups), IPv6 `NET/LEN`. Plans hold validated addresses only: anything else raises."""
    net = network(value)
    if net is None:
        raise ValueError(f"not an address: {value!r}")
    if net.num_addresses == 1:
        return f"host {net.network_address}"
    if isinstance(net, ipaddress.IPv4Network):
        return f"{net.network_address} {net.hostmask if wildcard else net.netmask}"
    return str(net)

"""assets.yaml: what the organization knows about its own hosts, which overrides what `investigate`
infers from behaviour. Every key is optional.

    crown_jewels: [crm-db1, 172.16.8.20]     # hosts (names or addresses) holding the data at stake
    roles: {bastion1: admin host, vault2: backup server}
    owners: {crm-web3: sales systems team}
    internal_networks: [10.0.0.0/8, 192.0.2.0/24]   # added to RFC 1918 and unique-local space
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator

from breachscope.model.config import Strict, load_yaml, validate


class Assets(Strict):
    crown_jewels: tuple[str, ...] = ()
    roles: dict[str, str] = Field(default_factory=dict)
    owners: dict[str, str] = Field(default_factory=dict)
    internal_networks: tuple[str, ...] = ()

    @field_validator("internal_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"not a network: {net!r} (CIDR such as 10.0.0.0/8)") from None
        return value


def load_assets(path: Path) -> Assets:
    data, node = load_yaml(path, "assets")
    return validate(Assets, data or {}, node, path, "assets")

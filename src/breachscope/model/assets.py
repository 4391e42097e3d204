"""assets.yaml: what the organization knows about its own hosts, which overrides what `investigate`
infers from behaviour. Every key is optional.

    crown_jewels: [ord-db01, 10.40.2.30]     # hosts (names or addresses) holding the data at stake
    roles: {jmp01: admin host, bkp01: backup server}
    owners: {ord-ap02: order system team}
    internal_networks: [10.0.0.0/8, 198.51.100.0/24]   # added to RFC 1918 and unique-local space
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

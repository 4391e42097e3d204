"""What every detector of the investigation is given: the case as any detector sees it (detect's
CaseContext: engine, tables, window, internal networks) plus the host names behind addresses, the crown
jewels, and what earlier detectors learned.

Everything here is learned from the case (and an optional assets file): no name, address or account of
any network is written in this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from breachscope.detect.casecontext import CaseContext, table_columns
from breachscope.detect.casesql import DEFAULT_INTERNAL as DEFAULT_INTERNAL
from breachscope.detect.casesql import epoch_us_sql as epoch_us_sql
from breachscope.detect.casesql import host_key as host_key
from breachscope.detect.casesql import host_key_sql as host_key_sql
from breachscope.detect.casesql import internal_sql as internal_sql
from breachscope.engines.protocol import SqlEngine


@dataclass
class Context(CaseContext):
    """The case as the investigation's detectors see it."""

    names: dict[str, str] = field(default_factory=dict)  # address -> host name (short, as written)
    crown_jewel_ips: set[str] = field(default_factory=set)
    crown_jewel_hosts: set[str] = field(default_factory=set)  # host keys
    display: dict[str, str] = field(default_factory=dict)  # host key -> the name as the evidence writes it
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # what a detector learned for the incident
    artifacts: SqlEngine | None = None  # the DuckDB case: the stages' results (findings) are read there

    @classmethod
    def of(cls, engine: SqlEngine, **kwargs: Any) -> Context:
        return cls(engine=engine, columns=table_columns(engine), **kwargs)

    def missing(self, table: str, *columns: str) -> str:
        if table == "findings" and table not in self.columns:
            return "no hunt findings in the case (run `breachscope hunt CASE --rules ...` or `investigate --rules`)"
        return super().missing(table, *columns)

    def artifact_rows(self, sql: str) -> list[dict[str, Any]]:
        """Rows of the case's artifacts (findings of earlier hunts: small, derived, on the DuckDB case)."""
        engine = self.artifacts or self.engine
        table: pa.Table = engine.query(sql)
        return table.to_pylist()

    def name_of(self, address: str | None) -> str | None:
        """The host name behind an address (the one most evidence gives), else None."""
        return self.names.get(address) if address else None

    def actor(self, host: str | None, address: str | None) -> str | None:
        """How an alert names its acting host: the name when known, else the address."""
        return host_key(host) if host else (host_key(self.name_of(address)) or address)

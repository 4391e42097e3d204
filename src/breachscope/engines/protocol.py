"""What rule detection needs from a query engine (DuckDB, Spark): every engine and the case that
holds one give this, so detection code is typed against it and never against one engine."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa


class SqlEngine(Protocol):
    """Event tables by name; SQL in the engine's `dialect` ("duckdb", "spark") in, Arrow tables out."""

    @property
    def dialect(self) -> str: ...

    def schemas(self) -> dict[str, pa.Schema]:
        """Arrow schema of every event table, with the event field each column holds."""
        ...

    def query(self, sql: str) -> pa.Table: ...

    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable as `name` (until drop)."""
        ...

    def materialize(self, name: str, sql: str) -> int:
        """Run sql into a temporary table `name`; return its row count."""
        ...

    def drop(self, name: str) -> None: ...

"""Helpers of the replay sandbox tests: a backend that records every query it is sent (to prove what
was never executed), and statement builders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from breachscope.scope.statements import AuditStatement


class Recording:
    """Wraps a backend; `sent` holds the text of every query and batch it ran."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.info = inner.info
        self.warnings: list[str] = []
        self.sent: list[str] = []

    def query(self, sql: str) -> pa.Table:
        self.sent.append(sql)
        return self.inner.query(sql)

    def batch(self, final_sql: str, stmt_ids: list[int], slots: list[list[str | None]]) -> pa.Table:
        self.sent.append(final_sql)
        return self.inner.batch(final_sql, stmt_ids, slots)

    def lookup(self, *args: Any) -> pa.Table:
        return self.inner.lookup(*args)

    def match(self, *args: Any) -> Any:
        return self.inner.match(*args)

    def close(self) -> None:
        self.inner.close()


TS = datetime(2025, 2, 5, 1, 0, 0, tzinfo=UTC)


def stmt(text: str, i: int = 1, params: tuple[str | None, ...] | None = (), dialect: str = "pgaudit",
         ts: datetime | None = TS, ts_text: str | None = "2025-02-05 10:00:00.000 JST", user: str | None = "mallory",
         database: str | None = "orders", command: str = "SELECT") -> AuditStatement:
    return AuditStatement(f"s{i}", "audit.log", i, (), ts, user, "10.0.0.9", "1", database, dialect, command,
                          "READ", text, params, None, None, (), ts_text)

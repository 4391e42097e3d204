"""What a detector of the investigation is: a name, the tables it reads, and a function from the case
(`Context`) to alerts. The detectors aggregate in SQL on the case; Python only sees the few rows that
are already unusual."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from breachscope.investigate.context import Context
from breachscope.model.incident import Alert, EvidenceRef
from breachscope.model.sql import quote_literal

EVIDENCE_KEPT = 5


class Skipped(Exception):
    """A detector has nothing to read in this case (the message says what is missing)."""


@dataclass(frozen=True)
class Detector:
    name: str
    needs: tuple[tuple[str, tuple[str, ...]], ...]  # (table, columns) it cannot run without
    run: Callable[[Context], list[Alert]]
    about: str  # one line for `investigate --json` coverage and the docs


def evidence_sql(table: str, ts: str = "ts", table_sql: str | None = None, prefix: str = "") -> str:
    """SQL aggregate: the first EVIDENCE_KEPT (table, file, record) of a group, oldest first; table_sql: a
    column naming each row's table instead of the fixed `table`."""
    t = table_sql or quote_literal(table)
    # sorted as structs (time first), not with an ordered aggregate: the same SQL runs on Spark
    return (f"array_slice(list_sort(list(struct_pack(o := {ts}, t := {t}, f := {prefix}src_file, "
            f"r := {prefix}src_record))), 1, {EVIDENCE_KEPT})")


def refs(items: Any) -> tuple[EvidenceRef, ...]:
    """evidence_sql's list as EvidenceRefs."""
    out = []
    for it in items or ():
        out.append(EvidenceRef(str(it["t"]), str(it["f"]), None if it["r"] is None else int(it["r"])))
    return tuple(out[:EVIDENCE_KEPT])


def clamp(score: float) -> float:
    return round(max(0.0, min(100.0, score)), 1)


def alert(ts: datetime | None, kind: str, stage: str, score: float, reason: str, evidence: Any,
          nbytes: int | None = None, end_ts: datetime | None = None, files: Any = (), **entities: Any) -> Alert:
    fields = {k: (None if v is None else str(v)) for k, v in entities.items()}
    return Alert(ts=ts, kind=kind, stage=stage, host=fields.get("host"), src_ip=fields.get("src_ip"),
                 dst_ip=fields.get("dst_ip"), dst_host=fields.get("dst_host"), user=fields.get("user"),
                 session_id=fields.get("session_id"), score=clamp(score), reason=reason,
                 evidence=refs(evidence) if not isinstance(evidence, tuple) else evidence,
                 bytes=None if nbytes is None else int(nbytes), end_ts=end_ts,
                 files=tuple(str(f) for f in files or ()))

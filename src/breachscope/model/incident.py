"""The incident that `investigate` hands over: CASE/investigation/incident.json (`Incident`) and the alerts
behind it, CASE/investigation/alerts.parquet (`ALERTS_SCHEMA`, one `Alert` per row for Python readers).

Every claim carries the evidence rows that made it (`EvidenceRef`: table, file, record), so a reader can
go back to the log line. `scope --from-investigation` reads `suspects`; the report reads the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from breachscope.model.jsondoc import doc, dumps, json_object, parse, typed_table

ALERTS_ARTIFACT = "alerts"
ALERTS_VERSION = 1

#: what an alert or a host is in the attack, in the order an intrusion goes
STAGES = ("initial_access", "execution", "discovery", "credential_access", "lateral_movement", "collection",
          "staging", "c2", "exfiltration", "impact", "other")


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """One evidence row: the case table, the evidence file and the record (line or record id) in it."""

    table: str = doc("event table of the case (windows, zeek_conn, db_audit, ...)")
    src_file: str = doc("the evidence file as ingested")
    src_record: int | None = doc("line number or record id in that file")


@dataclass(frozen=True, slots=True)
class Alert:
    """One anomaly on an entity, with its score, why, and the evidence rows."""

    ts: datetime | None = doc("when it happened (the first evidence row)")
    kind: str = doc("the detector: process_tree, db_session, lateral_movement, password_guessing, "
                    "file_transfer, exfiltration, c2, inbound, sigma")
    stage: str = doc("attack stage it points to: " + ", ".join(STAGES))
    host: str | None = doc("the acting host (short name, or the address when no name is known)")
    src_ip: str | None = doc("source address")
    dst_ip: str | None = doc("destination address")
    dst_host: str | None = doc("the host acted on, when another one")
    user: str | None = doc("account involved")
    session_id: str | None = doc("database session, for db_session alerts")
    score: float = doc("0-100: how unusual, from the case's own history and peers")
    reason: str = doc("why, in words")
    evidence: tuple[EvidenceRef, ...] = doc("the first evidence rows (at most 5)")
    bytes: int | None = doc("bytes moved, for transfers and uploads", default=None)
    end_ts: datetime | None = doc("when it ended, for transfers and uploads", default=None)
    files: tuple[str, ...] = doc("file names moved, for transfers", default=())


_EVIDENCE_TYPE = pa.list_(pa.struct([("table", pa.string()), ("src_file", pa.string()),
                                     ("src_record", pa.int64())]))
ALERTS_SCHEMA = pa.schema([
    ("ts", pa.timestamp("us", tz="UTC")), ("kind", pa.string()), ("stage", pa.string()), ("host", pa.string()),
    ("src_ip", pa.string()), ("dst_ip", pa.string()), ("dst_host", pa.string()), ("user", pa.string()),
    ("session_id", pa.string()), ("score", pa.float64()), ("reason", pa.string()),
    ("src_file", pa.string()), ("src_record", pa.int64()), ("evidence", _EVIDENCE_TYPE), ("bytes", pa.int64()),
    ("end_ts", pa.timestamp("us", tz="UTC")), ("files", pa.list_(pa.string())),
])


def alerts_table(alerts: Iterable[Alert]) -> pa.Table:
    """Alerts as the published Arrow table (src_file, src_record: the first evidence row)."""
    rows = []
    for a in alerts:
        first = a.evidence[0] if a.evidence else None
        rows.append({"ts": a.ts, "kind": a.kind, "stage": a.stage, "host": a.host, "src_ip": a.src_ip,
                     "dst_ip": a.dst_ip, "dst_host": a.dst_host, "user": a.user, "session_id": a.session_id,
                     "score": float(a.score), "reason": a.reason,
                     "src_file": first.src_file if first else None,
                     "src_record": first.src_record if first else None,
                     "evidence": [{"table": e.table, "src_file": e.src_file, "src_record": e.src_record}
                                  for e in a.evidence], "bytes": a.bytes, "end_ts": a.end_ts,
                     "files": list(a.files)})
    table = pa.Table.from_pylist(rows, schema=ALERTS_SCHEMA)
    return typed_table(table, ALERTS_SCHEMA, ALERTS_ARTIFACT, ALERTS_VERSION, "alerts")


def read_alerts(path: Path) -> pa.Table:
    """alerts.parquet, checked against ALERTS_SCHEMA (an unreadable or foreign file is an ArtifactError)."""
    import pyarrow.parquet as pq

    from breachscope.model.jsondoc import ArtifactError

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ArtifactError(f"{path}: unreadable alerts: {exc}") from exc
    return typed_table(table, ALERTS_SCHEMA, ALERTS_ARTIFACT, ALERTS_VERSION, path)


def alert_rows(table: pa.Table) -> list[Alert]:
    """The alerts of an ALERTS_SCHEMA table as Alert records."""
    fields = [f for f in Alert.__dataclass_fields__ if f in table.schema.names]
    return [Alert(**{**r, "evidence": tuple(EvidenceRef(**e) for e in r["evidence"] or ()),
                     "files": tuple(r["files"] or ())})
            for r in table.select(fields).to_pylist()]


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A hunt rule or analytic that fired on a host, from the case's findings."""

    rule_id: str = doc("the rule's id (Sigma), or analytic:<name>")
    level: str = doc("its highest level on the host: informational, low, medium, high, critical")
    attack: tuple[str, ...] = doc("ATT&CK technique ids of its findings (T1003.006...)")
    evidence: tuple[EvidenceRef, ...] = doc("its first evidence rows on the host")


@dataclass(frozen=True, slots=True)
class IncidentHost:
    """An internal host (or an external address) with its place in the attack."""

    name: str = doc("short host name (first label), or the address when no name is known")
    addresses: tuple[str, ...] = doc("addresses the host used in the case")
    rank: int = doc("1 = most suspicious")
    score: float = doc("suspicion score (sum of its alerts, weighted, plus its place in the chain)")
    role: str = doc("role in the attack: entry, pivot, staging, exfiltration_source, target, crown_jewel, "
                    "involved; external_* for outside addresses")
    roles: tuple[str, ...] = doc("every role found (role is the first)")
    function: str | None = doc("what the host is, inferred from behaviour or assets.yaml (database server, "
                               "application server, admin host, file server, workstation, router...)")
    crown_jewel: bool = doc("holds the data at stake (assets.yaml, or the inventory's database server)")
    first_alert: datetime | None = doc("time of its first alert")
    last_alert: datetime | None = doc("time of its last alert")
    alerts: int = doc("alerts on the host")
    reasons: tuple[str, ...] = doc("the strongest reasons, in words")
    evidence: tuple[EvidenceRef, ...] = doc("evidence rows of the strongest alerts")
    rules: tuple[RuleHit, ...] = doc("hunt rules and analytics whose findings joined the investigation on it "
                                     "(containment reads DCSync and golden-ticket signs here)", default=())


@dataclass(frozen=True, slots=True)
class IncidentAccount:
    """An account the attacker used or that acted in the attack's alerts."""

    name: str = doc("account name as logged (domain\\\\user or user)")
    score: float = doc("sum of the scores of its alerts")
    hosts: tuple[str, ...] = doc("hosts where it acted in alerts")
    first_seen: datetime | None = doc("first alert")
    reasons: tuple[str, ...] = doc("why")
    evidence: tuple[EvidenceRef, ...] = doc("evidence rows")


@dataclass(frozen=True, slots=True)
class ExternalEndpoint:
    """An address outside the network in the attack."""

    ip: str = doc("the address")
    name: str | None = doc("DNS name or TLS server name seen for it")
    role: str = doc("initial_access, c2, exfiltration, c2_and_exfiltration, later_attempt, involved")
    first_seen: datetime | None = doc("first connection in the case")
    last_seen: datetime | None = doc("last connection in the case")
    connections: int = doc("connections seen with it (one sensor's count)")
    bytes_out: int = doc("bytes sent to it from inside (one sensor per connection)")
    internal_hosts: tuple[str, ...] = doc("internal hosts that talked to it")
    reasons: tuple[str, ...] = doc("why")
    evidence: tuple[EvidenceRef, ...] = doc("evidence rows")
    services: tuple[str, ...] = doc("services it reached on the internal hosts from outside, as protocol/port "
                                    "(tcp/8443), from the inbound connections of the attack", default=())


@dataclass(frozen=True, slots=True)
class DbSession:
    """A database session (pgAudit, MySQL, MariaDB) and how unusual it is."""

    session_id: str = doc("session id as the audit log writes it (pgAudit %c, else the backend pid)")
    client: str | None = doc("client address")
    client_host: str | None = doc("client host name when known")
    user: str | None = doc("database user")
    application: str | None = doc("application name the client gave")
    database: str | None = doc("database")
    first_statement: datetime | None = doc("time of its first statement")
    last_statement: datetime | None = doc("time of its last statement")
    statements: int = doc("statements in the session")
    score: float = doc("0-100")
    suspect: bool = doc("handed to scope as a suspect session")
    reasons: tuple[str, ...] = doc("why")
    evidence: tuple[EvidenceRef, ...] = doc("its first unusual statements")


@dataclass(frozen=True, slots=True)
class DataMovement:
    """Data moved between the attack's hosts or out of the network."""

    kind: str = doc("internal_transfer | exfiltration")
    src: str = doc("source host (name or address)")
    dst: str = doc("destination host or external address")
    src_ip: str | None = doc("source address")
    dst_ip: str | None = doc("destination address")
    bytes: int = doc("bytes moved (each connection counted once, from the best sensor that saw it)")
    start: datetime | None = doc("first byte")
    end: datetime | None = doc("last connection's end")
    files: tuple[str, ...] = doc("file names, when the sensor logged them")
    sensors: tuple[str, ...] = doc("tables that saw it")
    evidence: tuple[EvidenceRef, ...] = doc("evidence rows")


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """A key event of the incident."""

    ts: datetime | None = doc("when")
    stage: str = doc("attack stage")
    host: str | None = doc("where")
    summary: str = doc("what, in words")
    score: float = doc("score of the alert behind it")
    evidence: tuple[EvidenceRef, ...] = doc("evidence rows")


@dataclass(frozen=True, slots=True)
class IncidentSuspects:
    """What `scope --from-investigation` uses: the attacker's sessions and the incident window."""

    hosts: tuple[str, ...] = doc("suspect internal hosts (names)")
    ips: tuple[str, ...] = doc("their addresses and the external addresses in the attack")
    users: tuple[str, ...] = doc("accounts the attacker used")
    sessions: tuple[str, ...] = doc("database sessions of the attacker")
    since: datetime | None = doc("first alert of the incident")
    until: datetime | None = doc("last alert of the incident")


@dataclass(frozen=True, slots=True)
class DetectorRun:
    """What one detector looked at: ran or skipped, and why."""

    detector: str = doc("detector name")
    status: str = doc("ran | skipped")
    alerts: int = doc("alerts it raised")
    note: str = doc("what it read, or why it was skipped")


@dataclass(frozen=True, slots=True)
class Incident:
    """The investigation's result: who, where, when, how the data left, and the suspects for scope."""

    VERSION: ClassVar[int] = 1

    case: str = doc("the case folder")
    generated_at: datetime = doc("when the investigation ran (UTC)")
    since: datetime | None = doc("evidence considered from (--since), null: all")
    until: datetime | None = doc("evidence considered until (--until), null: all")
    story: tuple[str, ...] = doc("the incident in a few sentences, each with its first evidence")
    hosts: tuple[IncidentHost, ...] = doc("internal hosts by rank, then external addresses")
    accounts: tuple[IncidentAccount, ...] = doc("accounts in the attack")
    external: tuple[ExternalEndpoint, ...] = doc("outside addresses in the attack")
    db_sessions: tuple[DbSession, ...] = doc("unusual database sessions, most suspicious first")
    data_movements: tuple[DataMovement, ...] = doc("data moved: entry -> staging -> outside")
    timeline: tuple[TimelineEvent, ...] = doc("key events in time order")
    suspects: IncidentSuspects = doc("for scope --from-investigation")
    crown_jewels: tuple[str, ...] = doc("hosts holding the data at stake")
    coverage: tuple[DetectorRun, ...] = doc("every detector: ran or skipped, and why")
    version: int = doc("version of this document's format", default=1)
    extra: dict[str, Any] = field(default_factory=dict, metadata={"doc": "counts of what was read"})
    internal_networks: tuple[str, ...] = doc("the networks taken as inside: the default private ranges and "
                                             "assets.yaml's (empty: written before they were recorded)", default=())

    def to_json(self) -> str:
        return dumps(json_object(self))

    @classmethod
    def from_json(cls, text: str, where: str | Path = "incident.json") -> Incident:
        import json

        try:
            document = json.loads(text)
        except ValueError as exc:
            from breachscope.model.jsondoc import ArtifactError

            raise ArtifactError(f"{where}: not JSON: {exc}") from None
        return parse(cls, document, where)

    @classmethod
    def read(cls, path: Path) -> Incident:
        return cls.from_json(path.read_text(encoding="utf-8"), path)

"""The containment plan: what to do, in which order, to stop the attack without losing its evidence
(`contain.plan.build_plan` makes it from the incident; `breachscope contain` renders it in a device's
syntax; the result document embeds it).

A pure function of the incident: the same incident gives the same plan, byte for byte (no time of its own
making). Every step says why, on which evidence rows, and how to undo it. Addresses in a plan are validated
(`ipaddress`); host and account names are evidence (attacker-written) and are never trusted by a renderer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Literal, get_args

from breachscope.model.incident import EvidenceRef
from breachscope.model.jsondoc import ArtifactError, doc, dumps, json_object, parse

#: the phases, in the order a plan runs them: evidence first, then the network, then the accounts
Phase = Literal["preserve", "block", "restrict", "isolate", "accounts", "verify"]
PHASES: tuple[Phase, ...] = get_args(Phase)
Action = Literal["capture_memory", "capture_disk", "block_address", "restrict_service", "isolate_host",
                 "disable_account", "reset_password", "reset_krbtgt", "verify_containment"]
ACTIONS: tuple[Action, ...] = get_args(Action)
#: where a step is carried out: on the host itself, on routers and firewalls, in Active Directory, in the database
System = Literal["host", "network", "directory", "database"]
SYSTEMS: tuple[System, ...] = get_args(System)


@dataclass(frozen=True, slots=True)
class ContainmentStep:
    """One step of the plan: an action on a target, why, on which evidence, and how to undo it."""

    order: int = doc("1, 2, ...: the order to carry the steps out in")
    phase: Phase = doc("preserve | block | restrict | isolate | accounts | verify")
    action: Action = doc("capture_memory, capture_disk, block_address, restrict_service, isolate_host, "
                         "disable_account, reset_password, reset_krbtgt, verify_containment")
    system: System = doc("where it is carried out: host, network (routers, firewalls), directory (Active "
                         "Directory), database")
    target: str = doc("the host, address or account acted on (as the evidence names it)")
    addresses: tuple[str, ...] = doc("validated addresses of the target (block: the address; hosts: theirs)")
    service: str | None = doc("protocol/port restricted (tcp/443); null: every service of the host")
    allowed: tuple[str, ...] = doc("networks or addresses still allowed: restrict: the internal networks; "
                                   "isolate: --keep-access")
    reason: str = doc("why, in words")
    evidence: tuple[EvidenceRef, ...] = doc("the evidence rows behind the step")
    rollback: str = doc("how to undo it, in words (or why it cannot be undone)")


@dataclass(frozen=True, slots=True)
class ContainmentPlan:
    """The containment plan of an incident: ordered steps, and what could not be planned and why."""

    VERSION: ClassVar[int] = 1

    case: str = doc("the case of the incident")
    incident_generated_at: datetime = doc("when the incident the plan comes from was generated (its identity)")
    steps: tuple[ContainmentStep, ...] = doc("the steps, in order")
    keep_access: tuple[str, ...] = doc("addresses or networks kept able to reach the isolated hosts "
                                       "(the forensic collector, the admins' jump host)")
    internal_networks: tuple[str, ...] = doc("the networks a restricted service stays open to")
    notes: tuple[str, ...] = doc("what was not planned, or planned with an assumption, and why")
    version: int = doc("version of this document's format", default=1)

    def to_json(self) -> str:
        return dumps(json_object(self))

    @classmethod
    def from_json(cls, text: str, where: str | Path = "containment.json") -> ContainmentPlan:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ArtifactError(f"{where}: not JSON: {exc}") from None
        return parse(cls, document, where)

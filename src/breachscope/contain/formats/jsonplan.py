"""The plan as its JSON document (model.containment.ContainmentPlan.to_json); the rollback as the steps'
rollbacks, last step first."""

from __future__ import annotations

from breachscope.contain.formats.base import Format
from breachscope.model.containment import ContainmentPlan
from breachscope.model.jsondoc import dumps


def render(plan: ContainmentPlan) -> str:
    return plan.to_json()


def rollback(plan: ContainmentPlan) -> str:
    return dumps({"case": plan.case, "incident_generated_at": plan.incident_generated_at.isoformat(),
                  "version": plan.version,
                  "rollback": [{"order": s.order, "action": s.action, "system": s.system, "target": s.target,
                                "addresses": list(s.addresses), "rollback": s.rollback}
                               for s in reversed(plan.steps)]})


FORMAT = Format("json", "the plan's JSON document (docs/artifacts/containment-plan.schema.json)", render, rollback)

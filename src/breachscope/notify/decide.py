"""`notify`: the latest exposure + the time of awareness -> one decision (`Notification`), from which
obligations.json and the drafts are both made. Written as a run (runs/<run_id>/notify/) and copied to
CASE/notify/, where drafts an earlier run wrote and this one does not owe are removed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from breachscope.model.case import CaseLayout
from breachscope.model.errors import BreachscopeError, UsageError
from breachscope.model.exposure import ExposureSummary
from breachscope.model.jsondoc import dumps
from breachscope.model.obligations import NO, UNKNOWN, YES, Facts, Notification, Obligation
from breachscope.model.result_case import Limits, assemble
from breachscope.model.runs import EXPOSURE, OBLIGATIONS, read_history
from breachscope.model.runstore import RunWriter
from breachscope.notify import drafts
from breachscope.notify.rules import evaluate, load_rules


@dataclass(frozen=True)
class NotifyResult:
    decision: Notification
    run_id: str
    folder: Path  # CASE/notify: the copies of the latest notify run

    @property
    def drafts(self) -> list[Path]:
        return [self.folder / d for d in self.decision.drafts]

    def to_json(self) -> dict[str, Any]:
        return {**self.decision.to_json(), "run_id": self.run_id, "folder": str(self.folder)}


def known_jurisdictions(rules: list[dict[str, Any]], wanted: list[str] | None) -> None:
    """Every jurisdiction asked for must have rules: an unknown one is an error, never an empty table."""
    known = sorted({str(r["jurisdiction"]) for r in rules})
    for j in wanted or []:
        if j in known:
            continue
        covered = sorted({str(r["jurisdiction"]) for r in rules
                          if j in (r.get("applies_if") or {}).get("subject_jurisdictions", [])})
        hint = f" ({j} is covered by {', '.join(covered)}: ask for that)" if covered else ""
        raise BreachscopeError(f"--jurisdictions {j}: no notification rules for it{hint}; "
                               f"rules exist for {', '.join(known)}")


def latest_exposure(case_dir: Path) -> tuple[str | None, ExposureSummary]:
    """The exposure the views show (its run id), or CASE/exposure/ of a case from before run history."""
    layout = CaseLayout(case_dir)
    run = read_history(layout).latest(EXPOSURE)
    if run is not None:
        return run.run_id, ExposureSummary.read(layout.run(run.run_id).exposure_summary)
    if layout.exposure_summary.is_file():
        return None, ExposureSummary.read(layout.exposure_summary)
    raise UsageError(f"no exposure in {case_dir}: run `breachscope scope` first ({layout.exposure_summary} "
                     "is missing)")


def facts_of(summary: ExposureSummary) -> Facts:
    sectors = tuple(summary.controller.sectors)
    return Facts(jurisdictions=summary.jurisdictions, categories=tuple(summary.categories),
                 unlawful_purpose=summary.suspected and summary.affected > 0, sectors=sectors,
                 sectors_known=bool(sectors))


def decide(summary: ExposureSummary, exposure_run: str | None, aware_at: datetime, jurisdictions: list[str] | None,
           rules: list[dict[str, Any]]) -> Notification:
    facts = facts_of(summary)
    obligations = tuple(evaluate(rules, facts, aware_at, jurisdictions))
    owed = YES if any(o.owed == YES for o in obligations) else UNKNOWN if any(o.owed == UNKNOWN for o in obligations) \
        else NO
    wanted = sorted({f"{d}.md" for o in obligations if o.owed in (YES, UNKNOWN) for d in o.drafts})
    return Notification(aware_at=aware_at.isoformat(), exposure_run=exposure_run,
                        jurisdictions=tuple(jurisdictions or ()), facts=facts, obligations=obligations,
                        drafts=tuple(wanted), owed=owed, reason=_reason(summary, obligations, owed, jurisdictions))


def _reason(summary: ExposureSummary, obligations: tuple[Obligation, ...], owed: str,
            jurisdictions: list[str] | None) -> str:
    if owed == YES:
        return ""
    if summary.affected == 0:
        st = summary.statements
        return (f"the exposure has no affected subject ({st.get('replayed', 0):,} statement(s) replayed, "
                f"{st.get('potential', 0):,} potential, {summary.files.get('scanned', 0):,} export file(s) scanned)")
    if not obligations:
        where = ", ".join(f"{j}: {c.get('organizations', 0):,} organization(s), {c.get('persons', 0):,} person(s)"
                          for j, c in sorted(summary.jurisdictions.items())) or "none recorded"
        asked = f" among {', '.join(jurisdictions)}" if jurisdictions else ""
        return f"no rule{asked} applies to where the affected subjects are ({where})"
    whys = sorted({w for o in obligations if o.owed == owed for w in o.why})
    if owed == UNKNOWN:
        return "owed or not depends on what is not known: " + "; ".join(whys)
    return "no obligation is owed: " + "; ".join(whys)


def run_notify(case_dir: Path, aware_at: datetime, jurisdictions: list[str] | None) -> NotifyResult:
    rules = load_rules()
    known_jurisdictions(rules, jurisdictions)
    exposure_run, summary = latest_exposure(case_dir)
    decision = decide(summary, exposure_run, aware_at, jurisdictions, rules)
    # the drafts read the result document holding this decision: what they say is what obligations.json says
    document = assemble(case_dir, None, obligations=decision, limits=Limits(findings_listed=0, subjects=0, timeline=0))
    ctx = drafts.context(document)
    params = {"aware_at": decision.aware_at, "jurisdictions": list(decision.jurisdictions)}
    with RunWriter(case_dir, "notify", OBLIGATIONS, "notify", params,
                   inputs=[exposure_run] if exposure_run else []) as run:
        run.paths.notify.mkdir(parents=True)
        for name in decision.drafts:
            run.paths.draft(name.removesuffix(".md")).write_text(drafts.render(name.removesuffix(".md"), ctx),
                                                                 encoding="utf-8")
        run.paths.obligations.write_text(dumps(decision.to_json()), encoding="utf-8")
        record = run.commit({"obligations": len(decision.obligations),
                             "owed": sum(o.owed == YES for o in decision.obligations),
                             "unknown": sum(o.owed == UNKNOWN for o in decision.obligations),
                             "drafts": len(decision.drafts)})
    return NotifyResult(decision, record.run_id, CaseLayout(case_dir).notify)

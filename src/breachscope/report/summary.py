"""The result document in a few lines for the terminal (what `breachscope report` prints): what happened,
who is affected, what is owed by when, how to contain it, and what the document lacks. Plain text: the
caller escapes it for the terminal (evidence values are in it)."""

from __future__ import annotations

from breachscope.model.result import ResultDocument

HOSTS_SHOWN = 5


def summary_lines(doc: ResultDocument) -> list[str]:
    lines: list[str] = []
    if doc.incident is not None:
        internal = [h for h in doc.incident.hosts if not h.role.startswith("external")]
        hosts = ", ".join(f"{h.rank}. {h.name} ({h.role})" for h in internal[:HOSTS_SHOWN])
        lines.append(f"incident: {len(internal)} internal host(s) involved: {hosts or 'none'}; "
                     f"{len(doc.incident.external)} external address(es); {len(doc.incident.accounts)} account(s)")
    if doc.findings is not None:
        levels = ", ".join(f"{k} {v:,}" for k, v in sorted(doc.findings.by_level.items()))
        lines.append(f"findings: {doc.findings.total:,} ({levels or 'none'}) from {len(doc.findings.rules):,} "
                     "rule(s) and analytic(s)")
    if doc.exposure is not None:
        s = doc.exposure.summary
        lines.append(f"exposed: {s.organizations.total or 0:,} organization(s), {s.persons.total or 0:,} person(s) "
                     f"(confirmed exfiltrated {s.organizations.confirmed_exfiltrated:,} / "
                     f"{s.persons.confirmed_exfiltrated:,}); categories: {', '.join(s.categories) or 'none'}")
    if doc.obligations is not None:
        owed = [o for o in doc.obligations.obligations if o.owed != "no"]
        first = min((o for o in owed if o.deadline), key=lambda o: str(o.deadline), default=None)
        due = f"; first deadline {first.deadline} ({first.jurisdiction} {first.obligation})" if first else ""
        lines.append(f"owed: {sum(o.owed == 'yes' for o in owed)} obligation(s), "
                     f"{sum(o.owed == 'unknown' for o in owed)} unknown{due}")
    if doc.containment is not None:
        phases = sorted({s.phase for s in doc.containment.steps})
        lines.append(f"containment: {len(doc.containment.steps)} step(s) ({', '.join(phases) or 'none'})")
    lines += [f"missing: {m}" for m in doc.missing]
    return lines

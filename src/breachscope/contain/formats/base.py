"""What every rendering of a plan shares: the format's entry in the registry, comment text that a hostile value
cannot end, and the plan's header, notes and steps written as comments.

Evidence is attacker-written: a host name can hold a newline that would end a comment and start a command.
`comment_text` keeps printable ASCII only (everything else as an escape: `\\n`, `\\x1b`, `\\u202e`, `\\u3042`),
so a comment stays one line whatever the device or the file's encoding. Only validated addresses and
networks (contain/addresses.py) and the renderers' own words reach a command.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from breachscope.model.containment import ContainmentPlan, ContainmentStep
from breachscope.model.incident import EvidenceRef

EVIDENCE_SHOWN = 5
WIDTH = 110


@dataclass(frozen=True)
class Format:
    """One output format: the plan as a script of a device's syntax, and the script that undoes it."""

    name: str
    about: str
    render: Callable[[ContainmentPlan], str]
    rollback: Callable[[ContainmentPlan], str]


def comment_text(value: object) -> str:
    """`value` as one line of printable ASCII: other characters as escapes (\\n, \\x1b, \\u3042)."""
    out = []
    for ch in str(value):
        cp = ord(ch)
        if 0x20 <= cp < 0x7F:
            out.append(ch)
        elif ch in "\t\n\r":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch])
        else:
            out.append(f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}")
    return "".join(out)


def comment(prefix: str, text: object, indent: str = "") -> list[str]:
    """A comment (sanitized, wrapped at WIDTH): every line starts with `prefix`."""
    body = comment_text(text)
    lines = textwrap.wrap(body, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                          break_long_words=True, break_on_hyphens=False) or [indent]
    return [f"{prefix} {line}".rstrip() for line in lines]


def evidence_text(refs: Iterable[EvidenceRef]) -> str:
    """file:record of the first rows, and how many more."""
    refs = list(refs)
    shown = [f"{r.src_file}:{r.src_record if r.src_record is not None else '?'}" for r in refs[:EVIDENCE_SHOWN]]
    more = f" (+{len(refs) - EVIDENCE_SHOWN} more)" if len(refs) > EVIDENCE_SHOWN else ""
    return (", ".join(shown) + more) if shown else "none (a check of the plan itself)"


def step_title(s: ContainmentStep) -> str:
    where = f" [{', '.join(s.addresses)}]" if s.addresses else ""
    svc = f" {s.service}" if s.service else ""
    return f"step {s.order} ({s.phase}) {s.action} {s.target}{where}{svc}"


def step_comment(prefix: str, s: ContainmentStep, here: str) -> list[str]:
    """A step as comment lines: what, what this script does about it, why, evidence, rollback."""
    return [*comment(prefix, step_title(s)), *comment(prefix, f"here: {here}", "  "),
            *comment(prefix, f"why: {s.reason}", "  "),
            *comment(prefix, f"evidence: {evidence_text(s.evidence)}", "  "),
            *comment(prefix, f"rollback: {s.rollback}", "  ")]


def header(prefix: str, plan: ContainmentPlan, title: str, usage: Iterable[str]) -> list[str]:
    """The plan's identity, how to use the script, and the notes."""
    lines = [*comment(prefix, f"breachscope containment plan ({title}) for case {plan.case}"),
             *comment(prefix, f"from the incident generated at {plan.incident_generated_at.isoformat()}; "
                              f"plan format version {plan.version}; {len(plan.steps)} steps, in order"),
             prefix]
    for u in usage:
        lines += comment(prefix, u)
    if plan.keep_access:
        lines += comment(prefix, f"kept able to reach the isolated hosts: {', '.join(plan.keep_access)}")
    lines += comment(prefix, f"internal networks: {', '.join(plan.internal_networks)}")
    if plan.notes:
        lines += [prefix, f"{prefix} Notes (not planned, or planned with an assumption):"]
        for n in plan.notes:
            lines += comment(prefix, f"- {n}")
    return [*lines, prefix]


def steps_of(plan: ContainmentPlan, *actions: str) -> list[ContainmentStep]:
    return [s for s in plan.steps if s.action in actions]


def step_numbers(steps: Iterable[ContainmentStep]) -> str:
    """`step 5`, `steps 5-7` or `steps 5, 8`: the steps a rule serves (rule comments carry numbers, never
    evidence)."""
    nums = sorted({s.order for s in steps})
    if not nums:
        return "no step"
    if len(nums) == 1:
        return f"step {nums[0]}"
    if nums == list(range(nums[0], nums[-1] + 1)):
        return f"steps {nums[0]}-{nums[-1]}"
    return "steps " + ", ".join(map(str, nums))


def manual_rollback(prefix: str, plan: ContainmentPlan) -> list[str]:
    """The rollback of the steps a device script does not undo (accounts; captures have none), last first."""
    lines = []
    for s in reversed(plan.steps):
        if s.system != "network" and s.phase != "preserve":
            lines += comment(prefix, f"step {s.order} {s.action} {s.target}: {s.rollback}")
    return lines

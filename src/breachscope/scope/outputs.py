"""The exposure artifact of a scope, written as a run (runs/<run_id>/exposure/, model/runstore.py) and copied
to CASE/exposure/ for the latest run. Everything but run_info.json is a function of the inputs only:
sorted, no clock.

- subjects.parquet        every exposed or excluded subject (SUBJECTS_SCHEMA), with its evidence
- affected_subjects.csv   the affected ones for people: subject_type, subject_id, name, level, categories, evidence
- statements.parquet      every selected statement: replayed / potential / ignored, why, what it reached
- review.parquet          uncertain organization matches and ambiguous values, kept out of the counts
- summary.json            the --json summary and what notify reads (model.exposure.ExposureSummary)
- run_info.json           run id, when, how long, which versions: the only file that changes between identical runs
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from breachscope.model.case import CaseLayout
from breachscope.model.exposure import NOT_EXPOSED
from breachscope.model.exposure_artifact import Evidence, ExposedSubject, Exposure
from breachscope.model.jsondoc import dumps
from breachscope.model.runs import EXPOSURE
from breachscope.model.runstore import RunWriter
from breachscope.model.text import csv_text
from breachscope.scope.pipeline import ScopeResult

CSV_COLUMNS = ("subject_type", "subject_id", "name", "level", "categories", "evidence")


def exposure_of(result: ScopeResult) -> Exposure:
    """The typed artifact of a scope result (the tables are checked against their schemas here)."""
    review = sorted(result.review,
                    key=lambda r: (r["kind"], r["subject_ids"], r["src_file"] or "", r["src_record"] or 0))
    return Exposure.from_rows(result.summary, result.subjects, result.statements, review)


def write_outputs(case_dir: Path, result: ScopeResult, run_info: dict[str, Any]) -> Path:
    """Commit the exposure as a new run of the case; returns CASE/exposure (the latest run's copies)."""
    exposure = exposure_of(result)
    s = exposure.summary
    params = {"inventory": s.inventory, "snapshot": s.snapshot, "suspects": s.suspects,
              "argv": run_info.get("argv", [])}
    with RunWriter(case_dir, "scope", EXPOSURE, "scope", params) as run:
        exposure.write(run.paths)
        # rendered from the subject records the table was just built from (reading them back from Arrow
        # would cost seconds per 100k subjects for the same text)
        run.paths.affected_csv.write_text(affected_csv(result.subjects), encoding="utf-8", newline="")
        run.paths.scope_run_info.write_text(dumps({**run_info, "run_id": run.run_id}), encoding="utf-8")
        run.commit({"organizations": int(s.organizations.total or 0), "persons": int(s.persons.total or 0),
                    "statements": sum(s.statements.values()), "review": s.review})
    return CaseLayout(case_dir).exposure


def affected_csv(subjects: Sequence[ExposedSubject]) -> str:
    """The affected subjects' CSV (subjects NOT_EXPOSED, all of whose rows were excluded, are left out)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for s in subjects:
        if s.level == NOT_EXPOSED:
            continue
        row = [s.subject_type, s.subject_id, s.name or "", s.level, ";".join(s.categories), evidence_text(s)]
        w.writerow([csv_text(str(c)) for c in row])  # controls escaped, formulas neutralized
    return buf.getvalue()


def evidence_text(s: ExposedSubject, limit: int = 3) -> str:
    parts: list[str] = []
    for e in s.evidence:
        text = _evidence_line(e)
        if text not in parts:  # one line per statement, even when it read several of the subject's tables
            parts.append(text)
        if len(parts) == limit:
            break
    more = s.evidence_count - len(parts)
    return "; ".join(parts) + (f"; +{more} more" if more > 0 else "")


def _evidence_line(e: Evidence) -> str:
    if e.kind == "statement":
        text = f"statement {e.statement_id} ({_base(e.src_file)}:{e.src_record})"
    elif e.kind == "file":
        text = f"export {_base(e.src_file)}:{e.src_record}"
    else:
        text = str(e.detail)
    detail = str(e.detail or "")
    return text + (f" [{detail}]" if detail.startswith("excluded by") else "")


@functools.lru_cache(maxsize=4096)
def _base(path: str | None) -> str:
    return Path(path).name if path else "?"  # a few distinct files for many subjects: cached

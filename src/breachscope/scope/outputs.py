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

from pathlib import Path
from typing import Any

import pyarrow as pa

from breachscope.model.atomic import atomic_path, atomic_write
from breachscope.model.case import ArtifactPaths, CaseLayout
from breachscope.model.exposure import REVIEW_SCHEMA, STATEMENTS_SCHEMA
from breachscope.model.exposure_artifact import Exposure
from breachscope.model.jsondoc import dumps, typed_table
from breachscope.model.runs import EXPOSURE
from breachscope.model.runstore import RunWriter, write_parquet
from breachscope.scope.pipeline import ScopeResult


def write_outputs(case_dir: Path, result: ScopeResult, run_info: dict[str, Any]) -> Path:
    """Commit the exposure as a new run of the case; returns CASE/exposure (the latest run's copies)."""
    s = result.summary
    params = {"inventory": s.inventory, "snapshot": s.snapshot, "suspects": s.suspects,
              "argv": run_info.get("argv", [])}
    with RunWriter(case_dir, "scope", EXPOSURE, "scope", params) as run:
        write_exposure(run.paths, result)
        run.paths.scope_run_info.write_text(dumps({**run_info, "run_id": run.run_id}), encoding="utf-8")
        run.commit({"organizations": int(s.organizations.total or 0), "persons": int(s.persons.total or 0),
                    "statements": sum(s.statements.values()), "review": s.review})
    return CaseLayout(case_dir).exposure


def write_exposure(paths: ArtifactPaths, result: ScopeResult) -> None:
    """The artifact's files (as `Exposure.write` writes them): the subjects and their CSV were written while
    the levels were computed (scope/staged.py) and are copied in; the other tables are checked against
    their schemas here."""
    review = sorted(result.review,
                    key=lambda r: (r["kind"], r["subject_ids"], r["src_file"] or "", r["src_record"] or 0))
    paths.exposure.mkdir(parents=True, exist_ok=True)
    result.subjects.copy_to(paths.subjects, paths.affected_csv)
    for path, rows, schema, name in ((paths.scope_statements, result.statements, STATEMENTS_SCHEMA, "statements"),
                                     (paths.scope_review, review, REVIEW_SCHEMA, "review")):
        table = typed_table(pa.Table.from_pylist(list(rows), schema=schema), schema, f"exposure.{name}",
                            Exposure.VERSION, f"exposure {name}")
        with atomic_path(path) as tmp:
            write_parquet(tmp, table)
    atomic_write(paths.exposure_summary, dumps(result.summary.to_json()))

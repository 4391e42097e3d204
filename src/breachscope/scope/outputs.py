"""DIR/exposure/: every file written to a temporary name and renamed into place (a reader never sees a
half-written file). Everything but run_info.json is a function of the inputs only: sorted, no clock.

- subjects.parquet        every exposed or excluded subject (SUBJECTS_SCHEMA), with its evidence
- affected_subjects.csv   the affected ones for people: subject_type, subject_id, name, level, categories, evidence
- statements.parquet      every selected statement: replayed / potential / ignored, why, what it reached
- review.parquet          uncertain organization matches and ambiguous values, kept out of the counts
- summary.json            the --json summary (notify reads it)
- run_info.json           when, how long, which versions: the only file that changes between identical runs
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from breachscope.model.exposure import NOT_EXPOSED, REVIEW_SCHEMA, STATEMENTS_SCHEMA, SUBJECTS_SCHEMA
from breachscope.model.text import csv_text, json_text
from breachscope.scope.run import ScopeResult

EXPOSURE_DIR = "exposure"
CSV_COLUMNS = ("subject_type", "subject_id", "name", "level", "categories", "evidence")


def write_outputs(case_dir: Path, result: ScopeResult, run_info: dict[str, Any]) -> Path:
    out = case_dir / EXPOSURE_DIR
    out.mkdir(exist_ok=True)
    subjects = pa.Table.from_pylist(result.subjects, schema=SUBJECTS_SCHEMA)
    _atomic_parquet(out / "subjects.parquet", subjects)
    _atomic_parquet(out / "statements.parquet", pa.Table.from_pylist(result.statements, schema=STATEMENTS_SCHEMA))
    review = sorted(result.review,
                    key=lambda r: (r["kind"], r["subject_ids"], r["src_file"] or "", r["src_record"] or 0))
    _atomic_parquet(out / "review.parquet", pa.Table.from_pylist(review, schema=REVIEW_SCHEMA))
    _atomic_text(out / "affected_subjects.csv", affected_csv(result.subjects))
    _atomic_text(out / "summary.json", dumps(result.summary.to_json()))
    _atomic_text(out / "run_info.json", dumps(run_info))
    return out


def affected_csv(subjects: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for s in subjects:
        if s["level"] == NOT_EXPOSED:
            continue
        row = [s["subject_type"], s["subject_id"], s["name"] or "", s["level"], ";".join(s["categories"]),
               evidence_text(s)]
        w.writerow([csv_text(str(c)) for c in row])  # controls escaped, formulas neutralized
    return buf.getvalue()


def evidence_text(s: dict[str, Any], limit: int = 3) -> str:
    parts = []
    for e in s["evidence"][:limit]:
        if e["kind"] == "statement":
            text = f"statement {e['statement_id']} ({_base(e['src_file'])}:{e['src_record']})"
        elif e["kind"] == "file":
            text = f"export {_base(e['src_file'])}:{e['src_record']}"
        else:
            text = str(e["detail"])
        detail = str(e.get("detail") or "")
        parts.append(text + (f" [{detail}]" if detail.startswith("excluded by") else ""))
    more = int(s["evidence_count"]) - len(parts)
    return "; ".join(parts) + (f"; +{more} more" if more > 0 else "")


def _base(path: str | None) -> str:
    return Path(path).name if path else "?"


def dumps(obj: Any) -> str:
    return json_text(obj, indent=2, sort_keys=True, default=str) + "\n"


def _atomic_parquet(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)

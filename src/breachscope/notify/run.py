"""`notify`: exposure/summary.json + the time of awareness -> obligations and drafts (DIR/notify/)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from breachscope.model.errors import UsageError
from breachscope.notify import drafts
from breachscope.notify.rules import UNKNOWN, YES, Facts, evaluate, load_rules

NOTIFY_DIR = "notify"


@dataclass
class NotifyResult:
    aware_at: datetime
    obligations: list[dict[str, Any]]
    drafts: list[str]
    folder: Path

    def to_json(self) -> dict[str, Any]:
        return {"aware_at": self.aware_at.isoformat(), "obligations": self.obligations, "drafts": self.drafts}


def facts_of(summary: dict[str, Any]) -> Facts:
    suspects = summary.get("suspects") or {}
    affected = int(summary["organizations"]["total"]) + int(summary["persons"]["total"])
    controller = summary.get("controller") or {}
    sectors = tuple(controller.get("sectors") or ())
    return Facts(jurisdictions=summary.get("jurisdictions") or {}, categories=tuple(summary.get("categories") or ()),
                 unlawful_purpose=bool(suspects.get("hosts") or suspects.get("users") or suspects.get("sessions"))
                 and affected > 0,
                 sectors=sectors, sectors_known=bool(sectors))


def run_notify(case_dir: Path, aware_at: datetime, jurisdictions: list[str] | None) -> NotifyResult:
    path = case_dir / "exposure" / "summary.json"
    if not path.is_file():
        raise UsageError(f"no exposure in {case_dir}: run `breachscope scope` first ({path} is missing)")
    summary = json.loads(path.read_text(encoding="utf-8"))
    obligations = [o.to_dict() for o in evaluate(load_rules(), facts_of(summary), aware_at, jurisdictions)]
    wanted = sorted({d for o in obligations if o["owed"] in (YES, UNKNOWN) for d in o["drafts"]})
    ctx = drafts.context(summary, aware_at, obligations)
    folder = case_dir / NOTIFY_DIR
    folder.mkdir(exist_ok=True)
    written = []
    for name in wanted:
        _atomic(folder / f"{name}.md", drafts.render(name, ctx))
        written.append(str(folder / f"{name}.md"))
    result = NotifyResult(aware_at, obligations, written, folder)
    _atomic(folder / "obligations.json", json.dumps(result.to_json(), ensure_ascii=False, indent=2, sort_keys=True)
            + "\n")
    return result


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

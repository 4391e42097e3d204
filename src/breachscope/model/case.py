"""The case folder: its layout and its manifest, the journal of what was committed.

The manifest (`manifest.jsonl`) is append-only: one JSON line per commit, written last, after the
Parquet parts it names have been renamed into place. A line cut short by a crash is not a commit:
readers ignore it and the next writer truncates it. Only parts named by a commit are part of the
case, so a run killed at any moment leaves a readable case with no half-ingested file in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from breachscope.model.errors import CaseError, MissingCaseError

CASE_MARKER = "case.json"
MANIFEST = "manifest.jsonl"
EVENTS_DIR = "events"
REJECTS_DIR = "rejects"
TMP_DIR = "tmp"
LOCK = ".lock"
FORMAT_VERSION = 1

#: File statuses in the manifest. Only INGESTED and EMPTY files are skipped when seen again.
INGESTED, EMPTY, DUPLICATE, UNRECOGNIZED, FAILED = "ingested", "empty", "duplicate", "unrecognized", "failed"
FINAL_STATUSES = frozenset({INGESTED, EMPTY})


@dataclass(frozen=True)
class Reject:
    """One bad record: where it is and why it was not stored."""

    location: str  # "line 12", "offset 4096", "record 311396", "chunk 6"
    reason: str


@dataclass
class FileEntry:
    """What happened to one input file (or one archive member)."""

    path: str
    sha256: str
    size: int
    format: str | None
    status: str
    records: int = 0
    rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    first_rejects: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    duplicate_of: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileEntry:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


@dataclass(frozen=True)
class Part:
    """A Parquet file of the case, relative to the case folder."""

    table: str
    path: str
    rows: int


@dataclass
class Commit:
    files: list[FileEntry]
    parts: list[Part]
    committed_at: str
    run_id: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "committed_at": self.committed_at,
                "run_id": self.run_id,
                "files": [f.to_dict() for f in self.files],
                "parts": [asdict(p) for p in self.parts],
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Commit:
        return cls(
            files=[FileEntry.from_dict(f) for f in d.get("files", [])],
            parts=[Part(**p) for p in d.get("parts", [])],
            committed_at=d.get("committed_at", ""),
            run_id=d.get("run_id", ""),
        )


class CaseLayout:
    """Paths inside a case folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def marker(self) -> Path:
        return self.root / CASE_MARKER

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def events(self) -> Path:
        return self.root / EVENTS_DIR

    @property
    def rejects(self) -> Path:
        return self.root / REJECTS_DIR

    @property
    def tmp(self) -> Path:
        return self.root / TMP_DIR

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    def exists(self) -> bool:
        return self.marker.is_file()

    def require(self) -> None:
        if not self.root.is_dir():
            raise MissingCaseError(f"case folder not found: {self.root}")
        if not self.exists():
            raise MissingCaseError(f"not a breachscope case (no {CASE_MARKER}): {self.root}")


def read_commits(manifest: Path) -> Iterator[Commit]:
    """Committed lines of the manifest; a torn last line (no newline) is not a commit."""
    if not manifest.is_file():
        return
    with manifest.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                yield Commit.from_dict(json.loads(raw))
            except (ValueError, TypeError) as exc:
                raise CaseError(f"{manifest}: damaged commit line: {exc}") from exc


def committed_length(manifest: Path) -> int:
    """Bytes of the manifest that hold complete commit lines (what survives a torn write)."""
    if not manifest.is_file():
        return 0
    data = manifest.read_bytes()
    return data.rfind(b"\n") + 1


@dataclass
class CaseState:
    """Everything committed so far, as the views and the ingest planner need it."""

    files: list[FileEntry]
    parts: list[Part]

    @property
    def known_sha256(self) -> dict[str, str]:
        """sha256 -> path of files already in the case (ingested or empty)."""
        return {f.sha256: f.path for f in self.files if f.status in FINAL_STATUSES}

    @property
    def recorded(self) -> set[tuple[str, str]]:
        """(path, sha256) of every file the manifest mentions, whatever became of it."""
        return {(f.path, f.sha256) for f in self.files if f.status != FAILED}

    def parts_by_table(self) -> dict[str, list[Part]]:
        out: dict[str, list[Part]] = {}
        for p in self.parts:
            out.setdefault(p.table, []).append(p)
        return out


def load_state(layout: CaseLayout) -> CaseState:
    files: list[FileEntry] = []
    parts: list[Part] = []
    for commit in read_commits(layout.manifest):
        files.extend(commit.files)
        parts.extend(commit.parts)
    return CaseState(files=files, parts=parts)

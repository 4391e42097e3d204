"""The case folder: its layout and its manifest, the journal of what was committed.

The manifest (`manifest.jsonl`) is append-only: one JSON line per commit, written last, after the
Parquet parts it names have been renamed into place. A line cut short by a crash is not a commit:
readers ignore it and the next writer truncates it. Only parts named by a commit are part of the
case, so a run killed at any moment leaves a readable case with no half-ingested file in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from breachscope.model.errors import CaseError, MissingCaseError

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")  # run ids and draft names: never a path

CASE_MARKER = "case.json"
MANIFEST = "manifest.jsonl"
EVENTS_DIR = "events"
REJECTS_DIR = "rejects"
TMP_DIR = "tmp"
LOCK = ".lock"
FORMAT_VERSION = 1
RUNS_DIR = "runs"

#: File statuses in the manifest (docs/schema.md explains each).
INGESTED, EMPTY, DUPLICATE, UNRECOGNIZED, FAILED = "ingested", "empty", "duplicate", "unrecognized", "failed"
#: An archive, every member of it handled / some member skipped or failed (the archive is expanded again).
EXPANDED, INCOMPLETE = "expanded", "incomplete"
#: Not read, on purpose: over an expansion limit, encrypted without a working password, a link.
SKIPPED = "skipped"
#: Removed from the case by `case forget` or `ingest --force` (its rows are gone).
FORGOTTEN = "forgotten"
#: Content the case holds: seen again under any name, it is a duplicate and is not read again.
FINAL_STATUSES = frozenset({INGESTED, EMPTY, EXPANDED})
#: A file seen again under the same name with the same content is not read again nor recorded again.
DONE_STATUSES = frozenset({INGESTED, EMPTY, EXPANDED, DUPLICATE, UNRECOGNIZED})


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
    note: str | None = None  # why a member was skipped or a file forgotten, how an archive was read

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
    """One manifest line. An ingest commit adds files and parts; a forget commit (`kind` "forget")
    also names the parts it takes out of the case (`removed_parts`; rewritten parts are in `parts`)."""

    files: list[FileEntry]
    parts: list[Part]
    committed_at: str
    run_id: str
    kind: str = "ingest"
    removed_parts: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        d: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "committed_at": self.committed_at,
            "run_id": self.run_id,
            "files": [f.to_dict() for f in self.files],
            "parts": [asdict(p) for p in self.parts],
        }
        if self.kind != "ingest":
            d["kind"] = self.kind
        if self.removed_parts:
            d["removed_parts"] = self.removed_parts
        return json.dumps(d, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Commit:
        return cls(
            files=[FileEntry.from_dict(f) for f in d.get("files", [])],
            parts=[Part(**p) for p in d.get("parts", [])],
            committed_at=d.get("committed_at", ""),
            run_id=d.get("run_id", ""),
            kind=d.get("kind", "ingest"),
            removed_parts=list(d.get("removed_parts", [])),
        )


class ArtifactPaths:
    """Where the stages' artifacts are under a root: the case folder (the latest runs' copies, see
    model/runstore.py) or one run's folder under runs/, with the same relative paths in both."""

    root: Path

    @property
    def findings(self) -> Path:
        return self.root / "findings.parquet"

    @property
    def exposure(self) -> Path:
        return self.root / "exposure"

    @property
    def subjects(self) -> Path:
        return self.exposure / "subjects.parquet"

    @property
    def scope_statements(self) -> Path:
        return self.exposure / "statements.parquet"

    @property
    def scope_review(self) -> Path:
        return self.exposure / "review.parquet"

    @property
    def affected_csv(self) -> Path:
        return self.exposure / "affected_subjects.csv"

    @property
    def exposure_summary(self) -> Path:
        return self.exposure / "summary.json"

    @property
    def scope_run_info(self) -> Path:
        return self.exposure / "run_info.json"

    @property
    def notify(self) -> Path:
        return self.root / "notify"

    @property
    def investigation(self) -> Path:
        return self.root / "investigation"

    @property
    def incident(self) -> Path:
        return self.investigation / "incident.json"

    @property
    def alerts(self) -> Path:
        return self.investigation / "alerts.parquet"

    @property
    def obligations(self) -> Path:
        return self.notify / "obligations.json"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def result(self) -> Path:
        """The result document (model.result.ResultDocument) that `report` assembles and renders."""
        return self.report / "result.json"

    def draft(self, name: str) -> Path:
        if not _RUN_ID.match(name):
            raise CaseError(f"not a draft name: {name!r}")
        return self.notify / f"{name}.md"


class RunPaths(ArtifactPaths):
    """The artifact files of one run (runs/<run_id>/, or its folder while it is being written)."""

    def __init__(self, root: Path) -> None:
        self.root = root


class CaseLayout(ArtifactPaths):
    """Paths inside a case folder: evidence tables, manifest, and every stage's artifacts."""

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

    @property
    def runs(self) -> Path:
        """Every committed run of hunt, scope and notify: runs/<run_id>/ and the journal."""
        return self.root / RUNS_DIR

    @property
    def runs_journal(self) -> Path:
        return self.runs / "journal.jsonl"

    @property
    def runs_lock(self) -> Path:
        return self.runs / ".lock"

    @property
    def runs_tmp(self) -> Path:
        return self.runs / ".tmp"

    @property
    def published(self) -> Path:
        """Which runs the copies at the top of the case come from (written after the copies)."""
        return self.runs / "published.json"

    def run(self, run_id: str) -> RunPaths:
        if not _RUN_ID.match(run_id):
            raise CaseError(f"not a run id: {run_id!r}")
        return RunPaths(self.runs / run_id)

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


class CaseState:
    """What the case holds now, folded from its commits: the current entry of every file (a later
    entry for the same path and content replaces an earlier one, e.g. `failed` then `ingested`, or
    `ingested` then `forgotten`), and the parts no forget commit has taken out."""

    def __init__(self, files: list[FileEntry] | None = None, parts: list[Part] | None = None) -> None:
        self._entries: dict[tuple[str, str], FileEntry] = {}
        self._parts: dict[str, Part] = {}
        self._known: dict[str, str] | None = None
        self.apply(Commit(files=files or [], parts=parts or [], committed_at="", run_id=""))

    def apply(self, commit: Commit) -> None:
        for path in commit.removed_parts:
            self._parts.pop(path, None)
        for p in commit.parts:
            self._parts[p.path] = p
        for f in commit.files:
            if f.sha256:
                self._entries.pop((f.path, ""), None)  # an earlier attempt that could not even hash it
            self._entries[(f.path, f.sha256)] = f
        self._known = None

    @property
    def files(self) -> list[FileEntry]:
        return list(self._entries.values())

    @property
    def parts(self) -> list[Part]:
        return list(self._parts.values())

    @property
    def known_sha256(self) -> dict[str, str]:
        """sha256 -> path of content the case holds (ingested, empty, or an archive expanded)."""
        if self._known is None:
            self._known = {}
            for f in self._entries.values():
                if f.status in FINAL_STATUSES:
                    self._known.setdefault(f.sha256, f.path)
        return self._known

    @property
    def recorded(self) -> set[tuple[str, str]]:
        """(path, sha256) of every file whose current entry means "done": not read again."""
        return {k for k, f in self._entries.items() if f.status in DONE_STATUSES}

    @property
    def incomplete(self) -> frozenset[tuple[str, str]]:
        """(path, sha256) of archives some member of which was not read (they are expanded again)."""
        return frozenset(k for k, f in self._entries.items() if f.status == INCOMPLETE)

    def parts_by_table(self) -> dict[str, list[Part]]:
        out: dict[str, list[Part]] = {}
        for p in self._parts.values():
            out.setdefault(p.table, []).append(p)
        return out


def load_state(layout: CaseLayout) -> CaseState:
    state = CaseState()
    for commit in read_commits(layout.manifest):
        state.apply(commit)
    return state

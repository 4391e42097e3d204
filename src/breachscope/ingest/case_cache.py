"""Cases ingested for `hunt EVIDENCE...`, kept between runs so a second hunt of unchanged evidence skips
ingest (issue 15, the warm path).

Layout under the cache folder (`<cache>/cases`, beside the compiled-rule cache):

    <key>/case/          the case, ingested from the evidence paths
    <key>/evidence.json  the paths, the ingest code's fingerprint, every evidence file's stat, case file sizes
    <key>.lock           flock: shared while a hunt reads the case, exclusive while one (re)builds it
    .build-<key>-*       a build in progress (renamed to <key> when complete; never read)

`key` = sha256 of the resolved evidence paths. The case is reused only when the same files are there and
each one's content is the one ingested: a file whose size, mtime, ctime and inode are all as recorded is
taken as unchanged; any other is hashed and compared with the case manifest's sha256. ctime cannot be set
by a user (utime sets it to now), so an in-place edit that restores mtime is still seen; what is not seen
is a change that leaves all four alike (a clock set back, raw writes to the disk). Stats within 2 s of
their recording are re-hashed anyway (coarse file-system clocks: an edit in the same tick). Hashing every
time would cost ~0.05-0.15 s for the 24 MB evtx-attack-samples but seconds for gigabytes, hence the stat
check first.

A changed file set, changed content, a damaged case (a file missing or of another size) or a new ingest
code fingerprint rebuilds the case: into `.build-<key>-*`, then renamed over the old one, so a crash
leaves the old valid case or none, never a half-built one. At most `KEEP` cases are kept, the least
recently used removed first (one that a live hunt is reading is skipped).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from breachscope.ingest.archives import sha256_file
from breachscope.ingest.pipeline import expand_inputs
from breachscope.model.case import CaseLayout, load_state

KEEP = 8  # cases kept: the most recently used
RACY_NS = 2_000_000_000  # a stat this close to its recording may hide an edit in the same clock tick
FORMAT = 1  # of evidence.json

Ingest = Callable[[list[str], Path], int]  # (evidence, case folder) -> rejected records


@dataclass(frozen=True)
class CachedCase:
    case: Path
    reused: bool
    ingested_at: str  # ISO time (UTC) of the ingest that built it
    rejected: int  # bad records skipped by that ingest


def evidence_key(evidence: list[str]) -> str:
    paths = sorted({str(Path(p).resolve()) for p in evidence})
    return hashlib.sha256(json.dumps(paths).encode()).hexdigest()[:32]


_FINGERPRINT: str | None = None


def code_fingerprint() -> str:
    """The ingest and model sources' content: a reader or schema edited (a dev checkout, an upgrade)
    makes cached cases stale, as a cold run would read the evidence differently."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        h = hashlib.sha256()
        pkg = Path(__file__).resolve().parents[1]
        for sub in ("ingest", "model"):
            for f in sorted((pkg / sub).rglob("*.py")):
                h.update(f.relative_to(pkg).as_posix().encode() + b"\0" + f.read_bytes())
        _FINGERPRINT = h.hexdigest()
    return _FINGERPRINT


@contextmanager
def cached_case(evidence: list[str], root: Path, build: Ingest) -> Iterator[CachedCase | None]:
    """The case for `evidence` from the cache under `root`, (re)built with `build` when stale; held (a
    shared lock) until the block ends, so no other hunt replaces it meanwhile. None when another hunt holds
    a stale case of the same evidence (it is reading it), or when the cache folder cannot be written: the
    caller ingests into a temporary case."""
    key = evidence_key(evidence)
    lock_path, entry = root / f"{key}.lock", root / key
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock_path.touch()
    except OSError:  # a read-only home, a file in the way: the run goes on without the cache
        yield None
        return
    for _ in range(2):  # a second round after losing the build to another hunt: its case is then fresh
        fh = _lock(lock_path, fcntl.LOCK_SH)  # waits for a build in progress
        assert fh is not None
        try:
            meta = _valid(entry, evidence)
            if meta is not None:
                os.utime(lock_path)  # last use, for the eviction
                yield CachedCase(entry / "case", True, meta["ingested_at"], meta["rejected"])
                return
        finally:
            fh.close()
        fh = _lock(lock_path, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if fh is None:
            continue
        try:
            meta = _valid(entry, evidence)  # another hunt may have built it between our two locks
            reused = meta is not None
            if meta is None:
                meta = _build(root, key, evidence, build)
            fcntl.flock(fh, fcntl.LOCK_SH)  # readers of the fresh case may start now
            if os.fstat(fh.fileno()).st_ino != _inode(lock_path) or not entry.is_dir():
                continue  # evicted in the instant of the lock change: round again
            os.utime(lock_path)
            _evict(root, keep=key)
            yield CachedCase(entry / "case", reused, meta["ingested_at"], meta["rejected"])
            return
        finally:
            fh.close()
    yield None


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _lock(path: Path, mode: int) -> TextIO | None:
    """`path` opened and flocked (None if LOCK_NB and busy). flock, not lockf: it excludes threads of one
    process too. Retried when an eviction unlinked the file between our open and our lock."""
    while True:
        fh = path.open("a")
        try:
            fcntl.flock(fh, mode)
        except BlockingIOError:
            fh.close()
            return None
        if os.fstat(fh.fileno()).st_ino == _inode(path):
            return fh
        fh.close()


def _stat(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _case_files(case: Path) -> dict[str, int]:
    return {f.relative_to(case).as_posix(): f.stat().st_size for f in sorted(case.rglob("*"))
            if f.is_file() and f.relative_to(case).parts[0] != "tmp"}


def _valid(entry: Path, evidence: list[str]) -> dict[str, Any] | None:
    """evidence.json when the cached case can stand for a fresh ingest of `evidence`; None otherwise
    (missing, damaged, stale). Never raises for a damaged cache: it is rebuilt, not trusted."""
    try:
        meta = json.loads((entry / "evidence.json").read_text())
        if (meta.get("format") != FORMAT or meta.get("fingerprint") != code_fingerprint()
                or meta.get("paths") != sorted({str(Path(p).resolve()) for p in evidence})):
            return None
        case = entry / "case"
        if _case_files(case) != meta["case_files"]:  # a part deleted or truncated, a manifest edited
            return None
        recorded: dict[str, list[int]] = meta["files"]
        current = [display for _, display, _ in expand_inputs(meta["paths"])]
        if sorted(current) != sorted(recorded):  # a file added or removed
            return None
        sha = {f.path: (f.sha256, f.size) for f in load_state(CaseLayout(case)).files}
        stamped = int(meta["stamped_ns"])
        for path in current:
            now = _stat(path)
            if now == recorded[path] and max(now[1], now[2]) < stamped - RACY_NS:
                continue
            if path not in sha or not sha[path][0] or sha[path] != (sha256_file(Path(path)), now[0]):
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(meta)


def _build(root: Path, key: str, evidence: list[str], build: Ingest) -> dict[str, Any]:
    """A new case for `evidence`, renamed into place when complete. Called under the exclusive lock."""
    for old in root.glob(f".*-{key}-*"):  # what a killed build or swap left
        shutil.rmtree(old, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=root))
    try:
        paths = sorted({str(Path(p).resolve()) for p in evidence})
        stamped = time.time_ns()
        # stats before the ingest hashes the files: an edit after this point differs from the record
        files = {display: _stat(display) for _, display, _ in expand_inputs(paths)}
        rejected = build(paths, work / "case")
        meta = {"format": FORMAT, "fingerprint": code_fingerprint(), "paths": paths, "files": files,
                "stamped_ns": stamped, "rejected": rejected,
                "ingested_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "case_files": _case_files(work / "case")}
        (work / "evidence.json").write_text(json.dumps(meta))
        entry = root / key
        if entry.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{key}-", dir=root))
            entry.rename(old / "entry")
            work.rename(entry)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(entry)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return meta


def _evict(root: Path, keep: str) -> None:
    """Remove cases beyond the KEEP most recently used (`keep` is in use). A case another hunt holds is
    skipped; its lock file is unlinked under the lock (`_lock` retries on an unlinked file)."""
    locks = []
    for lock in root.glob("*.lock"):
        with suppress(FileNotFoundError):
            locks.append((lock.stat().st_mtime_ns, lock))
    locks.sort(reverse=True)
    for _, lock in locks[KEEP:]:
        key = lock.name.removesuffix(".lock")
        if key == keep:
            continue
        fh = _lock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if fh is None:
            continue
        try:
            shutil.rmtree(root / key, ignore_errors=True)
            lock.unlink(missing_ok=True)
        finally:
            fh.close()

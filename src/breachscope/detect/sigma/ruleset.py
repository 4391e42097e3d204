"""Load a rule set: files -> compiled rules, from the disk cache where possible, compiling the rest on
all cores. Cache entries are keyed by file content and engine version, so an edited rule or a new
engine never reuses a stale entry; each entry carries the sha256 of its own content (and key), so an
entry edited or damaged on disk is rebuilt, never used. The whole set is also kept in one file (keyed by
its files' keys, checked by one sha256): measured 0.85 s -> ~0.1 s to read the 2,400 SigmaHQ Windows
rules of a warm hunt."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from breachscope.detect.sigma.compiled import CORRELATION, FILTER, RULE, CompiledRule, RuleProblem
from breachscope.detect.sigma.loader import cache_dir, compile_file, content_key, rule_files
from breachscope.model.atomic import atomic_write
from breachscope.model.progress import report

CHUNK = 64
KEEP_SETS = 8  # whole rule sets kept in the cache, the most recently written


@dataclass
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    from_cache: int = 0
    compiled: int = 0
    cache_rebuilt: int = 0  # cache entries that failed their integrity check (recompiled)
    duration_s: float = 0.0

    def by_kind(self, kind: str) -> list[CompiledRule]:
        return [r for r in self.rules if r.kind == kind]

    @property
    def detection_rules(self) -> list[CompiledRule]:
        return self.by_kind(RULE)

    @property
    def correlations(self) -> list[CompiledRule]:
        return self.by_kind(CORRELATION)

    @property
    def filters(self) -> list[CompiledRule]:
        return self.by_kind(FILTER)

    def lookup(self) -> dict[str, CompiledRule]:
        """Rules by id and by name (what correlations and filters refer to)."""
        out: dict[str, CompiledRule] = {}
        for r in self.rules:
            if r.id:
                out[r.id] = r
            if r.name:
                out[r.name] = r
        return out


def _compile_chunk(items: list[tuple[str, bytes]], placeholders: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    return [compile_file(path, data, placeholders) for path, data in items]


def _cache_path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.json"


def _digest(key: str, entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(key.encode() + b"\n" + canonical.encode()).hexdigest()


class _Invalid:
    """A cache entry that exists but does not match its content hash (edited or damaged)."""


INVALID = _Invalid()


def _read_cache(key: str) -> dict[str, Any] | _Invalid | None:
    """The entry for key; None when there is none; INVALID when it fails its integrity check."""
    try:
        raw = _cache_path(key).read_bytes()
    except OSError:
        return None
    try:
        wrapped = json.loads(raw)
        entry: dict[str, Any] = wrapped["entry"]  # what _write_cache wrote, if the digest matches
        if wrapped["key"] == key and wrapped["sha256"] == _digest(key, entry):
            return entry
    except (ValueError, KeyError, TypeError):
        pass
    return INVALID


def _write_cache(key: str, entry: dict[str, Any]) -> None:
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"key": key, "sha256": _digest(key, entry), "entry": entry}))
    except OSError:
        pass  # a read-only or full cache folder only costs speed


def _set_path(key: str) -> Path:
    return cache_dir() / "sets" / f"{key}.json"


def _read_set(key: str) -> list[dict[str, Any]] | None:
    """A whole rule set's entries from one file (a warm hunt reads one file, not one per rule), when
    the file is there and its payload matches the sha256 in its first line."""
    try:
        header, payload = _set_path(key).read_bytes().split(b"\n", 1)
        meta = orjson.loads(header)
        if meta.get("key") == key and meta.get("sha256") == hashlib.sha256(payload).hexdigest():
            entries = orjson.loads(payload)
            if isinstance(entries, list) and all(isinstance(e, dict) for e in entries):
                return entries
    except (OSError, ValueError, AttributeError):
        pass
    return None


def _write_set(key: str, entries: list[dict[str, Any]]) -> None:
    payload = orjson.dumps(entries)
    header = orjson.dumps({"key": key, "sha256": hashlib.sha256(payload).hexdigest()})
    folder = _set_path(key).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(_set_path(key), header + b"\n" + payload)
        kept = sorted(folder.glob("*.json"), key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for old in kept[KEEP_SETS:]:  # rule sets not written lately (a few MB each)
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only or full cache folder only costs speed


def load_ruleset(paths: Sequence[str | Path], placeholders: Mapping[str, Sequence[str]] | None = None,
                 jobs: int | None = None, use_cache: bool = True) -> RuleSet:
    started = time.perf_counter()
    placeholders = placeholders or {}
    files = rule_files(paths)
    out = RuleSet(files=len(files))
    entries: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, str, bytes, str]] = []
    read: list[tuple[int, Path, bytes, str]] = []
    for i, f in enumerate(files):
        try:
            data = f.read_bytes()
        except OSError as exc:
            out.problems.append(RuleProblem(str(f), None, f"unreadable: {exc.strerror or exc}"))
            continue
        read.append((i, f, data, content_key(data, placeholders)))
    set_key = hashlib.sha256("\n".join(k for *_, k in read).encode()).hexdigest()
    whole = _read_set(set_key) if use_cache and read else None
    if whole is not None and len(whole) == len(read):
        for (i, f, _data, _key), entry in zip(read, whole, strict=True):
            entries[i] = _relocate(entry, str(f))
        out.from_cache = len(read)
        read = []
    for i, f, data, key in read:
        cached = _read_cache(key) if use_cache else None
        if isinstance(cached, dict):
            entries[i] = _relocate(cached, str(f))
            out.from_cache += 1
        else:
            out.cache_rebuilt += cached is INVALID
            todo.append((i, str(f), data, key))
    results = _compile_all([(p, d) for _, p, d, _ in todo], placeholders, jobs)
    for (i, _path, _data, key), entry in zip(todo, results, strict=True):
        entries[i] = entry
        if use_cache:
            _write_cache(key, entry)
    out.compiled = len(todo)
    if use_cache and read and entries:
        _write_set(set_key, [entries[i] for i, *_ in read])
    for i in sorted(entries):
        out.rules.extend(CompiledRule.from_dict(r) for r in entries[i]["rules"])
        out.problems.extend(RuleProblem(**p) for p in entries[i]["problems"])
    out.duration_s = time.perf_counter() - started
    return out


def _relocate(entry: dict[str, Any], path: str) -> dict[str, Any]:
    """A cache entry made from the same content under another path: give it this path."""
    for r in entry["rules"]:
        r["path"] = path
    for p in entry["problems"]:
        p["path"] = path
    return entry


def _compile_all(items: list[tuple[str, bytes]], placeholders: Mapping[str, Sequence[str]],
                 jobs: int | None) -> list[dict[str, Any]]:
    workers = max(1, jobs or os.cpu_count() or 1)
    if workers == 1 or len(items) <= CHUNK:
        return _compile_chunk(items, placeholders)
    chunks = [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
    # forkserver, not fork: a child forked from a process whose DuckDB threads were busy crashed opening
    # its own connection (segfault, seen in the full test run); the server forks from a clean process
    # that has imported the compiler once
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        out: list[dict[str, Any]] = []
        for done, part in enumerate(pool.map(_compile_chunk, chunks, [placeholders] * len(chunks))):
            report("compiling rules (not in the cache)", done * CHUNK, len(items))
            out.extend(part)
        return out

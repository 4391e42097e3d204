"""Forgetting files: their rows taken out of the case, for `case forget` and `ingest --force`.

A part may hold rows of several files (small files share parts). Every part that holds rows of a
forgotten file is rewritten without them (streamed batch by batch, under a new name), or dropped
when nothing else is left in it. Then one manifest line commits it all: the forgotten entries
(status `forgotten`), the rewritten parts, and the parts taken out (`removed_parts`). Only then are
the replaced files deleted; a run killed before the commit leaves the case as it was (the new parts
are uncommitted leftovers, removed by the next command), a run killed after it leaves replaced files
that no commit names, removed the same way. Forgetting again is then a no-op: nothing is selected.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from breachscope.ingest.store import PARQUET_OPTIONS, CaseWriter
from breachscope.model.atomic import move_into_place
from breachscope.model.case import (
    DUPLICATE,
    EXPANDED,
    FORGOTTEN,
    INCOMPLETE,
    INGESTED,
    FileEntry,
    Part,
)

ARCHIVE_STATUSES = frozenset({EXPANDED, INCOMPLETE})


@dataclass
class ForgetResult:
    forgotten: list[FileEntry] = field(default_factory=list)  # the new entries (status forgotten)
    rows: Counter[str] = field(default_factory=Counter)  # table -> rows removed
    parts_rewritten: int = 0
    parts_removed: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"forgotten": [f.path for f in self.forgotten], "rows_removed": dict(sorted(self.rows.items())),
                "parts_rewritten": self.parts_rewritten, "parts_removed": self.parts_removed}


def select(entries: list[FileEntry], targets: list[str], with_duplicates: bool) -> list[FileEntry]:
    """Current entries named by the targets: a path, and for an archive every member under it; then
    the archives that hold a selected member (they no longer hold all of it), and, with_duplicates,
    the entries that only stand for a selected file's content (`duplicate` of it)."""
    wanted = set(targets)
    live = [f for f in entries if f.status != FORGOTTEN]
    chosen = {id(f): f for f in live if not wanted.isdisjoint(_enclosing(f.path))}
    paths = {f.path for f in chosen.values()}
    holders = {h for p in paths for h in _enclosing(p)[:-1]}
    for f in live:
        if (f.path in holders and f.status in ARCHIVE_STATUSES) or (
                with_duplicates and f.status == DUPLICATE and f.duplicate_of in paths):
            chosen[id(f)] = f
    return list(chosen.values())


def _enclosing(path: str) -> list[str]:
    """'a.zip!b.zip!c.log' -> ['a.zip', 'a.zip!b.zip', 'a.zip!b.zip!c.log']."""
    parts = path.split("!")
    return ["!".join(parts[:k]) for k in range(1, len(parts) + 1)]


def resolve_targets(entries: list[FileEntry], given: list[str]) -> tuple[list[str], list[str]]:
    """The manifest paths the user means by each argument (as given, or made absolute as ingest
    stores it; `archive.zip!member` names a member; a folder names every file under it), and the
    arguments that name nothing."""
    targets, missing = [], []
    paths = [f.path for f in entries if f.status != FORGOTTEN]
    for g in given:
        head, sep, tail = g.partition("!")
        candidates = {g, str(Path(head).resolve()) + sep + tail}
        found = [c for c in candidates if any(p == c or p.startswith(c + "!") for p in paths)]
        if not found and not sep:  # a folder: the files under it
            folders = tuple(c.rstrip(os.sep) + os.sep for c in candidates)
            found = sorted({p.split("!", 1)[0] for p in paths if p.startswith(folders)})
        if found:
            targets.extend(found)
        else:
            missing.append(g)
    return targets, missing


def forget(writer: CaseWriter, targets: list[str], run_id: str, why: str,
           with_duplicates: bool = True) -> ForgetResult:
    """Take the targets' rows out of the case and record them as forgotten (one commit)."""
    result = ForgetResult()
    selected = select(writer.state.files, targets, with_duplicates)
    if not selected:
        return result
    keys = pa.array(sorted({_key(f.path, f.sha256) for f in selected if f.status == INGESTED}), pa.string())
    by_file: Counter[tuple[str, str]] = Counter()
    new_parts: list[Part] = []
    removed: list[str] = []
    if len(keys):
        wanted = sorted({f.path for f in selected if f.status == INGESTED})
        for seq, part in enumerate(writer.state.parts):
            path = writer.layout.root / part.path
            if not _may_hold(path, wanted):
                continue
            kept, gone = _rewrite(path, part.table, keys, writer.layout.root, f"{run_id}-forget-{seq:05d}",
                                  by_file)
            if not gone:
                continue
            result.rows[part.table] += gone
            removed.append(part.path)
            if kept is not None:
                new_parts.append(Part(table=part.table, path=kept[0], rows=kept[1]))
                result.parts_rewritten += 1
            else:
                result.parts_removed += 1
    for f in selected:
        rows = {t: n for (p, t), n in sorted(by_file.items()) if p == _key(f.path, f.sha256)}
        what = ", ".join(f"{t} {n:,}" for t, n in rows.items()) or "no rows"
        result.forgotten.append(FileEntry(path=f.path, sha256=f.sha256, size=f.size, format=f.format,
                                          status=FORGOTTEN, duplicate_of=f.duplicate_of,
                                          note=f"forgotten ({why}); was {f.status}; rows removed: {what}"))
    writer.commit(result.forgotten, new_parts, run_id, kind="forget", removed_parts=removed)
    for rel in removed:  # no commit names them any more; a kill here leaves them to the next sweep
        (writer.layout.root / rel).unlink(missing_ok=True)
    return result


def _key(path: str, sha256: str) -> str:
    return f"{path}\x00{sha256}"


def _may_hold(path: Path, wanted: list[str]) -> bool:
    """False when the part's src_file statistics show none of the wanted files (sorted) in it."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if "src_file" not in names:
        return False
    col = names.index("src_file")
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(col).statistics
        if stats is None or not stats.has_min_max:
            return True
        lo, hi = (v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in (stats.min, stats.max))
        i = bisect.bisect_left(wanted, lo)
        if i < len(wanted) and wanted[i] <= hi:
            return True
    return False


def _rewrite(path: Path, table: str, keys: pa.Array, root: Path, name: str,
             by_file: Counter[tuple[str, str]]) -> tuple[tuple[str, int] | None, int]:
    """Stream the part without the rows whose (src_file, src_sha256) is in keys: ((new part path,
    rows) or None when no row is left, rows removed). Nothing is written when no row matches."""
    pf = pq.ParquetFile(path)
    final = path.with_name(f"{name}.parquet")
    tmp = final.with_suffix(".parquet.tmp")
    writer: pq.ParquetWriter | None = None
    kept = gone = 0
    try:
        for batch in pf.iter_batches(batch_size=65_536):
            key = pc.binary_join_element_wise(batch.column("src_file"), batch.column("src_sha256"), "\x00")
            drop = pc.fill_null(pc.is_in(key, value_set=keys), False)
            n_drop = pc.sum(drop.cast(pa.int64())).as_py() or 0
            if n_drop:
                for item in pc.value_counts(key.filter(drop)).to_pylist():
                    by_file[(item["values"], table)] += item["counts"]
            gone += n_drop
            rest = batch.filter(pc.invert(drop))
            if rest.num_rows:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, pf.schema_arrow, **PARQUET_OPTIONS)
                writer.write_batch(rest, row_group_size=max(rest.num_rows, 65_536))
                kept += rest.num_rows
    finally:
        if writer is not None:
            writer.close()
    if not gone or writer is None:
        tmp.unlink(missing_ok=True)
        return None, gone
    move_into_place(tmp, final, durable=True)
    return (final.relative_to(root).as_posix(), kept), gone

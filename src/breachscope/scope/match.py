"""Values found in export files, matched back to subjects of the snapshot.

Exact keys only: emails, phone numbers, corporate numbers, My Numbers, card numbers and contract-style
identifiers are compared with the inventory columns of the same category, normalized the same way on
both sides (lower-case for emails and identifiers, digits only for numbers, full-width digits read as
ASCII, phone numbers in their national form: +81 80... is 080...). A value that belongs to
more than one subject proves nothing about any of them: it goes to the review list, not into the
exposure. Matched rows carry their exclusion flags like replayed rows do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import sqlglot

from breachscope.model.exposure import CONFIRMED_ACCESSED
from breachscope.model.inventory import Inventory
from breachscope.scope import recognizers as rz
from breachscope.scope.backends import Backend
from breachscope.scope.filescan import ScanResult
from breachscope.scope.plans import TableExposure
from breachscope.scope.replay import HITS_SCHEMA

#: recognizer kind -> (inventory category, normalization)
KIND_CATEGORY = {
    rz.EMAIL: ("email", "lower"),
    rz.PHONE: ("phone", "phone"),
    rz.CORPORATE: ("corporate_number", "digits"),
    rz.MY_NUMBER: ("my_number", "digits"),
    rz.CARD: ("payment_card", "digits"),
    rz.IDENT: ("contract_number", "lower"),
}


#: A file counts as an export of this database only when enough of its identifying values (emails,
#: phones, corporate numbers, cards) belong to subjects of the snapshot: a stray match in a file that
#: is not an export (a phone number that happens to equal a customer's) proves nothing.
IDENTIFYING = (rz.EMAIL, rz.PHONE, rz.CORPORATE, rz.MY_NUMBER, rz.CARD)
MIN_MATCHED = 5
MIN_RATIO = 0.5


@dataclass(frozen=True)
class Ambiguous:
    value_kind: str
    subjects: tuple[str, ...]
    src_file: str
    line: int
    detail: str = ""


@dataclass
class FileMatches:
    exposures: list[TableExposure]
    hits: pa.Table
    ambiguous: list[Ambiguous]
    recognized: dict[str, int]  # kind -> values found (matched or not)


def wanted_kinds(inventory: Inventory) -> set[str]:
    cats = {c for d in inventory.datasets for _, cs in d.columns for c in cs}
    return {k for k, (cat, _) in KIND_CATEGORY.items() if cat in cats}


def match_scans(inventory: Inventory, backend: Backend, scans: list[ScanResult], first_index: int) -> FileMatches:
    exposures: list[TableExposure] = []
    parts: list[pa.Table] = []
    ambiguous: list[Ambiguous] = []
    recognized: dict[str, int] = defaultdict(int)
    flags = _exclusion_sql(inventory, backend.info.dialect)
    for scan in scans:
        local_exp: list[TableExposure] = []
        local_parts: list[pa.Table] = []
        matched: set[str] = set()
        rows = scan.values.to_pylist()
        for r in rows:
            recognized[r["kind"]] += 1
        by_kind: dict[str, dict[str, int]] = defaultdict(dict)  # kind -> value -> first line
        for r in rows:  # the scan runs in parallel: rows come in no fixed order, the first line is the min
            if r["kind"] in KIND_CATEGORY and (r["kind"] != rz.MY_NUMBER or r["context"]):
                seen = by_kind[r["kind"]]
                seen[r["value"]] = min(seen.get(r["value"], r["line_no"]), r["line_no"])
        for kind in sorted(by_kind):
            cat, norm = KIND_CATEGORY[kind]
            values = sorted(by_kind[kind])
            for ds in inventory.datasets:
                for col, cats in ds.columns:
                    if cat not in cats:
                        continue
                    owners = _owners(backend, ds.table, ds.subject_key, col, norm, values, flags.get(ds.table, []))
                    if not owners:
                        continue
                    idx = first_index + len(exposures) + len(local_exp)
                    local_exp.append(TableExposure(idx, "", ds.table, ds.subject, CONFIRMED_ACCESSED, (cat,),
                                              f"{kind} found in an export file", scan.file.path, 0))
                    keys, lines, excluded = [], [], []
                    for value in values:
                        subj = owners.get(value)
                        if not subj:
                            continue
                        ids = sorted({s for s, _ in subj})
                        if len(ids) > 1:
                            ambiguous.append(Ambiguous(kind, tuple(ids[:20]), scan.file.path, by_kind[kind][value],
                                                       f"{kind} shared by {len(ids)} subjects"))
                            continue
                        # one subject; the value's rows may all be excluded (then the hit is too)
                        policies = {p for _, p in subj}
                        matched.add(f"{kind}:{value}")
                        keys.append(ids[0])
                        lines.append(by_kind[kind][value])
                        excluded.append(None if None in policies else sorted(p for p in policies if p is not None)[0])
                    if keys:
                        local_parts.append(pa.table({"exposure": pa.array([idx] * len(keys), pa.int32()),
                                               "subject_key": pa.array(keys, pa.string()),
                                               "excluded": pa.array(excluded, pa.string()),
                                               "line": pa.array(lines, pa.int64())}))
        identifying = {f"{r['kind']}:{r['value']}" for r in rows if r["kind"] in IDENTIFYING}
        strong = {m for m in matched if m.split(":", 1)[0] in IDENTIFYING}
        if len(strong) >= MIN_MATCHED and len(strong) >= MIN_RATIO * len(identifying):
            exposures += local_exp
            parts += local_parts
        elif matched:
            ambiguous.append(Ambiguous("weak_file_match", (), scan.file.path, 0,
                                       f"{len(strong)} of {len(identifying)} identifying values match the snapshot"))
    hits = pa.concat_tables(parts) if parts else FILE_HITS_SCHEMA.empty_table()
    return FileMatches(exposures, hits, ambiguous, dict(recognized))


FILE_HITS_SCHEMA = pa.schema([*HITS_SCHEMA, pa.field("line", pa.int64())])


def _owners(backend: Backend, table: str, key: str, col: str, norm: str, values: list[str],
            flags: list[tuple[str, str]]) -> dict[str, set[tuple[str, str | None]]]:
    """value -> {(subject key, first exclusion policy matching that row or None)}."""
    out: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for start in range(0, len(values), 50_000):
        chunk = values[start:start + 50_000]
        for row in backend.match(table, key, col, norm, chunk, flags):
            subject, value, policy = row
            out[value].add((subject, policy))
    return out


def _exclusion_sql(inventory: Inventory, dialect: str) -> dict[str, list[tuple[str, str]]]:
    """table -> [(policy name, its predicate in the backend's dialect)]."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in inventory.exclusions:
        out[e.table].append((e.name, sqlglot.transpile(e.where, read="postgres", write=dialect)[0]))
    return out

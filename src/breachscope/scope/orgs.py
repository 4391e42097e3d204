"""Counting organizations right: exact keys first, then normalized names; near misses to review.

1. Exact keys (the inventory's `match_keys`: corporate number, contract number, email, phone...): two
   organization records sharing a value of any of them are one organization.
2. Names, normalized: NFKC (full/half width), legal-form words removed (株式会社, (株), ㈱, 有限会社,
   合同会社, Co., Ltd., Inc., Corp...), spaces and punctuation removed, case folded. Equal normalized
   names merge, unless the records carry different values of an exact key (two companies of the same
   name with different corporate numbers are two companies).
3. Uncertain: a name that is another's plus a place and a branch word (`デルタ大阪支店` / `デルタ`).
   They are listed for review and NOT merged: the count never depends on a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

_LEGAL = re.compile(
    r"株式会社|有限会社|合同会社|合資会社|合名会社|一般社団法人|一般財団法人|公益社団法人|公益財団法人|"
    r"特定非営利活動法人|医療法人|学校法人|社会福祉法人|\(株\)|\(有\)|\(同\)|"
    r"\b(?:co|company|corp|corporation|inc|incorporated|ltd|limited|llc|gk|kk|k\.k|plc|gmbh)\b\.?",
    re.I,
)
_BRANCH = re.compile(r"(?:本社|本店|支店|支社|営業所|出張所|事業所|事業部|工場|センター|branch|office|hq)", re.I)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_name(name: str | None) -> str:
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name)  # ㈱ -> (株), full-width -> half-width
    text = _LEGAL.sub(" ", text.casefold())
    return _PUNCT.sub("", text)


def branch_bases(norm: str) -> list[str]:
    """Shorter names this one may be a branch of: `デルタ大阪支店` -> デルタ大阪, デルタ大, デルタ, ..."""
    m = _BRANCH.search(norm)
    if m is None:
        return []
    head = norm[:m.start()]
    return [head[:k] for k in range(len(head), 1, -1)]


def norm_key(v: object) -> str:
    """A match key's value as compared: trimmed and lower-cased; its digits alone when it is mostly digits."""
    if v is None:
        return ""
    text = str(v).strip().lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if digits and len(digits) >= len(text.replace("-", "").replace(" ", "")) else text


@dataclass(frozen=True)
class OrgRecord:
    subject_id: str
    name: str | None
    keys: tuple[tuple[str, str], ...]  # (match key, normalized value)


@dataclass(frozen=True)
class Grouping:
    group_of: dict[str, str]  # subject id -> group id (the smallest subject id in the group)
    review: list[tuple[str, tuple[str, ...], str]]  # (kind, subject ids, detail)


def group_organizations(records: list[OrgRecord]) -> Grouping:
    parent = {r.subject_id: r.subject_id for r in records}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb), key=_id_order)
            parent[hi] = lo

    by_key: dict[tuple[str, str], str] = {}
    for r in sorted(records, key=lambda r: _id_order(r.subject_id)):
        for k in r.keys:
            if k in by_key:
                union(by_key[k], r.subject_id)
            else:
                by_key[k] = r.subject_id
    keys_of_group: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in records:
        for name, value in r.keys:
            keys_of_group[find(r.subject_id)][name].add(value)
    by_name: dict[str, list[str]] = defaultdict(list)
    for r in sorted(records, key=lambda r: _id_order(r.subject_id)):
        n = normalize_name(r.name)
        if n:
            by_name[n].append(r.subject_id)
    review: list[tuple[str, tuple[str, ...], str]] = []
    for _n, ids in sorted(by_name.items()):
        for other in ids[1:]:
            a, b = find(ids[0]), find(other)
            if a == b:
                continue
            if _conflict(keys_of_group[a], keys_of_group[b]):
                continue  # same name, different exact keys: two organizations
            union(a, b)
            merged = keys_of_group[find(a)]
            for src in (keys_of_group[a], keys_of_group[b]):
                for key, values in src.items():
                    merged[key] |= values
    for n in sorted(by_name):
        for base in branch_bases(n):
            if base in by_name:
                groups = sorted({find(by_name[x][0]) for x in (base, n)}, key=_id_order)
                if len(groups) > 1:
                    review.append(("similar_names", tuple(groups), f"{base} / {n}"[:300]))
                break
    return Grouping({r.subject_id: find(r.subject_id) for r in records}, review)


def _conflict(a: dict[str, set[str]], b: dict[str, set[str]]) -> bool:
    return any(a[k] and b.get(k) and not (a[k] & b[k]) for k in a)


def _id_order(x: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order, then text ids: the group id is stable and readable."""
    return (0, int(x)) if x.isdigit() else (1, x)

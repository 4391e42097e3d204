"""The page's data: the large tables (timeline, subjects, statements, review, claims) as compact JSON that the
page's script reads once (JSON.parse) and shows with textContent only.

Compact: tables are column arrays; every text goes through one string table (`S`: file names, levels, hosts,
stages repeat thousands of times), lists of categories through a table of combinations (`C`); evidence rows are
flat integer lists (file number, record, table). Text is neutralized once here (fmt.text): the page shows it as
it comes. The JSON is safe inside <script type="application/json">: <, >, &, U+2028, U+2029 (and every other
control or bidi character) are \\u escapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from breachscope.model.result import ResultDocument
from breachscope.model.text import CONTROL_POINTS
from breachscope.report import fmt
from breachscope.report.evidence import FileIndex, Ref, refs
from breachscope.report.sections import Claim

STATEMENT_CHARS = 4_000  # longer statements are cut in the page (the audit log has them whole)
REVIEW_IDS = 20  # subject ids listed per review item

_ESCAPES = {cp: f"\\u{cp:04x}" for cp in (0x3C, 0x3E, 0x26, *(c for c in CONTROL_POINTS if c >= 0x7F))}


class Strings:
    """The string table: each distinct (neutralized) text once, numbered in order of first use."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._index: dict[str, int] = {}
        self._combos: dict[tuple[int, ...], int] = {}
        self.combos: list[list[int]] = []

    def __call__(self, value: object) -> int | None:
        if value is None:
            return None
        shown = fmt.text(value)
        i = self._index.get(shown)
        if i is None:
            i = self._index[shown] = len(self.table)
            self.table.append(shown)
        return i

    def combo(self, values: Iterable[object] | None) -> int:
        """A list of texts (categories, policies) as one number."""
        key = tuple(i for i in (self(v) for v in values or ()) if i is not None)
        n = self._combos.get(key)
        if n is None:
            n = self._combos[key] = len(self.combos)
            self.combos.append(list(key))
        return n


def flat(refs_: Sequence[Ref], s: Strings) -> list[int | None]:
    out: list[int | None] = []
    for r in refs_:
        out += [r.file, r.record, s(r.table)]
    return out


def timeline(doc: ResultDocument, s: Strings, index: FileIndex) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {k: [] for k in ("ts", "stage", "host", "user", "src", "kind", "sum", "score", "ev")}
    for t in doc.timeline:
        cols["ts"].append(fmt.epoch_ms(t.ts))
        cols["stage"].append(s(t.stage))
        cols["host"].append(s(t.host))
        cols["user"].append(s(t.user))
        cols["src"].append(s(t.source))
        cols["kind"].append(s(t.kind))
        cols["sum"].append(s(t.summary))
        cols["score"].append(fmt.score(t.score))
        cols["ev"].append(flat(refs(index, t.evidence), s))
    return cols


def subjects(doc: ResultDocument, s: Strings, index: FileIndex) -> dict[str, list[Any]]:
    """Subjects: ids and names inline (they rarely repeat), the rest as numbers; evidence as
    [kind, file, record, detail] per piece."""
    cols: dict[str, list[Any]] = {k: [] for k in ("type", "id", "name", "org", "jur", "lvl", "cats", "excl", "n",
                                                  "ev")}
    for subj in doc.exposure.subjects if doc.exposure is not None else ():
        cols["type"].append(s(subj.subject_type))
        cols["id"].append(fmt.text(subj.subject_id))
        cols["name"].append(None if subj.name is None else fmt.text(subj.name))
        cols["org"].append(s(subj.organization_id))
        cols["jur"].append(s(subj.jurisdiction))
        cols["lvl"].append(s(subj.level))
        cols["cats"].append(s.combo(subj.categories))
        cols["excl"].append(s.combo(subj.excluded_by))
        cols["n"].append(subj.evidence_count)
        ev: list[int | None] = []
        for e in subj.evidence:
            ev += [s(e.kind), index.number(e.src_file), e.src_record, s(e.detail)]
        cols["ev"].append(ev)
    return cols


def statements(doc: ResultDocument, s: Strings, index: FileIndex) -> dict[str, list[Any]]:
    keys = ("id", "out", "reason", "ts", "user", "ip", "sess", "db", "cmd", "tables", "logged", "replayed", "subj",
            "text", "ev")
    cols: dict[str, list[Any]] = {k: [] for k in keys}
    for st in doc.exposure.statements if doc.exposure is not None else ():
        text = st.statement or ""
        if len(text) > STATEMENT_CHARS:
            text = text[:STATEMENT_CHARS] + f"… ({len(text):,})"
        for key, value in (("id", s(st.statement_id)), ("out", s(st.outcome)), ("reason", s(st.reason)),
                           ("ts", fmt.epoch_ms(st.ts)), ("user", s(st.user)), ("ip", s(st.src_ip)),
                           ("sess", s(st.session_id)), ("db", s(st.database)), ("cmd", s(st.command)),
                           ("tables", s.combo(st.tables)), ("logged", st.rows_logged),
                           ("replayed", st.rows_replayed), ("subj", st.subjects), ("text", fmt.block(text)),
                           ("ev", [index.number(st.src_file), st.src_record, s("db_audit")])):
            cols[key].append(value)
    return cols


def review(doc: ResultDocument, s: Strings, index: FileIndex) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {k: [] for k in ("kind", "ids", "detail", "ev")}
    for r in doc.exposure.review if doc.exposure is not None else ():
        ids = ", ".join(r.subject_ids[:REVIEW_IDS]) + (f" (+{len(r.subject_ids) - REVIEW_IDS})"
                                                      if len(r.subject_ids) > REVIEW_IDS else "")
        cols["kind"].append(s(r.kind))
        cols["ids"].append(fmt.text(ids))
        cols["detail"].append(s(r.detail))
        cols["ev"].append([index.number(r.src_file), r.src_record, None] if r.src_file else [])
    return cols


def claims(items: Iterable[Claim], s: Strings) -> dict[str, list[Any]]:
    """The server-rendered claims (hosts, accounts, ...), for the appendix's list of claims."""
    cols: dict[str, list[Any]] = {k: [] for k in ("kind", "num", "label", "ev")}
    for c in items:
        cols["kind"].append(c.kind)
        cols["num"].append(c.number)
        cols["label"].append(s(c.label))
        cols["ev"].append(flat(c.refs, s))
    return cols


def files(index: FileIndex, s: Strings) -> dict[str, list[Any]]:
    return {"short": [s(fmt.short_path(f.path)) for f in index.files], "path": [s(f.path) for f in index.files]}


def encode(data: dict[str, Any]) -> str:
    """JSON for a <script type="application/json"> block: nothing in it can end the block or start markup."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return text.translate(_ESCAPES)

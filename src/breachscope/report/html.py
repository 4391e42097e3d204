"""The HTML incident report: one self-contained file from a result document (docs/report.md).

Offline and safe by construction: the style and the script are inline and the Content-Security-Policy allows
exactly them (by hash), nothing else; the data is one JSON block the script reads with JSON.parse and shows
with textContent; the server-rendered parts are Jinja2 with autoescape. Deterministic: the same document gives
the same bytes (no time of rendering, no run ids, no random ids; every mapping is iterated sorted).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from breachscope.model.incident import STAGES
from breachscope.model.result import ResultDocument
from breachscope.report import exposure_view, fmt, graph, payload, sections, svg
from breachscope.report.evidence import FileIndex
from breachscope.report.labels import LANGS, label, labels_for

_PACKAGE = "breachscope.report"


def render_html(doc: ResultDocument, lang: str) -> str:
    """The report of `doc` in `lang` ("en" or "ja") as one HTML document."""
    if lang not in LANGS:
        raise ValueError(f"unknown report language {lang!r} (one of {', '.join(LANGS)})")
    index = FileIndex.of(doc.case.evidence_files)
    by_kind = sections.incident_claims(doc.incident)
    steps = sections.step_claims(doc)
    g = graph.build(doc.incident, doc.timeline)
    edges = [sections.Claim("edge", e.number, f"E{e.number} {e.src.label} -> {e.dst.label}", tuple(e.evidence))
             for e in g.edges]
    claims = [c for kind in sorted(by_kind) for c in by_kind[kind]] + steps + edges
    sections.cite(claims, index)  # numbered in a fixed order: the same document, the same file numbers
    data = _data(doc, lang, index, claims)
    css, js = _asset("report.css"), _asset("report.js")
    csp = (f"default-src 'none'; img-src data:; style-src '{_hash(css)}'; script-src '{_hash(js)}'; "
           "base-uri 'none'; form-action 'none'")
    context: dict[str, Any] = {
        "doc": doc, "lang": lang, "csp": csp, "css": Markup(css), "js": Markup(js),
        "data_json": Markup(payload.encode(data)), "files": index.files, "listed": index.listed,
        "cited": index.cited, "shorts": [fmt.short_path(f.path) for f in index.files],
        "claims": by_kind, "steps": steps, "edge_refs": {c.number: c.refs for c in edges}, "graph": g,
        "layout": svg.layout(g), "edge_kinds": graph.EDGE_KINDS, "when": sections.when(doc.incident),
        "entries": sections.entries(doc.incident), "affected": sections.affected(doc), "owed": sections.owed(doc),
        "findings_levels": sections.findings_levels(doc), "levels": sections.AFFECTED_LEVELS,
        "categories": exposure_view.categories(doc.exposure) if doc.exposure is not None else [],
        "exclusions": exposure_view.exclusions(doc.exposure) if doc.exposure is not None else None,
        "jurisdictions": exposure_view.jurisdictions(doc.exposure) if doc.exposure is not None else [],
        "missing_of": functools.partial(sections.missing_of, doc),
        "t": functools.partial(_label, lang),
    }
    return _env().get_template("report.html.j2").render(context)


def _data(doc: ResultDocument, lang: str, index: FileIndex, claims: list[sections.Claim]) -> dict[str, Any]:
    s = payload.Strings()
    data: dict[str, Any] = {
        "T": payload.timeline(doc, s, index), "U": payload.subjects(doc, s, index),
        "Q": payload.statements(doc, s, index), "R": payload.review(doc, s, index),
        "X": payload.claims(claims, s),
    }
    data["F"] = payload.files(index, s)  # last: every cited file is numbered by now
    data.update({"S": s.table, "C": s.combos, "L": labels_for(lang), "lang": lang, "stages": list(STAGES),
                 "levels": [*sections.AFFECTED_LEVELS, "NOT_EXPOSED"],
                 "timeline_total": doc.timeline_total,
                 "subjects_total": doc.exposure.subjects_total if doc.exposure is not None else None})
    return data


def _label(lang: str, key: str, **fields: object) -> str:
    return label(key, lang, **{k: fmt.number(v) if isinstance(v, int) else v for k, v in fields.items()})


def _hash(text: str) -> str:
    """A CSP source for an inline element: the sha256 of its exact text."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


@functools.cache
def _asset(name: str) -> str:
    text = (resources.files(_PACKAGE) / "static" / name).read_text(encoding="utf-8")
    closing = "</script" if name.endswith(".js") else "</style"
    if closing in text.lower() or "<!--" in text:
        raise ValueError(f"{name} would end its inline element early")  # our own file: a bug, not input
    return text


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files(_PACKAGE) / "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters.update({"utc": fmt.utc, "utc_iso": fmt.utc_iso, "num": fmt.number, "txt": fmt.text,
                        "short": fmt.short_path})
    return env

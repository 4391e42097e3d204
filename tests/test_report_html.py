"""The HTML incident report in a real headless Chromium (Debian's, through playwright; nothing downloaded): the
demo's case and a document whose evidence text is hostile. The page must load offline with no error and no
request but its own file, show the document's figures, filter exactly, and show hostile text as text."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from breachscope.model.result import ResultDocument
from breachscope.model.text import multi_line, one_line
from breachscope.report.html import render_html
from tests.test_report_html_kit import (
    CHROMIUM,
    HOSTILE,
    Watched,
    browser,
    hostile_document,
    keep_screenshot,
    open_report,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium not found at {CHROMIUM} "
                                "(Debian: apt-get install chromium); the HTML report is tested in a real browser")
SHOTS = os.environ.get("BREACHSCOPE_REPORT_SCREENSHOTS")
MAX_BYTES = 10 * 1024 * 1024  # the default demo's report (38k subjects) stays under 10 MB


@pytest.fixture(scope="module")
def demo_doc(tmp_path_factory: pytest.TempPathFactory) -> ResultDocument:
    """The demo's case (simulate, ingest, investigate, scope, notify) on a small noise volume, assembled with its
    containment plan."""
    from breachscope.cli.contain_cmd import plan_for
    from breachscope.cli.main import app
    from breachscope.model.result_case import assemble

    out = tmp_path_factory.mktemp("report-html") / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--events", "20000"])
    assert res.exit_code == 0, res.output
    case = out / "case"
    return assemble(case, plan_for)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


def _write(tmp_path: Path, doc: ResultDocument, lang: str, name: str = "report") -> tuple[Path, str]:
    html = render_html(doc, lang)
    path = tmp_path / f"{name}_{lang}.html"
    path.write_text(html, encoding="utf-8")
    return path, html


def _clean(w: Watched) -> None:
    """No console message of level error or warning, no page error, no CSP violation, no request but the file."""
    assert [m for m in w.console if m[0] in ("error", "warning")] == []
    assert w.errors == []
    assert w.csp_violations() == []
    assert set(w.requests) == {w.url}, w.requests


def _shot(w: Watched, tmp_path: Path, name: str) -> None:
    png = tmp_path / f"{name}.png"
    w.page.screenshot(path=str(png))
    w.page.locator(".graphwrap").screenshot(path=str(tmp_path / f"{name}_graph.png"))
    assert png.stat().st_size > 10_000
    keep_screenshot(png, SHOTS)
    keep_screenshot(tmp_path / f"{name}_graph.png", SHOTS)


def _count(w: Watched, table: str) -> int:
    return int(w.page.get_attribute(f"#{table}", "data-count"))


def _all_rows(w: Watched, table: str) -> list[int]:
    """Row numbers (data-row) over every page of a paged table, going through its page controls."""
    page, rows = w.page, []
    if not page.is_disabled(f"#{table} .pg-first"):
        page.click(f"#{table} .pg-first")
        page.wait_for_function("t => document.getElementById(t).dataset.page === '1'", arg=table)
    while True:
        rows += [int(r) for r in page.eval_on_selector_all(f"#{table} tbody tr[data-row]",
                                                           "els => els.map(e => e.dataset.row)")]
        if page.is_disabled(f"#{table} .pg-next"):
            return rows
        before = page.get_attribute(f"#{table}", "data-page")
        page.click(f"#{table} .pg-next")
        page.wait_for_function("([t, b]) => document.getElementById(t).dataset.page !== b", arg=[table, before])


def _change(w: Watched, table: str, act: Any) -> None:
    """Do `act` (a filter change) and wait until the table has applied it (its data-renders goes up)."""
    before = w.page.get_attribute(f"#{table}", "data-renders")
    act()
    # a function, not a string: a string predicate is eval'd in the page, which the report's CSP refuses
    w.page.wait_for_function("([t, b]) => document.getElementById(t).dataset.renders !== b", arg=[table, before])


def _choose(w: Watched, select: str, table: str, label: str | None = None, value: str | None = None) -> None:
    if label is not None:
        _change(w, table, lambda: w.page.select_option(f"#{select}", label=label))
    else:
        _change(w, table, lambda: w.page.select_option(f"#{select}", value=value))


def _options(w: Watched, select: str) -> list[tuple[str, str]]:
    return [tuple(o) for o in w.page.eval_on_selector_all(f"#{select} option",
                                                          "os => os.map(o => [o.value, o.textContent])")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_demo_report_loads_offline_and_shows_the_documents_figures(demo_doc: ResultDocument, chromium: Any,
                                                                  tmp_path: Path, lang: str) -> None:
    doc = demo_doc
    path, html = _write(tmp_path, doc, lang)
    assert len(html.encode("utf-8")) <= MAX_BYTES
    w = open_report(chromium, path)
    _clean(w)
    assert w.page.get_attribute("html", "lang") == lang
    assert doc.exposure is not None and doc.obligations is not None
    s = doc.exposure.summary
    for key, counts in (("organizations", s.organizations), ("persons", s.persons)):
        for level, n in (("CONFIRMED_EXFILTRATED", counts.confirmed_exfiltrated),
                         ("CONFIRMED_ACCESSED", counts.confirmed_accessed), ("POTENTIAL", counts.potential),
                         ("total", counts.total)):
            cell = w.page.locator(f'[data-figure="{key}-{level}"]')
            assert cell.get_attribute("data-value") == str(n)
            assert cell.inner_text() == f"{n:,}"
    obligations = w.page.locator("#obligations-count")
    assert obligations.get_attribute("data-value") == str(len(doc.obligations.obligations))
    assert obligations.get_attribute("data-owed") == str(sum(o.owed == "yes" for o in doc.obligations.obligations))
    assert w.page.get_attribute("#tl-total", "data-value") == str(doc.timeline_total)
    assert _count(w, "tl-table") == len(doc.timeline) > 0
    assert w.page.get_attribute("#subjects-count", "data-value") == str(doc.exposure.subjects_total)
    assert _count(w, "sj-table") == len(doc.exposure.subjects) > 20_000
    assert doc.containment is not None
    assert w.page.locator("#step-table tbody tr").count() == len(doc.containment.steps)
    assert w.page.locator("#host-table tbody tr").count() == len(doc.incident.hosts)  # type: ignore[union-attr]
    # every evidence file is in the appendix; its citations are the claims listed for it
    assert w.page.locator("#file-table tbody tr").count() >= len(doc.case.evidence_files)
    cited = sum(int(c) for c in w.page.eval_on_selector_all("button.claims-btn", "bs => bs.map(b => b.dataset.count)"))
    assert cited == _count(w, "cl-table")
    # a claim's evidence link leads to its file's row in the appendix
    link = w.page.locator("#tl-table a.ev").first
    target = str(link.get_attribute("href"))
    link.click()
    w.page.wait_for_function("h => location.hash === h", arg=target)
    assert w.page.evaluate("h => { const r = document.querySelector(h).getBoundingClientRect(); "  # below the
                           "return r.height > 0 && r.top >= 30 && r.bottom <= innerHeight }", target)  # sticky header
    w.page.evaluate("() => window.scrollTo(0, 0)")
    _shot(w, tmp_path, f"report_demo_{lang}")


def test_timeline_filters_narrow_to_exactly_the_matching_entries(demo_doc: ResultDocument, chromium: Any,
                                                                 tmp_path: Path) -> None:
    doc = demo_doc
    w = open_report(chromium, _write(tmp_path, doc, "en")[0])
    entries = doc.timeline
    # a host (names compare case-insensitively: ORD-AP02 and ord-ap02 are one host)
    host = max({(e.host or "").lower() for e in entries if e.host},
               key=lambda h: (sum((e.host or "").lower() == h for e in entries), h))
    label = next(text for _, text in _options(w, "tl-host") if text.lower() == host)
    _choose(w, "tl-host", "tl-table", label=label)
    expected = [i for i, e in enumerate(entries) if (e.host or "").lower() == host]
    assert 0 < len(expected) < len(entries)
    assert _all_rows(w, "tl-table") == expected
    # and a stage: both filters hold
    stage = entries[expected[-1]].stage
    value = next(v for v, _ in _options(w, "tl-stage") if v and _stage_of(w, v) == stage)
    _choose(w, "tl-stage", "tl-table", value=value)
    assert _all_rows(w, "tl-table") == [i for i in expected if entries[i].stage == stage]
    _choose(w, "tl-host", "tl-table", value="")
    assert _all_rows(w, "tl-table") == [i for i, e in enumerate(entries) if e.stage == stage]
    _choose(w, "tl-stage", "tl-table", value="")
    # an account
    users = sorted({(e.user or "").lower() for e in entries if e.user})
    assert users
    user = next(text for _, text in _options(w, "tl-user") if text.lower() == users[0])
    _choose(w, "tl-user", "tl-table", label=user)
    assert _all_rows(w, "tl-table") == [i for i, e in enumerate(entries) if (e.user or "").lower() == users[0]]
    # the text filter, beside the account
    word = entries[_all_rows(w, "tl-table")[0]].kind
    _change(w, "tl-table", lambda: w.page.fill("#tl-text", word))
    assert _all_rows(w, "tl-table") == [
        i for i, e in enumerate(entries) if (e.user or "").lower() == users[0]
        and any(word.lower() in (x or "").lower() for x in (e.summary, e.kind, e.host, e.user))]
    _clean(w)


def _stage_of(w: Watched, value: str) -> str:
    """The stage an option of the stage filter stands for (its value is the string table's index)."""
    return str(w.page.evaluate(f"JSON.parse(document.getElementById('bs-data').textContent).S[{int(value)}]"))


def test_subjects_search_finds_a_subject_by_name_and_by_id(demo_doc: ResultDocument, chromium: Any,
                                                           tmp_path: Path) -> None:
    doc = demo_doc
    assert doc.exposure is not None
    w = open_report(chromium, _write(tmp_path, doc, "ja")[0])
    subjects = doc.exposure.subjects
    target = next(s for s in subjects[len(subjects) // 2:] if s.subject_type == "person" and s.name)
    for query in (target.name or "", target.subject_id):
        _change(w, "sj-table", lambda q=query: w.page.fill("#sj-text", q))
        expected = [i for i, s in enumerate(subjects)
                    if query.lower() in f"{s.subject_id}\n{s.name or ''}".lower()]
        assert subjects.index(target) in expected
        assert _all_rows(w, "sj-table") == expected
        cells = w.page.eval_on_selector_all("#sj-table tbody tr", "rs => rs.map(r => [r.cells[0].textContent, "
                                            "r.cells[1].textContent])")
        assert [target.name, target.subject_id] in [list(c) for c in cells]
    _clean(w)


def test_hostile_evidence_shows_as_text_and_runs_nothing(chromium: Any, tmp_path: Path) -> None:
    doc = hostile_document()
    path, html = _write(tmp_path, doc, "en", "hostile")
    # the data block cannot end early: no <, >, & or line separator inside it
    data = html.split('<script type="application/json" id="bs-data">', 1)[1].split("</script>", 1)[0]
    assert not re.search("[<>&\u2028\u2029\x1b\u202e]", data)
    tags = _tags(html)  # as the server wrote it: no element, link or handler from the data
    assert [t for t, _ in tags if t in ("img", "iframe", "object", "embed", "link", "base", "form")] == []
    assert [t for t, _ in tags].count("script") == 2 and [t for t, _ in tags].count("svg") == 1
    assert [a for _, attrs in tags for a, _ in attrs if a.startswith("on")] == []
    assert all((v or "").startswith("#") for _, attrs in tags for a, v in attrs if a in ("href", "src", "action"))
    w = open_report(chromium, path)
    _clean(w)
    page = w.page
    found = page.evaluate("""() => ({
        pwned: window.__pwned === undefined ? null : window.__pwned,
        img: document.querySelectorAll('img, iframe, object, embed, link, meta[http-equiv="refresh"]').length,
        scripts: document.querySelectorAll('script').length,
        svgs: document.querySelectorAll('svg').length,
        hrefs: [...document.querySelectorAll('[href]')].map(a => a.getAttribute('href')),
        handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))
                   .filter(n => n.startsWith('on')),
    })""")
    assert found["pwned"] is None and found["img"] == 0 and found["scripts"] == 2 and found["svgs"] == 1
    assert found["handlers"] == []
    assert all(re.fullmatch(r"#(f\d+|sec-[a-z]+|(host|account|external|movement|session|step|edge)-\d+)", h)
               for h in found["hrefs"]), found["hrefs"]
    h = HOSTILE
    text = page.text_content
    # server-rendered: the host table, the story, the containment step, an obligation's source
    assert text("#host-1 td:nth-child(2)") == h["script"]
    assert text("#host-2 td:nth-child(2)") == one_line(h["bidi"])  # the override shows as \u202e
    assert text("#host-1 td:nth-child(10)") == one_line(h["ansi"])  # ESC and BEL shown as \x1b, \x07
    assert page.eval_on_selector_all("ul.story li", "ls => ls.map(l => l.textContent)") == [
        one_line(line) for line in doc.incident.story]  # type: ignore[union-attr]
    assert text("#step-1 td:nth-child(4)") == h["script"]
    assert text("#obligation-table .url") == h["js_url"]
    assert page.eval_on_selector("#f0", "r => r.cells[1].textContent") == one_line(doc.case.evidence_files[0].path)
    # built by the script: the timeline, the filters' options, the subjects, the statements, the review list
    rows = page.eval_on_selector_all("#tl-table tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")
    assert [r[5] for r in rows] == [one_line(e.summary) for e in doc.timeline]
    hosts = page.eval_on_selector_all("#tl-host option", "os => os.map(o => o.textContent)")
    assert h["script"] in hosts and one_line(h["bidi"]) in hosts
    assert text("#sj-table tbody tr:nth-child(1) td:nth-child(1)") == h["script"]
    statement = doc.exposure.statements[0].statement  # type: ignore[union-attr]
    assert text("#st-table td.statement") == multi_line(statement) and "\n" in multi_line(statement)  # its lines
    assert "\\n" in one_line(h["newline"]) and one_line(h["newline"]) in text("ul.story")  # a name: one line
    assert text("#rv-table tbody td:nth-child(3)") == h["svg"]
    _change(w, "sj-table", lambda: page.fill("#sj-text", h["bidi"][:7]))
    assert _count(w, "sj-table") == 1
    assert text("#sj-table tbody td:nth-child(1)") == one_line(h["bidi"])
    # the attack graph's labels are text too (SVG <text>), and the lateral edge was found from the summary
    labels = page.eval_on_selector_all("svg.graph .node title", "ts => ts.map(t => t.textContent)")
    assert any(lb.startswith(h["script"]) for lb in labels)
    assert page.locator("svg.graph g.e-lateral").count() == 1
    found_after = page.evaluate("window.__pwned === undefined")
    assert found_after
    _shot(w, tmp_path, "report_hostile_en")


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Tags().feed(html)
    return found


def test_an_injected_tag_could_neither_load_nor_run(chromium: Any, tmp_path: Path) -> None:
    """The Content-Security-Policy allows the report's own style and script (by hash) and nothing else."""
    _, html = _write(tmp_path, hostile_document(), "en", "inject")
    injected = ('<script>window.__pwned = 9</script><img src="http://127.0.0.1:9/x.png">'
                '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"><style>body { display: none }</style>')
    path = tmp_path / "injected.html"
    path.write_text(html.replace("<body>", "<body>" + injected, 1), encoding="utf-8")
    w = open_report(chromium, path)
    assert w.page.evaluate("window.__pwned === undefined")
    assert w.page.is_visible("#sec-summary")  # the injected style did not apply
    directives = {d for d, _ in w.csp_violations()}
    assert {"script-src-elem", "img-src", "style-src-elem"} <= directives
    assert all(u == w.url or u.startswith("http://127.0.0.1:9/") for u in w.requests)
    assert w.errors == []


def test_same_document_same_bytes_whatever_the_run(demo_doc: ResultDocument) -> None:
    """No time of rendering, no run ids, no generated_at: a re-investigation of the same evidence renders the same."""
    doc = demo_doc
    first = render_html(doc, "en")
    assert render_html(doc, "en") == first
    assert render_html(ResultDocument.from_json(doc.to_json()), "en") == first
    later = datetime(2031, 1, 1, tzinfo=UTC)
    assert doc.incident is not None and doc.containment is not None
    rerun = dataclasses.replace(
        doc, case=dataclasses.replace(doc.case, runs={k: v + "-rerun" for k, v in doc.case.runs.items()}),
        incident=dataclasses.replace(doc.incident, generated_at=later),
        containment=dataclasses.replace(doc.containment, incident_generated_at=later))
    assert render_html(rerun, "en") == first
    for run_id in doc.case.runs.values():
        assert run_id not in first
    assert render_html(doc, "ja") != first


def test_a_stage_that_did_not_run_is_said_never_shown_as_zero(chromium: Any, tmp_path: Path) -> None:
    doc = dataclasses.replace(hostile_document(), exposure=None, obligations=None, containment=None,
                              missing=("exposure: no scope has run (run `breachscope scope`)",
                                       "obligations: notify has not run (run `breachscope notify --aware-at ...`)",
                                       "containment: no plan without an incident"))
    w = open_report(chromium, _write(tmp_path, doc, "ja", "partial")[0])
    _clean(w)
    assert w.page.locator("[data-figure]").count() == 2  # the findings' levels only: no affected count at all
    notes = w.page.eval_on_selector_all(".notrun", "ns => ns.map(n => n.textContent)")
    assert any("breachscope scope" in n for n in notes) and any("breachscope notify" in n for n in notes)
    assert w.page.locator("#sec-exposure .notrun").count() == 1
    assert w.page.locator("#sec-obligations .notrun").count() == 1
    assert w.page.locator("#sec-containment .notrun").count() == 1


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        render_html(hostile_document(), "fr")


def test_every_label_has_both_languages() -> None:
    from breachscope.report.labels import LABELS, LANGS

    assert all(set(v) == set(LANGS) and all(v[lang].strip() for lang in LANGS) for v in LABELS.values())


def test_the_script_builds_no_markup_and_the_style_loads_nothing() -> None:
    from importlib import resources

    static = resources.files("breachscope.report") / "static"
    js = (static / "report.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(",
                 "setAttribute(\"href", "srcdoc", "javascript:"):
        assert sink not in js, sink
    css = (static / "report.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css and "@font-face" not in css

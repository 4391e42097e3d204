"""The HTML report at scale, in headless Chromium: 20,000 subjects and 100,000 timeline entries render, load,
page and search (no time is asserted: bench/report_bench.py measures it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from breachscope.model.result import ResultDocument
from breachscope.report.html import render_html
from tests.test_report_html_kit import CHROMIUM, Watched, big_document, browser, open_report

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium not found at {CHROMIUM} "
                                "(Debian: apt-get install chromium); the HTML report is tested in a real browser")
SUBJECTS, ENTRIES = 20_000, 100_000


@pytest.fixture(scope="module")
def big() -> ResultDocument:
    return big_document(SUBJECTS, ENTRIES)


@pytest.fixture(scope="module")
def page(big: ResultDocument, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    path = tmp_path_factory.mktemp("report-big") / "big.html"
    path.write_text(render_html(big, "en"), encoding="utf-8")
    with browser() as b:
        w = open_report(b, path)
        yield w


def _attr(w: Watched, table: str, name: str) -> str:
    return str(w.page.get_attribute(f"#{table}", f"data-{name}"))


def _after(w: Watched, table: str, act: Any, attr: str = "renders") -> None:
    before = _attr(w, table, attr)
    act()
    w.page.wait_for_function("([t, a, b]) => document.getElementById(t).getAttribute('data-' + a) !== b",
                             arg=[table, attr, before])


def _rows(w: Watched, table: str) -> list[int]:
    return [int(r) for r in w.page.eval_on_selector_all(f"#{table} tbody tr[data-row]",
                                                        "els => els.map(e => e.dataset.row)")]


def test_it_loads_clean_and_counts_everything(page: Watched, big: ResultDocument) -> None:
    w = page
    assert w.errors == [] and [m for m in w.console if m[0] == "error"] == []
    assert set(w.requests) == {w.url} and w.csp_violations() == []
    assert _attr(w, "tl-table", "count") == str(ENTRIES) and _attr(w, "tl-table", "pages") == str(ENTRIES // 100)
    assert _attr(w, "sj-table", "count") == str(SUBJECTS)
    assert w.page.get_attribute("#tl-total", "data-value") == str(ENTRIES)
    assert w.page.get_attribute("#subjects-count", "data-value") == str(SUBJECTS)
    assert len(_rows(w, "tl-table")) == 100  # one page in the DOM, not 100,000 rows
    # no investigation, no hunt: said where they would show, never as empty tables
    assert w.page.locator("#sec-graph .notrun").count() == 1 and w.page.locator("#sec-timeline .notrun").count() == 2


def test_paging_goes_through_the_timeline(page: Watched) -> None:
    w = page
    _after(w, "tl-table", lambda: w.page.click("#tl-table .pg-next"), "page")
    assert _rows(w, "tl-table") == list(range(100, 200))
    _after(w, "tl-table", lambda: w.page.click("#tl-table .pg-last"), "page")
    assert _attr(w, "tl-table", "page") == str(ENTRIES // 100)
    assert _rows(w, "tl-table") == list(range(ENTRIES - 100, ENTRIES))
    assert w.page.is_disabled("#tl-table .pg-next")
    _after(w, "tl-table", lambda: w.page.fill("#tl-table .pg-page", "421") or w.page.press("#tl-table .pg-page",
                                                                                         "Enter"), "page")
    assert _rows(w, "tl-table")[0] == 42_000
    _after(w, "tl-table", lambda: w.page.click("#tl-table .pg-first"), "page")
    assert _rows(w, "tl-table")[0] == 0


def test_filters_and_search_at_scale(page: Watched, big: ResultDocument) -> None:
    w = page
    _after(w, "tl-table", lambda: w.page.select_option("#tl-host", label="HOST07"))
    expected = [i for i, e in enumerate(big.timeline) if e.host == "HOST07"]
    assert _attr(w, "tl-table", "count") == str(len(expected))
    assert _rows(w, "tl-table") == expected[:100]
    _after(w, "tl-table", lambda: w.page.fill("#tl-text", "event 99967 "))
    assert _rows(w, "tl-table") == [99_967]
    # subjects: by id, then by name, among 20,000
    _after(w, "sj-table", lambda: w.page.fill("#sj-text", "S019999"))
    assert _rows(w, "sj-table") == [19_999]
    _after(w, "sj-table", lambda: w.page.fill("#sj-text", "subject name 012345"))
    assert _rows(w, "sj-table") == [12_345]
    assert w.page.text_content("#sj-table tbody td:nth-child(1)") == "Subject name 012345 株式会社"
    _after(w, "sj-table", lambda: w.page.fill("#sj-text", ""))
    _after(w, "sj-table", lambda: w.page.select_option("#sj-level", label="Potential"))
    assert _attr(w, "sj-table", "count") == str(sum(s.level == "POTENTIAL" for s in big.exposure.subjects))  # type: ignore[union-attr]


def test_the_appendix_lists_every_claim_of_a_file(page: Watched, big: ResultDocument) -> None:
    w = page
    button = w.page.locator('#f7 button.claims-btn')
    cited = int(str(button.get_attribute("data-count")))
    refs = sum(1 for e in big.timeline for r in e.evidence if r.src_file == big.case.evidence_files[7].path)
    subjects = sum(1 for s in big.exposure.subjects for e in s.evidence  # type: ignore[union-attr]
                   if e.src_file == big.case.evidence_files[7].path)
    assert cited == refs + subjects
    _after(w, "cl-table", button.click)
    assert _attr(w, "cl-table", "count") == str(cited)


def test_size_and_bytes_are_stable(big: ResultDocument, tmp_path: Path) -> None:
    html = render_html(big, "en")
    assert html == render_html(big, "en")
    assert len(html.encode("utf-8")) < 20 * 1024 * 1024  # column arrays and a string table: ~100 bytes an entry

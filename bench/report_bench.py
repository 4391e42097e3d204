"""HTML report benchmark (issue 14): file size, render time in Python, and the time to open the report in
headless Chromium (Debian's, through playwright): navigation to the `load` event, and to the page's first
render of its tables (`window.bsReady`, set by the report's script). Medians of 5 runs; prints a Markdown table.

    .venv/bin/python bench/report_bench.py [CASE ...] [--runs 5] [--lang en] [--no-synthetic]

- CASE: a case folder after investigate, scope and notify (e.g. `make demo`'s demo-out/case); its result
  document is assembled as `breachscope report` does (with the containment plan from the incident).
- synthetic: a document of 20,000 subjects and 100,000 timeline entries (tests/test_report_html_kit.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the synthetic documents and the browser set-up live in tests/

from breachscope.model.result import ResultDocument  # noqa: E402
from breachscope.report.html import render_html  # noqa: E402
from tests.test_report_html_kit import big_document, browser, open_report  # noqa: E402


def case_document(case: Path) -> ResultDocument:
    from breachscope.cli.contain_cmd import plan_for
    from breachscope.model.result_case import assemble

    return assemble(case, plan_for)


def measure(name: str, doc: ResultDocument, lang: str, runs: int, work: Path) -> dict[str, object]:
    renders, html = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        html = render_html(doc, lang)
        renders.append(time.perf_counter() - t0)
    path = work / (name.replace("/", "_") + ".html")
    path.write_text(html, encoding="utf-8")
    loads, readies, walls = [], [], []
    with browser() as b:
        for _ in range(runs):
            t0 = time.perf_counter()
            w = open_report(b, path)
            walls.append(time.perf_counter() - t0)
            nav = w.page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
            loads.append(float(nav) / 1000)
            readies.append(float(w.page.evaluate("() => window.bsReadyAt")) / 1000)
            if w.errors:
                raise SystemExit(f"{name}: page errors: {w.errors}")
            w.page.close()
    timeline = len(doc.timeline)
    subjects = len(doc.exposure.subjects) if doc.exposure is not None else 0
    return {"name": name, "timeline": timeline, "subjects": subjects, "mb": len(html.encode("utf-8")) / 2**20,
            "render": statistics.median(renders), "load": statistics.median(loads),
            "ready": statistics.median(readies), "wall": statistics.median(walls)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", type=Path, help="case folders")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lang", default="en", choices=("en", "ja"))
    ap.add_argument("--no-synthetic", action="store_true", help="skip the 20k-subject, 100k-entry document")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        for case in args.cases:
            rows.append(measure(case.resolve().parent.name + "/" + case.name, case_document(case), args.lang,
                                args.runs, Path(tmp)))
        if not args.no_synthetic:
            rows.append(measure("synthetic-20k-100k", big_document(20_000, 100_000), args.lang, args.runs, Path(tmp)))
    print(f"medians of {args.runs} runs, lang {args.lang}; load: navigation start to the load event; ready: to the "
          "first render of every table (window.bsReady); open: playwright's goto + wait, seen from Python\n")
    print("| document | timeline | subjects | size (MB) | render (s) | load (s) | ready (s) | open (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['timeline']:,} | {r['subjects']:,} | {r['mb']:.2f} | {r['render']:.2f} | "
              f"{r['load']:.2f} | {r['ready']:.2f} | {r['wall']:.2f} |")


if __name__ == "__main__":
    main()

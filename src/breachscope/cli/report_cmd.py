"""`breachscope report`: the case's result document (CASE/report/result.json) and its renderings: the HTML
incident report (default), PDF through headless Chromium, CSV tables, a Timesketch timeline, the JSON.

Every rendering reads only the result document, which this command assembles from the case's latest
artifacts (model.result_case.assemble) with the containment plan computed from the incident.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breachscope.cli.output import quoted, safe, stderr, stdout
from breachscope.cli.paths import existing_case, output_file
from breachscope.model.atomic import atomic_write
from breachscope.model.errors import UsageError

if TYPE_CHECKING:
    from breachscope.model.result import ResultDocument



def report(
    case: Annotated[Path, typer.Option("--case", help="Case folder (after investigate, scope and notify).")],
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: in CASE/report/).")] = None,
    format: Annotated[str, typer.Option("--format", help="html, pdf (needs Chromium), json, csv, "
                                                         "timesketch or attack-layer (ATT&CK Navigator).")] = "html",
    lang: Annotated[str, typer.Option("--lang", help="Language of the HTML/PDF report: en or ja.")] = "en",
    table: Annotated[str, typer.Option("--table", help="For --format csv: subjects, timeline, obligations, "
                                                       "containment, hosts or findings.")] = "subjects",
    keep_access: Annotated[str | None, typer.Option(
        "--keep-access", help="Comma-separated addresses or networks the containment plan keeps able to reach "
                              "the isolated hosts (the forensic collector, the admins' jump host).")] = None,
) -> None:
    """The incident report: what happened, who is affected, what is owed by when, how to contain it."""
    from breachscope.report.tables import TABLES

    existing_case(case)
    if format not in RENDERERS:
        raise UsageError(f"--format must be one of {', '.join(RENDERERS)}, not {format!r}")
    if lang not in ("en", "ja"):
        raise UsageError(f"--lang must be en or ja, not {lang!r}")
    if format == "csv" and table not in TABLES:
        raise UsageError(f"--table must be one of {', '.join(TABLES)}, not {table!r}")
    from breachscope.cli.contain_cmd import parse_keep_access

    keep = parse_keep_access(keep_access)
    doc, result_path = write_result(case, keep)
    target = out or result_path.parent / RENDERERS[format][1].format(lang="" if lang == "en" else "_ja",
                                                                      table=table)
    output_file(target)
    render_to(doc, format, target, lang=lang, table=table)
    from breachscope.report.summary import summary_lines

    for line in summary_lines(doc):
        stdout.print(safe(line), markup=False, highlight=False)
    stdout.print(f"{format}: {quoted(target)}", markup=False, highlight=False)
    if format != "json":
        stdout.print(f"result document: {quoted(result_path)}", markup=False, highlight=False)


def write_result(case: Path, keep_access: tuple[str, ...] = ()) -> tuple[ResultDocument, Path]:
    """Assemble the case's result document and write it to CASE/report/result.json (atomically)."""
    from breachscope.model.case import CaseLayout
    from breachscope.model.result_case import assemble

    layout = CaseLayout(case)
    from breachscope.cli.contain_cmd import plan_for

    doc = assemble(case, lambda incident, alerts: plan_for(incident, alerts, keep_access))
    layout.report.mkdir(exist_ok=True)
    atomic_write(layout.result, doc.to_json())
    return doc, layout.result


def _html(doc: ResultDocument, target: Path, lang: str, table: str) -> None:
    from breachscope.report.html import render_html

    atomic_write(target, render_html(doc, lang))


def _pdf(doc: ResultDocument, target: Path, lang: str, table: str) -> None:
    from breachscope.report.html import render_html
    from breachscope.report.pdf import html_to_pdf

    html_to_pdf(render_html(doc, lang), target)


def _json(doc: ResultDocument, target: Path, lang: str, table: str) -> None:
    atomic_write(target, doc.to_json())


def _csv(doc: ResultDocument, target: Path, lang: str, table: str) -> None:
    from breachscope.report.tables import render_csv

    atomic_write(target, render_csv(doc, table))


def _timesketch(doc: ResultDocument, target: Path, lang: str, table: str) -> None:
    from breachscope.report.timesketch import render_timesketch

    text, undated = render_timesketch(doc)
    atomic_write(target, text)
    if undated:
        stderr.print(f"note: {undated:,} timeline entr{'y' if undated == 1 else 'ies'} without a time left out of "
                     "the Timesketch file (they are in the result document)", markup=False)


def _attack_layer(doc: ResultDocument, target: Path, lang: str, table: str) -> None:
    from breachscope.report.attack_layer import render_attack_layer

    atomic_write(target, render_attack_layer(doc))


#: --format NAME -> (its renderer, its default file name in CASE/report/). A new rendering: one line here.
RENDERERS: dict[str, tuple[Callable[[ResultDocument, Path, str, str], None], str]] = {
    "html": (_html, "report{lang}.html"),
    "pdf": (_pdf, "report{lang}.pdf"),
    "json": (_json, "result.json"),
    "csv": (_csv, "{table}.csv"),
    "timesketch": (_timesketch, "timeline.jsonl"),
    "attack-layer": (_attack_layer, "attack_layer.json"),
}


def render_to(doc: ResultDocument, format: str, target: Path, *, lang: str = "en", table: str = "subjects") -> None:
    """One rendering of the document, written atomically to `target`."""
    RENDERERS[format][0](doc, target, lang, table)

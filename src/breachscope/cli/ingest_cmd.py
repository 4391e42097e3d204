"""`breachscope ingest`: evidence files, folders and archives into a case."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from breachscope.cli.output import print_json, quoted, safe, stderr, stdout
from breachscope.cli.paths import case_to_write
from breachscope.cli.progress import byte_progress, show_progress
from breachscope.model.case import FAILED, UNRECOGNIZED
from breachscope.model.errors import UsageError

if TYPE_CHECKING:  # the readers load when the command runs: `breachscope --help` starts without them
    from breachscope.ingest.context import IngestOptions
    from breachscope.ingest.pipeline import IngestSummary

JSON_HELP = "Print a machine-readable summary on stdout."


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) and archives.")],
    case: Annotated[Path, typer.Option("--case", help="Case folder (created if missing).")],
    year: Annotated[int | None, typer.Option(help="Year for timestamps that have none (RFC 3164, Cisco).")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone for timestamps without one (default UTC).")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Force a reader instead of detecting.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Read evidence into the case; formats are recognised by content. Re-ingesting is a no-op."""
    options = _options(year, tz, format)
    case_to_write(case)
    from breachscope.ingest.pipeline import ingest as run_ingest

    with byte_progress("ingest", enabled=show_progress(json_out)) as progress:
        summary = run_ingest(paths, case, options, jobs=jobs, progress=progress)  # type: ignore[arg-type]
    explicit_unknown = [f for f in summary.files if f.status == UNRECOGNIZED and _named(f.path, paths)]
    if json_out:
        print_json(summary.to_dict())
    else:
        print_summary(summary, explicit={f.path for f in explicit_unknown})
    if explicit_unknown or any(f.status == FAILED for f in summary.files):
        raise typer.Exit(1)


def _named(path: str, given: list[str]) -> bool:
    return any(Path(g).resolve() == Path(path) for g in given if Path(g).is_file())


def _options(year: int | None, tz: str | None, fmt: str | None) -> IngestOptions:
    from breachscope.ingest.context import IngestOptions
    from breachscope.ingest.registry import READERS

    if year is not None and not 1970 <= year <= 2200:
        raise UsageError(f"--year {year} is out of range")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise UsageError(f"--tz {tz!r} is not an IANA time zone (e.g. Asia/Tokyo, UTC)") from exc
    names = [r.name for r in READERS]
    if fmt is not None and fmt not in names:
        raise UsageError(f"--format {fmt!r} is not a known format; known: {', '.join(names)}")
    return IngestOptions(year=year, tz=tz, format=fmt)


def print_summary(summary: IngestSummary, list_limit: int = 10, explicit: set[str] | None = None) -> None:
    d = summary.to_dict()
    stdout.print(f"case {safe(summary.case)}: {d['files_ingested']} files ingested, "
                 f"{summary.records:,} records stored, {summary.rejected:,} rejected, "
                 f"{d['files_already_in_case']} already in the case, {d['files_duplicate']} duplicates "
                 f"({summary.duration_s:.1f} s)")
    for table, n in d["tables"].items():  # type: ignore[union-attr]
        stdout.print(f"  {table:<24} {n:>12,}")
    unknown: list[str] = []
    notes: dict[str, list[str]] = {}
    for f in summary.files:
        if f.rejected:
            reasons = "; ".join(f"{n} x {r}" for r, n in sorted(f.rejects_by_reason.items()))
            first = ", ".join(r["location"] for r in f.first_rejects[:3])
            stderr.print(f"skipped {f.rejected} bad record(s) in {quoted(f.path)} "
                         f"({safe(reasons)}; first at {safe(first)})")
        for w in f.warnings:
            notes.setdefault(w.split(" (", 1)[0], []).append(f.path)
        if f.status == UNRECOGNIZED:
            unknown.append(f.path)
        elif f.status == FAILED:
            stderr.print(f"error: could not read {quoted(f.path)}: {safe(f.error)}")
        elif f.error:
            stderr.print(f"error: reading stopped early in {quoted(f.path)}: {safe(f.error)}")
    for note, paths in sorted(notes.items()):  # one line per kind of assumption, not per file
        where = quoted(paths[0]) if len(paths) == 1 else f"{len(paths)} files, e.g. {quoted(paths[0])}"
        stderr.print(f"note: {safe(note)} ({where})")
    named = [p for p in unknown if explicit and p in explicit]
    for path in named:
        stderr.print(f"error: unknown format, not ingested: {quoted(path)}")
    found = [p for p in unknown if p not in named]
    if found:
        stderr.print(f"not ingested, no reader recognises the content ({len(found)} file(s) found in folders "
                     "or archives):")
        for path in found[:list_limit]:
            stderr.print(f"  {quoted(path)}")
        if len(found) > list_limit:
            stderr.print(f"  ... and {len(found) - list_limit} more (SELECT path FROM manifest "
                         "WHERE status = 'unrecognized')")
    if summary.rejected:
        stderr.print(f"done with {summary.rejected:,} bad record(s) skipped; see the manifest or "
                     "`breachscope query --case ... \"SELECT * FROM rejects\"`")

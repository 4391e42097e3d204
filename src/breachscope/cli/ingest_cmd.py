"""`breachscope ingest`: evidence files, folders and archives into a case."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from breachscope.cli.output import print_json, quoted, safe, stderr, stdout
from breachscope.cli.paths import case_to_write
from breachscope.cli.progress import byte_progress, show_progress
from breachscope.model.case import FAILED, INCOMPLETE, SKIPPED, UNRECOGNIZED
from breachscope.model.errors import UsageError

if TYPE_CHECKING:  # the readers load when the command runs: `breachscope --help` starts without them
    from breachscope.ingest.context import IngestOptions
    from breachscope.ingest.pipeline import IngestSummary
    from breachscope.model.case import FileEntry

JSON_HELP = "Print a machine-readable summary on stdout."
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_HELP = "bytes, or with K, M, G, T (powers of 1024)"


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) and archives.")],
    case: Annotated[Path, typer.Option("--case", help="Case folder (created if missing).")],
    year: Annotated[int | None, typer.Option(help="Year for timestamps that have none (RFC 3164, Cisco).")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone for timestamps without one (default UTC).")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Force a reader instead of detecting.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Forget what the case holds from these files, then read "
                                        "them again.")] = False,
    archive_password: Annotated[list[str] | None, typer.Option(
        "--archive-password", help="Password of encrypted zip members (repeatable; each is tried in turn).")] = None,
    max_record_bytes: Annotated[str, typer.Option(
        help=f"A longer line or record is cut and rejected ({_SIZE_HELP}).")] = "32M",
    max_expansion_ratio: Annotated[float, typer.Option(
        help="Expanded / stored bytes allowed for archive members, archives and the run (past 64 MiB).")] = 500.0,
    max_archive_bytes: Annotated[str, typer.Option(
        help=f"Bytes one archive may expand to, nested archives included ({_SIZE_HELP}).")] = "64G",
    max_run_expansion: Annotated[str, typer.Option(
        help=f"Bytes all archives of the run may expand to ({_SIZE_HELP}).")] = "256G",
    engine: Annotated[str, typer.Option("--engine", help="local (worker processes on this machine) or spark "
                                        "(executors of a Spark cluster: BREACHSCOPE_SPARK_MASTER, default "
                                        "local[*])")] = "local",
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Read evidence into the case; formats are recognised by content. Re-ingesting is a no-op."""
    if engine not in ("local", "spark"):
        raise UsageError("--engine must be local or spark")
    if engine == "spark" and jobs is not None:
        raise UsageError("--jobs sets the local worker processes; with --engine spark the cluster decides")
    options = _options(year, tz, format)
    from breachscope.ingest.limits import ExpansionLimits

    if max_expansion_ratio < 1:
        raise UsageError("--max-expansion-ratio must be at least 1")
    options = replace(
        options, max_record_bytes=parse_size(max_record_bytes, "--max-record-bytes"),
        passwords=tuple(p.encode("utf-8") for p in archive_password or ()),
        limits=ExpansionLimits(max_ratio=max_expansion_ratio,
                               max_archive_bytes=parse_size(max_archive_bytes, "--max-archive-bytes"),
                               max_run_bytes=parse_size(max_run_expansion, "--max-run-expansion")))
    case_to_write(case)
    with byte_progress("ingest", enabled=show_progress(json_out)) as progress:
        if engine == "spark":
            from breachscope.engines.spark_ingest import ingest_on_spark

            summary = ingest_on_spark(paths, case, options, progress=progress, force=force)
        else:
            from breachscope.ingest.pipeline import ingest as run_ingest

            summary = run_ingest(paths, case, options, jobs=jobs, progress=progress, force=force)
    if json_out:
        print_json(summary.to_dict())
    else:
        print_summary(summary)
    if summary.unreadable_arguments or any(f.status == FAILED for f in summary.files):
        raise typer.Exit(1)


def parse_size(text: str, option: str) -> int:
    """'64M' -> 67108864; plain numbers are bytes."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    try:
        value = float(t[: len(t) - len(unit)] if unit else t)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a size (e.g. 32M, 64G, 1000000)") from None
    if value < 1:
        raise UsageError(f"{option} must be at least 1 byte")
    return int(value * _UNITS[unit])


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


def print_summary(summary: IngestSummary, list_limit: int = 10) -> None:
    d = summary.to_dict()
    if summary.forced is not None:
        forced = summary.forced
        rows = sum(forced.rows.values())
        stderr.print(f"--force: {len(forced.forgotten)} file(s) forgotten first, {rows:,} row(s) removed")
    stdout.print(f"case {safe(summary.case)}: {d['files_ingested']} files ingested, "
                 f"{summary.records:,} records stored, {summary.rejected:,} rejected, "
                 f"{d['files_already_in_case']} already in the case, {d['files_duplicate']} duplicates "
                 f"({summary.duration_s:.1f} s)")
    for table, n in cast(dict[str, int], d["tables"]).items():  # to_dict's table -> rows
        stdout.print(f"  {table:<24} {n:>12,}")
    unknown: list[str] = []
    skipped: list[FileEntry] = []
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
        elif f.status == SKIPPED:
            skipped.append(f)
        elif f.status == FAILED:
            stderr.print(f"error: could not read {quoted(f.path)}: {safe(f.error)}")
        elif f.status == INCOMPLETE:
            stderr.print(f"archive not fully read: {quoted(f.path)} ({safe(f.note)}); the next run retries "
                         "what was skipped or failed")
        elif f.error:
            stderr.print(f"error: reading stopped early in {quoted(f.path)}: {safe(f.error)}")
    for note, paths in sorted(notes.items()):  # one line per kind of assumption, not per file
        where = quoted(paths[0]) if len(paths) == 1 else f"{len(paths)} files, e.g. {quoted(paths[0])}"
        stderr.print(f"note: {safe(note)} ({where})")
    if skipped:
        stderr.print(f"not read ({len(skipped)} archive member(s); listed in the manifest, status 'skipped'):")
        for f in skipped[:list_limit]:
            stderr.print(f"  {quoted(f.path)}: {safe(f.note)}")
        if len(skipped) > list_limit:
            stderr.print(f"  ... and {len(skipped) - list_limit} more (SELECT path, note FROM manifest "
                         "WHERE status = 'skipped')")
    named = set(summary.unreadable_arguments)
    for path in [p for p in unknown if p in named]:
        stderr.print(f"error: unknown format, not ingested: {quoted(path)}")
    for arg in sorted(named - set(unknown)):
        stderr.print(f"error: nothing could be read from {quoted(arg)} (named on the command line): "
                     "see the lines above, or the manifest")
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

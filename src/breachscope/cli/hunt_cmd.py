"""`breachscope hunt`: Sigma rules over evidence or a case; findings out, and into the case."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from typer.core import TyperCommand

from breachscope.cli.output import quoted, stderr
from breachscope.cli.paths import case_to_write, input_file, output_file
from breachscope.cli.progress import show_progress, steps
from breachscope.model.case import CaseLayout
from breachscope.model.errors import UsageError

if TYPE_CHECKING:  # loaded by the command itself: `breachscope --help` starts without them
    from breachscope.detect.analytics.base import Analytic
    from breachscope.detect.analytics.runner import AnalyticsResult
    from breachscope.detect.sigma.execute import Strategy
    from breachscope.detect.sigma.hunt import HuntResult


def hunt_command(
    inputs: Annotated[list[str], typer.Argument(help="Evidence files/folders, or a case folder.")],
    rules: Annotated[list[str] | None, typer.Option(
        "--rules", help="Sigma rule files or folders: one or more after --rules, up to the next option "
                        "(--rules A B C); repeatable. The package's own packs run too (see --builtin-rules).")] = None,
    builtin_rules: Annotated[bool, typer.Option(
        "--builtin-rules/--no-builtin-rules",
        help="Run the package's own rule packs (router tampering, Active Directory attacks).")] = True,
    analytics: Annotated[str, typer.Option(
        "--analytics", help="Analytics to run: all, none, or names separated by commas "
                            "(`breachscope analytics list`).")] = "all",
    assets: Annotated[Path | None, typer.Option(
        "--assets", help="assets.yaml: its internal_networks are inside the network for the analytics, besides "
                         "RFC 1918, CGNAT and IPv6 local space (a network on public addresses).")] = None,
    case: Annotated[Path | None, typer.Option(
        "--case", help="Case for the evidence (default: a cached case, reused while the evidence is unchanged; "
                       "see --no-cache).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Without --case: ingest into a temporary case, deleted after the run, and neither "
                           "read nor write the cache of ingested cases.")] = False,
    min_level: Annotated[str | None, typer.Option("--min-level", help="lowest level reported")] = None,
    format: Annotated[str, typer.Option("--format", help="table, csv, jsonl or timesketch")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="Write findings to this file.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark")] = "duckdb",
    placeholders: Annotated[Path | None, typer.Option(help="YAML: placeholder name -> list of values.")] = None,
    strategy: Annotated[str, typer.Option(help="fast (prefilter) or sql (every rule as plain SQL).")] = "fast",
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
) -> None:
    """Run Sigma rules (correlations and filters included; the package's packs too) and the analytics, and
    report the findings."""
    from breachscope.cli import findings_out
    from breachscope.model.findings import RULE_LEVELS

    if format not in findings_out.FORMATS:
        raise UsageError(f"--format must be one of {', '.join(findings_out.FORMATS)}")
    if min_level is not None and min_level.lower() not in RULE_LEVELS:
        raise UsageError(f"--min-level must be one of {', '.join(RULE_LEVELS)}")
    if engine not in ("duckdb", "spark"):
        raise UsageError("--engine must be duckdb or spark")
    if strategy not in ("fast", "sql"):  # = execute.STRATEGIES (not imported: --help stays light)
        raise UsageError("--strategy must be fast or sql")
    values = _placeholders(placeholders)
    chosen = _analytics(analytics)
    inside = _internal_networks(assets)
    given = bool(rules)
    rules = _rule_paths(rules or [], builtin_rules)
    if not rules and not chosen:
        raise UsageError("nothing to run: no --rules, --no-builtin-rules and --analytics none")
    case_dir, evidence = _split_inputs(inputs, case)
    if out is not None:
        output_file(out)
    from breachscope.detect.analytics.runner import SOURCE as ANALYTICS_SOURCE
    from breachscope.detect.sigma.hunt import write_findings
    from breachscope.model.findings import commit_findings

    with ExitStack() as stack:
        stack.enter_context(steps(show_progress(json_out)))
        scratch = case_dir is None  # a temporary or cached case: the findings are not kept in it
        if case_dir is None and not no_cache:
            case_dir = _cached_case(stack, evidence)
        if case_dir is None:
            temp = Path(tempfile.mkdtemp(prefix="breachscope-hunt-"))
            stack.callback(shutil.rmtree, temp, ignore_errors=True)
            case_dir = temp / "case"
            _ingest(evidence, case_dir)
        elif evidence and not scratch:
            _ingest(evidence, case_dir)
        result = _run(case_dir, engine, rules, min_level, values, strategy, hold=given)
        found = run_analytics_on_case(case_dir, engine, chosen, inside) if chosen else None
        if not scratch:
            if rules:  # no rules ran: the case keeps its earlier Sigma findings
                write_findings(case_dir, result.findings, result.parameters)
            if found is not None:
                commit_findings(case_dir, found.findings, ANALYTICS_SOURCE, "hunt", found.parameters)
    _report(result, found, min_level, format, out, json_out)


def _ingest(evidence: list[str], case_dir: Path) -> int:
    """Ingest the evidence into the case; the bad records skipped (said on stderr)."""
    from breachscope.ingest.pipeline import ingest

    summary = ingest(evidence, case_dir)
    _say_rejected(summary.rejected)
    return summary.rejected


def _say_rejected(rejected: int) -> None:
    if rejected:
        stderr.print(f"ingest: {rejected:,} bad record(s) skipped (see the case manifest)")


def _cached_case(stack: ExitStack, evidence: list[str]) -> Path | None:
    """The case of these evidence paths from the cache of ingested cases (built now if the evidence changed),
    held until the run ends; None when another hunt holds a stale one (then a temporary case is used)."""
    from breachscope.detect.sigma.loader import cache_dir
    from breachscope.ingest.case_cache import cached_case

    root = cache_dir() / "cases"
    cached = stack.enter_context(cached_case(evidence, root, _ingest))
    if cached is None:
        stderr.print(f"hunt: the cache of ingested cases ({quoted(root)}) cannot be used now (not writable, or "
                     "another hunt is reading an older case of this evidence): ingesting into a temporary case",
                     markup=False)
        return None
    if cached.reused:
        stderr.print(f"hunt: reused the case ingested at {cached.ingested_at} ({quoted(cached.case)}): evidence "
                     "unchanged", markup=False)
        _say_rejected(cached.rejected)
    return cached.case


class HuntCommand(TyperCommand):
    """`hunt` with a multi-value `--rules`: every argument after `--rules` up to the next option is a
    rules path (`--rules A B C` = `--rules A --rules B --rules C`); click alone would take B and C for
    evidence. `--` ends the list."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, expand_multi_value(args, "--rules", _is_case))
        except typer.BadParameter as exc:  # click's MissingParameter for the evidence argument
            if getattr(exc.param, "name", None) == "inputs" and "--rules" in " ".join(args):
                raise typer.BadParameter(
                    "no evidence or case given: the arguments after --rules are rules paths up to the next "
                    "option; put the evidence or case before --rules, or end the rules with --", param=exc.param,
                ) from exc
            raise


def _is_case(arg: str) -> bool:
    return CaseLayout(arg).exists()


def expand_multi_value(args: list[str], option: str, stop: Any = None) -> list[str]:
    """Arguments with each extra value after `option` given its own `option`; an argument for which
    `stop(arg)` holds (a case folder is never a rules path) ends the values."""
    out: list[str] = []
    greedy = False  # after the option's first value: further values are the option's too
    expect_value = False
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        if expect_value:
            out.append(arg)
            expect_value, greedy = False, True
        elif arg == option:
            out.append(arg)
            expect_value = True
        elif arg.startswith(option + "="):
            out.append(arg)
            greedy = True
        elif greedy and not arg.startswith("-") and not (stop is not None and stop(arg)):
            out.extend((option, arg))
        else:
            greedy = False
            out.append(arg)
    return out


def _run(case_dir: Path, engine: str, rules: list[str], min_level: str | None,
         values: dict[str, list[str]], strategy: str, hold: bool = True) -> HuntResult:
    """The Sigma hunt. `hold`: small tables held in memory for many rules' repeated scans; measured at 10^7
    events it costs 2.3 GB more resident memory for the package's packs alone (3.1 GB against 0.8 GB) and
    saves no time, so it is only for the user's own (large) rule sets."""
    from breachscope.detect.sigma.hunt import hunt
    from breachscope.engines.duckdb_case import open_case

    chosen = cast("Strategy", strategy)  # one of the choices: checked before any work
    if engine == "spark":
        from breachscope.engines.spark_case import open_spark_case

        with open_spark_case(case_dir) as sc:
            return hunt(sc, rules, min_level, values, chosen)
    with open_case(case_dir) as c:
        if hold and rules:
            c.hold_in_memory()
        return hunt(c, rules, min_level, values, chosen)


def hunt_into_case(case_dir: Path, rules: list[str], engine: str = "duckdb", builtin_rules: bool = True,
                   analytics: str = "all", internal_networks: tuple[str, ...] = ()) -> int:
    """Run rules and analytics over a case and keep the findings in it (a `hunt` run): for `investigate`."""
    from breachscope.detect.analytics.runner import SOURCE as ANALYTICS_SOURCE
    from breachscope.detect.sigma.hunt import write_findings
    from breachscope.model.findings import commit_findings

    chosen = _analytics(analytics)
    paths = _rule_paths(rules, builtin_rules)
    n = 0
    if paths:
        result = _run(case_dir, engine, paths, None, {}, "fast", hold=False)
        write_findings(case_dir, result.findings, result.parameters)
        n += len(result.findings)
    if chosen:
        found = run_analytics_on_case(case_dir, engine, chosen, internal_networks)
        commit_findings(case_dir, found.findings, ANALYTICS_SOURCE, "hunt", found.parameters)
        n += found.findings.num_rows
    return n


def _rule_paths(rules: list[str], builtin: bool) -> list[str]:
    """The given rule paths, after the package's packs unless --no-builtin-rules; a missing path is a usage
    error before any evidence is read."""
    from breachscope.detect.packs import packaged_rule_paths
    from breachscope.detect.sigma.loader import rule_files

    rule_files(rules)
    return [*(packaged_rule_paths() if builtin else []), *rules]


def _analytics(spec: str) -> list[Analytic]:
    from breachscope.detect.analytics import select

    try:
        return select(spec)
    except ValueError as exc:
        raise UsageError(f"--analytics: {exc}") from None


def run_analytics_on_case(case_dir: Path, engine: str, chosen: list[Analytic],
                          internal_networks: tuple[str, ...] = ()) -> AnalyticsResult:
    from breachscope.detect.analytics.runner import run_analytics
    from breachscope.detect.casecontext import CaseContext, table_columns
    from breachscope.detect.casesql import DEFAULT_INTERNAL
    from breachscope.engines.duckdb_case import open_case

    inside = DEFAULT_INTERNAL + tuple(internal_networks)
    if engine == "spark":
        from breachscope.engines.spark_case import open_spark_case

        with open_spark_case(case_dir) as sc:
            return run_analytics(CaseContext(sc, table_columns(sc), internal_networks=inside), chosen)
    with open_case(case_dir) as c:
        return run_analytics(CaseContext(c, table_columns(c), internal_networks=inside), chosen)


def _internal_networks(assets: Path | None) -> tuple[str, ...]:
    if assets is None:
        return ()
    from breachscope.model.assets import load_assets

    return tuple(load_assets(input_file(assets, "--assets")).internal_networks)


def _split_inputs(inputs: list[str], case: Path | None) -> tuple[Path | None, list[str]]:
    cases = [p for p in inputs if CaseLayout(p).exists()]
    evidence = [p for p in inputs if p not in cases]
    if len(cases) > 1 or (cases and case is not None and Path(cases[0]).resolve() != case.resolve()):
        raise UsageError("give one case: either as an argument or with --case")
    for p in evidence:
        if not Path(p).exists():
            raise UsageError(f"no such file or folder: {quoted(p)}")
    if cases:
        return Path(cases[0]), evidence
    if case is not None:
        case_to_write(case)  # the evidence goes into it: a case, or a new or empty folder
    return case, evidence


def _placeholders(path: Path | None) -> dict[str, list[str]]:
    if path is None:
        return {}
    from breachscope.model.placeholders import load_placeholders

    return load_placeholders(input_file(path, "--placeholders"))


def _report(result: HuntResult, found: AnalyticsResult | None, min_level: str | None, fmt: str, out: Path | None,
            json_out: bool) -> None:
    from breachscope.cli import hunt_report

    hunt_report.report(result, found, min_level, fmt, out, json_out)

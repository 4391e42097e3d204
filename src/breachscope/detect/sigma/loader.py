"""Rule files to compiled rules and problems, with a disk cache keyed by file content.

YAML is parsed with PyYAML's C loader (the composer gives each document and key its line), then
each document goes to pySigma. A file that is not YAML, a document that is not valid Sigma, a regex
the engine cannot compile: each becomes a RuleProblem with path, line and reason, and the other
rules still load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import yaml
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from breachscope.detect.sigma import ir
from breachscope.detect.sigma.compiled import CORRELATION, FILTER, RULE, CompiledRule, Correlation, RuleProblem
from breachscope.detect.sigma.convert import ConvertError, rule_condition, unset_placeholders
from breachscope.detect.sigma.pysigma_setup import prepare as prepare_pysigma
from breachscope.engines.local import scratch
from breachscope.model.errors import UsageError

ENGINE_VERSION = "bs-sigma-5"  # bump when compilation output changes: invalidates the cache
# bounds of one rule document once its YAML aliases are expanded (the largest SigmaHQ rule, a list of
# vulnerable drivers, has 4,475 nodes); a rule file is otherwise bounded by its own size
MAX_EXPANDED_NODES = 100_000
MAX_EXPANDED_CHARS = 16 << 20


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """The rule files named by `paths` (files, and .yml/.yaml files under folders). A path that does not
    exist is a usage error naming it, and so are folders holding no rule file at all when nothing else
    was given (`rules*` may match a folder of READMEs): never a silent empty rule set."""
    out: list[Path] = []
    folders: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            folders.append(str(p))
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"no such rule file or folder: {str(p)!r}")
    if not out and folders:
        raise UsageError(f"no Sigma rule files (.yml, .yaml) in {', '.join(map(repr, folders))}")
    return out


def cache_dir() -> Path:
    """BREACHSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/breachscope, else ~/.cache/breachscope."""
    env = os.environ.get("BREACHSCOPE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "breachscope"


def compile_file(path: str, data: bytes, placeholders: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """One rule file to {"rules": [...], "problems": [...]} (plain dicts: cacheable, picklable)."""
    prepare_pysigma()  # here, not on import: also in each worker of the compile pool
    rules: list[CompiledRule] = []
    problems: list[RuleProblem] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(RuleProblem(path, None, f"not UTF-8 text: {exc}"))
        return {"rules": [], "problems": [p.to_dict() for p in problems]}
    try:
        docs = list(_documents(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(RuleProblem(path, mark.line + 1 if mark else None, f"invalid YAML: {_yaml_reason(exc)}"))
        return {"rules": [], "problems": [p.to_dict() for p in problems]}
    for doc, node, too_big in docs:
        line = node.start_mark.line + 1
        if too_big:
            problems.append(RuleProblem(path, line, too_big, _top_scalar(node, "title"), _top_scalar(node, "id")))
            continue
        if not isinstance(doc, dict):
            problems.append(RuleProblem(path, line, "a YAML document that is not a mapping is not a Sigma rule"))
            continue
        try:
            rules.append(_compile_doc(doc, path, line, placeholders))
        except (SigmaError, ConvertError, ValueError, TypeError, KeyError, AttributeError) as exc:
            reason = str(exc) or type(exc).__name__
            problems.append(RuleProblem(path, _find_line(node, reason) or line, reason, doc.get("title"),
                                        str(doc.get("id")) if doc.get("id") else None))
    return {"rules": [r.to_dict() for r in rules], "problems": [p.to_dict() for p in problems]}


def _documents(text: str) -> Iterable[tuple[Any, yaml.Node, str | None]]:
    """(document, node, None), or (None, node, reason) for a document whose aliases expand beyond the
    bounds (it is never constructed: a billion-laughs rule costs its own line, not the run)."""
    loader = yaml.CSafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node() said a document follows
                break
            too_big = expansion_problem(node)
            if too_big:
                yield None, node, too_big
                continue
            yield loader.construct_document(node), node, None
    finally:
        loader.dispose()


def expansion_problem(root: yaml.Node) -> str | None:
    """Why the document's anchors and aliases expand too far (None: within bounds). Each node's
    expanded size is computed once (aliases share nodes), so this is linear in the composed text."""
    size: dict[int, tuple[int, int]] = {}  # node id -> (nodes, scalar characters) once expanded
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[key] = (1, len(node.value))
            continue
        kids = [x for pair in node.value for x in pair] if isinstance(node, yaml.MappingNode) else node.value
        if children_done:
            on_path.discard(key)
            nodes, chars = 1, 0
            for k in kids:
                n, c = size[id(k)]
                nodes, chars = nodes + n, chars + c
            if nodes > MAX_EXPANDED_NODES or chars > MAX_EXPANDED_CHARS:
                return (f"YAML anchors/aliases expand to more than {MAX_EXPANDED_NODES:,} nodes or "
                        f"{MAX_EXPANDED_CHARS:,} characters (from line {node.start_mark.line + 1}); not loaded")
            size[key] = (nodes, chars)
            continue
        if key in on_path:
            return f"recursive YAML alias (line {node.start_mark.line + 1}): a rule cannot contain itself"
        on_path.add(key)
        stack.append((node, True))
        for k in kids:
            if id(k) in on_path:
                return f"recursive YAML alias (line {k.start_mark.line + 1}): a rule cannot contain itself"
            if id(k) not in size:
                stack.append((k, False))
    return None


def _top_scalar(node: yaml.Node, key: str) -> str | None:
    """A top-level scalar of a document not constructed (title, id), for its problem report."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.ScalarNode):
                return str(v.value)[:200]
    return None


def _yaml_reason(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    return str(problem) if problem else str(exc).splitlines()[0]


def _find_line(node: yaml.Node, reason: str) -> int | None:
    """Line of the key a pySigma message names (e.g. the field|modifier it rejects)."""
    quoted = re.findall(r"'([^']+)'", reason)
    if not quoted:
        return None
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode) and any(q in str(k.value) for q in quoted):
                    return int(k.start_mark.line) + 1
                stack.append(v)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return None


def _meta(doc: dict[str, Any], kind: str, path: str, line: int) -> CompiledRule:
    def strs(v: Any) -> list[str]:
        return [str(x) for x in v] if isinstance(v, list) else ([str(v)] if v else [])

    logsource = doc.get("logsource")
    ls: dict[str, Any] = logsource if isinstance(logsource, dict) else {}
    return CompiledRule(
        kind=kind, id=str(doc["id"]) if doc.get("id") else None, name=doc.get("name"),
        title=str(doc.get("title") or Path(path).stem), path=path, line=line,
        level=doc.get("level"), status=doc.get("status"), author=doc.get("author"),
        description=doc.get("description"), tags=strs(doc.get("tags")), references=strs(doc.get("references")),
        falsepositives=strs(doc.get("falsepositives")), product=ls.get("product"), category=ls.get("category"),
        service=ls.get("service"),
    )


def _compile_doc(doc: dict[str, Any], path: str, line: int,
                 placeholders: Mapping[str, Sequence[str]]) -> CompiledRule:
    if "correlation" in doc:
        parsed = SigmaCorrelationRule.from_dict(doc)
        out = _meta(doc, CORRELATION, path, line)
        out.correlation = _correlation(parsed, doc)
        return out
    if "filter" in doc and "detection" not in doc:
        parsed_filter = SigmaFilter.from_dict(doc)
        out = _meta(doc, FILTER, path, line)
        tree = _filter_tree(parsed_filter, placeholders)
        _check_regexes(tree)
        out.condition = ir.to_json(tree)
        out.filter_targets = [str(r) for r in doc["filter"].get("rules", [])]
        return out
    rule = SigmaRule.from_dict(doc)
    if rule.errors:
        raise rule.errors[0]
    out = _meta(doc, RULE, path, line)
    out.unset_placeholders = unset_placeholders(rule, placeholders)
    tree = rule_condition(rule, placeholders)
    _check_regexes(tree)
    out.condition = ir.to_json(tree)
    return out


def _filter_tree(f: SigmaFilter, placeholders: Mapping[str, Sequence[str]]) -> ir.Node:
    from breachscope.detect.sigma.convert import convert

    return ir.or_([convert(pc.parsed, placeholders) for pc in f.filter.parsed_condition])


def _correlation(c: SigmaCorrelationRule, doc: dict[str, Any]) -> Correlation:
    body = doc["correlation"]
    cond = c.condition
    op = fld = None
    threshold = pct = None
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        raise ConvertError(f"boolean correlation conditions are not supported: {cond.expression!r}")
    if cond is not None:
        if isinstance(cond.fieldref, list):
            raise ConvertError(f"a correlation condition on several fields is not supported: {cond.fieldref}")
        pct = cond.percentile
        op = cond.op.name.lower()
        threshold = float(cond.count)
        fld = cond.fieldref
    aliases: dict[str, dict[str, str]] = {}
    for alias, mapping in (body.get("aliases") or {}).items():
        aliases[str(alias)] = {str(k): str(v) for k, v in mapping.items()}
    return Correlation(
        type=str(body["type"]), rules=[str(r) for r in (body.get("rules") or [])],
        group_by=[str(g) for g in (body.get("group-by") or [])], timespan_s=float(c.timespan.seconds),
        op=op, threshold=threshold, value_field=fld, percentile=pct, aliases=aliases,
        generate=bool(body.get("generate", False)),
    )


def _check_regexes(node: ir.Node) -> None:
    """A regex the engine (RE2) cannot compile makes the rule a problem now, not a failed query later."""
    if isinstance(node, ir.And | ir.Or):
        for a in node.args:
            _check_regexes(a)
    elif isinstance(node, ir.Not):
        _check_regexes(node.arg)
    elif isinstance(node, ir.Regex):
        flags = f"(?{node.flags})" if node.flags else ""
        try:
            scratch().execute("SELECT regexp_matches('', ?)", [flags + node.regex]).fetchall()
        except duckdb.Error as exc:
            raise ConvertError(f"regular expression not supported by the engine (RE2): {node.regex!r}: "
                               f"{str(exc).splitlines()[0][:160]}") from exc


def content_key(data: bytes, placeholders: Mapping[str, Sequence[str]]) -> str:
    h = hashlib.sha256(data)
    h.update(ENGINE_VERSION.encode())
    if placeholders:
        h.update(json.dumps(placeholders, sort_keys=True).encode())
    return h.hexdigest()

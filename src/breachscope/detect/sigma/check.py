"""`rules check`: every rule through the whole compilation, against every dialect, without a case."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from breachscope.detect.sigma.compiled import RULE
from breachscope.detect.sigma.dialects import DIALECTS
from breachscope.detect.sigma.fields import TableInfo
from breachscope.detect.sigma.logsources import Unserved, segments
from breachscope.detect.sigma.plan import logsource
from breachscope.detect.sigma.ruleset import RuleSet
from breachscope.detect.sigma.sqlgen import CompileError, Ref, Resolve, SqlCompiler
from breachscope.model.schema import FIXED_SCHEMAS


class _AnyColumn:
    """A table whose schema is unknown until evidence arrives (Zeek logs): every field is a text column."""

    def __call__(self, field: str) -> Ref:
        return Ref("str", field)


def check_ruleset(rs: RuleSet) -> dict[str, Any]:
    tables = {n: TableInfo.from_schema(n, s) for n, s in FIXED_SCHEMAS.items()}
    generic = TableInfo.from_schema("generic", pa.schema([("message", pa.string())]))
    failed = [p.to_dict() for p in rs.problems]
    unserved, warnings = [], []
    compiled = 0
    for r in rs.rules:
        if r.unset_placeholders:
            warnings.append({"path": r.path, "reason": "placeholders without values (empty lists): "
                             + ", ".join(f"%{p}%" for p in r.unset_placeholders)})
        if r.kind != RULE:
            compiled += 1
            continue
        try:
            segs = segments(logsource(r))
        except Unserved as exc:
            unserved.append({"path": r.path, "reason": str(exc)})
            segs = []
        try:
            for d in DIALECTS.values():
                if not segs:  # still compile it, against a table where every field exists
                    SqlCompiler(d, _AnyColumn(), generic.keyword_refs()).compile(r.tree)
                for seg in segs:
                    info = tables.get(seg.table)
                    resolve: Resolve = info.resolver(seg.fields) if info else _AnyColumn()
                    SqlCompiler(d, resolve, (info or generic).keyword_refs()).compile(r.tree)
            compiled += 1
        except (CompileError, ValueError, KeyError) as exc:
            failed.append({"path": r.path, "line": r.line, "reason": f"does not compile: {exc}",
                           "title": r.title, "rule_id": r.id})
    total = compiled + len(failed)
    return {"rules": total, "compiled": compiled, "compile_rate": compiled / total if total else 1.0,
            "failed": failed, "unserved": unserved, "warnings": warnings}

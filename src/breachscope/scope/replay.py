"""Replay: plan every statement (scope/sqlparse + scope/rewrite), run the plans of the same shape as
one batch against the snapshot, and turn the returned keys into exposures (statement x table
occurrence, with a level and categories) and hits (exposure, subject key, exclusion policy).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from breachscope.model.exposure import CONFIRMED_ACCESSED, POTENTIAL, REPLAYED, STMT_POTENTIAL, ExposureLevel
from breachscope.model.inventory import Inventory
from breachscope.model.progress import report
from breachscope.scope import bindings, sandbox, sqlparse
from breachscope.scope.backends import Backend
from breachscope.scope.budget import Budget, OverBudget, ReplayFailed, too_big
from breachscope.scope.plans import ReplayOutcome, ReplayPlan, TableExposure, Template, fixed_values, known_param
from breachscope.scope.rewrite import Rewriter, Unsupported, build_schema, take_slots
from breachscope.scope.statements import AuditStatement

BATCH = 4096
HITS_SCHEMA = pa.schema([pa.field("exposure", pa.int32()), pa.field("subject_key", pa.string()),
                         pa.field("excluded", pa.string())])


@dataclass
class ReplayResult:
    exposures: list[TableExposure]
    hits: pa.Table
    outcomes: list[ReplayOutcome]
    shapes: int
    batches: int


class Replayer:
    def __init__(self, inventory: Inventory, backend: Backend, budget: Budget | None = None,
                 server_starts: list[tuple[datetime, str]] | None = None) -> None:
        self.inventory = inventory
        self.backend = backend
        self.info = backend.info
        self.budget = budget or Budget()
        self.server_starts = sorted(server_starts or [])  # (time, version() text) of PostgreSQL starts
        self.schemas = {d: build_schema(self.info.tables, d) for d in ("postgres", "mysql")}
        self.exclusion_trees = {e.name: sqlglot.parse_one(e.where, read="postgres")
                                for e in inventory.exclusions}
        self.known = tuple(sorted(set(inventory.tables) & set(self.info.tables)))
        self._templates: dict[tuple, list[tuple[tuple, Template]]] = {}  # per Replayer, i.e. per run

    # --- planning ----------------------------------------------------------------------------
    def plan(self, index: int, s: AuditStatement) -> tuple[list[ReplayPlan], ReplayOutcome]:
        """Plans of one statement. Statements that differ only in the values of their slots (bind
        parameters, compared literals) share one planning: the template of the first is filled with the
        values of the others (parsing, qualifying and rewriting cost ~10 ms a statement)."""
        if len(s.text) > self.budget.max_text:  # not even tokenized: the tables it names are its reach
            tables = sqlparse.table_names_in_text(s.text, s.objects, self.known)
            reason = f"over the plan budget ({len(s.text):,} characters > {self.budget.max_text:,})"
            return self._scan(index, tables, reason, ReplayOutcome())
        key, literals = self._template_key(s)
        if key is not None:
            for fixed, tpl in self._templates.get(key, ()):
                if fixed == fixed_values(tpl, literals, s.parameters):
                    return tpl.instantiate(index, literals, s.parameters)
        plans, out, slot_sources, baked = self._plan(index, s)
        if key is not None and slot_sources is not None:
            tpl = Template(plans, out, slot_sources, baked, literals)
            if tpl.usable:
                self._templates.setdefault(key, []).append((fixed_values(tpl, literals, s.parameters), tpl))
        return plans, out

    def _template_key(self, s: AuditStatement) -> tuple[tuple | None, list[tuple[int, int, str, str]]]:
        body, _, _ = sqlparse.statement_body(s.text, s.sql_dialect)
        literals = sqlparse.literal_tokens(body, s.sql_dialect)
        if literals is None:
            return None, []
        skeleton, last = [], 0
        for start, end, kind, _value in literals:
            skeleton.append(body[last:start] + "\x01" + kind[0])
            last = end + 1
        skeleton.append(body[last:])
        mask = None if s.parameters is None else tuple(known_param(v) for v in s.parameters)
        bound = self._facts(s).key() if bindings.mentions(body) else None  # values bound into the plan
        return (s.sql_dialect, (s.command or "").upper(), "".join(skeleton), mask, s.rows is None, bound), literals

    def _facts(self, s: AuditStatement) -> bindings.Facts:
        version = bindings.server_version_at(self.server_starts, s.ts) if s.sql_dialect == "postgres" else None
        return bindings.Facts(s.sql_dialect, s.ts, s.ts_text, s.user, s.src_ip, s.database or self.inventory.database,
                              version)

    def _plan(self, index: int, s: AuditStatement) -> tuple[list[ReplayPlan], ReplayOutcome, list | None, list[int]]:
        out = ReplayOutcome()
        parsed = sqlparse.parse_statement(s.text, s.sql_dialect, s.command)
        if parsed.kind == sqlparse.IGNORE:
            out.reasons.append(parsed.reason or "not a data statement")
            return [], out, [], []
        if parsed.kind in (sqlparse.UNPARSED, sqlparse.DESTROY) or parsed.query is None:
            named = self._named_tables(s, parsed)
            return (*self._scan(index, named, parsed.reason or "cannot be replayed", out), None, [])
        over = too_big(parsed.query, self.budget.max_nodes)
        if over:
            return (*self._scan(index, self._named_tables(s, parsed), over, out), None, [])
        query = parsed.query  # this statement's own tree, changed in place (copying a big tree costs seconds)
        missing, tables, refused = self._canonicalize(query, s)
        out.tables.update(t for t in tables if self.inventory.dataset(t))
        if missing:
            return (*self._scan(index, tuple(sorted(out.tables)), f"unknown table: {missing[0]}", out), [], [])
        locks = sandbox.prepare(query)
        unknown = bindings.bind(query, self._facts(s))
        denied = sandbox.check(query, self.info.shadowed, s.sql_dialect, self.info.shadowed_operators)
        if not out.tables:
            if denied:  # never run; nothing of the inventory was read, but the statement is not harmless
                out.outcome = STMT_POTENTIAL
                out.reasons += [denied, "reads no personal-data table"]
                return [], out, None, []
            out.reasons.append("reads no personal-data table")
            return [], out, [], []
        denied = refused or denied
        if denied or unknown:  # never sent to the snapshot: every row of its tables is within its reach
            return (*self._scan(index, tuple(sorted(out.tables)), denied or unknown[0], out), None, [])
        slots, why, baked = take_slots(query, s.parameters, parsed.param_types, s.sql_dialect)
        why = why + locks
        rw = Rewriter(self.inventory, self.info.tables, self.schemas[s.sql_dialect], self.exclusion_trees,
                      self.info.dialect)
        try:
            r = rw.rewrite(query, s.sql_dialect, slots, s.rows)
        except Unsupported as exc:
            return (*self._scan(index, tuple(sorted(out.tables)), str(exc), out), [], [])
        reasons = sorted(set(why + r.reasons + ([parsed.reason] if parsed.reason else [])))
        exact = r.exact and not why and parsed.kind == sqlparse.READ and not parsed.cursor
        sql = r.final.sql(dialect=self.info.dialect, copy=False)
        insts = [(i.table, tuple(sorted(i.categories)), tuple(e.name for e in i.exclusions)) for i in r.instances]
        out.shape = _shape_id(sql)
        plan = ReplayPlan(index, sql, r.slot_values, insts, exact, reasons, r.count_check and not why, r.grouped)
        return [plan], out, [sl.source for sl in slots], baked

    def _canonicalize(self, query: exp.Expr, s: AuditStatement) -> tuple[list[str], set[str], str | None]:
        """Tables resolved as the inventory names them: (not in the snapshot, found, why the statement may
        not run: a system catalog or a table outside the inventory, whose rows the sandbox does not allow)."""
        ctes = {c.alias.lower() for c in query.find_all(exp.CTE)}
        missing, found, refused = [], set(), None
        for t in query.find_all(exp.Table):
            if not isinstance(t.this, exp.Identifier):
                continue
            if not t.db and t.name.lower() in ctes:
                continue
            name, system = sqlparse.canonical_table(t, s.sql_dialect, self.inventory.database)
            if system:
                refused = refused or f"system catalog (environment): {t.sql(dialect=s.sql_dialect)[:60]}"
                continue
            if name is None:
                continue
            if name not in self.info.tables:
                missing.append(name)
                continue
            if self.inventory.dataset(name) is None:
                refused = refused or f"table not in the inventory: {name}"
            found.add(name)
            schema, _, bare = name.rpartition(".")
            t.set("this", exp.to_identifier(bare))
            t.set("db", exp.to_identifier(schema) if schema else None)
            t.set("catalog", None)
        return sorted(set(missing)), found, refused

    def _named_tables(self, s: AuditStatement, parsed: sqlparse.Parsed) -> tuple[str, ...]:
        if parsed.tables:
            names = {sqlparse.canonical_table(t, s.sql_dialect, self.inventory.database)[0] for t in parsed.tables}
            return tuple(sorted(n for n in names if n in self.known))
        return sqlparse.table_names_in_text(s.text, s.objects, self.known)

    def _scan(self, index: int, tables: tuple[str, ...], reason: str,
              out: ReplayOutcome) -> tuple[list[ReplayPlan], ReplayOutcome]:
        """Every row of the dataset tables a statement named is within its reach: POTENTIAL."""
        tables = tuple(t for t in tables if t in self.known)
        out.reasons.append(reason)
        out.tables.update(tables)
        plans = []
        for t in tables:
            ds = self.inventory.dataset(t)
            assert ds is not None
            schema, _, bare = t.rpartition(".")
            q = exp.select(exp.Star()).from_(exp.Table(this=exp.to_identifier(bare),
                                                       db=exp.to_identifier(schema) if schema else None))
            rw = Rewriter(self.inventory, self.info.tables, self.schemas["postgres"], self.exclusion_trees,
                          self.info.dialect)
            r = rw.rewrite(q, "postgres", [], None)
            insts = [(i.table, ds.all_categories, tuple(e.name for e in i.exclusions)) for i in r.instances]
            plans.append(ReplayPlan(index, r.final.sql(dialect=self.info.dialect), [], insts, False, [reason], False,
                              False, fallback=True))
        return plans, out

    # --- running ------------------------------------------------------------------------------
    def run(self, statements: list[AuditStatement],
            progress: Callable[[int], None] | None = None) -> ReplayResult:
        plans: list[ReplayPlan] = []
        outcomes: list[ReplayOutcome] = []
        for i, s in enumerate(statements):
            ps, out = self.plan(i, s)
            plans += ps
            outcomes.append(out)
        by_shape: dict[str, list[ReplayPlan]] = defaultdict(list)
        for p in plans:
            by_shape[p.final_sql].append(p)
        collector = _Collector(self.inventory, statements, outcomes)
        batches = done = 0
        for sql in sorted(by_shape):
            group = by_shape[sql]
            report("replaying statements", done, len(plans))
            batches += self._run_shape(sql, group, collector)
            done += len(group)
            if progress:
                progress(len(group))
        return ReplayResult(collector.exposures, collector.table(), outcomes, len(by_shape), batches)

    def _run_shape(self, sql: str, group: list[ReplayPlan], col: _Collector) -> int:
        if not group[0].slots:  # no variable part: one run serves every statement of this text
            try:
                result = self.backend.query(sql)
            except Exception as exc:
                for p in group:
                    self._failed(p, exc, col)
                return 1
            for p in group:
                col.add(p, result, None)
            return 1
        runs = 0
        for start in range(0, len(group), BATCH):
            chunk = group[start:start + BATCH]
            runs += 1
            try:
                result = self._batch(sql, chunk)
            except Exception as exc:
                if len(chunk) == 1:  # nothing to tell apart: the statement failed (once, not twice)
                    self._failed(chunk[0], exc, col)
                    continue
                for p in chunk:  # find the statement(s) that fail, one by one
                    try:
                        col.add(p, self._batch(sql, [p]), 0)
                    except Exception as exc:
                        self._failed(p, exc, col)
                continue
            stmt_col = result.column("__bs_stmt").to_numpy() if result.num_rows else np.zeros(0, np.int64)
            order = np.argsort(stmt_col, kind="stable")
            stmt_sorted = stmt_col[order]
            bounds = np.searchsorted(stmt_sorted, np.arange(len(chunk) + 1))
            for j, p in enumerate(chunk):
                col.add(p, result.take(order[bounds[j]:bounds[j + 1]]), j)
        return runs

    def _batch(self, sql: str, plans: list[ReplayPlan]) -> pa.Table:
        ids = list(range(len(plans)))
        slots = [list(vals) for vals in zip(*[p.slots for p in plans], strict=True)]
        return self.backend.batch(sql, ids, slots)

    def _failed(self, p: ReplayPlan, exc: Exception, col: _Collector) -> None:
        if isinstance(exc, OverBudget | ReplayFailed):
            reason = str(exc)
        else:
            reason = f"replay failed: {str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__}"
        out = col.outcomes[p.stmt]
        if p.fallback:  # even the whole-table reach could not be read: potential, and the reason says why
            out.reasons.append(reason)
            out.outcome = STMT_POTENTIAL
            return
        plans, _ = self._scan(p.stmt, tuple(sorted({t for t, _, _ in p.instances})), reason, out)
        for fp in plans:
            try:
                col.add(fp, self.backend.query(fp.final_sql), None)
            except Exception as exc2:
                out.reasons.append(str(exc2) if isinstance(exc2, OverBudget | ReplayFailed)
                                   else f"replay failed: {type(exc2).__name__}")
                out.outcome = STMT_POTENTIAL


class _Collector:
    """Exposures and hits of every plan run; statement outcomes updated as results arrive."""

    def __init__(self, inventory: Inventory, statements: list[AuditStatement],
                 outcomes: list[ReplayOutcome]) -> None:
        self.inventory = inventory
        self.statements = statements
        self.outcomes = outcomes
        self.exposures: list[TableExposure] = []
        self.parts: list[pa.Table] = []

    def add(self, p: ReplayPlan, result: pa.Table, _position: int | None) -> None:
        s = self.statements[p.stmt]
        out = self.outcomes[p.stmt]
        rows = _row_count(result, p.grouped)
        exact = p.exact or (p.count_check and s.rows is not None and rows == s.rows)
        reasons = [r for r in p.reasons if not (exact and r == "LIMIT without ORDER BY")]
        if exact and not p.exact:
            reasons.append("LIMIT without ORDER BY, but the logged row count shows it cut nothing")
        out.rows_replayed = (out.rows_replayed or 0) + rows if not p.fallback else out.rows_replayed
        out.reasons += reasons
        if out.outcome != STMT_POTENTIAL:
            out.outcome = REPLAYED if exact else STMT_POTENTIAL
        level: ExposureLevel = CONFIRMED_ACCESSED if exact else POTENTIAL
        for i, (table, cats, excl) in enumerate(p.instances):
            out.tables.add(table)
            if not cats:
                continue  # the rows showed no personal data (counts, sums, keys of other tables)
            out.categories.update(cats)
            ds = self.inventory.dataset(table)
            ds_subject = ds.subject if ds else ""
            idx = len(self.exposures)
            self.exposures.append(TableExposure(idx, s.statement_id, table, ds_subject, level, cats,
                                           "; ".join(sorted(set(reasons))) or None, s.src_file, s.src_record))
            self._hits(result, i, excl, idx)

    def _hits(self, result: pa.Table, i: int, excl: tuple[str, ...], idx: int) -> None:
        name = f"__bs_k{i}"
        if name not in result.column_names or result.num_rows == 0:
            return
        keys = result.column(name)
        mask = pc.is_valid(keys)
        excluded = pa.nulls(result.num_rows, pa.string())
        for j in reversed(range(len(excl))):  # the first matching policy wins
            flag = pc.fill_null(result.column(f"__bs_x{i}_{j}"), False)
            excluded = pc.if_else(flag, pa.scalar(excl[j]), excluded)
        t = pa.table({"exposure": pa.array(np.full(result.num_rows, idx, np.int32)), "subject_key": keys,
                      "excluded": excluded}).filter(mask)
        if t.num_rows:
            self.parts.append(t.cast(HITS_SCHEMA))

    def table(self) -> pa.Table:
        return pa.concat_tables(self.parts) if self.parts else HITS_SCHEMA.empty_table()


def _row_count(result: pa.Table, grouped: bool) -> int:
    if result.num_rows == 0:
        return 0
    if grouped and "__bs_g" in result.column_names:
        return len(pc.unique(result.column("__bs_g")))
    return result.num_rows


def _shape_id(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:16]

"""The database's server log: the audit records of its application's connection pools, in the engine's log
(pgAudit, MySQL's general query log or MariaDB's server_audit; simulate/dbengine.py). What the application
sends (statements, bind values, names) is the data story's `Workload` (dbqueries.py).

Each app server keeps a few pooled connections; a connection opens before its first statement and
is closed after 300 s idle (the driver's idle pruning), as `connection received/authorized` and
`disconnection` lines (pgAudit), Connect and Quit (general log), CONNECT and DISCONNECT (server_audit).
pgAudit numbers statements per connection. MySQL's clients send the values inside the statement's text.
The general log names a connection's user and client on its Connect line only and is rotated at midnight,
when the application's pools are recycled (IIS's scheduled recycling): no pooled connection spans two files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachscope.simulate import clock
from breachscope.simulate.dbengine import engine
from breachscope.simulate.dbqueries import NUMERIC_KINDS, ORDER_STATUSES, ORDER_TYPES, Workload, pieces
from breachscope.simulate.formats import mariadb_audit as MA
from breachscope.simulate.formats import mysql_general as MG
from breachscope.simulate.formats import pgaudit as P
from breachscope.simulate.noise.common import choose
from breachscope.simulate.snapshot import pg_timestamptz
from breachscope.simulate.streams import Chunk, Context, Output
from breachscope.simulate.text import join, pick, strs

IDLE_US = 300 * clock.US


def _no_strings() -> pa.Array:
    return pa.array([], pa.string())


@dataclass
class DbRefs:
    """What the generators need to know of the database to write plausible bind parameters: the NTT order
    database's facts (for its parameter kinds; a generic data story leaves them empty) and the workload."""

    first_customer: int = 0
    customers: int = 0
    contracts: int = 0
    contract_nos: pa.Array = field(default_factory=_no_strings)
    corporate_numbers: pa.Array = field(default_factory=_no_strings)
    next_order_id: int = 1
    workload: Workload = field(kw_only=True)


def pg_output_path(server: str) -> Callable[[int], str]:
    """The server's daily log files (log_filename = 'postgresql-%Y-%m-%d.log')."""
    return lambda day: f"db/{server}/postgresql-{(clock.FIRST_DAY + timedelta(days=day)).isoformat()}.log"


class Postgres:
    name = "postgres"
    share = 0.06
    profile = "app"

    def __init__(self, ctx: Context) -> None:
        net, count = ctx.net, ctx.count
        if ctx.refs is None:
            raise ValueError("the database log needs the database's facts (Context.refs)")
        refs = self.refs = ctx.refs
        w = self.workload = refs.workload
        self.templates = w.app_templates
        self.db_name, self.app_user, self.app_name = w.database, w.app_user, w.app_name
        # pool:NAME kinds written bare in MySQL's text, beside the NTT story's numeric kinds
        self.numeric = NUMERIC_KINDS | {f"pool:{name}" for name in w.numeric_pools}
        self.pools: dict[str, pa.Array] = {}  # pool:NAME values, as strings
        self.apps = net.with_role("app")
        self.server = net.host("db").name
        self.slots_per_app = int(np.clip(count // 40_000, 1, 12))
        n_slots = len(self.apps) * self.slots_per_app
        self.slot_ip = pa.array([a.ip for a in self.apps for _ in range(self.slots_per_app)])
        # state per pooled connection: last statement time (or -1), pid, port, statements so far, opened at
        self.last = np.full(n_slots, -1, dtype=np.int64)
        self.pid = np.zeros(n_slots, dtype=np.int64)
        self.port = np.zeros(n_slots, dtype=np.int64)
        self.count = np.zeros(n_slots, dtype=np.int64)
        self.opened = np.zeros(n_slots, dtype=np.int64)
        self.next_pid = 41_000
        self.next_order = refs.next_order_id
        self.stmt = pa.array([P.statement_field(t.sql) for t in self.templates])
        self.weights = [t.weight for t in self.templates]
        self.engine = engine(net.spec.database)

    def outputs(self) -> list[Output]:
        e = self.engine
        if e.name == "postgresql":
            return [Output(f"pg.{self.server}", pg_output_path(self.server), multiline=True)]
        header = (lambda day: MG.HEADER) if e.name == "mysql" else None
        return [Output(f"pg.{self.server}", lambda day: e.log_path(self.server, day), header=header,
                       multiline=True)]

    def _close_at(self, last: int) -> int:
        """When a pooled connection used last at `last` closes: 300 s idle, and (general log) before the
        midnight recycling of the pools."""
        if not self.engine.connect_only_attribution:
            return last + IDLE_US
        midnight = clock.day_start(clock.day_index(last) + 1)
        return min(last + IDLE_US, midnight - 1_000)

    def _open_from(self, t: int, sl: clock.Slice) -> int:
        """The earliest a connection for a statement at t may have opened (the slice; the day's start)."""
        if not self.engine.connect_only_attribution:
            return sl.start
        return max(sl.start, clock.day_start(clock.day_index(t)))

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        # statements of several relations write several records: draw fewer statements
        rel_per_stmt = np.array([len(t.relations) for t in self.templates], dtype=float)
        if self.engine.name == "mariadb":  # a table record per relation and the QUERY record
            rel_per_stmt += 1
        mean_rel = float(np.dot(rel_per_stmt, self.weights) / sum(self.weights))
        if not self.engine.records_per_relation:
            mean_rel = 1.0
        n = max(1, round(len(times) / mean_rel))
        ts = np.sort(rng.choice(times, n, replace=False)) if n < len(times) else times
        tpl = choose(rng, n, self.weights)
        slot = rng.integers(0, len(self.last), n)
        parts_ts: list[np.ndarray] = []
        parts_lines: list[pa.Array] = []
        stmt_id, sessions = self._sessions(rng, ts, slot, sl, parts_ts, parts_lines)
        if self.engine.name != "postgresql":
            return self._mysql_chunk(rng, ts, tpl, slot, sessions, parts_ts, parts_lines)
        pid = strs(self.pid_of[sessions]) if n else pa.array([], pa.string())
        client = join(pick(self.slot_ip, slot), "(", strs(self.port_of[sessions]), ")")
        for j, t in enumerate(self.templates):
            idx = np.flatnonzero(tpl == j)
            if not len(idx):
                continue
            params = P.param_field_arr(self._params(rng, t.params, ts[idx]))
            take = pa.array(idx)
            for rel in t.relations:
                parts_ts.append(ts[idx])
                parts_lines.append(P.audit_lines(ts[idx], pid.take(take), self.app_user, self.db_name,
                                                 client.take(take), self.app_name, strs(stmt_id[idx]), "1", t.klass,
                                                 t.command, "TABLE", P.csv_field(rel), self.stmt[j].as_py(), params))
        return self._sorted(parts_ts, parts_lines)

    def _sorted(self, parts_ts: list[np.ndarray], parts_lines: list[pa.Array]) -> dict[str, Chunk]:
        all_ts = np.concatenate(parts_ts)
        order = np.argsort(all_ts, kind="stable")
        return {f"pg.{self.server}": Chunk(all_ts[order], pa.chunked_array(parts_lines).take(pa.array(order)))}

    def _mysql_chunk(self, rng: np.random.Generator, ts: np.ndarray, tpl: np.ndarray, slot: np.ndarray,
                     sessions: np.ndarray, parts_ts: list[np.ndarray], parts_lines: list[pa.Array]) -> dict[str, Chunk]:
        """MySQL and MariaDB: the values inside the text; server_audit adds a record per table before the
        statement's QUERY record (same time and query id; the stable sort keeps them in that order)."""
        thread = strs(self.pid_of[sessions]) if len(ts) else pa.array([], pa.string())
        client = pick(self.slot_ip, slot)
        for j, t in enumerate(self.templates):
            idx = np.flatnonzero(tpl == j)
            if not len(idx):
                continue
            values = [v if kind in self.numeric else join("'", _mysql_escape(v) if kind.startswith("pool:") else v,
                                                          "'")  # the NTT kinds' values hold no quote
                      for kind, v in zip(t.params, self._params(rng, t.params, ts[idx]), strict=True)]
            texts, marks = pieces(t.text("mysql"))
            sql: list = [texts[0]]
            for k, text in zip(marks, texts[1:], strict=True):
                sql += [values[k], text]
            statement = join(*sql) if len(sql) > 1 else pa.array([texts[0]] * len(idx))
            take = pa.array(idx)
            if self.engine.name == "mysql":
                parts_ts.append(ts[idx])
                parts_lines.append(MG.records(ts[idx], thread.take(take), "Query", statement))
                continue
            qid = strs(MA.query_ids(ts[idx]))
            audit = (self.server, self.app_user, client.take(take), thread.take(take), qid)
            for rel in t.relations:
                parts_ts.append(ts[idx])
                parts_lines.append(MA.records(ts[idx], *audit, t.klass, self.db_name, f"{MA.table_of(rel)},"))
            parts_ts.append(ts[idx])
            parts_lines.append(MA.records(ts[idx], *audit, "QUERY", self.db_name,
                                          MA.query_tail(MA.escape_arr(statement))))
        return self._sorted(parts_ts, parts_lines)

    # --- pooled connections --------------------------------------------------------------------------------
    def _sessions(self, rng: np.random.Generator, ts: np.ndarray, slot: np.ndarray, sl: clock.Slice,
                  out_ts: list[np.ndarray], out_lines: list[pa.Array]) -> tuple[np.ndarray, np.ndarray]:
        """Statement id and session of every statement; adds the connect/disconnect lines of the slice."""
        n = len(ts)
        stmt_id = np.zeros(n, dtype=np.int64)
        session = np.zeros(n, dtype=np.int64)
        sessions: list[tuple[int, int, int]] = []  # (pid, port, slot)
        opens: list[tuple[int, int]] = []  # (time, session)
        closes: list[tuple[int, int, int]] = []  # (time, session, opened at)

        def current(s: int) -> int:
            sessions.append((int(self.pid[s]), int(self.port[s]), s))
            return len(sessions) - 1

        order = np.lexsort((ts, slot))
        bounds = np.searchsorted(slot[order], np.arange(len(self.last) + 1))
        for s in range(len(self.last)):
            rows = order[bounds[s]:bounds[s + 1]]
            times = ts[rows].tolist()
            cur = -1
            if self.last[s] >= 0:  # a connection left open by an earlier slice
                if not times or times[0] > self._close_at(int(self.last[s])):
                    if self._close_at(int(self.last[s])) < sl.end:
                        closes.append((self._close_at(int(self.last[s])), current(s), int(self.opened[s])))
                        self.last[s] = -1
                else:
                    cur = current(s)
            for k, t in enumerate(times):
                if cur >= 0 and t > self._close_at(int(self.last[s])):
                    closes.append((self._close_at(int(self.last[s])), cur, int(self.opened[s])))
                    cur = -1
                if cur < 0:
                    self.next_pid += int(rng.integers(3, 60))
                    self.pid[s], self.port[s], self.count[s] = self.next_pid, int(rng.integers(49152, 65536)), 0
                    self.opened[s] = max(self._open_from(t, sl), t - int(rng.integers(2_000, 40_000)))
                    cur = current(s)
                    opens.append((int(self.opened[s]), cur))
                self.count[s] += 1
                self.last[s] = t
                stmt_id[rows[k]] = self.count[s]
                session[rows[k]] = cur
            if cur >= 0 and self._close_at(int(self.last[s])) < sl.end:
                closes.append((self._close_at(int(self.last[s])), cur, int(self.opened[s])))
                self.last[s] = -1
        self.pid_of = np.array([x[0] for x in sessions], dtype=np.int64)
        self.port_of = np.array([x[1] for x in sessions], dtype=np.int64)
        ip_of = pick(self.slot_ip, np.array([x[2] for x in sessions], dtype=np.int64))
        if self.engine.name != "postgresql":
            self._mysql_connections(opens, closes, ip_of, out_ts, out_lines)
        elif opens:
            t_open = np.array([o[0] for o in opens], dtype=np.int64)
            sid = pa.array(np.array([o[1] for o in opens], dtype=np.int64))
            rec, auth = P.connection_lines(t_open, t_open + 1_500, strs(self.pid_of).take(sid), ip_of.take(sid),
                                           strs(self.port_of).take(sid), self.app_user, self.db_name,
                                           self.app_name)
            out_ts += [t_open, t_open + 1_500]
            out_lines += [rec, auth]
        if closes and self.engine.name == "postgresql":
            t_close = np.array([c[0] for c in closes], dtype=np.int64)
            sid = pa.array(np.array([c[1] for c in closes], dtype=np.int64))
            opened = np.array([c[2] for c in closes], dtype=np.int64)
            out_ts.append(t_close)
            out_lines.append(P.disconnection_lines(t_close, strs(self.pid_of).take(sid), ip_of.take(sid),
                                                   strs(self.port_of).take(sid), self.app_user, self.db_name,
                                                   self.app_name, t_close - opened))
        return stmt_id, session

    def _mysql_connections(self, opens: list[tuple[int, int]], closes: list[tuple[int, int, int]], ip_of: pa.Array,
                           out_ts: list[np.ndarray], out_lines: list[pa.Array]) -> None:
        """Connect/Quit (general log) or CONNECT/DISCONNECT (server_audit) lines of the pooled connections."""
        for events, op in ((opens, 0), (closes, 1)):
            if not events:
                continue
            t = np.array([e[0] for e in events], dtype=np.int64)
            sid = pa.array(np.array([e[1] for e in events], dtype=np.int64))
            thread = strs(self.pid_of).take(sid)
            if self.engine.name == "mysql":
                arg = MG.connect_argument(self.app_user, ip_of.take(sid), self.db_name) if op == 0 else ""
                lines = MG.records(t, thread, ("Connect", "Quit")[op], arg)
            else:
                lines = MA.records(t, self.server, self.app_user, ip_of.take(sid), thread, "0",
                                   ("CONNECT", "DISCONNECT")[op], self.db_name, ",0")
            out_ts.append(t)
            out_lines.append(lines)

    # --- bind parameters -----------------------------------------------------------------------------------
    def _params(self, rng: np.random.Generator, kinds: tuple[str, ...], ts: np.ndarray) -> list[pa.Array]:
        r = self.refs
        k = len(ts)
        out = []
        # drawn for every statement, used or not (the NTT story's output depends on it); a generic story has none
        contract = rng.integers(0, r.contracts, k) if r.contracts else np.zeros(k, dtype=np.int64)
        for kind in kinds:
            if kind.startswith("pool:"):
                pool = self._pool(kind[5:])
                out.append(pick(pool, rng.integers(0, len(pool), k)))
            elif kind == "customer_id":
                out.append(strs(r.first_customer + rng.integers(0, r.customers, k)))
            elif kind == "contract_id":
                out.append(strs(contract + 1))
            elif kind == "contract_no":
                out.append(pick(r.contract_nos, contract))
            elif kind == "corporate_number":
                out.append(pick(r.corporate_numbers, rng.integers(0, len(r.corporate_numbers), k)))
            elif kind == "order_status":
                out.append(pick(pa.array(list(ORDER_STATUSES)), rng.integers(0, len(ORDER_STATUSES), k)))
            elif kind == "new_status":
                out.append(pa.array(["received"] * k))
            elif kind == "order_type":
                out.append(pick(pa.array(list(ORDER_TYPES)), rng.integers(0, len(ORDER_TYPES), k)))
            elif kind == "new_order_id":
                out.append(strs(self.next_order + np.arange(k)))
                self.next_order += k
            elif kind == "order_id":
                out.append(strs(rng.integers(500_001, self.next_order, k)))
            elif kind == "now" and self.engine.name != "postgresql":  # DATETIME(6) in the server's local time
                out.append(pc.replace_substring(pc.utf8_slice_codeunits(clock.rfc3339_local(ts), 0, 26), "T", " "))
            elif kind == "now":
                out.append(pg_timestamptz(pa.array(ts, pa.timestamp("us", tz="UTC"))))
            else:
                raise ValueError(kind)
        return out

    def _pool(self, name: str) -> pa.Array:
        """The values of pool:NAME as strings (a table's column may come chunked or typed)."""
        if name not in self.pools:
            pool = self.workload.pools.get(name)
            if isinstance(pool, pa.ChunkedArray):
                pool = pool.combine_chunks()
            if not isinstance(pool, pa.Array) or not len(pool):
                raise ValueError(f"the workload has no values for pool:{name}")
            self.pools[name] = pool if pa.types.is_string(pool.type) else pc.cast(pool, pa.string())
        return self.pools[name]


def _mysql_escape(values: pa.Array) -> pa.Array:
    """The inside of MySQL string literals (dbqueries.mysql_quote, vectorized)."""
    return pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), "'", "\\'")

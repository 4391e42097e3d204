"""The order database's server log: pgAudit records of the order application's connection pools.

Each app server keeps a few pooled connections; a connection opens before its first statement and
is closed after 300 s idle (the driver's idle pruning), as `connection received/authorized` and
`disconnection` lines. pgAudit numbers statements per connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from breachscope.simulate import clock
from breachscope.simulate.dbqueries import APP_TEMPLATES, ORDER_STATUSES, ORDER_TYPES
from breachscope.simulate.formats import pgaudit as P
from breachscope.simulate.noise.common import choose
from breachscope.simulate.snapshot import pg_timestamptz
from breachscope.simulate.streams import Chunk, Context, Output
from breachscope.simulate.text import join, pick, strs

IDLE_US = 300 * clock.US
DB_NAME = "orders"
APP_USER = "app_order"
APP_NAME = "order-api"


@dataclass
class DbRefs:
    """What the generators need to know of the database to write plausible bind parameters."""

    first_customer: int
    customers: int
    contracts: int
    contract_nos: pa.Array
    corporate_numbers: pa.Array
    next_order_id: int


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
        self.stmt = pa.array([P.statement_field(t.sql) for t in APP_TEMPLATES])
        self.weights = [t.weight for t in APP_TEMPLATES]

    def outputs(self) -> list[Output]:
        return [Output(f"pg.{self.server}", pg_output_path(self.server), multiline=True)]

    def chunk(self, rng: np.random.Generator, times: np.ndarray, sl: clock.Slice) -> dict[str, Chunk]:
        # statements of several relations write several records: draw fewer statements
        rel_per_stmt = np.array([len(t.relations) for t in APP_TEMPLATES], dtype=float)
        mean_rel = float(np.dot(rel_per_stmt, self.weights) / sum(self.weights))
        n = max(1, round(len(times) / mean_rel))
        ts = np.sort(rng.choice(times, n, replace=False)) if n < len(times) else times
        tpl = choose(rng, n, self.weights)
        slot = rng.integers(0, len(self.last), n)
        parts_ts: list[np.ndarray] = []
        parts_lines: list[pa.Array] = []
        stmt_id, sessions = self._sessions(rng, ts, slot, sl, parts_ts, parts_lines)
        pid = strs(self.pid_of[sessions]) if n else pa.array([], pa.string())
        client = join(pick(self.slot_ip, slot), "(", strs(self.port_of[sessions]), ")")
        for j, t in enumerate(APP_TEMPLATES):
            idx = np.flatnonzero(tpl == j)
            if not len(idx):
                continue
            params = P.param_field_arr(self._params(rng, t.params, ts[idx]))
            take = pa.array(idx)
            for rel in t.relations:
                parts_ts.append(ts[idx])
                parts_lines.append(P.audit_lines(ts[idx], pid.take(take), APP_USER, DB_NAME, client.take(take),
                                                 APP_NAME, strs(stmt_id[idx]), "1", t.klass, t.command, "TABLE", rel,
                                                 self.stmt[j].as_py(), params))
        all_ts = np.concatenate(parts_ts)
        order = np.argsort(all_ts, kind="stable")
        return {f"pg.{self.server}": Chunk(all_ts[order], pa.chunked_array(parts_lines).take(pa.array(order)))}

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
                if not times or times[0] - self.last[s] > IDLE_US:
                    if self.last[s] + IDLE_US < sl.end:
                        closes.append((int(self.last[s]) + IDLE_US, current(s), int(self.opened[s])))
                        self.last[s] = -1
                else:
                    cur = current(s)
            for k, t in enumerate(times):
                if cur >= 0 and t - self.last[s] > IDLE_US:
                    closes.append((int(self.last[s]) + IDLE_US, cur, int(self.opened[s])))
                    cur = -1
                if cur < 0:
                    self.next_pid += int(rng.integers(3, 60))
                    self.pid[s], self.port[s], self.count[s] = self.next_pid, int(rng.integers(49152, 65536)), 0
                    self.opened[s] = max(sl.start, t - int(rng.integers(2_000, 40_000)))
                    cur = current(s)
                    opens.append((int(self.opened[s]), cur))
                self.count[s] += 1
                self.last[s] = t
                stmt_id[rows[k]] = self.count[s]
                session[rows[k]] = cur
            if cur >= 0 and self.last[s] + IDLE_US < sl.end:
                closes.append((int(self.last[s]) + IDLE_US, cur, int(self.opened[s])))
                self.last[s] = -1
        self.pid_of = np.array([x[0] for x in sessions], dtype=np.int64)
        self.port_of = np.array([x[1] for x in sessions], dtype=np.int64)
        ip_of = pick(self.slot_ip, np.array([x[2] for x in sessions], dtype=np.int64))
        if opens:
            t_open = np.array([o[0] for o in opens], dtype=np.int64)
            sid = pa.array(np.array([o[1] for o in opens], dtype=np.int64))
            rec, auth = P.connection_lines(t_open, t_open + 1_500, strs(self.pid_of).take(sid), ip_of.take(sid),
                                           strs(self.port_of).take(sid), APP_USER, DB_NAME, APP_NAME)
            out_ts += [t_open, t_open + 1_500]
            out_lines += [rec, auth]
        if closes:
            t_close = np.array([c[0] for c in closes], dtype=np.int64)
            sid = pa.array(np.array([c[1] for c in closes], dtype=np.int64))
            opened = np.array([c[2] for c in closes], dtype=np.int64)
            out_ts.append(t_close)
            out_lines.append(P.disconnection_lines(t_close, strs(self.pid_of).take(sid), ip_of.take(sid),
                                                   strs(self.port_of).take(sid), APP_USER, DB_NAME, APP_NAME,
                                                   t_close - opened))
        return stmt_id, session

    # --- bind parameters -----------------------------------------------------------------------------------
    def _params(self, rng: np.random.Generator, kinds: tuple[str, ...], ts: np.ndarray) -> list[pa.Array]:
        r = self.refs
        k = len(ts)
        out = []
        contract = rng.integers(0, r.contracts, k)
        for kind in kinds:
            if kind == "customer_id":
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
            elif kind == "now":
                out.append(pg_timestamptz(pa.array(ts, pa.timestamp("us", tz="UTC"))))
            else:
                raise ValueError(kind)
        return out

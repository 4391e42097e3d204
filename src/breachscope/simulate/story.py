"""Builders of single story records (attack, scheduled jobs, episodes) in every evidence format.

They call the same format writers as the noise, with columns of one value, so a story record has
exactly the layout of the ordinary records it is merged with.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pyarrow as pa

from breachscope.simulate import sources
from breachscope.simulate.dbengine import Engine, engine
from breachscope.simulate.formats import flows as F
from breachscope.simulate.formats import mariadb_audit as MA
from breachscope.simulate.formats import mysql_general as MG
from breachscope.simulate.formats import pgaudit as P
from breachscope.simulate.formats import syslog as S
from breachscope.simulate.formats import winlog as W
from breachscope.simulate.formats import zeek as Z
from breachscope.simulate.network import Network
from breachscope.simulate.streams import Injected
from breachscope.simulate.text import B62, json_escape

_HISTORY = {"SF": "ShADadFf", "S0": "S", "REJ": "Sr", "RSTO": "ShADadR", "OTH": "Dd"}


def _one(arr: pa.Array) -> str:
    return arr[0].as_py()


def _ts(us: int) -> np.ndarray:
    return np.array([us], dtype=np.int64)


@dataclass
class PgStatement:
    """One statement of a database session, with the relations pgAudit will name."""

    ts: int
    sql: str
    relations: tuple[str, ...] = ()
    params: Sequence[str | None] | None = ()  # None = <not logged>; () = <none>
    klass: str = "READ"
    command: str = "SELECT"
    copy: bool = False  # COPY (SELECT ...) TO STDOUT: a SELECT record per relation, then the COPY record
    ref: str = ""


@dataclass
class PgSession:
    """A database session (PostgreSQL's backend pid, MySQL's thread id or MariaDB's connection id in
    `pid`); written in the engine's log by `Story.pg`."""

    client_ip: str
    client_port: int
    user: str
    app: str
    pid: int
    opened: int
    closed: int | None
    statements: list[PgStatement] = field(default_factory=list)
    database: str = "orders"

    def lines(self) -> list[tuple[int, str, str]]:
        """(time, text, statement ref) of every record of the session, as the server logs them."""
        ip, port = self.client_ip, str(self.client_port)
        pid = str(self.pid)
        rec, auth = P.connection_lines(_ts(self.opened), _ts(self.opened + 1_200), pid, ip, port, self.user,
                                       self.database, self.app)
        app = self.app or "[unknown]"  # %a of a client that set no application_name
        out = [(self.opened, _one(rec), ""), (self.opened + 1_200, _one(auth), "")]
        rows: list[tuple[int, str, str, str, str, str, str, str, str, str]] = []
        for number, st in enumerate(self.statements, start=1):
            stmt = P.statement_field(st.sql)
            params = P.params_text(st.params)
            records = [(st.klass, st.command, "TABLE", P.csv_field(rel), "1") for rel in st.relations] or \
                [(st.klass, st.command, "", "", "1")]
            if st.copy:
                records = [*([("READ", "SELECT", "TABLE", P.csv_field(rel), "1") for rel in st.relations]),
                           ("READ", "COPY", "", "", "2")]
            rows += [(st.ts, str(number), sub, klass, command, otype, oname, stmt, params, st.ref)
                     for klass, command, otype, oname, sub in records]
        if rows:
            cols = list(zip(*rows, strict=True))
            lines = P.audit_lines(np.array(cols[0], dtype=np.int64), pid, self.user, self.database,
                                  f"{ip}({port})", app, *(pa.array(c) for c in cols[1:9]))
            out += list(zip(cols[0], lines.to_pylist(), cols[9], strict=True))
        if self.closed is not None:
            line = P.disconnection_lines(_ts(self.closed), pid, ip, port, self.user, self.database, app,
                                         np.array([self.closed - self.opened]))
            out.append((self.closed, _one(line), ""))
        return out

    def mysql_lines(self) -> list[tuple[int, str, str]]:
        """The general log's records of the session: Connect, a Query per statement (its text as sent,
        values inside), Quit. Only Connect names the user and client (the reader carries them on)."""
        rows = [(self.opened, "Connect", MG.connect_argument(self.user, self.client_ip, self.database), "")]
        rows += [(st.ts, "Query", st.sql, st.ref) for st in self.statements]
        if self.closed is not None:
            rows.append((self.closed, "Quit", "", ""))
        cols = list(zip(*rows, strict=True))
        lines = MG.records(np.array(cols[0], dtype=np.int64), str(self.pid), pa.array(cols[1]), pa.array(cols[2]))
        return list(zip(cols[0], lines.to_pylist(), cols[3], strict=True))

    def mariadb_lines(self, server: str) -> list[tuple[int, str, str]]:
        """server_audit's records of the session: CONNECT; per statement a READ or WRITE record per table
        it opens, then its QUERY record (same query id); DISCONNECT."""
        rows = [(self.opened, "0", "CONNECT", ",0", "")]
        for st in self.statements:
            qid = str(int(MA.query_ids(_ts(st.ts))[0]))
            op = "WRITE" if st.klass == "WRITE" else "READ"
            rows += [(st.ts, qid, op, f"{MA.table_of(rel)},", st.ref) for rel in st.relations]
            rows.append((st.ts, qid, "QUERY", MA.query_tail(MA.escape(st.sql)), st.ref))
        if self.closed is not None:
            rows.append((self.closed, "0", "DISCONNECT", ",0", ""))
        cols = list(zip(*rows, strict=True))
        lines = MA.records(np.array(cols[0], dtype=np.int64), server, self.user, self.client_ip, str(self.pid),
                           pa.array(cols[1]), pa.array(cols[2]), self.database, pa.array(cols[3]))
        return list(zip(cols[0], lines.to_pylist(), cols[4], strict=True))


class Pending:
    """Zeek, flow and ASA records whose text is rendered in one batch per format once the story is complete:
    a few Arrow calls per column for all of them instead of a dozen per record (a DNS tunnel writes six
    records per query, tens of thousands of queries). Rendering draws no random numbers, so the output is
    the same as rendering each record when it is added."""

    def __init__(self) -> None:
        self.zeek: dict[str, list[tuple[str, int, int, dict[str, str]]]] = defaultdict(list)
        self.asa: list[tuple[str, int, int, str, str, str]] = []
        self.flow: list[tuple[str, int, tuple]] = []


class Story:
    """Collects story records per output key (see the groups' outputs)."""

    def __init__(self, net: Network, rng: np.random.Generator) -> None:
        self.net = net
        self.rng = rng
        self.records: dict[str, list[Injected]] = defaultdict(list)
        self.pending = Pending()
        self.database = PgSession.database  # the database's name, for sessions that do not name theirs
        self.app_name = "order-api"  # the application's client name (the attacker's script passes for it)

    @cached_property
    def inside(self) -> Callable[[str], bool]:
        """Zeek's local_orig/local_resp: whether an address is the organization's (a few addresses, asked
        for every connection of the story: remembered)."""
        return functools.lru_cache(maxsize=4096)(sources.of_network(self.net).is_inside)

    def add(self, key: str, ts: int, text: str, tag: str = "", ref: str = "", host: str = "") -> None:
        self.records[key].append(Injected(int(ts), text, tag, ref, host))

    def _placeholder(self, key: str, ts: int, tag: str, ref: str) -> int:
        """Add a record whose text render() writes; its index in the key's list."""
        self.add(key, ts, "", tag, ref)
        return len(self.records[key]) - 1

    def render(self) -> None:
        """Write the text of every pending record (call once the story is complete, before reading it)."""
        p, self.pending = self.pending, Pending()
        for log, items in p.zeek.items():
            rows = [item[3] for item in items]  # (key, index, ts, fields)
            names = sorted({name for fields in rows for name in fields})
            cols: dict[str, pa.Array | str] = {n: pa.array([f.get(n, "-") for f in rows]) for n in names}
            self._fill([(k, i) for k, i, *_ in items], Z.lines(log, np.array([t for _, _, t, _ in items]), cols))
        if p.asa:
            host, code, text = (pa.array([row[j] for row in p.asa]) for j in (3, 4, 5))
            self._fill([(k, i) for k, i, *_ in p.asa], S.asa_lines(np.array([r[2] for r in p.asa]), host, code, text))
        if p.flow:
            a = list(zip(*(args for *_, args in p.flow), strict=True))
            sport, dport, proto, octets, packets, flags = (np.array(c, dtype=np.int64) for c in a[4:10])
            self._fill([(k, i) for k, i, _ in p.flow],
                       F.lines(np.array(a[0], dtype=np.int64), np.array(a[1], dtype=np.int64), pa.array(a[2]),
                               pa.array(a[3]), sport, dport, proto, octets, packets, flags, pa.array(a[10]),
                               pa.array(a[11])))

    def _fill(self, where: list[tuple[str, int]], lines: pa.Array) -> None:
        for (key, index), text in zip(where, lines.to_pylist(), strict=True):
            r = self.records[key][index]
            self.records[key][index] = Injected(r.ts, text, r.tag, r.ref, r.host)

    def add_many(self, key: str, ts: np.ndarray, lines: pa.Array, tag: str = "") -> None:
        """Many records of one log at once (built with the vectorized writers)."""
        self.records[key].extend(Injected(t, text, tag) for t, text in zip(ts.tolist(), lines.to_pylist(),
                                                                            strict=True))

    # --- Windows ---------------------------------------------------------------------------------------------
    def win(self, ts: int, host: str, event_id: int, data: Sequence[tuple[str, str]], tag: str = "",
            sysmon: bool = False, ref: str = "", failure: bool = False) -> None:
        h = self.net.hosts[host]
        role = "dc" if h.role == "dc" else ("workstations" if h.role == "workstation" else "servers")
        channel = "sysmon" if sysmon else "security"
        if role == "dc" and sysmon:
            role = "servers"
        frag = W.host_fragment(h.fqdn, 3504 if sysmon else 780)
        tid = str(int(self.rng.integers(100, 9000)) // 4 * 4)
        line = W.lines(_ts(ts), event_id, sysmon, frag, np.array([0]), tid, [(k, json_escape(v)) for k, v in data],
                       failure)
        self.add(f"win.{role}.{channel}", ts, _one(line), tag, ref, host)

    # --- Zeek ------------------------------------------------------------------------------------------------
    def uid(self, prefix: bytes = b"C") -> str:
        """A Zeek uid: the draws of random_b62(rng, 1, 17, prefix), without building an Arrow array for one."""
        return prefix.decode() + B62[self.rng.integers(0, 62, size=17, dtype=np.uint8)].tobytes().decode()

    def zeek(self, log: str, ts: int, fields: dict[str, str], tag: str = "", ref: str = "") -> None:
        key = f"zeek.{log}"
        self.pending.zeek[log].append((key, self._placeholder(key, ts, tag, ref), int(ts), fields))

    def conn(self, ts: int, src: str, sport: int, dst: str, dport: int, proto: str = "tcp", service: str = "-",
             duration: float = 1.0, orig_bytes: int = 0, resp_bytes: int = 0, state: str = "SF",
             tag: str = "", ref: str = "", uid: str | None = None, history: str | None = None) -> str:
        uid = uid or self.uid()
        local = lambda ip: "T" if self.inside(ip) else "F"  # noqa: E731
        opk = max(1, orig_bytes // 1200 + 3) if state != "S0" else 2
        rpk = max(1, resp_bytes // 1400 + 2) if state not in ("S0", "REJ") else 0
        hdr = 52 if proto == "tcp" else 28
        hist = history or _HISTORY.get(state, "ShADadFf")
        self.zeek("conn", ts, {
            "uid": uid, "id.orig_h": src, "id.orig_p": str(sport), "id.resp_h": dst, "id.resp_p": str(dport),
            "proto": proto, "service": service, "duration": f"{duration:.6f}", "orig_bytes": str(orig_bytes),
            "resp_bytes": str(resp_bytes), "conn_state": state, "local_orig": local(src), "local_resp": local(dst),
            "missed_bytes": "0", "history": hist, "orig_pkts": str(opk), "orig_ip_bytes": str(orig_bytes + opk * hdr),
            "resp_pkts": str(rpk), "resp_ip_bytes": str(resp_bytes + rpk * hdr), "tunnel_parents": "(empty)",
        }, tag, ref)
        return uid

    def ssl(self, ts: int, uid: str, src: str, sport: int, dst: str, dport: int, sni: str, tag: str = "",
            ref: str = "") -> None:
        self.zeek("ssl", ts, {"uid": uid, "id.orig_h": src, "id.orig_p": str(sport), "id.resp_h": dst,
                              "id.resp_p": str(dport), "version": "TLSv13", "cipher": "TLS_AES_256_GCM_SHA384",
                              "curve": "x25519", "server_name": sni, "resumed": "F", "next_protocol": "-",
                              "established": "T", "ssl_history": "CsiI", "cert_chain_fps": "(empty)",
                              "client_cert_chain_fps": "(empty)", "sni_matches_cert": "-",
                              "validation_status": "-"}, tag, ref)

    def dns(self, ts: int, src: str, query: str, answer: str, tag: str = "", dc_ip: str | None = None) -> None:
        dc_ip = dc_ip or self.net.with_role("dc")[0].ip  # the first domain controller answers DNS
        uid = self.conn(ts, src, int(self.rng.integers(49152, 65536)), dc_ip, 53, "udp", "dns", 0.0009, 40, 90,
                        tag=tag, history="Dd")
        self.zeek("dns", ts, {"uid": uid, "id.orig_h": src, "id.orig_p": "-", "id.resp_h": dc_ip, "id.resp_p": "53",
                              "proto": "udp", "trans_id": str(int(self.rng.integers(0, 65536))), "rtt": "0.000850",
                              "query": query, "qclass": "1", "qclass_name": "C_INTERNET", "qtype": "1",
                              "qtype_name": "A", "rcode": "0", "rcode_name": "NOERROR", "AA": "F", "TC": "F",
                              "RD": "T", "RA": "T", "Z": "0", "answers": answer, "TTLs": "60.000000",
                              "rejected": "F"}, tag)

    # --- network devices ---------------------------------------------------------------------------------------
    def ios(self, ts: int, router: str, mnemonic: str, text: str, tag: str = "", ref: str = "") -> None:
        """Cisco IOS line; its sequence number (0 here) is given by the routers group when written."""
        line = S.ios_lines(_ts(ts), router, np.array([0]), mnemonic, text, np.array([2_000]))
        self.add(f"ios.{router}", ts, _one(line), tag, ref, router)

    def asa(self, ts: int, code: str, text: str, tag: str = "", ref: str = "") -> None:
        fw = self.net.host("firewall").name
        key = f"asa.{fw}"
        self.pending.asa.append((key, self._placeholder(key, ts, tag, ref), int(ts), fw, code, text))

    def flow(self, start: int, end: int, src: str, dst: str, sport: int, dport: int, proto: int, octets: int,
             packets: int, tag: str = "", ref: str = "", key: str | None = None, in_if: str = "3",
             out_if: str = "1") -> None:
        key = key or f"flow.{self.net.host('core_router').name}"  # the exporter towards the internet edge
        self.pending.flow.append((key, self._placeholder(key, start, tag, ref), (
            int(start), int(end), src, dst, sport, dport, proto, octets, packets, 27 if proto == 6 else 0, in_if,
            out_if)))

    # --- database ----------------------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The order database's engine (the scenario's network.database)."""
        return engine(self.net.spec.database)

    def pg(self, session: PgSession, tag: str = "", key: str | None = None) -> None:
        """A database session in the server's audit log, whatever the engine (the statements are
        already in its dialect: see dbqueries.py and attackdb.py)."""
        server = self.net.host("db").name
        key = key or f"pg.{server}"
        name = self.engine.name
        if session.database == PgSession.database:  # the dataclass default: the story's database
            session = replace(session, database=self.database)
        lines = session.mysql_lines() if name == "mysql" else (
            session.mariadb_lines(server) if name == "mariadb" else session.lines())
        for ts, text, ref in lines:
            self.add(key, ts, text, tag if ref or not tag.startswith("attack:db_query") else tag.replace(
                "db_query", "db_connection"), ref)

"""The attacker's database sessions (pgAudit, the client process and connection) and the files their
statements wrote (staging)."""

from __future__ import annotations

import hashlib

from breachscope.model.errors import UsageError
from breachscope.simulate import clock
from breachscope.simulate.attack import IMAGE, PUBLIC_B, WORK_A, Attack, StagedFile, StoryInputs, pg_csv
from breachscope.simulate.attack_file import DatabaseSessions, Staging
from breachscope.simulate.story import PgSession, PgStatement


def database_sessions(w: Attack, p: DatabaseSessions, inputs: StoryInputs) -> None:
    a, dbh, db_user = w.host(p.host), w.host("db"), w.spec.database_user
    queries, results = inputs.queries, inputs.results
    user, parent = w.user_of(p.actor), w.parent_of(p.actor)
    numbers = sorted({q.session for q in queries})
    if len(p.sessions) < len(numbers):
        raise UsageError(f"database_sessions: the attack's plan has {len(numbers)} sessions, the scenario gives "
                         f"{len(p.sessions)} times")
    for session in numbers:
        qs = [q for q in queries if q.session == session]
        t0 = w.at(p.sessions[session - 1])
        script = qs[0].client == "script"
        port = w.port()
        engine = w.s.engine  # the database's engine: its client, port and statements (simulate/dbengine.py)
        if script:
            cmd = f"powershell.exe -NoProfile -ExecutionPolicy Bypass -File {WORK_A}\\sync.ps1 -Part {session}"
            if p.client == "odbc":  # System.Data.Odbc with a DSN-less connection string
                cmd += " -Driver \"PostgreSQL Unicode(x64)\""
            image = IMAGE["ps"]
        elif engine.name == "postgresql":
            cmd = f"{IMAGE['psql']} -h {dbh.ip} -U {db_user} -d {w.s.database} -f {WORK_A}\\r{session}.sql"
            image = IMAGE["psql"]
        else:  # the mysql client in batch mode: `source` reads the file, the output is redirected
            image = f"{WORK_A}\\{engine.client_image}"
            cmd = (f"{image} --defaults-extra-file={WORK_A}\\c.cnf -h {dbh.ip} -u {db_user} -B {w.s.database} "
                   f"-e \"source {WORK_A}\\r{session}.sql\"")
        w.proc(t0 - 2 * clock.US, a.name, image, cmd, parent, user, "attack:db_query")
        w.netconn(t0 - 1 * clock.US, a.name, image, user, a.ip, port, dbh.ip, engine.port, f"{dbh.name}.{w.fqdn}",
                  "attack:db_query")
        t = t0
        stmts = []
        rows_total = 0
        for q in qs:
            t += int(w.rng.integers(300_000, 2_500_000))
            params = [str(x) for x in q.params] if q.client == "script" else ()
            stmts.append(PgStatement(t, q.sql, q.relations, params, copy=q.copy, ref=q.ref))
            rows = results[q.ref].rows
            rows_total += rows
            t += int(rows * 120) + int(w.rng.integers(200_000, 900_000))  # fetching and writing the rows
        w.pid += int(w.rng.integers(5, 400))
        closed = t + int(w.rng.integers(50_000, 400_000))
        if script and p.client == "odbc" and engine.name != "postgresql":
            raise UsageError(f"database_sessions: client odbc is simulated for PostgreSQL only, not {engine.name}")
        # psqlODBC sets no application_name: the log shows [unknown]
        app = ("" if p.client == "odbc" else w.s.app_name) if script else \
            ("psql" if engine.name == "postgresql" else "mysql")
        w.s.pg(PgSession(a.ip, port, db_user, app, w.pid, t0, closed, stmts), "attack:db_query")
        w.s.conn(t0, a.ip, port, dbh.ip, engine.port, "tcp", "-", (closed - t0) / clock.US, 2_000 + 600 * len(qs),
                 200 + rows_total * 190, tag="attack:db_query")
        for st in stmts:
            q = next(x for x in qs if x.ref == st.ref)
            w.out.statements.append({"ref": q.ref, "kind": q.kind, "session": session, "pid": w.pid,
                                     "ts": st.ts, "client": f"{a.ip}:{port}", "application": app,
                                     "user": db_user, "sql": q.sql, "params": q.params,
                                     "certain": q.certain, "output_file": q.output_file or None})
        w.note(t0, "db_query", f"session {session} on {w.called(a)} through its database account {db_user}: "
               f"{len(qs)} statement(s), {rows_total} rows returned ({app})")


def staging(w: Attack, p: Staging, inputs: StoryInputs) -> None:
    host, found_on, user = w.host(p.host), w.host(p.found_on), w.user_of(p.actor)
    for q in inputs.queries:
        if not q.output_file:
            continue
        table = inputs.results[q.ref].table
        if table is None:  # the scenario keeps the rows of every statement with an output file
            raise ValueError(f"{q.ref}: the rows written to {q.output_file} were not kept")
        data = pg_csv(table)
        st = next(s for s in w.out.statements if s["ref"] == q.ref)
        t = st["ts"] + int(table.num_rows * 120) + 200_000
        client = IMAGE["psql"] if w.s.engine.name == "postgresql" else f"{WORK_A}\\{w.s.engine.client_image}"
        w.file_created(t, host.name, client, f"{WORK_A}\\{q.output_file}", user, "attack:staging")
        rel = f"evidence/hosts/{found_on.name}/C/Users/Public/{q.output_file}"
        path = inputs.export_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        w.out.staged.append(StagedFile(q.output_file, rel, f"{PUBLIC_B}\\{q.output_file}", table.num_rows,
                                       len(data), hashlib.sha256(data).hexdigest(), q.ref))
        w.note(t, "staging", f"{q.output_file} written on {w.called(host)} ({table.num_rows} rows, {len(data)} bytes)")

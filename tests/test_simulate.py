"""The scenario simulator (`breachscope simulate`): the scenario itself, checked against its own outputs.

Small scenarios (3,000 customers, 20,000 noise records) for most checks; the default scenario
(60,000 customers, 200,000 noise records) once, for the 17,891 organizations. The truth is recomputed
here independently (plain SQL on the Parquet snapshot), the evidence is ingested with the readers,
and the database log is compared with what a real PostgreSQL + pgAudit writes for the same statements.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from stdnum.jp import cn as corporate_number
from typer.testing import CliRunner

from breachscope.engines.duckdb_case import open_case
from breachscope.simulate import SimConfig, run
from breachscope.simulate.clock import START, plan_slices
from breachscope.simulate.config import EPISODES, parse_episodes
from breachscope.simulate.dbqueries import APP_TEMPLATES
from breachscope.simulate.formats import pgaudit as P
from breachscope.simulate.story import PgSession, PgStatement
from breachscope.simulate.text import fill, json_escape
from tests.conftest import run_ingest

SMALL = {"events": 20_000, "customers": 3_000}
EXPECTED_CATEGORIES = {"contact_person_name", "contract_name", "contract_number", "customer_id", "email",
                       "organization_name", "phone", "postal_address", "service_usage"}


def _simulate(out: Path, **kw: object) -> dict:
    run(SimConfig(out=out, **{**SMALL, **kw}))  # type: ignore[arg-type]
    return json.loads((out / "truth.json").read_text())


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Pivot variant with every episode."""
    out = tmp_path_factory.mktemp("sim") / "pivot"
    return out, _simulate(out, variant="pivot", episodes=EPISODES, jobs=2)


@pytest.fixture(scope="session")
def small_case(small: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    out, _ = small
    summary = run_ingest([out / "evidence"], tmp_path_factory.mktemp("simcase") / "case", jobs=2)
    case = open_case(summary.case)
    yield summary, case
    case.close()


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("simdefault") / "ntt"
    run(SimConfig(out=out, jobs=os.cpu_count() or 1))
    return out, json.loads((out / "truth.json").read_text())


# --- the default scenario --------------------------------------------------------------------------------
def test_default_run_exposes_exactly_17891_organizations(default_run: tuple[Path, dict]) -> None:
    out, truth = default_run
    assert truth["customers"] == 60_000 and truth["events_requested"] == 200_000
    affected = truth["affected"]
    assert affected["organization_count"] == 17_891 == len(set(affected["organizations"]))
    assert set(affected["categories"]) == EXPECTED_CATEGORIES
    assert _recompute(out, truth) == (set(affected["organizations"]), set(affected["persons"]),
                                      {e["id"] for e in affected["excluded"]["organizations"]})


def _recompute(out: Path, truth: dict) -> tuple[set, set, set]:
    """The attacker's statements, from truth.json, run on the Parquet snapshot with plain SQL (not with
    the simulator's code): organizations with a returned non-excluded row, persons returned, excluded."""
    con = duckdb.connect()
    for t in ("customers", "contracts", "contacts"):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{out / 'snapshot' / t}.parquet')")
    docomo = {r[0] for r in con.execute("SELECT contract_no FROM contracts WHERE provider_brand = 'docomo'").fetchall()}
    owner = dict(con.execute("SELECT contract_no, customer_id FROM contracts").fetchall())
    orgs: set = set()
    touched: set = set()
    persons: set = set()
    order = truth["database"]["physical_order_of_probe"].split(" (")[0]
    for st in truth["database"]["statements"]:
        sql = st["sql"]
        if sql.startswith("COPY  ( "):
            sql = sql[len("COPY  ( "):sql.rindex(" ) TO STDOUT")]
        if not st["returned_rows_are_known"]:
            sql = sql.replace("\n LIMIT $3", f"\n ORDER BY {order}\n LIMIT $3")
        rel = con.execute(sql.rstrip(";"), st["params"] or None)
        names = [d[0] for d in rel.description]
        rows = rel.fetchall()
        for row in rows:
            r = dict(zip(names, row, strict=True))
            if "contract_no" in r:
                touched.add(owner[r["contract_no"]])
                if r["contract_no"] not in docomo:
                    orgs.add(owner[r["contract_no"]])
            if "company_name" in r:  # a customers row was returned
                orgs.add(r["customer_id"])
            if "contact_id" in r:
                persons.add(r["contact_id"])
    return orgs, persons, touched - orgs


def test_default_run_truth_matches_snapshot_and_files(default_run: tuple[Path, dict]) -> None:
    out, truth = default_run
    _check_truth_against_snapshot(out, truth)
    _check_truth_lines(out, truth)


def _check_truth_against_snapshot(out: Path, truth: dict) -> None:
    snap = out / "snapshot"
    customers = pq.read_table(snap / "customers.parquet")
    contracts = pq.read_table(snap / "contracts.parquet")
    contacts = pq.read_table(snap / "contacts.parquet")
    ids = set(customers["customer_id"].to_pylist())
    a = truth["affected"]
    orgs, persons = set(a["organizations"]), set(a["persons"])
    assert orgs <= ids
    contact_owner = dict(zip(contacts["contact_id"].to_pylist(), contacts["customer_id"].to_pylist(), strict=True))
    assert persons <= set(contact_owner) and {contact_owner[p] for p in persons} <= orgs
    assert set(a["confirmed"]["persons"]) <= persons
    assert not set(a["potential"]["organizations"]) & orgs
    assert a["potential"]["organization_count"] > 0 and a["potential"]["person_count"] > 0
    assert a["confirmed"]["organization_count"] == a["organization_count"]
    brands: dict[int, set] = {}
    for c, b in zip(contracts["customer_id"].to_pylist(), contracts["provider_brand"].to_pylist(), strict=True):
        brands.setdefault(c, set()).add(b)
    excluded = [e for e in a["excluded"]["organizations"]]
    assert excluded and all(e["rule"] == "docomo_provided_mobile" for e in excluded)
    assert all(brands[e["id"]] == {"docomo"} for e in excluded)  # only carrier contracts, so excluded
    assert not {e["id"] for e in excluded} & orgs
    numbers = [n for n in customers["corporate_number"].to_pylist() if n is not None]
    assert len(numbers) > 0.9 * customers.num_rows and all(corporate_number.is_valid(n) for n in numbers)
    # the staged files found on device B hold customer rows the statements returned
    for f in truth["evidence"]["staged_files"]:
        data = (out / f["path"]).read_bytes()
        assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"]
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert len(rows) == f["rows"] > 0
        assert {int(r["customer_id"]) for r in rows} <= orgs | {e["id"] for e in excluded}
        if "contact_id" in rows[0]:
            assert {int(r["contact_id"]) for r in rows} <= persons
    assert truth["exfiltration"]["bytes"] > sum(f["size"] for f in truth["evidence"]["staged_files"]) * 0.3


def _check_truth_lines(out: Path, truth: dict) -> None:
    """Every record truth.json names is at its line: a database statement's records hold its SQL."""
    cache: dict[str, list[str]] = {}

    def line(file: str, n: int) -> str:
        if file not in cache:
            cache[file] = (out / file).read_text(encoding="utf-8").split("\n")
        return cache[file][n - 1]

    for r in truth["evidence"]["records"]:
        assert line(r["file"], r["line"]).strip(), r
    for st in truth["database"]["statements"]:
        assert len(st["records"]) == max(1, len(st["relations"])) + (1 if st["sql"].startswith("COPY") else 0)
        first = st["sql"].split("\n")[0]
        for rec in st["records"]:
            text = line(rec["file"], rec["line"])
            assert "app_order@orders" in text and "LOG:  AUDIT: SESSION," in text and first in text


# --- small scenarios: readers, determinism, variants, episodes ------------------------------------------
def test_every_evidence_file_is_read_without_rejects(small: tuple[Path, dict], small_case: tuple) -> None:
    out, truth = small
    summary, _ = small_case
    d = summary.to_dict()
    assert d["rejected"] == 0 and d["files_failed"] == [] and d["files_duplicate"] == 0
    # only the files found on device B are not logs (the scoping step scans them)
    staged = {str((out / f["path"]).resolve()) for f in truth["evidence"]["staged_files"]}
    assert set(d["files_unrecognized"]) == staged
    assert summary.records == truth["output"]["records"]
    assert d["files_ingested"] == truth["output"]["files"]
    assert set(d["tables"]) >= {"windows", "zeek_conn", "zeek_dns", "zeek_http", "zeek_ssl", "zeek_smb_files",
                                "zeek_smb_mapping", "zeek_kerberos", "zeek_dce_rpc", "db_audit", "syslog", "flow"}


def test_truth_records_are_rows_of_the_case(small: tuple[Path, dict], small_case: tuple) -> None:
    out, truth = small
    _, case = small_case
    wanted = [r for r in truth["evidence"]["records"]]
    wanted += [r for e in truth["episodes"].values() for r in e["records"]]
    wanted += truth["hard_negatives"]["records"]
    import pyarrow as pa

    con = duckdb.connect()
    con.register("want", pa.table({"file": [str((out / r["file"]).resolve()) for r in wanted],
                                   "line": [r["line"] for r in wanted], "tag": [r["tag"] for r in wanted]}))
    found = case.sql("SELECT src_file, src_record, table_name, user, src_ip, dst_ip, ts FROM events").to_arrow_table()
    con.register("found", found)
    missing = con.execute("SELECT count(*) FROM want w LEFT JOIN found f ON f.src_file = w.file AND "
                          "f.src_record = w.line WHERE f.src_file IS NULL").fetchone()[0]
    assert missing == 0 and len(wanted) > 1_000
    # the attacker's statements are database rows of device A's account, from device A
    a_ip = truth["hosts"]["device_a"]["ip"]
    rows = con.execute("SELECT DISTINCT f.user, f.src_ip FROM want w JOIN found f ON f.src_file = w.file AND "
                       "f.src_record = w.line WHERE w.tag = 'attack:db_query' AND f.table_name = 'db_audit'").fetchall()
    assert rows == [("app_order", a_ip)]
    # and every record's time falls in the period
    span = con.execute("SELECT min(f.ts), max(f.ts) FROM want w JOIN found f ON f.src_file = w.file "
                       "AND f.src_record = w.line").fetchone()
    assert str(span[0]) >= "2025-01-12" and str(span[1]) < "2025-03-08"


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    size = {"events": 8_000, "customers": 1_500, "episodes": ("beacon", "salt-typhoon")}
    _simulate(a, jobs=1, **size)
    _simulate(b, jobs=2, **size)
    da, db = _tree_digest(a), _tree_digest(b)
    assert da == db and len(da) > 500
    _simulate(c, jobs=1, seed=7, **size)
    dc = _tree_digest(c)
    assert dc.keys() & da.keys() and sum(dc.get(k) != v for k, v in da.items()) > len(da) // 2


def test_variants_change_the_direction_involving_device_b(small: tuple[Path, dict], tmp_path: Path) -> None:
    _, pivot = small
    dest = _simulate(tmp_path / "dest", variant="destination")
    a, b = pivot["hosts"]["device_a"]["name"], pivot["hosts"]["device_b"]["name"]
    assert pivot["hosts"]["entry"]["name"] == b and dest["hosts"]["entry"]["name"] == a
    for truth in (pivot, dest):
        stages = {e["stage"] for e in truth["timeline"]}
        assert {"initial_access", "db_query", "staging", "transfer", "exfiltration", "restriction",
                "denied_attempt", "isolation"} <= stages
        assert truth["investigation_inputs"]["suspect_hosts"] == [a, b]
        assert truth["investigation_inputs"]["database_users"] == ["app_order"]
        tags = truth["evidence"]["counts_by_tag"]
        assert tags["attack:denied_attempt"] > 0 and tags["response:restrict_device_a"] > 0
    # the same customers are exposed whatever the variant
    assert dest["affected"]["organizations"] == pivot["affected"]["organizations"]


def test_device_b_is_silent_after_it_is_cut_off(small: tuple[Path, dict], small_case: tuple) -> None:
    _, truth = small
    _, case = small_case
    cut = next(e["ts"] for e in truth["timeline"] if e["stage"] == "isolation")
    b = truth["hosts"]["device_b"]
    late = case.rows(f"SELECT count(*) FROM windows WHERE Computer LIKE '{b['name']}.%' "
                    f"AND ts > TIMESTAMP '{cut[:19]}'")[0][0]
    before = case.rows(f"SELECT count(*) FROM windows WHERE Computer LIKE '{b['name']}.%'")[0][0]
    assert late == 0 and before > 0


def test_episodes_have_their_own_truth(small: tuple[Path, dict], small_case: tuple) -> None:
    _, truth = small
    _, case = small_case
    ep = truth["episodes"]
    assert set(ep) == set(EPISODES)
    assert all(len(e["records"]) > 0 for e in ep.values())
    assert ep["beacon"]["connections"] > 4000 and ep["ddos"]["flow_records"] >= 5_000
    assert set(ep["salt-typhoon"]["techniques"]) >= {"local_account", "acl_change", "gre_tunnel", "packet_capture",
                                                     "snmp_community", "aaa_redirection", "guest_shell",
                                                     "ssh_unusual_port", "logging_disabled", "config_exfiltration"}
    # Kerberoasting: RC4 service tickets from one workstation; DCSync: replication rights used by a user account
    rc4 = case.rows("SELECT count(*) FROM windows WHERE EventID = 4769 AND TicketEncryptionType = '0x17' AND "
                   f"IpAddress = '::ffff:{ep['ad-2020']['workstation']['ip']}'")[0][0]
    assert rc4 == len(ep["ad-2020"]["kerberoasted_accounts"])
    dcsync = case.rows("SELECT count(*) FROM windows WHERE EventID = 4662 AND SubjectUserName = 'svc_backup' "
                      "AND Properties LIKE '%1131f6ad-9c07-11d1-f79f-00c04fc2dcd2%'")[0][0]
    assert dcsync == 1
    # the router's own lines stop while its logging host is removed
    sil = ep["salt-typhoon"]["logging_silenced"]
    during = case.rows(f"SELECT count(*) FROM syslog WHERE host = 'wan-rtr01' AND ts > TIMESTAMP '{sil['from'][:19]}'"
                      f" AND ts < TIMESTAMP '{sil['to'][:19]}'")[0][0]
    assert during == 0
    flows = case.rows("SELECT count(*) FROM flow WHERE dst_ip = '198.51.100.200'")[0][0]
    assert flows > ep["ddos"]["flow_records"]  # the attack plus ordinary payments


def test_hard_negatives_are_written(small: tuple[Path, dict]) -> None:
    _, truth = small
    counts = truth["hard_negatives"]["counts_by_tag"]
    assert set(counts) == set(truth["hard_negatives"]["descriptions"])
    assert counts["benign:nightly_export"] >= 54 * 4 and counts["benign:offsite_backup"] > 0


def test_inventory_describes_the_snapshot(small: tuple[Path, dict]) -> None:
    out, _ = small
    inv = yaml.safe_load((out / "inventory.yaml").read_text(encoding="utf-8"))
    assert inv["version"] == 1 and inv["database"] == "orders"
    assert inv["subjects"]["organization"]["key"] == "customer_id"
    for ds in inv["datasets"]:
        names = pq.read_schema(out / "snapshot" / f"{ds['table']}.parquet").names
        assert list(ds["columns"]) == names and ds["subject_key"] in names
        assert all(re.fullmatch(r"[a-z_]+", c) for cats in ds["columns"].values() for c in cats)
    rule = inv["exclusions"][0]
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_parquet('{out}/snapshot/{rule['table']}.parquet') "
                    f"WHERE {rule['where']}").fetchone()[0]
    assert n > 0


def test_inventory_loads_with_the_scoping_loader(small: tuple[Path, dict]) -> None:
    """The inventory is shared with the `scope` command: its own loader must accept the file."""
    loader = pytest.importorskip("breachscope.model.inventory")
    out, _ = small
    inv = loader.load_inventory(out / "inventory.yaml")
    assert [d.table for d in inv.datasets] == ["customers", "contracts", "contacts", "service_usage", "orders"]
    assert [e.name for e in inv.exclusions] == ["docomo_provided_mobile"]


def test_out_folder_is_not_clobbered(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    from breachscope.model.errors import UsageError

    with pytest.raises(UsageError):
        run(SimConfig(out=tmp_path, **SMALL))  # type: ignore[arg-type]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_cli_simulate(tmp_path: Path) -> None:
    from breachscope.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x"), "--events", "5000", "--customers", "1000",
                              "--jobs", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["organizations"] == round(17_891 * 1000 / 60_000)
    bad = runner.invoke(app, ["simulate", "--out", str(tmp_path / "y"), "--episodes", "nope"])
    assert bad.exit_code != 0 and not (tmp_path / "y").exists()
    assert parse_episodes("ddos, beacon,ddos") == ("ddos", "beacon") and parse_episodes("all") == EPISODES


def test_slices_bound_memory_at_any_volume() -> None:
    for n in (10**4, 10**6, 10**8):
        slices = plan_slices(n, "office")
        assert sum(s.count for s in slices) == n
        assert max(s.count for s in slices) <= 50_000


# --- formats -------------------------------------------------------------------------------------------------
def test_vectorized_writers_match_the_scalar_ones() -> None:
    import pyarrow as pa

    values = ["a", "a,b", 'say "hi"', "line1\nline2", "", "株式会社テスト", "x\r"]
    for v in values:
        assert P.param_field_arr([pa.array([v]), pa.array(["1"])])[0].as_py() == P.param_field([v, "1"])
        assert P.csv_field_arr(pa.array([v]))[0].as_py() == P.csv_field(v)
    assert P.param_field([None, "2"]) == '",2"' and P.param_field([]) == "<none>"
    assert P.param_field(None) == "<not logged>"
    assert P.statement_field("SELECT a,\n b") == '"SELECT a,\n\t b"'
    out = fill(["C:\\{u}\\x{n}", "{n}-{u}"], np.array([1, 0, 1]), {"u": pa.array(["a", "b", "c"]),
                                                                    "n": pa.array(["1", "2", "3"])})
    assert out.to_pylist() == ["1-a", "C:\\b\\x2", "3-c"]
    assert json_escape('C:\\a "b"') == 'C:\\\\a \\"b\\"'


# --- a real PostgreSQL with pgAudit ------------------------------------------------------------------------------
_MASKS = [
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} JST \[\d+\] "), "<ts> [<pid>] "),
    (re.compile(r"@\S+ \S+\(\d+\) "), "@<db> <client> "),
    (re.compile(r"host=\S+ port=\d+"), "host=<client>"),
    (re.compile(r"database=\S+"), "database=<db>"),
    (re.compile(r"session time: \d+:\d\d:\d\d\.\d{3}"), "session time: <t>"),
]


def _mask(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, repl in _MASKS:
            line = pattern.sub(repl, line)
        out.append(line)
    return out


def _entries_of_pid(text: str, pid: int) -> list[str]:
    """The lines of one backend (continuation lines follow their entry)."""
    out: list[str] = []
    keep = False
    for line in text.split("\n"):
        if line.startswith("\t"):
            if keep:
                out.append(line)
            continue
        keep = f" [{pid}] " in line[:40]
        if keep:
            out.append(line)
    return out


class RealServer:
    """A database loaded from the simulator's dump, with the simulated roles."""

    ROLES = ("app_order", "batch_export", "bi_reader", "backup")

    def __init__(self, server: object, dump: Path, name: str) -> None:
        self.s = server
        self.db = name
        server.psql(f"CREATE DATABASE {name}")  # type: ignore[attr-defined]
        res = subprocess.run([str(server.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",  # type: ignore[attr-defined]
                              "-p", str(server.port), "-U", "postgres", "-d", name, "-f", str(dump)],  # type: ignore[attr-defined]
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        for role in self.ROLES:
            server.psql(f"DO $$BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$; "  # type: ignore[attr-defined]
                        f"GRANT SET ON PARAMETER log_disconnections TO {role}; "
                        f"ALTER ROLE {role} SET pgaudit.log_catalog = off; ALTER ROLE {role} SET timezone = "
                        "'Asia/Tokyo'")
            server.psql(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}", db=name)  # type: ignore[attr-defined]

    def log(self) -> str:
        return Path(self.s.log).read_text(encoding="utf-8")  # type: ignore[attr-defined]

    def script_session(self, user: str, app: str, statements: list[tuple[str, list | None]]) -> int:
        """Extended protocol with bind parameters (what Npgsql and psycopg send)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.s.port, user=user, dbname=self.db,  # type: ignore[attr-defined]
                             application_name=app, options="-c log_disconnections=on", autocommit=True) as c:
            pid = c.info.backend_pid
            for sql, params in statements:
                if sql.startswith("COPY"):
                    with c.cursor().copy(sql) as cp:
                        for _ in cp:
                            pass
                    continue
                cur = c.execute(re.sub(r"\$\d+", "%s", sql.replace("%", "%%")), params or None)
                if cur.description:
                    cur.fetchall()
        return pid

    def attacker_session(self, stmts: list[dict], tmp: Path, user: str = "app_order") -> int:
        """One of the attacker's sessions (the truth's statements) sent again, as psql or as the script did;
        the backend's pid."""
        before = len(self.log())
        if stmts[0]["application"] == "psql":
            script = "\n".join(s["sql"] if not s["sql"].startswith("COPY  ( ") else
                               "\\copy (" + s["sql"][len("COPY  ( "):s["sql"].rindex(" ) TO STDOUT")] +
                               f") to '{tmp / 'out.csv'}' csv header" for s in stmts) + "\n"
            self.psql_session(user, "psql", script, tmp)
            return int(re.search(r"\[(\d+)\] \[unknown\]@\[unknown\]", self.log()[before:]).group(1))  # type: ignore[union-attr]
        return self.script_session(user, stmts[0]["application"], [(s["sql"], s["params"]) for s in stmts])

    def psql_session(self, user: str, app: str, script: str, tmp: Path) -> None:
        f = tmp / "session.sql"
        f.write_text(script, encoding="utf-8")
        env = {**os.environ, "PGAPPNAME": app, "PGOPTIONS": "-c log_disconnections=on"}
        res = subprocess.run([str(self.s.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",  # type: ignore[attr-defined]
                              "-p", str(self.s.port), "-U", user, "-d", self.db, "-f", str(f)],  # type: ignore[attr-defined]
                             capture_output=True, text=True, env=env, cwd=tmp, timeout=120)
        assert res.returncode == 0, res.stderr


def test_pgaudit_lines_match_a_real_server(pg_server: object, small: tuple[Path, dict], small_case: tuple,
                                           tmp_path: Path) -> None:
    out, truth = small
    _, case = small_case
    real = RealServer(pg_server, out / "snapshot" / "orders.sql", "sim_realism")
    compared = attacker_sessions_as_logged(real, out, truth, tmp_path)
    assert compared > 30
    # ordinary statements: each template as the noise wrote it, replayed with the parameters it logged
    for t in APP_TEMPLATES:
        rows = case.rows("SELECT src_file, src_record, parameters FROM db_audit WHERE statement = ? AND "
                         "application_name = 'order-api' ORDER BY src_file, src_record LIMIT 1", [t.sql])
        assert rows, t.name
        row = rows[0]
        path, line, params = row
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        start = line - 1
        end = start + 1
        while end < len(lines) and (lines[end].startswith("\t") or
                                    (t.sql.split("\n")[0] in lines[end] and len(t.relations) > 1)):
            end += 1
        simulated = [x for x in lines[start:end] if "AUDIT" in x or x.startswith("\t")]
        before = len(real.log())
        pid = real.script_session("app_order", "order-api", [(t.sql, list(params))])
        _wait_disconnect(real, pid)
        logged = [x for x in _entries_of_pid(real.log()[before:], pid) if "AUDIT" in x or x.startswith("\t")]
        sid = re.compile(r"AUDIT: SESSION,\d+,")
        assert [sid.sub("AUDIT: SESSION,<n>,", x) for x in _mask(simulated)] == \
            [sid.sub("AUDIT: SESSION,<n>,", x) for x in _mask(logged)], t.name
    # scheduled readers: the nightly export, a BI report and the backup's COPY, as sessions
    from breachscope.simulate.dbqueries import BI_REPORTS, NIGHTLY_EXPORT

    t0 = START + 3600 * 10**6
    for user, app, stmt in (("batch_export", "order-export", PgStatement(t0, NIGHTLY_EXPORT.sql,
                                                                         NIGHTLY_EXPORT.relations, copy=True)),
                            ("bi_reader", "bi-report", PgStatement(t0, BI_REPORTS[0].sql, BI_REPORTS[0].relations,
                                                                   ["2025-01-01"])),
                            ("backup", "pg_dump", PgStatement(t0, "COPY public.contacts (contact_id, customer_id, "
                                                              "contact_name) TO stdout;", ("public.contacts",)))):
        before = len(real.log())
        pid = real.script_session(user, app, [(stmt.sql, list(stmt.params or []))])
        _wait_disconnect(real, pid)
        logged = _entries_of_pid(real.log()[before:], pid)
        sim = PgSession("127.0.0.1", 1, user, app, pid, t0 - 10, t0 + 10, [stmt], database="sim_realism")
        assert _mask([x for _, text, _ in sim.lines() for x in text.rstrip("\n").split("\n")]) == _mask(logged)


def attacker_sessions_as_logged(real: RealServer, out: Path, truth: dict, tmp_path: Path) -> int:
    """Each of the truth's attacker sessions, sent again to the real server, logs the lines the simulator wrote
    (masked: times, pids, clients, database); the number of lines compared."""
    evidence: dict[str, str] = {}
    sessions: dict[int, list[dict]] = {}
    for st in truth["database"]["statements"]:
        sessions.setdefault(st["session"], []).append(st)
    compared = 0
    for _, stmts in sorted(sessions.items()):
        file = stmts[0]["records"][0]["file"]
        evidence.setdefault(file, (out / file).read_text(encoding="utf-8"))
        simulated = _entries_of_pid(evidence[file], stmts[0]["pid"])
        before = len(real.log())
        pid = real.attacker_session(stmts, tmp_path)
        _wait_disconnect(real, pid)
        logged = _entries_of_pid(real.log()[before:], pid)
        assert _mask(simulated) == _mask(logged), f"session {stmts[0]['session']}"
        compared += len(logged)
    return compared


def _wait_disconnect(real: RealServer, pid: int) -> None:
    """The backend writes its disconnection line as it exits, just after the client has gone."""
    import time

    deadline = time.monotonic() + 120  # generous: the event, not a speed, is what we wait for
    while not any(f"[{pid}]" in x and "disconnection" in x for x in real.log().split("\n")):
        assert time.monotonic() < deadline, f"backend {pid} never logged its disconnection"
        time.sleep(0.02)


def test_sql_dump_loads_into_postgresql(pg_server: object, small: tuple[Path, dict]) -> None:
    out, _ = small
    RealServer(pg_server, out / "snapshot" / "orders.sql", "sim_dump")
    for t in ("customers", "contracts", "contacts", "service_usage", "orders"):
        n = int(pg_server.psql(f"SELECT count(*) FROM {t}", db="sim_dump"))  # type: ignore[attr-defined]
        assert n == pq.read_metadata(out / "snapshot" / f"{t}.parquet").num_rows > 0
    got = pg_server.psql("SELECT company_name, postal_code, corporate_number, created_at FROM customers "  # type: ignore[attr-defined]
                         "ORDER BY customer_id LIMIT 1", db="sim_dump").strip().split("|")
    first = pq.read_table(out / "snapshot" / "customers.parquet").slice(0, 1).to_pylist()[0]
    assert got[:3] == [first["company_name"], first["postal_code"], first["corporate_number"]]

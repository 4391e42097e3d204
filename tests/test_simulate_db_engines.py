"""The order database on each engine (scenario `network.database`): PostgreSQL with pgAudit, MySQL's general
query log, MariaDB's server_audit. The same scenario is simulated on each; its database log ingests with no
reject, every row is attributed (user, client, session, time), the lines have the shapes of real servers'
lines (regular expressions made from the real samples, not from the writers), `investigate` then `scope`
give exactly the truth's subjects, and a statement with quotes, line breaks and non-ASCII text survives the
writer and the reader."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from breachscope.ingest.pipeline import ingest
from breachscope.simulate.network import build as build_network
from breachscope.simulate.scenario_file import load_scenario
from breachscope.simulate.scenarios import shipped
from breachscope.simulate.story import PgSession, PgStatement, Story
from tests.simcase import Replay, affected_organizations, replay

FIXTURES = Path(__file__).parent / "fixtures"
MYSQL_SAMPLE = FIXTURES / "mysql_general" / "general_mysql8.log"
MARIADB_SAMPLE = Path("/work/shared/datasets/db-audit-samples/mariadb-server_audit/server_audit.result.audit_lines.csv")
#: PostgreSQL (the default) is replayed end to end by test_scenarios_shipped.py (ntt-2025) and the golden test
ENGINES = ("mysql", "mariadb")


def scenario_on(engine: str, folder: Path) -> Path:
    """The built-in scenario with its database on `engine` (the network section's `database:`)."""
    text = shipped()["ntt-2025"].read_text(encoding="utf-8")
    text = text.replace("name: ntt-2025", f"name: ntt-on-{engine}", 1)
    text, n = re.subn(r"(?m)^(  admin_ssh_source: .*)$", rf"\1\n  database: {engine}", text, count=1)
    assert n == 1
    path = folder / f"ntt-on-{engine}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class OnEngine:
    """The scenario replayed with its database on `engine`, and the database log files it wrote."""
    engine: str
    replay: Replay
    db_files: list[Path]


@pytest.fixture(scope="module", params=ENGINES)
def replayed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> OnEngine:
    root = tmp_path_factory.mktemp(request.param)
    r = replay(root, str(scenario_on(request.param, root)), events=5_000, seed=11, customers=2_000)
    db_files = sorted((r.sim / "evidence" / "db").rglob("*"))
    return OnEngine(request.param, r, [f for f in db_files if f.is_file()])


def _db_rows(case: Path) -> list[dict[str, Any]]:
    path = str(case / "events" / "db_audit" / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        return con.sql(f"SELECT dialect, \"user\", src_ip, session_id, ts, statement FROM read_parquet('{path}', "
                       "union_by_name = true)").to_arrow_table().to_pylist()
    finally:
        con.close()


def test_the_database_log_ingests_with_every_row_attributed(replayed: OnEngine) -> None:
    s, truth = replayed.replay.summary, replayed.replay.truth
    assert s.rejected == 0, [f for f in s.files if f.rejected]
    rows = _db_rows(replayed.replay.case)
    dialect = {"mysql": "mysql_general", "mariadb": "mariadb_audit"}[replayed.engine]
    assert {r["dialect"] for r in rows} == {dialect}
    assert len(rows) > 300
    unattributed = [r for r in rows if not (r["user"] and r["src_ip"] and r["session_id"] and r["ts"])]
    assert not unattributed, unattributed[:3]
    # the attacker's sessions are there under their ids, with their statements
    sessions = set(truth["investigation_inputs"]["database_sessions"])
    attack = [r for r in rows if r["session_id"] in sessions and r["statement"]]
    assert len(attack) == len(truth["database"]["statements"])


def test_the_investigation_and_scope_find_exactly_the_truth(replayed: OnEngine) -> None:
    truth, inc = replayed.replay.truth, replayed.replay.incident
    assert set(inc.suspects.sessions) == set(truth["investigation_inputs"]["database_sessions"])
    confirmed, potential = affected_organizations(replayed.replay.case)
    assert confirmed == set(map(str, truth["affected"]["organizations"]))
    assert potential == set(map(str, truth["affected"]["potential"]["organizations"]))
    assert potential  # the LIMIT without ORDER BY leaves some organizations potential on every engine


def test_the_statements_are_in_the_engines_dialect(replayed: OnEngine) -> None:
    statements = replayed.replay.truth["database"]["statements"]
    sql = "\n".join(s["sql"] for s in statements)
    # MySQL clients put the values in the text; no COPY (the exports are the mysql client's batch output)
    assert "$1" not in sql and "COPY" not in sql and not any(s["params"] for s in statements)
    assert re.search(r"LIMIT \d+ OFFSET \d+", sql) and "current_user()" in sql
    assert all(not s["sql"].endswith(";") for s in statements)  # the mysql client drops the delimiter


# --- the lines have the shapes of the real servers' lines ------------------------------------------------------
def _generalize(real: str) -> str:
    """A regular expression from a real line: digit runs match any digits, space runs any spaces, the rest
    literally (so command names, separators and their order must be the same)."""
    out = []
    for m in re.finditer(r"\d+| +|[^\d ]+", real):
        tok = m.group()
        out.append(r"\d+" if tok.isdigit() else (" +" if tok.startswith(" ") else re.escape(tok)))
    return "".join(out)


def _mysql_shapes() -> dict[str, re.Pattern[str]]:
    """One pattern per command from the real log: the time, the id column, the command, the argument's
    layout (Connect: user@address on db using <transport>; Query: any text; Quit: nothing)."""
    shapes: dict[str, re.Pattern[str]] = {}
    for line in MYSQL_SAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(\S+)\t( *\d+ )(Connect|Query|Quit)\t(.*)$", line)
        if not m or m.group(3) in shapes or (m.group(3) == "Connect" and "@10." not in line):
            continue
        time, _, command, argument = m.groups()
        arg = {"Query": ".*", "Quit": ""}.get(command)
        if arg is None:  # app@10.0.0.5 on shop using TCP/IP: names and addresses generalized, words kept
            arg = _generalize(argument).replace("app", r"[\w.-]+").replace("shop", r"\w+")
            arg = arg.replace(re.escape("TCP/IP"), "(?:TCP/IP|SSL/TLS)")
        shapes[command] = re.compile(_generalize(time) + r"\t(?= *\d+ )[ \d]{5,} " + re.escape(command) + r"\t"
                                     + arg + r"$")
    assert set(shapes) == {"Connect", "Query", "Quit"}
    return shapes


def _mariadb_shapes() -> dict[str, re.Pattern[str]]:
    """One pattern per operation from the real (test-suite) log, its masks put back as what they hide:
    TIME the plugin's `%04d%02d%02d %02d:%02d:%02d`, HOSTNAME a host name, ID a number."""
    shapes: dict[str, re.Pattern[str]] = {}
    for line in MARIADB_SAMPLE.read_text(encoding="utf-8").splitlines():
        f = line.split(",", 8)
        op = f[6]
        if op in shapes or op not in ("CONNECT", "DISCONNECT", "READ", "WRITE", "QUERY") or not f[7]:
            continue
        head = [r"\d{8} \d\d:\d\d:\d\d", r"[\w-]+", r"[\w.-]+", r"[\d.]+", r"\d+", "0" if f[5] == "0" else r"\d+",
                op, r"\w+"]
        if op == "QUERY":
            tail = r"'(?:[^'\\\n]|\\.)*'," + ("0" if f[8].endswith(",0") else r"\d+")
        elif op in ("CONNECT", "DISCONNECT"):
            tail = re.escape(f[8])  # ",0": no object, status 0
        else:
            tail = r"\w+,"  # the table, no return code
        shapes[op] = re.compile("^" + ",".join(head) + "," + tail + "$")
    assert set(shapes) == {"CONNECT", "DISCONNECT", "READ", "WRITE", "QUERY"}
    return shapes


def _records(path: Path, engine: str) -> list[str]:
    """The file's records, header and continuation lines of multi-line statements joined back."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    if engine == "mariadb":
        return lines[:-1]
    out: list[str] = []
    for line in lines[3:-1]:  # after the header
        if re.match(r"^\d{4}-\d\d-\d\dT", line):
            out.append(line)
        else:
            assert out and out[-1].split("\t")[1].endswith(" Query"), line  # only a statement goes on
            out[-1] += "\n" + line
    return out


def test_the_lines_have_the_real_servers_shapes(replayed: OnEngine) -> None:
    engine = replayed.engine
    files = replayed.db_files
    assert files
    if engine == "mysql":
        shapes = _mysql_shapes()
        header = MYSQL_SAMPLE.read_text(encoding="utf-8").splitlines()[:3]
        head_shape = [re.compile(_generalize(h).replace(re.escape("(MySQL Community Server - GPL)"), r"\(.*\)"))
                      for h in header]
        assert {f.name for f in files} >= {"mysql.log", "mysql.log-20250205"}
    else:
        shapes = _mariadb_shapes()
        assert {f.name for f in files} >= {"server_audit.log", "server_audit.log-20250205"}
    kinds: set[str] = set()
    for f in files:
        if engine == "mysql":  # each file starts with the header the server writes when it opens the log
            first = f.read_text(encoding="utf-8").splitlines()[:3]
            assert all(p.fullmatch(h) for p, h in zip(head_shape, first, strict=True)), (f, first)
        for rec in _records(f, engine):
            kind = rec.split("\t")[1].split()[-1] if engine == "mysql" else rec.split(",", 8)[6]
            assert kind in shapes, (f.name, rec[:200])
            assert shapes[kind].match(rec.split("\n")[0] if kind == "Query" else rec), (f.name, rec[:300])
            kinds.add(kind)
    assert kinds == set(shapes)


# --- one statement through the writer and the reader -----------------------------------------------------------
AWKWARD = ("SELECT c.company_name, 'O''Brien \\\\ \"x\"' AS tag\n  FROM customers c\n"
           " WHERE c.address LIKE '%東京都%'\tAND c.company_name <> 'it''s'")


@pytest.mark.parametrize("engine", ["mysql", "mariadb"])
def test_an_awkward_statement_survives_the_writer_and_the_reader(engine: str, tmp_path: Path) -> None:
    spec = load_scenario("ntt-2025").network.model_copy(update={"database": engine})
    net = build_network(spec, 1, 8_000)
    story = Story(net, __import__("numpy").random.default_rng(1))
    t0 = 1_738_700_000_000_000
    story.pg(PgSession("10.0.0.5", 50_001, "app_user", "-", 4711, t0, t0 + 9_000_000,
                       [PgStatement(t0 + 1_000_000, AWKWARD, ("public.customers",), ref="x")]), "attack:db_query")
    key = next(iter(story.records))
    text = "".join(r.text for r in sorted(story.records[key], key=lambda r: r.ts))
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / ("mysql.log" if engine == "mysql" else "server_audit.log")).write_text(
        (_mysql_header() if engine == "mysql" else "") + text, encoding="utf-8")
    summary = ingest([str(folder)], tmp_path / "case", jobs=1)
    assert summary.rejected == 0
    rows = [r for r in _db_rows(tmp_path / "case") if r["statement"]]
    assert len(rows) == 1 and rows[0]["user"] == "app_user" and rows[0]["src_ip"] == "10.0.0.5"
    assert rows[0]["session_id"] == "4711"
    # the general log keeps the text as sent; server_audit writes a line break or tab as a space
    expected = AWKWARD if engine == "mysql" else re.sub(r"[\r\n\t]", " ", AWKWARD)
    assert rows[0]["statement"] == expected


def _mysql_header() -> str:
    return "".join(line + "\n" for line in MYSQL_SAMPLE.read_text(encoding="utf-8").splitlines()[:3])

"""Fuzzing harness shared by tests/test_fuzz.py (CI: hypothesis, bounded) and bench/fuzz_bench.py (>= 10^6
executions: atheris). It drives mutated evidence through the real ingest path and mutated SQL through
scope's statement parser and rewrite, and says what counts as a failure:

- a traceback: any exception out of `ingest` that is not a BreachscopeError, and any exception a reader
  raised (the worker turns those into "reading stopped: <Type>" rejects: a reader bug, not a clear error);
  any exception out of statement_body / literal_tokens / parse_statement / Replayer.plan;
- a write outside the case: an audit hook sees every file Python opens for writing, renames, removes or
  creates while the ingest runs (C-level writes are caught by the bench's empty cwd/TMPDIR/HOME checks);
- a case that does not add up: rows in the tables + rows in `rejects` must be what the manifest counts.

Inputs come from tests/fuzz_corpus/<reader name>/ (seeds per registered reader, plus `archive/` and
`sql/`), see tests/fuzz_corpus/README.md.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from breachscope.ingest.context import IngestOptions, ReadContext, SourceInfo
from breachscope.ingest.pipeline import ingest
from breachscope.ingest.registry import READERS, detect, reader_by_name
from breachscope.ingest.worker import Item, Job, JobRunner, WorkerState
from breachscope.model.case import INGESTED, Part
from breachscope.model.errors import BreachscopeError
from breachscope.model.inventory import load_inventory
from breachscope.scope import sqlparse
from breachscope.scope.backends import DuckDBBackend
from breachscope.scope.replay import Replayer
from breachscope.scope.statements import AuditStatement

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
STORED_GZ = ".stored.gz"  # corpus files kept compressed (EVTX: 68 KiB each, ~2 KiB compressed)
SQL_SEPARATOR = "\n--@@\n"
READER_NAMES = tuple(r.name for r in READERS)
#: File names an input is given: the name only breaks sniffing ties; hostile ones check it is never a path.
FILE_NAMES = ("input.log", "conn.log", "dns.log", "Security.evtx", "events.json", "flows.csv", "capture.binetflow",
              "postgresql.csv", "server_audit.log", "general.log", "audit.json", "x.zip", "x.tar.gz", "x.gz",
              "../../escape.log", "a;rm -rf ~.log", "\u202eexe.txt", "日本語.log", "-rf", "nul\\x.log")
MAX_INPUT = 256 << 10


# --- corpus --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seed:
    folder: str  # a registered reader's name, or "archive"
    name: str
    data: bytes


def reader_seeds() -> list[Seed]:
    out = []
    for d in sorted(p for p in CORPUS.iterdir() if p.is_dir() and p.name != "sql"):
        for f in sorted(d.iterdir()):
            if not f.is_file() or f.name.startswith(("LICENSE", "README")):
                continue
            data = f.read_bytes()
            name = f.name
            if name.endswith(STORED_GZ):
                data, name = gzip.decompress(data), name[: -len(STORED_GZ)]
            out.append(Seed(d.name, name, data))
    return out


def sql_seeds() -> list[tuple[str, str]]:
    """(sqlglot dialect, statement) pairs."""
    out = []
    for f in sorted((CORPUS / "sql").glob("*.sql")):
        dialect = "mysql" if f.stem == "mysql" else "postgres"
        out += [(dialect, s.strip()) for s in f.read_text(encoding="utf-8").split(SQL_SEPARATOR) if s.strip()]
    return out


# --- mutation (hypothesis draws the operations, so failures shrink; the bench also uses atheris) ---------

TOKENS = (b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\r", b"\n", b"\r\n", b"\t", b'"', b"'", b"\\", b",", b";",
          b"{", b"}", b"[", b"]", b":", b"=", b"%", b"-", b"#", b"#fields\t", b"#types\t", b"#separator ",
          b"(empty)", b"<", b">", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x80\xae", b"\x1b[31m", b"\x85",
          "\u2028".encode(),
          b"9" * 40, b"-9223372036854775809", b"1e999", b"NaN", b"-0", b"0x", b"1970-01-01T00:00:00Z",
          b"9999-12-31 23:59:59.999999 JST", b"0000-00-00 00:00:00", b"Feb 30 25:61:61", b"::ffff:300.1.1.1",
          b"AUDIT: SESSION,1,1,READ,SELECT,,,", b'"Event":{"System":', b"\\u0000", b"\\ud800", b"%%14592",
          b"$1", b"E'\\x", b"A" * 5000)

Op = tuple[str, float, int, int]  # kind, position (fraction of the length), size/index, byte value


def mutate(data: bytes, ops: list[Op], others: list[bytes] | None = None) -> bytes:
    """Apply byte and token mutations; positions are fractions so that they fit any seed."""
    buf = bytearray(data)
    for kind, where, size, value in ops:
        pos = int(where * (len(buf) + 1)) if buf else 0
        pos = min(pos, len(buf))
        if kind == "set" and buf:
            buf[min(pos, len(buf) - 1)] = value & 0xFF
        elif kind == "insert":
            buf[pos:pos] = bytes([value & 0xFF]) * max(1, size % 64)
        elif kind == "delete":
            del buf[pos:pos + size]
        elif kind == "repeat":
            chunk = bytes(buf[pos:pos + max(1, size % 512)])
            buf[pos:pos] = chunk * (1 + value % 16)
        elif kind == "token":
            buf[pos:pos] = TOKENS[value % len(TOKENS)]
        elif kind == "truncate":
            del buf[pos:]
        elif kind == "splice" and others:
            other = others[value % len(others)]
            start = int(where * len(other))
            buf[pos:pos] = other[start:start + size]
        elif kind == "lines":  # swap two lines: records out of order, headers after data
            lines = bytes(buf).split(b"\n")
            if len(lines) > 2:
                i, j = size % len(lines), value % len(lines)
                lines[i], lines[j] = lines[j], lines[i]
                buf = bytearray(b"\n".join(lines))
        if len(buf) > MAX_INPUT:
            del buf[MAX_INPUT:]
    return bytes(buf)


def random_ops(rnd: random.Random, n: int) -> list[Op]:
    kinds = ("set", "insert", "delete", "repeat", "token", "truncate", "splice", "lines")
    weights = (6, 2, 3, 2, 6, 1, 2, 2)
    return [(rnd.choices(kinds, weights)[0], rnd.random(), rnd.randrange(1 << 12), rnd.randrange(1 << 16))
            for _ in range(n)]


# --- writes outside the case -----------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: audit event -> (index of a path it changes, index of the dir_fd that path is relative to, or -1)
_PATH_EVENTS: dict[str, tuple[tuple[int, int], ...]] = {
    "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),), "os.rename": ((0, 2), (1, 3)),
    "os.link": ((1, 3),), "os.symlink": ((1, 2),), "os.truncate": ((0, -1),), "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),), "os.utime": ((0, 3),), "shutil.rmtree": ((0, 1),), "shutil.copyfile": ((1, -1),),
    "shutil.move": ((0, -1), (1, -1)),
}


class Unraisable:
    """Exceptions Python could not raise (in a C callback, a __del__) print a traceback on the user's
    stderr: collected while an execution runs, they make it fail."""

    seen: ClassVar[list[str]] = []
    _installed = False

    @classmethod
    def install(cls) -> None:
        if not cls._installed:
            cls._installed = True
            sys.unraisablehook = cls._hook

    @classmethod
    def _hook(cls, u: Any) -> None:
        where = getattr(u.object, "__qualname__", repr(u.object))[:80]
        cls.seen.append(f"{type(u.exc_value).__name__} in {where}: {u.exc_value}")


class WriteGuard:
    """Records every Python-level write outside the allowed folder while active (sys.addaudithook cannot
    be removed: one guard per process, switched on and off)."""

    _installed: WriteGuard | None = None

    def __init__(self) -> None:
        self.allowed: str | None = None
        self.violations: list[str] = []

    @classmethod
    def get(cls) -> WriteGuard:
        if cls._installed is None:
            cls._installed = WriteGuard()
            sys.dont_write_bytecode = True  # imports inside the run must not count as writes
            sys.addaudithook(cls._installed._hook)
        return cls._installed

    def _outside(self, path: Any, dir_fd: Any = None) -> bool:
        if isinstance(path, int) or path is None or self.allowed is None:
            return False
        p = os.fsdecode(path)
        if isinstance(dir_fd, int) and not os.path.isabs(p):  # shutil.rmtree works relative to open folders
            p = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), p)
        p = os.path.abspath(p)
        return not (p == self.allowed or p.startswith(self.allowed + os.sep))

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.allowed is None:
            return
        if event == "open":
            path, mode, flags = args
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
            targets = [(path, None)] if writing else []
        elif event in _PATH_EVENTS:
            targets = [(args[i], args[fd] if 0 <= fd < len(args) else None)
                       for i, fd in _PATH_EVENTS[event] if i < len(args)]
        else:
            return
        bad = [p for p, fd in targets if self._outside(p, fd)]
        if bad:
            self.violations.append(f"{event} {bad}")
            raise PermissionError(f"fuzz guard: {event} outside the case: {bad}")

    def watch(self, allowed: Path) -> _Watching:
        return _Watching(self, str(allowed.resolve()))


class _Watching:
    def __init__(self, guard: WriteGuard, allowed: str) -> None:
        self.guard, self.allowed = guard, allowed

    def __enter__(self) -> WriteGuard:
        Unraisable.install()
        Unraisable.seen.clear()
        self.guard.allowed = self.allowed
        return self.guard

    def __exit__(self, *exc: object) -> None:
        self.guard.allowed = None


# --- one evidence input ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one execution gave: a failure (with its signature for de-duplication) or counts."""

    failure: str | None = None
    signature: str | None = None
    status: str | None = None
    format: str | None = None
    records: int = 0
    rejected: int = 0
    details: list[str] = field(default_factory=list)


def _signature(exc: BaseException) -> str:
    """Type and innermost project frame: one bug, one signature, whatever input triggered it."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "breachscope" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def reader_traceback(path: Path, display: str, reader_name: str, options: IngestOptions) -> tuple[str, str]:
    """Run the reader alone on the input to get the traceback the worker turned into a reject."""
    reader = reader_by_name(reader_name)
    assert reader is not None
    ctx = ReadContext(source=SourceInfo(display=display, path=path, sha256="0" * 64, size=path.stat().st_size,
                                        mtime=0.0), options=options)
    try:
        for _ in reader.read(ctx):
            pass
    except Exception as exc:
        return _signature(exc), "".join(traceback.format_exception(exc))
    return f"{reader_name}: error not reproduced alone", ""


def _guard_failed(guard: WriteGuard, before: int, out: Outcome) -> bool:
    if len(guard.violations) > before:
        out.failure, out.signature = f"wrote outside the case: {guard.violations[before:]}", "write outside"
    elif Unraisable.seen:
        out.failure = f"traceback printed on stderr: {Unraisable.seen}"
        out.signature = "unraisable " + Unraisable.seen[0].split(":", 1)[0]
    return out.failure is not None


def _check_entries(files: list[Any], work: Path, src: Path, options: IngestOptions, out: Outcome) -> None:
    for entry in files:
        out.details.append(f"{entry.path}: {entry.status} {entry.format} {entry.records} rows {entry.rejected} "
                           f"rejects {entry.error or ''}")
        stopped = [r for r in entry.rejects_by_reason if r.startswith("reading stopped")]
        if entry.status == INGESTED and (entry.error or stopped):
            # a reader raised: the worker kept the run going, but that is a bug in the reader
            sig, tb = (reader_traceback(src, entry.path, entry.format, options)
                       if src.exists() and entry.format else (f"reader error {entry.error}", ""))
            out.failure, out.signature = f"reader raised: {entry.error}\n{tb}", sig
            return
    if files:
        first = files[0]
        out.status, out.format = first.status, first.format
        out.records = sum(f.records for f in files)
        out.rejected = sum(f.rejected for f in files)


def run_ingest(data: bytes, name: str, work: Path, forced: str | None = None, verify_case: bool = True) -> Outcome:
    """The real path: `ingest` of one file into a fresh case in `work` (sniffing or --format, archives,
    reading, Parquet parts, manifest), then the case opened and counted."""
    evidence, case = work / "evidence", work / "case"
    evidence.mkdir(parents=True, exist_ok=True)
    src = evidence / (name.replace("/", "_").replace("\\", "_").lstrip(".-") or "input")
    src.write_bytes(data)
    options = IngestOptions(format=forced)
    out = Outcome()
    try:
        with WriteGuard.get().watch(case) as guard:
            before = len(guard.violations)
            try:
                summary = ingest([str(src)], case, options, jobs=1)
            except BreachscopeError as exc:
                out.status, out.details = "error", [str(exc)]
                return out
            except Exception as exc:
                out.failure, out.signature = "".join(traceback.format_exception(exc)), _signature(exc)
                return out
            if _guard_failed(guard, before, out):
                return out
        _check_entries(summary.files, work, src, options, out)
        if out.failure is None and verify_case:
            _verify_case(case, summary.files, out)
        return out
    finally:
        shutil.rmtree(case, ignore_errors=True)
        src.unlink(missing_ok=True)


def _verify_case(case: Path, files: list[Any], out: Outcome) -> None:
    """The committed case reads back: rows per table and rejects are what the manifest says."""
    from breachscope.engines.duckdb_case import open_case

    try:
        with open_case(case) as c:
            tables = {t: c.count(t) for t in c.event_tables}
            rejects = c.scalar("SELECT count(*) FROM rejects") if "rejects" in c.tables else 0
    except Exception as exc:
        out.failure, out.signature = "".join(traceback.format_exception(exc)), "case unreadable: " + _signature(exc)
        return
    expected: dict[str, int] = {}
    for f in files:
        for t, n in f.tables.items():
            expected[t] = expected.get(t, 0) + n
    if {t: n for t, n in tables.items() if n} != {t: n for t, n in expected.items() if n}:
        out.failure, out.signature = f"tables {tables} != manifest {expected}", "case does not add up"
    elif rejects != sum(f.rejected for f in files):
        out.failure, out.signature = f"{rejects} rejects rows != {sum(f.rejected for f in files)}", "rejects count"


class MemoryParts:
    """Stands in for the case's PartWriter in the bench's fast path: every batch is validated as Parquet
    would need it (valid Arrow data, one schema per part) and counted, nothing is encoded."""

    def __init__(self) -> None:
        self.schemas: dict[str, pa.Schema] = {}
        self.rows: dict[str, int] = {}

    def write(self, table: str, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        batch.validate(full=True)
        self.schemas[table] = batch.schema
        self.rows[table] = self.rows.get(table, 0) + batch.num_rows

    def write_rejects(self, source_display: str, sha256: str, rows: list[tuple[str, str, str]]) -> None:
        for r in rows:
            if not all(isinstance(x, str) for x in r):
                raise TypeError(f"reject row with a non-text field: {r!r}")
            r[2].encode("utf-8")  # excerpts must be storable text (no lone surrogates)
        self.rows["rejects"] = self.rows.get("rejects", 0) + len(rows)

    def close_unit(self) -> list[Part]:
        done = [Part(t, f"memory/{t}", n) for t, n in self.rows.items()]
        self.rows = {}
        return done

    def abort(self) -> None:
        self.rows = {}


def run_worker(data: bytes, name: str, work: Path, forced: str | None = None) -> Outcome:
    """The bench's fast path: the ingest worker (sniffing or --format, archive expansion, reader, reject
    accounting) as `ingest` runs it, with batches validated in memory instead of encoded to Parquet."""
    case = work / "case"
    (case / "tmp").mkdir(parents=True, exist_ok=True)
    src = work / "input"
    src.write_bytes(data)
    options = IngestOptions(format=forced)
    display = f"/evidence/{name}"
    out = Outcome()
    item = Item(str(src), display, "0" * 64, len(data), 0.0, True, False)
    runner = JobRunner(WorkerState(case_root=case, options=options, known={}), Job("fuzz", (item,)))
    runner.writer = MemoryParts()  # type: ignore[assignment]
    try:
        with WriteGuard.get().watch(case) as guard:
            before = len(guard.violations)
            try:
                result = runner.run()
            except Exception as exc:
                out.failure, out.signature = "".join(traceback.format_exception(exc)), _signature(exc)
                return out
            if _guard_failed(guard, before, out):
                return out
        _check_entries([f for u in result.units for f in u.files], work, src, options, out)
        return out
    finally:
        shutil.rmtree(case, ignore_errors=True)
        src.unlink(missing_ok=True)


def sniffed(data: bytes, name: str) -> str | None:
    r = detect(data[: 64 * 1024], name)
    return r.name if r else None


# --- one SQL statement -----------------------------------------------------------------------------------

class SqlTarget:
    """scope's statement parser and the rewrite entry (Replayer.plan) over the scope tests' snapshot."""

    COMMANDS = (None, "SELECT", "INSERT", "UPDATE", "DELETE", "COPY", "EXECUTE", "PREPARE", "EXPLAIN", "MISC")

    def __init__(self, work: Path) -> None:
        from tests import scopedata

        snap = scopedata.write_snapshot(work / "snapshot")
        self.inventory = load_inventory(scopedata.write_inventory(work / "inventory.yaml"))
        self.backend = DuckDBBackend(snap)

    def run(self, text: str, dialect: str, command: str | None = None,
            params: tuple[str | None, ...] | None = (), plan: bool = True) -> Outcome:
        out = Outcome()
        Unraisable.install()
        Unraisable.seen.clear()
        try:
            body, _types, _cursor = sqlparse.statement_body(text, dialect)
            sqlparse.literal_tokens(body, dialect)
            parsed = sqlparse.parse_statement(text, dialect, command)
            out.status = parsed.kind
            if plan:  # the rewrite entry: what the replay would run for this statement
                audit_dialect = "pgaudit" if dialect == "postgres" else "mariadb"
                stmt = AuditStatement("s", "audit.log", 1, (), None, "u", "10.0.0.9", "1", "orders", audit_dialect,
                                      command, "READ", text, params, None, None, ())
                plans, outcome = Replayer(self.inventory, self.backend).plan(0, stmt)
                out.records = len(plans)
                out.details = list(outcome.reasons)
        except Exception as exc:
            out.failure, out.signature = "".join(traceback.format_exception(exc)), _signature(exc)
        if out.failure is None and Unraisable.seen:
            out.failure, out.signature = f"traceback printed on stderr: {Unraisable.seen}", "unraisable"
        return out

    def close(self) -> None:
        self.backend.close()


def statements_with_params() -> Iterator[tuple[str, str, tuple[str | None, ...] | None]]:
    for dialect, text in sql_seeds():
        yield dialect, text, ("5", "x", None) if "$" in text or "?" in text else ()

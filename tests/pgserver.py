"""A real PostgreSQL server with pgAudit for tests: initdb in a temporary folder, a free local port,
stderr logging with a log_line_prefix, started for the test session and stopped after it.

Works as root (CI) by running the server as the `postgres` system user the Debian package creates.
Where the binaries are found: $BREACHSCOPE_PG_BINDIR, then `initdb` on PATH, then Debian's
/usr/lib/postgresql/<version>/bin (newest version that has pgaudit). `python3 -m tests.pgserver`
prints the folder used, or what is missing (exit 1): `.ci/system-deps` and `make test` call it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOG_PREFIX = "%m [%p] %q%u@%d %r %a "
BINDIR_ENV = "BREACHSCOPE_PG_BINDIR"
INSTALL_HINT = "as root: `make test` or `.ci/system-deps test` (Debian: postgresql-<version>-pgaudit)"
START_TIMEOUT_S = 300  # generous: a loaded machine may take long, a healthy one returns at once


def _candidates() -> list[Path]:
    """Folders that may hold initdb/pg_ctl, in order of preference."""
    env = os.environ.get(BINDIR_ENV)
    if env:
        return [Path(env)]  # an explicit choice is the only one looked at
    out = []
    found = shutil.which("initdb")
    if found:
        out.append(Path(os.path.realpath(found)).parent)
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    out += [Path(p).parent for p in debian if Path(p).parent not in out]
    return out


def has_pgaudit(bindir: Path) -> bool:
    try:
        libdir = subprocess.run([str(bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True)
    except OSError:
        libdir = None
    candidates = [libdir.stdout.strip()] if libdir is not None and libdir.returncode == 0 else []
    candidates += glob.glob(str(bindir.parent / "lib"))
    return any(Path(d, "pgaudit.so").exists() for d in candidates)


def find_pg() -> tuple[Path | None, str]:
    """(bin folder of a PostgreSQL with pgAudit, "") or (None, what is missing, in words)."""
    bins = [b for b in _candidates() if (b / "initdb").is_file() and (b / "pg_ctl").is_file()]
    if not bins:
        where = os.environ.get(BINDIR_ENV) or "PATH and /usr/lib/postgresql/*/bin"
        return None, f"PostgreSQL server binaries (initdb, pg_ctl) not found in {where}"
    for b in bins:
        if has_pgaudit(b):
            if os.geteuid() == 0:
                try:
                    pwd.getpwnam("postgres")
                except KeyError:
                    return None, "running as root but there is no `postgres` user to run the server as"
            return b, ""
    return None, f"PostgreSQL found ({', '.join(map(str, bins))}) but without the pgAudit extension (pgaudit.so)"


def pg_bin() -> Path | None:
    return find_pg()[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    datadir: Path
    port: int
    log: Path
    user: str = "postgres"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    def psql(self, sql: str, db: str = "postgres", user: str | None = None) -> str:
        out = subprocess.run([str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                              "-p", str(self.port), "-U", user or self.user, "-d", db, "-At", "-c", sql],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def start(base: Path) -> Iterator[PgServer]:
    """Generator for a session fixture: yields a running server, stops it afterwards."""
    bindir, missing = find_pg()
    if bindir is None:
        raise RuntimeError(f"PostgreSQL with pgAudit is needed: {missing}. Install it {INSTALL_HINT}")
    base.mkdir(parents=True, exist_ok=True)
    datadir, log = base / "data", base / "postgresql.log"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        for parent in base.parents:  # the server user must reach its folder
            if str(parent) in ("/", "/tmp"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o711)
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
                                 "--no-sync"]), check=True, capture_output=True)
    conf = datadir / "postgresql.conf"
    with conf.open("a") as fh:
        fh.write(f"\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
                 "shared_preload_libraries = 'pgaudit'\nlog_destination = 'stderr'\nlogging_collector = off\n"
                 f"log_line_prefix = '{LOG_PREFIX}'\nlog_connections = on\nlog_timezone = 'Asia/Tokyo'\n"
                 "pgaudit.log = 'read, write, ddl'\npgaudit.log_parameter = on\npgaudit.log_relation = on\n"
                 "fsync = off\n")
    port = _start_on_free_port(bindir, datadir, log)
    server = PgServer(bindir, datadir, port, log)
    try:
        _wait_ready(server)
        server.psql("CREATE EXTENSION IF NOT EXISTS pgaudit")
        yield server
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
                       capture_output=True)


def _start_on_free_port(bindir: Path, datadir: Path, log: Path, attempts: int = 5) -> int:
    """Start the server on a free port; another process may take the port between our probe and the
    server's bind (tests of several checkouts run side by side), so a bind failure tries another."""
    for _ in range(attempts):
        port = _free_port()
        seen = log.stat().st_size if log.exists() else 0
        res = subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w",
                                           "-t", str(START_TIMEOUT_S), "-o", f"-p {port}", "start"]),
                             capture_output=True, text=True)
        if res.returncode == 0:
            return port
        text = log.read_bytes()[seen:].decode(errors="replace") if log.exists() else ""
        if "could not bind" not in text and "Address already in use" not in text:
            raise RuntimeError(f"PostgreSQL did not start: {res.stderr.strip()}\n{text[-2000:]}")
    raise RuntimeError(f"PostgreSQL did not find a free port in {attempts} attempts")


def _wait_ready(server: PgServer) -> None:
    """pg_ctl -w returns once the server accepts connections; poll until a query answers (deadline)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            server.psql("SELECT 1")
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> int:
    """Print the bin folder used by the tests, or what is missing (exit 1)."""
    bindir, missing = find_pg()
    if bindir is None:
        print(missing)
        return 1
    print(bindir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

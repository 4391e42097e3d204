"""A real PostgreSQL server with pgAudit for tests: initdb in a temporary folder, a free local port,
stderr logging with a log_line_prefix, started for the test session and stopped after it.

Works as root (CI) by running the server as the `postgres` system user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOG_PREFIX = "%m [%p] %q%u@%d %r %a "


def pg_bin() -> Path | None:
    """The folder of initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def has_pgaudit(bindir: Path) -> bool:
    libdir = subprocess.run([str(bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True)
    candidates = [libdir.stdout.strip()] if libdir.returncode == 0 else []
    candidates += glob.glob(str(bindir.parent / "lib"))
    return any(Path(d, "pgaudit.so").exists() for d in candidates)


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
    bindir = pg_bin()
    if bindir is None or not has_pgaudit(bindir):
        raise RuntimeError("PostgreSQL with pgAudit is not installed (.ci/run installs it)")
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
    port = _free_port()
    conf = datadir / "postgresql.conf"
    with conf.open("a") as fh:
        fh.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
                 "shared_preload_libraries = 'pgaudit'\nlog_destination = 'stderr'\nlogging_collector = off\n"
                 f"log_line_prefix = '{LOG_PREFIX}'\nlog_connections = on\nlog_timezone = 'Asia/Tokyo'\n"
                 "pgaudit.log = 'read, write, ddl'\npgaudit.log_parameter = on\npgaudit.log_relation = on\n"
                 "fsync = off\n")
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w", "-t", "60",
                                 "start"]), check=True, capture_output=True)
    server = PgServer(bindir, datadir, port, log)
    try:
        for _ in range(50):
            try:
                server.psql("SELECT 1")
                break
            except RuntimeError:
                time.sleep(0.2)
        server.psql("CREATE EXTENSION IF NOT EXISTS pgaudit")
        yield server
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
                       capture_output=True)

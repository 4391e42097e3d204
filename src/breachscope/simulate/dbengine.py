"""The order database's engine (the scenario's `network.database`): what differs between PostgreSQL with
pgAudit, MySQL with the general query log and MariaDB with the server_audit plugin, as data.

The statements (dbqueries.py, attackdb.py), the log writers (formats/) and the sessions (story.py,
noise/postgres.py) read these facts; nothing else asks which engine it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from breachscope.simulate import clock

EngineName = Literal["postgresql", "mysql", "mariadb"]


@dataclass(frozen=True)
class Engine:
    name: EngineName
    port: int
    sql_dialect: str  # sqlglot's read dialect of the statements as the server logs them
    bind_parameters: bool  # the clients send $1.. with separate values (PostgreSQL), else literals in the text
    records_per_relation: bool  # the log writes a record per table a statement reads (pgAudit, server_audit)
    connect_only_attribution: bool  # only a connection's first line names its user and client (general log)
    client_image: str  # the attacker's command-line client on device A
    dump_tool: str  # the backup job's program (its application name where the log has one)
    log_path: Callable[[str, int], str]  # (server, day index) -> file relative to evidence/


def _day(day: int) -> str:
    return (clock.FIRST_DAY + timedelta(days=day)).isoformat()


def _rotated(name: str) -> Callable[[str, int], str]:
    """logrotate `daily, dateext, dateyesterday`, run at midnight in Asia/Tokyo (a systemd timer whose
    OnCalendar names the zone, whatever the host's clock): each day's file is `name-YYYYMMDD`, the last
    day's (the file the server still writes when the logs are collected) is `name` itself."""
    def path(server: str, day: int) -> str:
        if day >= clock.DAYS - 1:
            return f"db/{server}/{name}"
        return f"db/{server}/{name}-{_day(day).replace('-', '')}"
    return path


POSTGRESQL = Engine("postgresql", 5432, "postgres", True, True, False, "psql.exe", "pg_dump",
                    lambda server, day: f"db/{server}/postgresql-{_day(day)}.log")
#: MySQL 8 writes the general log to general_log_file (Debian: /var/log/mysql/mysql.log); the package's
#: logrotate job rotates it every night and runs `mysqladmin flush-logs`, which reopens it (new header).
MYSQL = Engine("mysql", 3306, "mysql", False, False, True, "mysql.exe", "mysqldump", _rotated("mysql.log"))
#: server_audit writes server_audit.log in the data directory; rotated nightly by the same kind of job
#: (server_audit_file_rotate_size = 0, logrotate with copytruncate).
MARIADB = Engine("mariadb", 3306, "mysql", False, True, False, "mysql.exe", "mariadb-dump",
                 _rotated("server_audit.log"))
ENGINES: dict[str, Engine] = {e.name: e for e in (POSTGRESQL, MYSQL, MARIADB)}


def engine(name: str) -> Engine:
    return ENGINES[name]

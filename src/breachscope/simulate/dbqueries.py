"""The SQL the order system's clients send, with the relations pgAudit names for each statement.

One place for the statement texts, so the noise, the attack, the truth computation and the
realism test against a real PostgreSQL all use the same strings. `relations` is the order in which
pgAudit (log_relation = on) writes one record per table: the order of the FROM list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Template:
    name: str
    sql: str
    relations: tuple[str, ...]
    klass: str = "READ"
    command: str = "SELECT"
    params: tuple[str, ...] = ()  # kinds of bind parameters, filled by the noise generator
    weight: float = 0.0
    mysql: str = ""  # the text in MySQL's dialect where it differs ($n still marks the values)

    def text(self, dialect: str) -> str:
        """The statement as the clients of an engine (its sqlglot dialect) write it."""
        return self.mysql or self.sql if dialect == "mysql" else self.sql


APP_TEMPLATES = (
    Template("customer_by_id", "SELECT customer_id, company_name, corporate_number, postal_code, address, phone "
             "FROM customers WHERE customer_id = $1", ("public.customers",), params=("customer_id",), weight=25),
    Template("contracts_of_customer", "SELECT contract_id, contract_no, contract_name, service_plan, status, "
             "start_date FROM contracts WHERE customer_id = $1 AND provider_brand <> 'docomo' ORDER BY contract_no",
             ("public.contracts",), params=("customer_id",), weight=20),
    Template("contacts_of_customer", "SELECT contact_id, contact_name, department, phone, email, role "
             "FROM contacts WHERE customer_id = $1 ORDER BY contact_id", ("public.contacts",),
             params=("customer_id",), weight=12),
    Template("order_queue", "SELECT o.order_id, o.order_type, o.status, o.requested_at, k.contract_no, c.company_name\n"
             "  FROM orders o\n  JOIN contracts k ON k.contract_id = o.contract_id\n"
             "  JOIN customers c ON c.customer_id = o.customer_id\n WHERE o.status = $1\n"
             " ORDER BY o.requested_at DESC\n LIMIT 50",
             ("public.orders", "public.contracts", "public.customers"), params=("order_status",), weight=8),
    Template("contract_by_no", "SELECT contract_id, customer_id, contract_no, status FROM contracts "
             "WHERE contract_no = $1", ("public.contracts",), params=("contract_no",), weight=10),
    Template("customer_by_corporate_number", "SELECT customer_id, company_name\n  FROM customers\n"
             " WHERE corporate_number = $1", ("public.customers",), params=("corporate_number",), weight=5),
    Template("usage_of_contract", "SELECT usage_month, monthly_usage, usage_unit, billed_amount FROM service_usage "
             "WHERE contract_id = $1 ORDER BY usage_month DESC LIMIT 12", ("public.service_usage",),
             params=("contract_id",), weight=4),
    Template("insert_order", "INSERT INTO orders (order_id, customer_id, contract_id, order_type, status, "
             "requested_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)", ("public.orders",), "WRITE", "INSERT",
             ("new_order_id", "customer_id", "contract_id", "order_type", "new_status", "now", "now"), weight=6),
    Template("update_order", "UPDATE orders SET status = $1, updated_at = $2 WHERE order_id = $3",
             ("public.orders",), "WRITE", "UPDATE", ("order_status", "now", "order_id"), weight=10),
)
ORDER_STATUSES = ("received", "in_progress", "completed", "on_hold")
ORDER_TYPES = ("new", "change", "relocation", "cancel")

#: Scheduled readers (hard negatives): the nightly export, the BI reports and the backup.
NIGHTLY_EXPORT = Template(
    "nightly_export",
    "COPY (SELECT c.customer_id, c.company_name, c.postal_code, c.address, k.contract_no, k.contract_name, "
    "k.service_plan, k.status FROM customers c JOIN contracts k ON k.customer_id = c.customer_id "
    "WHERE k.provider_brand <> 'docomo' ORDER BY c.customer_id, k.contract_no) TO STDOUT WITH (FORMAT csv, HEADER)",
    ("public.customers", "public.contracts"),
    # MySQL has no COPY to the client: the export program reads the rows and writes the CSV itself
    mysql="SELECT c.customer_id, c.company_name, c.postal_code, c.address, k.contract_no, k.contract_name, "
          "k.service_plan, k.status FROM customers c JOIN contracts k ON k.customer_id = c.customer_id "
          "WHERE k.provider_brand <> 'docomo' ORDER BY c.customer_id, k.contract_no")
BI_REPORTS = (
    Template("bi_usage_by_plan", "SELECT c.prefecture, k.service_plan, count(*) AS contracts, "
             "sum(u.monthly_usage) AS usage\n  FROM contracts k\n  JOIN customers c ON c.customer_id = k.customer_id\n"
             "  JOIN service_usage u ON u.contract_id = k.contract_id\n WHERE u.usage_month = $1\n"
             " GROUP BY c.prefecture, k.service_plan\n ORDER BY 1, 2",
             ("public.contracts", "public.customers", "public.service_usage"), params=("usage_month",),
             mysql="SELECT c.prefecture, k.service_plan, count(*) AS contracts, sum(u.monthly_usage) AS `usage`\n"
                   "  FROM contracts k\n  JOIN customers c ON c.customer_id = k.customer_id\n"
                   "  JOIN service_usage u ON u.contract_id = k.contract_id\n WHERE u.usage_month = $1\n"
                   " GROUP BY c.prefecture, k.service_plan\n ORDER BY 1, 2"),
    Template("bi_customer_list", "SELECT c.customer_id, c.company_name, c.prefecture, count(k.contract_id) AS "
             "contracts, sum(k.monthly_fee) AS monthly_fee\n  FROM customers c\n"
             "  JOIN contracts k ON k.customer_id = c.customer_id\n WHERE k.status = 'active'\n"
             " GROUP BY c.customer_id, c.company_name, c.prefecture\n ORDER BY monthly_fee DESC",
             ("public.customers", "public.contracts")),
)
BACKUP_TABLES = ("contacts", "contracts", "customers", "orders", "service_usage")

#: kinds of values written bare in MySQL's text (the others are quoted strings)
NUMERIC_KINDS = frozenset({"customer_id", "contract_id", "new_order_id", "order_id"})
_MARK = re.compile(r"\$(\d+)")


def mysql_quote(value: str) -> str:
    """A string literal as the MySQL connectors write it (backslash escapes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def inline(sql: str, values: list[str]) -> str:
    """$1, $2 ... replaced by the values' literal text (MySQL clients send the values inside the text)."""
    return _MARK.sub(lambda m: values[int(m.group(1)) - 1], sql)


def pieces(sql: str) -> tuple[list[str], list[int]]:
    """The text around the $n marks and the 0-based value index of each mark (for vectorized inlining)."""
    parts = _MARK.split(sql)
    return parts[0::2], [int(i) - 1 for i in parts[1::2]]


def mysqldump_statements(database: str, tables: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """What mysqldump --single-transaction sends (statement, tables it reads), abridged to the statements
    that name the data: the session set-up, then per table its definition and its rows."""
    out: list[tuple[str, tuple[str, ...]]] = [
        ("/*!40100 SET @@SQL_MODE='' */", ()), ("/*!40103 SET TIME_ZONE='+00:00' */", ()),
        ("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", ()),
        ("START TRANSACTION /*!40100 WITH CONSISTENT SNAPSHOT */", ()),
        ("SHOW VARIABLES LIKE 'gtid\\_mode'", ()), ("UNLOCK TABLES", ()),
        (f"SHOW CREATE DATABASE IF NOT EXISTS `{database}`", ())]
    for t in tables:
        out += [(f"show table status like '{t}'", ()), ("SET SQL_QUOTE_SHOW_CREATE=1", ()),
                ("SET SESSION character_set_results = 'binary'", ()), (f"show create table `{t}`", ()),
                ("SET SESSION character_set_results = 'utf8mb4'", ()), (f"show fields from `{t}`", ()),
                (f"SELECT /*!40001 SQL_NO_CACHE */ * FROM `{t}`", (f"public.{t}",))]
    return out


@dataclass(frozen=True)
class Workload:
    """What the database's own clients send, for a data story (the NTT order database's by default): the
    application's statements (noise), the nightly export, the BI reports and the backup (hard negatives).

    Bind parameter kinds of `app_templates` are the NTT story's (noise/postgres.py `_params`) or `pool:NAME`,
    drawn uniformly from `pools[NAME]` (written bare in MySQL's text when NAME is in `numeric_pools`)."""

    database: str = "orders"  # the database's name in the audit logs
    app_user: str = "app_order"  # the application's database account (the attacker reuses it)
    app_name: str = "order-api"  # the application's client name (pgAudit application_name)
    app_templates: tuple[Template, ...] = APP_TEMPLATES
    pools: dict[str, object] = field(default_factory=dict)  # NAME -> pyarrow string array of values
    numeric_pools: frozenset[str] = frozenset()
    nightly_export: Template = NIGHTLY_EXPORT
    export_rows: int = 0  # rows the nightly export returns (sizes its transfer)
    export_program: str = "C:\\OrderBatch\\OrderExport.exe"
    export_file: str = "orders_{stamp}.csv"  # written to the export share; {stamp} = YYYYMMDD
    bi_reports: tuple[Template, ...] = BI_REPORTS
    backup_tables: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (table, its columns in order), for the dump
    what: str = "customers and contracts"  # what the nightly export and reports read (hard-negative text)

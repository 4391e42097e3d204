"""The attacker's statements against the order database, and the ranges they cover.

The customer base is generated first; then the ranges of the statements are chosen so that the
statements return exactly the target number of organizations once the exclusion policy applies
(`exposure.compute` runs the statements to check it). Ranges, in customer order:

    [a0 ......... c1 ........ a1][a1+1 ........ b1][b1+1 .. u1]
     pages: customers + contracts  COPY contracts    (candidates of the LIMIT probe only)
     pages: contacts (to c1)       (carrier rows)
     COPY export file (to e1)         [u0 ..................... u1]  LIMIT without ORDER BY
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow.compute as pc

from breachscope.model.errors import UsageError
from breachscope.simulate.customers import OrderDB
from breachscope.simulate.dbqueries import inline

PAGE_DEFAULT = 5000
PROBE_LIMIT_DEFAULT = 2000
EXPORT_FILE = "export_0205.csv"
CONTRACTS_FILE = "ctr_0204.csv"

Q_PAGE_CUSTOMERS = ("SELECT c.customer_id, c.company_name, c.postal_code, c.address, k.contract_no, k.contract_name, "
                    "k.service_plan\n  FROM customers c\n  JOIN contracts k ON k.customer_id = c.customer_id\n"
                    " WHERE c.customer_id BETWEEN $1 AND $2\n   AND k.provider_brand <> 'docomo'\n"
                    " ORDER BY c.customer_id, k.contract_no\n LIMIT $3 OFFSET $4")
Q_PAGE_CONTACTS = ("SELECT p.contact_id, c.customer_id, c.company_name, p.contact_name, p.department, p.phone, "
                   "p.email\n  FROM contacts p\n  JOIN customers c ON c.customer_id = p.customer_id\n"
                   " WHERE p.customer_id BETWEEN $1 AND $2\n ORDER BY p.contact_id\n LIMIT $3 OFFSET $4")
Q_PROBE = ("SELECT c.customer_id, c.company_name, p.contact_id, p.contact_name, p.phone, p.email\n"
           "  FROM customers c\n  JOIN contacts p ON p.customer_id = c.customer_id\n"
           " WHERE c.customer_id BETWEEN $1 AND $2\n LIMIT $3")
#: the order in which the server returned the probe's rows (a nested loop over the primary key index)
PROBE_PHYSICAL_ORDER = "c.customer_id, p.contact_id"
Q_COPY_CONTRACTS = ("SELECT k.customer_id, k.contract_no, k.contract_name, k.service_plan, k.provider_brand "
                    "FROM contracts k WHERE k.customer_id BETWEEN {lo} AND {hi} ORDER BY k.customer_id, k.contract_no")
Q_COPY_EXPORT = ("SELECT c.customer_id, c.company_name, c.postal_code, c.address, k.contract_no, k.contract_name, "
                 "k.service_plan, p.contact_id, p.contact_name, p.department, p.phone, p.email FROM customers c "
                 "JOIN contracts k ON k.customer_id = c.customer_id JOIN contacts p ON p.customer_id = c.customer_id "
                 "WHERE c.customer_id BETWEEN {lo} AND {hi} AND k.provider_brand <> 'docomo' "
                 "ORDER BY c.customer_id, k.contract_no, p.contact_id")
RECON = ("SELECT current_user, version();", "SELECT count(*) FROM customers;", "SELECT count(*) FROM contracts;",
         "SELECT count(*) FROM contacts;")


def psql_copy(inner: str) -> str:
    """What psql sends for `\\copy (inner) to 'file' csv header`."""
    return f"COPY  ( {inner} ) TO STDOUT csv header"


@dataclass
class Query:
    ref: str
    kind: str  # recon | page_customers | page_contacts | probe_limit | copy_contracts | copy_export
    sql: str  # as the server receives (and pgAudit logs) it
    select_sql: str  # what returns the rows (the COPY's inner query), run with `params` for the truth
    params: list[int] = field(default_factory=list)
    relations: tuple[str, ...] = ()
    copy: bool = False
    certain: bool = True  # False: the rows returned cannot be told from the log (LIMIT without ORDER BY)
    client: str = "psql"  # psql (simple protocol) or script (Npgsql, extended protocol, bind parameters)
    session: int = 0  # which attacker session sent it
    output_file: str = ""  # \copy target file on device A
    dialect: str = "postgres"  # sqlglot's dialect of `sql` and `select_sql`
    physical_order: str = PROBE_PHYSICAL_ORDER  # uncertain statements: the order the server returned rows in


@dataclass(frozen=True)
class PlanOptions:
    """The scenario's say in the plan (database_sessions): rows per page, the probe's LIMIT (0: no probe)."""

    page_size: int | None = None
    probe_limit: int | None = None

    def page(self, target: int) -> int:
        return self.page_size or max(100, int(round(PAGE_DEFAULT * target / 17_891, -2)))

    def limit(self, target: int) -> int:
        return self.probe_limit if self.probe_limit is not None else max(40, round(PROBE_LIMIT_DEFAULT * target
                                                                                   / 17_891))


@dataclass
class Ranges:
    a0: int
    e1: int
    c1: int
    a1: int
    b1: int
    u0: int
    u1: int
    page: int
    probe_limit: int


def choose_ranges(db: OrderDB, target: int, options: PlanOptions = PlanOptions()) -> Ranges:
    """Customer index ranges (inclusive) that make the statements expose exactly `target` organizations."""
    ids = np.asarray(db["customers"]["customer_id"])
    n = len(ids)
    k = db["contracts"]
    nd = np.asarray(pc.not_equal(k["provider_brand"], "docomo"))
    owner = np.asarray(k["customer_id"]) - ids[0]
    has_nd = np.zeros(n, dtype=bool)
    has_nd[owner[nd]] = True
    contacts = np.bincount(np.asarray(db["contacts"]["customer_id"]) - ids[0], minlength=n)
    cum = np.cumsum(has_nd)
    if cum[-1] < target + 20:
        raise ValueError(f"the customer base holds only {cum[-1]} organizations, fewer than the target {target}")
    b1 = int(np.searchsorted(cum, target))  # first index where the count reaches the target
    page, limit = options.page(target), options.limit(target)
    a1 = round(0.8 * b1)
    c1 = round(0.5 * b1)
    e1 = max(1, round(0.16 * b1))
    # the probe starts inside the contract-only range and reaches beyond b1; its first `limit` rows (in the
    # server's order) all come from organizations at or before b1
    need = limit + max(5, limit // 7)
    u0, rows = b1, int(contacts[b1])
    while rows < need and u0 > a1 + 1:
        u0 -= 1
        rows += int(contacts[u0])
    if limit and rows < need:
        raise UsageError(f"database_sessions: probe_limit {limit} is too large for the {target:,} organizations "
                         "the attacker reads (lower it, or raise --customers)")
    u1 = min(n - 1, b1 + max(10, round(0.02 * b1)))
    return Ranges(0, e1, c1, a1, b1, u0, u1, page, limit)


def plan(db: OrderDB, target: int, dialect: str = "postgres",
         options: PlanOptions = PlanOptions()) -> tuple[Ranges, list[Query]]:
    """The attacker's statements, as the server of the dialect receives them (see `in_mysql`)."""
    r, qs = _plan(db, target, options)
    return r, (in_mysql(qs) if dialect == "mysql" else qs)


def in_mysql(qs: list[Query]) -> list[Query]:
    """The same statements against MySQL or MariaDB: the mysql client sends a statement without its `;`;
    the script's connector (MySql.Data) writes the values into the text; the exports are the mysql client's
    batch output (`-B -e`) redirected to the file: MySQL has no COPY to the client, and SELECT ... INTO
    OUTFILE would write on the database server, with a FILE privilege the application's account has not."""
    out = []
    for q in qs:
        if q.kind == "recon":
            sql = q.select_sql.replace("current_user,", "current_user(),")
        elif q.copy:
            sql = q.select_sql
        else:
            sql = inline(q.sql, [str(v) for v in q.params])
        out.append(replace(q, sql=backquoted(sql), select_sql=backquoted(sql), params=[], copy=False, dialect="mysql",
                           physical_order=backquoted(q.physical_order)))
    return out


_QUOTED = re.compile(r'"([A-Za-z_][A-Za-z0-9_$]*)"')


def backquoted(sql: str) -> str:
    """PostgreSQL's quoted names ("order") as MySQL writes them (`order`); the statements hold no string
    literal in double quotes."""
    return _QUOTED.sub(r"`\1`", sql)


def _plan(db: OrderDB, target: int, options: PlanOptions) -> tuple[Ranges, list[Query]]:
    r = choose_ranges(db, target, options)
    ids = np.asarray(db["customers"]["customer_id"])
    cid = lambda i: int(ids[i])  # noqa: E731
    k = db["contracts"]
    nd = np.asarray(pc.not_equal(k["provider_brand"], "docomo"))
    kown = np.asarray(k["customer_id"])
    qs: list[Query] = []

    def ref() -> str:  # q01, q02, ... in the order the attacker sends them
        return f"q{len(qs) + 1:02d}"

    for sql in RECON:
        rel = tuple(f"public.{t}" for t in ("customers", "contracts", "contacts") if f"FROM {t};" in sql)
        qs.append(Query(ref(), kind="recon", sql=sql, select_sql=sql.rstrip(";"), relations=rel, session=1))
    # contract rows (not carrier-provided) of [a0, a1], fetched page by page over two nights
    rows = int(np.count_nonzero(nd & (kown >= cid(r.a0)) & (kown <= cid(r.a1))))
    pages = rows // r.page + 1  # the script stops after the first short page
    for p in range(pages):
        qs.append(Query(ref(), kind="page_customers", sql=Q_PAGE_CUSTOMERS, select_sql=Q_PAGE_CUSTOMERS,
                        params=[cid(r.a0), cid(r.a1), r.page, p * r.page],
                        relations=("public.customers", "public.contracts"), client="script",
                        session=2 if p < (pages + 1) // 2 else 3))
    crow = int(np.count_nonzero((np.asarray(db["contacts"]["customer_id"]) >= cid(r.a0))
                                & (np.asarray(db["contacts"]["customer_id"]) <= cid(r.c1))))
    for p in range(crow // r.page + 1):
        qs.append(Query(ref(), kind="page_contacts", sql=Q_PAGE_CONTACTS, select_sql=Q_PAGE_CONTACTS,
                        params=[cid(r.a0), cid(r.c1), r.page, p * r.page],
                        relations=("public.contacts", "public.customers"), client="script", session=4))
    if r.probe_limit:
        qs.append(Query(ref(), kind="probe_limit", sql=Q_PROBE, select_sql=Q_PROBE,
                        params=[cid(r.u0), cid(r.u1), r.probe_limit],
                        relations=("public.customers", "public.contacts"), client="script", session=5, certain=False))
    inner = Q_COPY_CONTRACTS.format(lo=cid(r.a1 + 1), hi=cid(r.b1))
    qs.append(Query(ref(), kind="copy_contracts", sql=psql_copy(inner), select_sql=inner,
                    relations=("public.contracts",), copy=True, session=6, output_file=CONTRACTS_FILE))
    inner = Q_COPY_EXPORT.format(lo=cid(r.a0), hi=cid(r.e1))
    qs.append(Query(ref(), kind="copy_export", sql=psql_copy(inner), select_sql=inner,
                    relations=("public.customers", "public.contracts", "public.contacts"), copy=True, session=7,
                    output_file=EXPORT_FILE))
    return r, qs

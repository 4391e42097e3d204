"""The order database: Japanese corporate customers, their contracts, contact persons and usage.

Generated column by column with numpy and Arrow string joins (no loop per row), from the run's
seed. Table layouts live in SCHEMA so that Parquet files, the SQL dump and the inventory agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.jp import cn as corporate_number

from breachscope.simulate import clock
from breachscope.simulate import names as N
from breachscope.simulate.dbqueries import BACKUP_TABLES, Workload
from breachscope.simulate.rng import rng_for
from breachscope.simulate.text import join, lpad, pick, strs, where

FIRST_CUSTOMER_ID = 1_000_001
TSTZ = pa.timestamp("us", tz="UTC")
FULLWIDTH = {i: i + 0xFEE0 for i in range(0x21, 0x7F)}
_FW_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")

#: table -> [(column, Arrow type, PostgreSQL type, NOT NULL)]; the order is the physical column order.
SCHEMA: dict[str, list[tuple[str, pa.DataType, str, bool]]] = {
    "customers": [
        ("customer_id", pa.int64(), "bigint", True), ("company_name", pa.string(), "text", True),
        ("company_name_kana", pa.string(), "text", False), ("corporate_number", pa.string(), "character(13)", False),
        ("industry", pa.string(), "text", False), ("postal_code", pa.string(), "text", False),
        ("prefecture", pa.string(), "text", False), ("address", pa.string(), "text", False),
        ("phone", pa.string(), "text", False), ("created_at", TSTZ, "timestamp with time zone", True),
        ("updated_at", TSTZ, "timestamp with time zone", True),
    ],
    "contracts": [
        ("contract_id", pa.int64(), "bigint", True), ("contract_no", pa.string(), "text", True),
        ("customer_id", pa.int64(), "bigint", True), ("contract_name", pa.string(), "text", True),
        ("service_plan", pa.string(), "text", True), ("provider_brand", pa.string(), "text", True),
        ("status", pa.string(), "text", True), ("start_date", pa.date32(), "date", True),
        ("end_date", pa.date32(), "date", False), ("monthly_fee", pa.int64(), "integer", True),
    ],
    "contacts": [
        ("contact_id", pa.int64(), "bigint", True), ("customer_id", pa.int64(), "bigint", True),
        ("contact_name", pa.string(), "text", True), ("contact_name_kana", pa.string(), "text", False),
        ("department", pa.string(), "text", False), ("phone", pa.string(), "text", False),
        ("email", pa.string(), "text", False), ("role", pa.string(), "text", True),
    ],
    "service_usage": [
        ("usage_id", pa.int64(), "bigint", True), ("contract_id", pa.int64(), "bigint", True),
        ("customer_id", pa.int64(), "bigint", True), ("usage_month", pa.date32(), "date", True),
        ("monthly_usage", pa.decimal128(12, 2), "numeric(12,2)", True), ("usage_unit", pa.string(), "text", True),
        ("billed_amount", pa.int64(), "integer", True),
    ],
    "orders": [
        ("order_id", pa.int64(), "bigint", True), ("customer_id", pa.int64(), "bigint", True),
        ("contract_id", pa.int64(), "bigint", True), ("order_type", pa.string(), "text", True),
        ("status", pa.string(), "text", True), ("requested_at", TSTZ, "timestamp with time zone", True),
        ("updated_at", TSTZ, "timestamp with time zone", True),
    ],
}
PRIMARY_KEYS = {"customers": "customer_id", "contracts": "contract_id", "contacts": "contact_id",
                "service_usage": "usage_id", "orders": "order_id"}
FOREIGN_KEYS = [("contracts", "customer_id", "customers"), ("contacts", "customer_id", "customers"),
                ("service_usage", "contract_id", "contracts"), ("orders", "contract_id", "contracts")]
UNIQUE = [("contracts", "contract_no")]
INDEXES = [("contracts", "customer_id"), ("contacts", "customer_id"), ("service_usage", "customer_id"),
           ("orders", "customer_id")]

BRANDS = ("ntt_com", "ocn", "docomo")
PLANS = {
    "ntt_com": ("Universal One VPN", "Flexible InterConnect", "IP Voice 法人", "Cloud PBX", "Managed Firewall",
                "Enterprise Cloud"),
    "ocn": ("OCN 光 IPoE", "OCN 光 固定IP", "OCN モバイル法人"),
    "docomo": ("法人 5G データプラン", "法人 かけ放題", "ビジネス IoT 回線"),
}
SITES = ("本社", "本店", "大阪支店", "名古屋支店", "横浜営業所", "福岡営業所", "データセンター", "物流センター", "工場")
#: share of customers whose contracts are all provided by the mobile carrier brand, and mixed ones
DOCOMO_ONLY, MIXED = 0.07, 0.10
STORY_FIRST_DAY = date(2025, 1, 13)  # the dates below are the NTT story's; they move with the period's first day


def dated(d: date) -> date:
    """A date of the built-in story, moved by as many days as the period starts after the story's."""
    return d + (clock.FIRST_DAY - STORY_FIRST_DAY)


def snapshot_day() -> date:
    """The day the customer base was last updated (two weeks into the period)."""
    return dated(date(2025, 1, 27))


def _add_months(d: date, k: int) -> date:
    return date(d.year + (d.month - 1 + k) // 12, (d.month - 1 + k) % 12 + 1, 1)


def report_month(day: date) -> date:
    """The usage month the monthly report of `day` reads: the database's last, then the next once that is over."""
    last = usage_months()[-1]
    return last if day < _add_months(last, 2) else _add_months(last, 1)


def usage_months() -> tuple[date, ...]:
    """The three months of usage the database holds: the snapshot's month and the two before it."""
    s = snapshot_day()
    return tuple(_add_months(s, -k) for k in (2, 1, 0))


@dataclass
class OrderDB:
    tables: dict[str, pa.Table]

    def __getitem__(self, name: str) -> pa.Table:
        return self.tables[name]


def _weights(items: tuple, index: int) -> np.ndarray:
    w = np.array([x[index] for x in items], dtype=float)
    return w / w.sum()


def _table(name: str, cols: dict[str, pa.Array]) -> pa.Table:
    fields = SCHEMA[name]
    return pa.table({c: pc.cast(cols[c], t) if cols[c].type != t else cols[c] for c, t, _, _ in fields},
                    schema=pa.schema([pa.field(c, t, nullable=not nn) for c, t, _, nn in fields]))


def _ts(rng: np.random.Generator, n: int, lo: date, hi: date) -> np.ndarray:
    a = np.datetime64(lo, "us").astype(np.int64)
    b = np.datetime64(hi, "us").astype(np.int64)
    return rng.integers(a, b, n)


def _fullwidth_digits(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    alt = arr
    for src, dst in zip("0123456789-", "０１２３４５６７８９－", strict=True):
        alt = pc.replace_substring(alt, src, dst)
    return where(mask, alt, arr)


def generate(seed: int, n_customers: int) -> OrderDB:
    rng = rng_for(seed, "orderdb")
    cust = _customers(rng, n_customers)
    contracts, kinds = _contracts(rng, cust)
    contacts = _contacts(rng, cust, kinds)
    usage = _usage(rng, contracts)
    orders = _orders(rng, contracts)
    return OrderDB({"customers": cust, "contracts": contracts, "contacts": contacts, "service_usage": usage,
                    "orders": orders})


def workload(db: OrderDB, app_user: str) -> Workload:
    """What the order database's own clients send (dbqueries.Workload's defaults): the application signs in as
    `app_user`, the nightly export reads the contracts not of the carrier brand, the backup every table."""
    n_nd = int(np.count_nonzero(np.asarray(db["contracts"]["provider_brand"]) != "docomo"))
    return Workload(app_user=app_user, export_rows=n_nd,
                    backup_tables=tuple((name, tuple(c for c, _, _, _ in SCHEMA[name])) for name in BACKUP_TABLES))


# --- customers ----------------------------------------------------------------------------------------
def _customers(rng: np.random.Generator, n: int) -> pa.Table:
    stems = [s[0] for s in N.COMPANY_STEMS]
    stems_fw = [s[0].translate(FULLWIDTH) if s[0].isascii() else s[0] for s in N.COMPANY_STEMS]
    stem_i = rng.integers(0, len(stems), n)
    stem = where(rng.random(n) < 0.35, pick(pa.array(stems_fw), stem_i), pick(pa.array(stems), stem_i))
    mids = ("", "", "", "", "", "ジャパン", "インターナショナル", "東日本", "西日本", "パートナーズ", "サービス")
    mid_i = rng.integers(0, len(mids), n)
    biz_i = rng.integers(0, len(N.BUSINESS_WORDS), n)
    form_i = rng.choice(len(N.LEGAL_FORMS), n, p=_weights(N.LEGAL_FORMS, 3))
    forms = N.LEGAL_FORMS
    pre = pa.array([f[0] if f[1] == "pre" else "" for f in forms])
    post = pa.array([f[0] if f[1] == "post" else "" for f in forms])
    core = join(stem, pick(pa.array(mids), mid_i), pick(pa.array([b[0] for b in N.BUSINESS_WORDS]), biz_i))
    name = join(pick(pre, form_i), core, pick(post, form_i))
    kana_legal = pa.array([N.LEGAL_KANA.get(f[0].strip("（）()㈱"), "カブシキガイシャ") for f in forms])
    kana_mid = pa.array(["", "", "", "", "", "ジャパン", "インターナショナル", "ヒガシニホン", "ニシニホン",
                         "パートナーズ", "サービス"])
    kana = join(pick(pa.array([s[1] for s in N.COMPANY_STEMS]), stem_i), pick(kana_mid, mid_i),
                pick(pa.array([b[1] for b in N.BUSINESS_WORDS]), biz_i))
    kana = where(rng.random(n) < 0.15, join(pick(kana_legal, form_i), " ", kana), kana)

    loc_i = rng.choice(len(N.LOCALITIES), n, p=_weights(N.LOCALITIES, 5))
    locs = N.LOCALITIES
    serial = rng.permutation(900_000)[:n] + 100_000 if n <= 900_000 else rng.integers(100_000, 1_000_000, n)
    corp = where(rng.random(n) < 0.03, pa.nulls(n, pa.string()), corporate_numbers(
        np.array([int(x[4]) for x in locs])[loc_i], np.array([int(f[2]) for f in forms])[form_i], serial))

    postal_digits = join(pick(pa.array([x[2] for x in locs]), loc_i), "-", lpad(strs(rng.integers(0, 10000, n)), 4))
    style = rng.random(n)
    plain = pc.replace_substring(postal_digits, "-", "")
    postal = where(style < 0.80, join("〒", postal_digits),
                   where(style < 0.92, postal_digits, where(style < 0.97, plain, join("〒", plain))))
    pref = pick(pa.array([x[0] for x in locs]), loc_i)
    city = pick(pa.array([x[1] for x in locs]), loc_i)
    town = pick(pa.array(list(N.TOWNS)), rng.integers(0, len(N.TOWNS), n))
    a1, a2, a3 = (strs(rng.integers(lo, hi, n)) for lo, hi in ((1, 8), (1, 30), (1, 25)))
    block = where(rng.random(n) < 0.5, join(a1, "丁目", a2, "番", a3, "号"), join(a1, "-", a2, "-", a3))
    block = _fullwidth_digits(block, rng.random(n) < 0.1)
    bld_name = join(pick(pa.array(stems), rng.integers(0, len(stems), n)),
                    pick(pa.array(list(N.BUILDINGS)), rng.integers(0, len(N.BUILDINGS), n)))
    floor = strs(rng.integers(1, 25, n))
    building = where(rng.random(n) < 0.6, join(" ", bld_name, " ", floor, where(rng.random(n) < 0.5,
                                                                                  pa.array(["階"] * n),
                                                                                  pa.array(["F"] * n))),
                     pa.array([""] * n))
    address = join(pref, city, town, block, building)
    area = pick(pa.array([x[3] for x in locs]), loc_i)
    phone = _landline(rng, area, loc_i)
    created = _ts(rng, n, dated(date(2005, 4, 1)), dated(date(2024, 6, 1)))
    last = np.datetime64(snapshot_day(), "us").astype(np.int64)
    updated = created + (rng.random(n) ** 2 * (last - created)).astype(np.int64)
    return _table("customers", {
        "customer_id": pa.array(np.arange(FIRST_CUSTOMER_ID, FIRST_CUSTOMER_ID + n, dtype=np.int64)),
        "company_name": name, "company_name_kana": kana, "corporate_number": corp,
        "industry": pick(pa.array(list(N.INDUSTRIES)), rng.integers(0, len(N.INDUSTRIES), n)),
        "postal_code": postal, "prefecture": pref, "address": address, "phone": phone,
        "created_at": pa.array(created), "updated_at": pa.array(updated),
    })


def corporate_numbers(office: np.ndarray, kind: np.ndarray, serial: np.ndarray) -> pa.Array:
    """法人番号: a check digit, then the 12-digit company register number (registry office, kind, serial).
    The check digit is stdnum.jp.cn's, computed for all rows at once (and checked against stdnum)."""
    base = office.astype(np.int64) * 10**8 + kind.astype(np.int64) * 10**6 + serial.astype(np.int64)
    digits = (base[:, None] // 10 ** np.arange(12, dtype=np.int64)) % 10  # least significant first
    check = 9 - (digits * np.tile([1, 2], 6)).sum(axis=1) % 9
    out = join(strs(check), lpad(strs(base), 12))
    for sample in out.slice(0, 8).to_pylist():
        if corporate_number.calc_check_digit(sample[1:]) != sample[0]:
            raise AssertionError("corporate number check digit differs from stdnum's")
    return out


def _landline(rng: np.random.Generator, area: pa.Array, loc_i: np.ndarray) -> pa.Array:
    """Japanese fixed-line numbers: the area code plus a local number of 10 digits in all."""
    n = len(area)
    codes = np.array([len(x[3]) for x in N.LOCALITIES])[loc_i]
    mid_len = 6 - codes  # 03-xxxx-xxxx, 045-xxx-xxxx
    mid = where(mid_len == 4, lpad(strs(rng.integers(1000, 10000, n)), 4), lpad(strs(rng.integers(200, 1000, n)), 3))
    last = lpad(strs(rng.integers(0, 10000, n)), 4)
    style = rng.random(n)
    intl = join("+81-", pc.utf8_slice_codeunits(area, 1), "-", mid, "-", last)
    return where(style < 0.86, join(area, "-", mid, "-", last),
                 where(style < 0.91, join("(", area, ")", mid, "-", last),
                       where(style < 0.95, join(area, mid, last), intl)))


def _mobile(rng: np.random.Generator, n: int) -> pa.Array:
    pre = pick(pa.array(list(N.MOBILE_PREFIXES)), rng.integers(0, 3, n))
    a = lpad(strs(rng.integers(0, 10000, n)), 4)
    b = lpad(strs(rng.integers(0, 10000, n)), 4)
    style = rng.random(n)
    intl = join("+81-", pc.utf8_slice_codeunits(pre, 1), "-", a, "-", b)
    base = join(pre, "-", a, "-", b)
    out = where(style < 0.84, base, where(style < 0.90, intl, where(style < 0.94, join(pre, a, b),
                                                                    join("+81 ", pc.utf8_slice_codeunits(pre, 1),
                                                                         " ", a, " ", b))))
    return _fullwidth_digits(out, style > 0.97)


# --- contracts -----------------------------------------------------------------------------------------
def _contracts(rng: np.random.Generator, cust: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """Contracts; also each customer's kind: 0 no carrier contract, 1 mixed, 2 carrier-only."""
    n = cust.num_rows
    u = rng.random(n)
    kinds = np.where(u < DOCOMO_ONLY, 2, np.where(u < DOCOMO_ONLY + MIXED, 1, 0))
    per = np.minimum(1 + rng.geometric(0.55, n) - 1, 8)
    per = np.where(kinds == 1, np.maximum(per, 2), per)
    owner = np.repeat(np.arange(n), per)
    m = len(owner)
    first_of_owner = np.r_[True, owner[1:] != owner[:-1]]
    k = kinds[owner]
    nd_brand = np.where(rng.random(m) < 0.75, 0, 1)  # ntt_com or ocn
    brand = np.where(k == 2, 2, np.where(k == 0, nd_brand, np.where(first_of_owner, nd_brand,
                                                                    np.where(rng.random(m) < 0.6, 2, nd_brand))))
    # mixed customers: keep at least one carrier contract
    last_of_owner = np.r_[owner[1:] != owner[:-1], True]
    brand = np.where((k == 1) & last_of_owner, 2, brand)
    plans_flat = [p for b in BRANDS for p in PLANS[b]]
    plan_base = np.cumsum([0] + [len(PLANS[b]) for b in BRANDS])[:-1]
    plan_count = np.array([len(PLANS[b]) for b in BRANDS])
    plan_i = plan_base[brand] + (rng.random(m) * plan_count[brand]).astype(np.int64)
    start = rng.integers(np.datetime64(dated(date(2010, 4, 1))).astype(np.int64),
                         np.datetime64(dated(date(2024, 12, 20))).astype(np.int64), m)
    order = np.lexsort((np.arange(m), start))  # contract ids follow their start dates
    owner, brand, plan_i, start = owner[order], brand[order], plan_i[order], start[order]
    status_u = rng.random(m)
    status = np.select([status_u < 0.85, status_u < 0.88, status_u < 0.96], [0, 1, 2], 3)
    status_txt = pa.array(["active", "suspended", "terminated", "pending"])
    end = np.where(status == 2, np.minimum(start + rng.integers(180, 3000, m),
                                           np.datetime64(snapshot_day()).astype(np.int64) - 1), -1)
    names = pc.take(cust["company_name"], pa.array(owner))
    site = pick(pa.array(list(SITES)), rng.integers(0, len(SITES), m))
    contract_name = join(names.combine_chunks() if isinstance(names, pa.ChunkedArray) else names, " ", site)
    nos = 3_100_000_000 + np.cumsum(rng.integers(1, 40, m))
    brand_txt = pa.array(list(BRANDS))
    fee = np.round(rng.lognormal(10.2, 0.9, m) / 100).astype(np.int64) * 100
    table = _table("contracts", {
        "contract_id": pa.array(np.arange(1, m + 1, dtype=np.int64)),
        "contract_no": join("KN", strs(nos)),
        "customer_id": pa.array(owner + FIRST_CUSTOMER_ID),
        "contract_name": contract_name, "service_plan": pick(pa.array(plans_flat), plan_i),
        "provider_brand": pick(brand_txt, brand), "status": pick(status_txt, status),
        "start_date": pa.array(start.astype("datetime64[D]")),
        "end_date": pa.array(np.where(end >= 0, end, 0).astype("datetime64[D]"), mask=end < 0),
        "monthly_fee": pa.array(fee),
    })
    return table, kinds


# --- contact persons -------------------------------------------------------------------------------------
def _contacts(rng: np.random.Generator, cust: pa.Table, kinds: np.ndarray) -> pa.Table:
    """Contact persons of the customers that hold at least one contract the order system serves
    itself (contracts provided directly by the carrier are handled by the carrier's own systems)."""
    n = cust.num_rows
    per = np.where(kinds == 2, 0, 1 + rng.binomial(3, 0.3, n))
    owner = np.repeat(np.arange(n), per)
    m = len(owner)
    sur = rng.integers(0, len(N.SURNAMES), m)
    giv = rng.integers(0, len(N.GIVEN_NAMES), m)
    sep = pick(pa.array([" ", "　", ""]), rng.choice(3, m, p=[0.45, 0.35, 0.2]))
    surname = [pa.array([s[i] for s in N.SURNAMES]) for i in range(2)]
    given = [pa.array([g[i] for g in N.GIVEN_NAMES]) for i in range(2)]
    name = join(pick(surname[0], sur), sep, pick(given[0], giv))
    kana = join(pick(surname[1], sur), " ", pick(given[1], giv))
    first = np.r_[True, owner[1:] != owner[:-1]]
    role = pick(pa.array(["primary", "billing", "technical"]), np.where(first, 0, rng.integers(1, 3, m)))
    cust_phone = pc.take(cust["phone"], pa.array(owner)).combine_chunks()
    phone = where(rng.random(m) < 0.5, _mobile(rng, m), cust_phone)
    email = _emails(rng, owner, sur, giv, n)
    return _table("contacts", {
        "contact_id": pa.array(np.arange(1, m + 1, dtype=np.int64)),
        "customer_id": pa.array(owner + FIRST_CUSTOMER_ID), "contact_name": name, "contact_name_kana": kana,
        "department": pick(pa.array(list(N.DEPARTMENTS)), rng.integers(0, len(N.DEPARTMENTS), m)),
        "phone": phone, "email": email, "role": role,
    })


def _emails(rng: np.random.Generator, owner: np.ndarray, sur: np.ndarray, giv: np.ndarray, n_cust: int) -> pa.Array:
    m = len(owner)
    c_stem = rng.integers(0, len(N.COMPANY_STEMS), n_cust)
    c_biz = rng.integers(0, len(N.BUSINESS_WORDS), n_cust)
    c_tld = rng.integers(0, len(N.MAIL_TLDS), n_cust)
    domain_c = join(pick(pa.array([s[2].lower() for s in N.COMPANY_STEMS]), c_stem), "-",
                    pick(pa.array([b[2] for b in N.BUSINESS_WORDS]), c_biz), pick(pa.array(list(N.MAIL_TLDS)), c_tld))
    domain = pick(domain_c, owner)
    free = pick(pa.array(list(N.FREE_MAIL)), rng.integers(0, len(N.FREE_MAIL), m))
    s = pick(pa.array([x[2] for x in N.SURNAMES]), sur)
    g = pick(pa.array([x[2] for x in N.GIVEN_NAMES]), giv)
    style = rng.integers(0, 4, m)
    local = where(style == 0, join(g, ".", s), where(style == 1, join(pc.utf8_slice_codeunits(g, 0, 1), ".", s),
                                                     where(style == 2, join(s, "_", pc.utf8_slice_codeunits(g, 0, 1)),
                                                           join(s, strs(rng.integers(1, 99, m))))))
    addr = join(local, "@", where(rng.random(m) < 0.08, free, domain))
    return where(rng.random(m) < 0.03, pc.utf8_capitalize(addr), addr)


# --- usage and orders ------------------------------------------------------------------------------------
def _usage(rng: np.random.Generator, contracts: pa.Table) -> pa.Table:
    live = np.flatnonzero(np.isin(np.asarray(contracts["status"]), ["active", "suspended"]))
    months = usage_months()
    rows = np.repeat(live, len(months))
    m = len(rows)
    month = np.tile(np.array(months, dtype="datetime64[D]"), len(live))
    plan = np.asarray(contracts["service_plan"])[rows]
    unit = np.where(np.char.find(plan.astype(str), "Voice") >= 0, "分",
                    np.where(np.char.find(plan.astype(str), "IoT") >= 0, "回線", "GB"))
    amount = np.round(rng.lognormal(5, 1.4, m), 2)
    fee = np.asarray(contracts["monthly_fee"])[rows]
    return _table("service_usage", {
        "usage_id": pa.array(np.arange(1, m + 1, dtype=np.int64)),
        "contract_id": pa.array(np.asarray(contracts["contract_id"])[rows]),
        "customer_id": pa.array(np.asarray(contracts["customer_id"])[rows]),
        "usage_month": pa.array(month), "monthly_usage": pc.cast(pa.array(amount), pa.decimal128(12, 2)),
        "usage_unit": pa.array(unit),
        "billed_amount": pa.array(fee + (amount * 3).astype(np.int64)),
    })


def _orders(rng: np.random.Generator, contracts: pa.Table) -> pa.Table:
    m = contracts.num_rows
    k = m // 2
    rows = np.sort(rng.integers(0, m, k))
    req = np.sort(_ts(rng, k, dated(date(2023, 1, 1)), snapshot_day()))
    return _table("orders", {
        "order_id": pa.array(np.arange(500_001, 500_001 + k, dtype=np.int64)),
        "customer_id": pa.array(np.asarray(contracts["customer_id"])[rows]),
        "contract_id": pa.array(np.asarray(contracts["contract_id"])[rows]),
        "order_type": pick(pa.array(["new", "change", "relocation", "cancel"]),
                           rng.choice(4, k, p=[.3, .45, .1, .15])),
        "status": pick(pa.array(["completed", "in_progress", "rejected"]), rng.choice(3, k, p=[.6, .2, .2])),
        "requested_at": pa.array(req), "updated_at": pa.array(req + rng.integers(3600, 20 * 86400, k) * 10**6),
    })

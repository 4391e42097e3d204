"""The rows of a database described by an inventory (datamodel.py): keys and links first, then every column
from its personal-data category (names, emails, phones, addresses, dates of birth, card and account numbers,
diagnoses...) or, for a column that is not personal, from its name and type. Column by column with numpy and
Arrow (no loop per row), from the run's seed. A person's name and email agree within a row; an exclusion's
values go into a share of its column, so that the policy has rows to take out of scope.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.jp import in_ as my_number

from breachscope.simulate import clock
from breachscope.simulate import names as JA
from breachscope.simulate import names_intl as W
from breachscope.simulate.customers import corporate_numbers
from breachscope.simulate.datamodel import FIRST_ID, Column, DataModel, TableModel, link_order
from breachscope.simulate.rng import rng_for
from breachscope.simulate.text import join, lpad, pick, random_b62, random_hex, strs, where

TSTZ = pa.timestamp("us", tz="UTC")
ARROW = {"bigint": pa.int64(), "integer": pa.int64(), "text": pa.string(), "date": pa.date32(),
         "timestamp with time zone": TSTZ}
_NAME_CATEGORIES = ("person_name", "contact_person_name", "full_name", "patient_name", "employee_name")
EXCLUDED_SHARE = 0.08  # rows given an exclusion's value


def arrow_type(sql_type: str) -> pa.DataType:
    return ARROW[sql_type]


class _Unique:
    """Distinct numbers in [0, size) in an order drawn from the seed, a few at a time: an affine bijection of a
    running counter (no table of `size` values). Phone numbers and mailboxes are unique in a database, as in
    the world: two subjects never share one by chance (scope matches staged files' values to subjects)."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self.size, self.k = size, 0
        self.a = int(rng.integers(size // 3, size))
        while math.gcd(self.a, size) != 1:
            self.a += 1
        self.b = int(rng.integers(0, size))

    def take(self, n: int) -> np.ndarray:
        if self.k + n > self.size:
            raise ValueError(f"more than {self.size:,} distinct values asked of one format")
        k = np.arange(self.k, self.k + n, dtype=np.int64)
        self.k += n
        return (self.a * k + self.b) % self.size


class _Uniques(dict[str, _Unique]):
    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.rng = rng

    def take(self, name: str, size: int, n: int) -> np.ndarray:
        if name not in self:
            self[name] = _Unique(self.rng, size)
        return self[name].take(n)


def generate(model: DataModel, seed: int, subjects: int) -> dict[str, pa.Table]:
    """Every table of the model; the main subject's table has `subjects` rows."""
    rng = rng_for(seed, "datastory")
    uniques = _Uniques(rng_for(seed, "datastory", "unique"))
    out: dict[str, pa.Table] = {}
    keys: dict[str, np.ndarray] = {}
    for table in link_order(model.tables):
        n = subjects if table.name == model.main else max(1, round(subjects * table.rows_per_subject))
        start = FIRST_ID if table.name == model.main else 1
        keys[table.name] = np.arange(start, start + n, dtype=np.int64)
        out[table.name] = _table(model, table, n, rng, keys, uniques)
    return {t.name: out[t.name] for t in model.tables}


def _table(model: DataModel, table: TableModel, n: int, rng: np.random.Generator,
           keys: dict[str, np.ndarray], uniques: _Uniques) -> pa.Table:
    person = _Identity(model.country, rng, n)
    cols: dict[str, pa.Array] = {}
    # rows are stored in the order of their subject (inserted as they came): the link to the subject, or for a
    # subject table of its own (persons of organizations) its first link
    ordered_by = table.subject_key if table.subject_key != table.key else \
        next((c.name for c in table.columns if c.references), "")
    for c in table.columns:
        if c.name == table.key:
            cols[c.name] = pa.array(keys[table.name])
        elif c.references:
            parent = keys[c.references]
            idx = rng.integers(0, len(parent), n)
            if c.name == ordered_by:
                idx.sort()
            cols[c.name] = pa.array(parent[idx])
        else:
            cols[c.name] = _values(c, n, rng, person, model.country, uniques)
        value_set = model.exclusion_values.get((table.name, c.name))
        if value_set:
            chosen = pa.array(list(value_set)).take(pa.array(rng.integers(0, len(value_set), n)))
            cols[c.name] = where(rng.random(n) < EXCLUDED_SHARE, pc.cast(chosen, pa.string()),
                                 pc.cast(cols[c.name], pa.string()))
    fields = [pa.field(c.name, ARROW[c.sql_type], nullable=not c.not_null) for c in table.columns]
    return pa.table({f.name: pc.cast(cols[f.name], f.type) for f in fields}, schema=pa.schema(fields))


class _Identity:
    """One invented person per row (their name parts), shared by the row's name and email columns."""

    def __init__(self, country: str, rng: np.random.Generator, n: int) -> None:
        self.country = country if country in ("JP", "DE") else "EN"
        sur = JA.SURNAMES if self.country == "JP" else W.SURNAMES[self.country]
        given = JA.GIVEN_NAMES if self.country == "JP" else W.GIVEN_NAMES[self.country]
        self.sur_i = rng.integers(0, len(sur), n)
        self.given_i = rng.integers(0, len(given), n)
        self.org_i = rng.integers(0, 1 << 30, n)
        self.city_i = rng.integers(0, 1 << 30, n)  # street, postal code and city columns agree
        self.postal_i = rng.integers(0, 1000, n)


def _values(c: Column, n: int, rng: np.random.Generator, who: _Identity, country: str,
            uniques: _Uniques) -> pa.Array:
    cats = set(c.categories)
    name = c.name.lower()
    if c.sql_type == "date":
        lo, hi = (date(1930, 1, 1), date(2012, 12, 31)) if "date_of_birth" in cats or "birth" in name else \
            (clock.FIRST_DAY - timedelta(days=5 * 365), clock.FIRST_DAY)
        return pa.array((np.datetime64(lo) + rng.integers(0, (hi - lo).days, n)).astype("datetime64[D]"))
    if c.sql_type.startswith("timestamp"):
        lo_us = clock.START - 5 * 365 * clock.DAY
        return pa.array(rng.integers(lo_us, clock.START, n), TSTZ)
    if c.sql_type in ("bigint", "integer"):
        return pa.array(rng.integers(1, 100_000 if "amount" in name or "fee" in name else 500, n))
    if cats & set(_NAME_CATEGORIES) or any(x.endswith("_name") and x not in ("organization_name", "contract_name")
                                           for x in cats):
        return _person_name(who)
    if "organization_name" in cats:
        return _org_name(who, rng, n)
    if "email" in cats:
        return _email(who, rng, n, uniques)
    if "phone" in cats:
        return _phone(country, rng, n, uniques)
    if "postal_address" in cats:
        return _address(country, name, rng, who)
    if cats & {"medical", "health", "diagnosis"}:
        codes = pa.array([f"{code} {text}" if "text" in name or "diagnosis" in name else code
                          for code, text in W.DIAGNOSES])
        return pick(codes, rng.integers(0, len(W.DIAGNOSES), n))
    if "health_insurance" in cats:
        letters = pa.array([chr(65 + i) for i in range(26)])
        return join(pick(letters, rng.integers(0, 26, n)), lpad(strs(rng.integers(0, 10**9, n)), 9))
    if "payment_card" in cats:
        return _cards(rng, n)
    if "bank_account" in cats:
        return _accounts(country, rng, n)
    if "my_number" in cats and country == "JP":
        return _my_numbers(rng, n)
    if cats & {"my_number", "ssn", "national_id", "tax_id"}:
        if country == "US" or "ssn" in cats:
            return join(strs(rng.integers(100, 666, n)), "-", lpad(strs(rng.integers(1, 100, n)), 2), "-",
                        lpad(strs(rng.integers(1, 10_000, n)), 4))
        return lpad(strs(rng.integers(10**10, 10**11, n)), 11)
    if "corporate_number" in cats:  # Japan's 法人番号 with its check digit, else a commercial register number
        serial = uniques.take("corporate", 900_000, n) + 100_000
        if country == "JP":
            return corporate_numbers(rng.integers(1, 100, n), rng.integers(1, 5, n), serial)
        return join("HRB ", strs(serial))
    if "contract_number" in cats or "customer_id" in cats:
        prefix = "C" if "contract_number" in cats else "CU"
        return join(prefix, lpad(strs(uniques.take(prefix, 10**8, n)), 8))
    if "drivers_license" in cats:
        letters = pa.array([chr(65 + i) for i in range(26)])
        return join(pick(letters, rng.integers(0, 26, n)), lpad(strs(rng.integers(0, 10**9, n)), 9),
                    pick(letters, rng.integers(0, 26, n)))
    if "credentials" in cats:  # a password's bcrypt hash, as an application stores it
        return join("$2b$12$", random_b62(rng, n, 53))
    if cats & {"biometric", "genome"}:  # a template's or a sample's digest
        return random_hex(rng, n, 64)
    if "communications_content" in cats:
        return pick(pa.array(list(W.MESSAGES)), rng.integers(0, len(W.MESSAGES), n))
    if cats & {"communications_metadata", "service_usage"}:
        return join(strs(rng.integers(1, 2_000, n)), pick(pa.array([" min", " GB", " calls", " SMS"]),
                                                          rng.integers(0, 4, n)))
    if "contract_name" in cats:
        return join(pick(pa.array(list(W.PLANS)), rng.integers(0, len(W.PLANS), n)), " ",
                    strs(uniques.take("contract_name", 10**6, n) + 1))
    if cats:  # a category the generator does not know: a code, unique per row
        first = sorted(cats)[0]
        return join(pa.array([first.replace("_", "-")] * n), "-", strs(uniques.take("other:" + first, 10**7, n) + 1))
    return _plain(name, rng, n, country)


def _plain(name: str, rng: np.random.Generator, n: int, country: str) -> pa.Array:
    vocab: tuple[str, ...]
    if "insurer" in name:
        vocab = W.INSURERS["DE" if country == "DE" else "EN"]
    elif "status" in name or "state" in name:
        vocab = W.STATUSES
    elif "type" in name or "kind" in name or "category" in name:
        vocab = ("standard", "standard", "standard", "standard", "private", "priority")
    elif "department" in name or "ward" in name or "clinic" in name or "unit" in name:
        vocab = W.DEPARTMENTS
    else:
        vocab = W.CODES
    return pick(pa.array(list(vocab)), rng.integers(0, len(vocab), n))


def _person_name(who: _Identity) -> pa.Array:
    if who.country == "JP":
        sur = pick(pa.array([s[0] for s in JA.SURNAMES]), who.sur_i)
        return join(sur, " ", pick(pa.array([g[0] for g in JA.GIVEN_NAMES]), who.given_i))
    sur = pick(pa.array(list(W.SURNAMES[who.country])), who.sur_i)
    return join(pick(pa.array(list(W.GIVEN_NAMES[who.country])), who.given_i), " ", sur)


def _romaji(who: _Identity) -> tuple[pa.Array, pa.Array]:
    if who.country == "JP":
        return (pick(pa.array([g[2] for g in JA.GIVEN_NAMES]), who.given_i),
                pick(pa.array([s[2] for s in JA.SURNAMES]), who.sur_i))
    plain = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e"})
    given = pa.array([g.lower().translate(plain) for g in W.GIVEN_NAMES[who.country]])
    sur = pa.array([s.lower().translate(plain) for s in W.SURNAMES[who.country]])
    return pick(given, who.given_i), pick(sur, who.sur_i)


def _email(who: _Identity, rng: np.random.Generator, n: int, uniques: _Uniques) -> pa.Array:
    given, sur = _romaji(who)
    domains = list(JA.FREE_MAIL) if who.country == "JP" else list(W.MAIL_DOMAINS[who.country])
    style = rng.random(n)
    local = where(style < 0.5, join(given, ".", sur),
                  where(style < 0.8, join(pc.utf8_slice_codeunits(given, 0, 1), sur), join(sur, "_", given)))
    number = strs(uniques.take("mailbox", 10**6, n) + 1)  # the mailbox's distinct number
    return join(local, number, "@", pick(pa.array(domains), rng.integers(0, len(domains), n)))


def _org_name(who: _Identity, rng: np.random.Generator, n: int) -> pa.Array:
    if who.country == "JP":
        stems = pa.array([s[0] for s in JA.COMPANY_STEMS])
        words = pa.array([b[0] for b in JA.BUSINESS_WORDS])
        return join("株式会社", pick(stems, who.org_i % len(stems)), pick(words, rng.integers(0, len(words), n)))
    sur = pick(pa.array(list(W.SURNAMES[who.country])), who.sur_i)
    words = W.BUSINESS_WORDS[who.country]
    forms = W.COMPANY_FORMS[who.country]
    return join(sur, " ", pick(pa.array(list(words)), rng.integers(0, len(words), n)), " ",
                pick(pa.array(list(forms)), rng.integers(0, len(forms), n)))


def _phone(country: str, rng: np.random.Generator, n: int, uniques: _Uniques) -> pa.Array:
    """Valid numbers of the country (libphonenumber), each used once in the database."""
    if country == "JP":  # mobile 0X0-NNNN-NNNN
        u = uniques.take("jp_mobile", 3 * 9000 * 10_000, n)
        pre = pick(pa.array(list(JA.MOBILE_PREFIXES)), u // 90_000_000)
        return join(pre, "-", strs(1000 + u // 10_000 % 9000), "-", lpad(strs(u % 10_000), 4))
    if country == "DE":  # mobile 015x/016x/017x (8 digits after the prefix), or a city's fixed line
        mobile_prefixes = pa.array(["51", "52", "60", "62", "70", "71", "72", "76"])
        areas = pa.array(["30", "40", "89", "221", "69", "711", "211", "341"])
        is_mobile = rng.random(n) < 0.6
        m = uniques.take("de_mobile", 8 * 90_000_000, n)
        f = uniques.take("de_fixed", 8 * 9_800_000, n)
        mobile = join("+49 1", pick(mobile_prefixes, m // 90_000_000), " ", strs(10_000_000 + m % 90_000_000))
        fixed = join("0", pick(areas, f // 9_800_000), " ", strs(200_000 + f % 9_800_000))
        return where(is_mobile, mobile, fixed)
    areas = pa.array(["212", "310", "312", "415", "512", "602", "617", "646", "713", "718", "214", "305", "404",
                      "206", "503", "702", "720", "813", "919", "971"])  # assigned area codes
    u = uniques.take("us", 20 * 798 * 10_000, n)
    return join("(", pick(areas, u // (798 * 10_000)), ") ", strs(201 + u // 10_000 % 798), "-",
                lpad(strs(u % 10_000), 4))


def _address(country: str, name: str, rng: np.random.Generator, who: _Identity) -> pa.Array:
    n = len(who.city_i)
    key = country if country == "DE" else "EN"
    if country == "JP":
        locs = JA.LOCALITIES
        i = who.city_i % len(locs)
        if "postal" in name or "zip" in name:
            return join(pick(pa.array([x[2] for x in locs]), i), "-", lpad(strs(who.postal_i * 7 % 10_000), 4))
        return join(pick(pa.array([x[0] + x[1] for x in locs]), i),
                    pick(pa.array(list(JA.TOWNS)), rng.integers(0, len(JA.TOWNS), n)),
                    strs(rng.integers(1, 8, n)), "-", strs(rng.integers(1, 30, n)), "-", strs(rng.integers(1, 25, n)))
    cities = W.CITIES[key]
    ci = who.city_i % len(cities)
    postal = join(pick(pa.array([c[0] for c in cities]), ci), lpad(strs(who.postal_i), 3))
    city = pick(pa.array([c[1] for c in cities]), ci)
    if "postal" in name or "zip" in name:
        return postal
    if "city" in name:
        return city
    street = pick(pa.array(list(W.STREETS[key])), rng.integers(0, len(W.STREETS[key]), n))
    number = strs(rng.integers(1, 180, n))
    if "street" in name:
        return join(street, " ", number) if key == "DE" else join(number, " ", street)
    if key == "DE":
        return join(street, " ", number, ", ", postal, " ", city)
    return join(number, " ", street, ", ", city, " ", postal)


def _my_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """個人番号: 11 digits and the check digit (weights 2-7 then 2-6 from the right, modulo 11), checked against
    python-stdnum's jp.in_ on a sample."""
    body = rng.integers(0, 10, (n, 11))
    weights = np.array([2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6])
    r = (body[:, ::-1] * weights).sum(axis=1) % 11
    check = np.where(r <= 1, 0, 11 - r)
    digits = np.concatenate([body, check[:, None]], axis=1)
    out = lpad(strs((digits * 10 ** np.arange(11, -1, -1, dtype=np.int64)).sum(axis=1)), 12)
    for sample in out.slice(0, 8).to_pylist():
        if not my_number.is_valid(sample):
            raise AssertionError("My Number check digit differs from stdnum's")
    return out


def _cards(rng: np.random.Generator, n: int) -> pa.Array:
    """16-digit card numbers (Visa/Mastercard prefixes) with a valid Luhn check digit."""
    body = np.concatenate([rng.choice(np.array([4, 5]), (n, 1)), rng.integers(0, 10, (n, 14))], axis=1)
    doubled = body[:, ::-1].copy()  # from the right, every other digit starting with the first is doubled
    doubled[:, ::2] *= 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - doubled.sum(axis=1) % 10) % 10
    digits = np.concatenate([body, check[:, None]], axis=1)
    number = (digits * 10 ** np.arange(15, -1, -1, dtype=np.int64)).sum(axis=1)
    return lpad(strs(number), 16)


def _accounts(country: str, rng: np.random.Generator, n: int) -> pa.Array:
    """German IBANs (bank code and account number, ISO 7064 check digits), else a bank's account numbers."""
    if country != "DE":
        return lpad(strs(rng.integers(10**9, 10**10, n)), 10)
    bank = rng.integers(10_000_000, 99_999_999, n)
    account = rng.integers(0, 10**10, n)
    bban = [f"{b}{a:010d}" for b, a in zip(bank.tolist(), account.tolist(), strict=True)]
    # DE = 13 14; the check digits make int(bban + "131400") + check = 1 (mod 97)
    out = [f"DE{98 - int(b + '131400') % 97:02d}{b}" for b in bban]
    return pa.array(out)

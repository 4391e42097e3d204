"""Personal-data recognizers for Japanese and English text: emails, Japanese phone numbers, postal codes,
My Number and corporate numbers (check digits plus context words), payment card numbers (Luhn), and
letter-prefixed identifiers (contract numbers, only ever matched against the snapshot).

The patterns run in DuckDB (RE2: linear time whatever the file holds, and many cores) over the file's
lines; check digits are SQL macros, so Python only sees the values that pass. About 10% of random
12-digit strings pass the My Number check digit: a 12-digit number counts as one only with a context
word (マイナンバー, 個人番号, my number...) in the 40 characters before it on its line or in its
column's header. Corporate numbers (13 digits) carry the same context flag, and are also kept when
they equal a corporate number of the snapshot. Phone numbers: 10-11 digits from 0 (or +81), valid
in the Japanese numbering plan (`phonenumbers`), checked once per first 5 digits and length (the
check only filters noise: a phone counts when it equals one in the snapshot).
"""

from __future__ import annotations

import re
import unicodedata

import duckdb
import phonenumbers

from breachscope.model.sql import quote_literal

EMAIL = "email"
PHONE = "phone"
POSTAL = "postal_code"
MY_NUMBER = "my_number"
CORPORATE = "corporate_number"
CARD = "payment_card"
IDENT = "identifier"
KINDS = (EMAIL, PHONE, POSTAL, MY_NUMBER, CORPORATE, CARD, IDENT)

MY_NUMBER_WORDS = r"マイナンバー|個人番号|my.?number|individual.?number|kojin.?bango"
CORPORATE_WORDS = r"法人番号|corporate.?number|houjin|hojin|法人"
CONTEXT_CHARS = 40

# Each pattern's group 1 is the value; a leading non-alphanumeric (or the line start) stands for the
# word boundary RE2 has no look-behind for.
PATTERNS = {
    EMAIL: r"(?:^|[^A-Za-z0-9._%+'-])([A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9][A-Za-z0-9-]{0,62}"
           r"(?:\.[A-Za-z0-9-]{1,63})+)",
    "number": r"(?:^|[^A-Za-z0-9+])((?:\+81[ -]?)?[0-9][0-9() -]{8,}[0-9])",
    POSTAL: r"(?:^|[^0-9-])(〒 ?[0-9]{3}-?[0-9]{4}|[0-9]{3}-[0-9]{4})(?:[^0-9-]|$)",
    IDENT: r"(?:^|[^A-Za-z0-9_-])([A-Za-z]{1,4}-?[0-9]{4,12})(?:[^A-Za-z0-9_-]|$)",
}

def _weighted(weights: list[int], positions: list[int]) -> str:
    """sum(w * digit at position) written out: an order of magnitude faster than a list lambda."""
    return " + ".join(f"{w} * bs_digit(s, {p})" for w, p in zip(weights, positions, strict=True))


def _luhn_terms(n: int) -> str:
    terms = []
    for k in range(1, n + 1):  # k-th digit from the right of an n-digit string
        d = f"bs_digit(s, {n + 1 - k})"
        terms.append(f"(2 * {d}) % 10 + (2 * {d}) // 10" if k % 2 == 0 else d)
    return " + ".join(terms)


MACROS = (
    "CREATE OR REPLACE MACRO bs_digit(s, i) AS ascii(s[i]) - 48",
    # My Number: weights 6,5,4,3,2,7,6,5,4,3,2 on the first 11 digits; check = -sum mod 11 mod 10
    "CREATE OR REPLACE MACRO bs_my_number(s) AS length(s) = 12 AND "
    f"((11 - ({_weighted([6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2], list(range(1, 12)))}) % 11) % 11) % 10 = bs_digit(s, 12)",
    # corporate number: check digit first; weights 1,2,1,2... from the right of the 12 others; 9 - sum mod 9
    "CREATE OR REPLACE MACRO bs_corporate(s) AS length(s) = 13 AND "
    f"9 - ({_weighted([1, 2] * 6, list(range(13, 1, -1)))}) % 9 = bs_digit(s, 1)",
    "CREATE OR REPLACE MACRO bs_luhn(s) AS CASE length(s) "
    + " ".join(f"WHEN {n} THEN ({_luhn_terms(n)}) % 10 = 0" for n in range(14, 20)) + " ELSE false END",
)


def _n_digit(length: int, position: int) -> str:
    """Digit at position (1 = leftmost) of the length-digit number n: integer arithmetic, no substrings."""
    return f"((n // {10 ** (length - position)}) % 10)"


def _n_weighted(length: int, weights: list[int], positions: list[int]) -> str:
    return " + ".join(f"{w} * {_n_digit(length, p)}" for w, p in zip(weights, positions, strict=True))


def _n_luhn(length: int) -> str:
    terms = []
    for k in range(1, length + 1):  # k-th digit from the right
        d = _n_digit(length, length + 1 - k)
        terms.append(f"(2 * {d}) % 10 + (2 * {d}) // 10" if k % 2 == 0 else d)
    return " + ".join(terms)


# The checks above on (l, n) = (length of the digit string, its value as UBIGINT: up to 20 digits): a few
# integer operations per digit instead of a substring each (recognize_sql; same results, tested with stdnum).
NUMERIC_MACROS = (
    "CREATE OR REPLACE MACRO bs_my_number_n(l, n) AS l = 12 AND "
    f"((11 - ({_n_weighted(12, [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2], list(range(1, 12)))}) % 11) % 11) % 10 = n % 10",
    "CREATE OR REPLACE MACRO bs_corporate_n(l, n) AS l = 13 AND "
    f"9 - ({_n_weighted(13, [1, 2] * 6, list(range(13, 1, -1)))}) % 9 = {_n_digit(13, 1)}",
    "CREATE OR REPLACE MACRO bs_luhn_n(l, n) AS CASE l "
    + " ".join(f"WHEN {n} THEN ({_n_luhn(n)}) % 10 = 0" for n in range(14, 20)) + " ELSE false END",
)

_WIDE = re.compile(r"[０-９＠＋－〒（）Ａ-Ｚａ-ｚ]")


def normalize_text(text: str) -> str:
    """Full-width digits, letters and signs as ASCII (NFKC), only when the text has any."""
    return unicodedata.normalize("NFKC", text) if _WIDE.search(text) else text


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    for m in MACROS + NUMERIC_MACROS:
        con.execute(m)


def is_jp_phone(digits: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(digits, "JP")))
    except phonenumbers.NumberParseException:
        return False


def header_flags(header: list[str], words: str) -> list[bool]:
    rx = re.compile(words, re.I)
    return [bool(rx.search(h)) for h in header]


# The same patterns without capture groups: RE2 then finds only the match's bounds, not its submatches (the
# scan's main cost, measured). The boundary characters they include are stripped in SQL (recognize_sql).
BARE = {
    EMAIL: r"(?:^|[^A-Za-z0-9._%+'-])[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63})+",
    "number": r"(?:^|[^A-Za-z0-9+])(?:\+81[ -]?)?[0-9][0-9() -]{8,}[0-9]",
    POSTAL: r"(?:^|[^0-9-])(?:〒 ?[0-9]{3}-?[0-9]{4}|[0-9]{3}-[0-9]{4})(?:[^0-9-]|$)",
    IDENT: r"(?:^|[^A-Za-z0-9_-])[A-Za-z]{1,4}-?[0-9]{4,12}(?:[^A-Za-z0-9_-]|$)",
}
# ASCII codes a value's first character can have: a match starting with anything else starts with its boundary
_EMAIL_FIRST = "(ascii(m) BETWEEN 65 AND 90 OR ascii(m) BETWEEN 97 AND 122 OR ascii(m) BETWEEN 48 AND 57 " \
    "OR ascii(m) IN (46, 95, 37, 43, 39, 45))"
_NUMBER_FIRST = "(ascii(m) BETWEEN 48 AND 57 OR ascii(m) = 43)"
_LETTER_FIRST = "(ascii(m) BETWEEN 65 AND 90 OR ascii(m) BETWEEN 97 AND 122)"
# a postal code match without its trailing boundary: it ends with the code's last digit, its 7 digits are the
# last 7 characters once dashes are gone (before them: a space, 〒 or the leading boundary, never a digit)
_NO_TRAILING = "CASE WHEN ascii(right(m, 1)) BETWEEN 48 AND 57 THEN m ELSE substr(m, 1, length(m) - 1) END"


def recognize_sql(delimiter: str | None) -> str:
    """Candidates of the `lines` table (line_no, line) -> (kind, value, line_no, context).
    Phones still need is_jp_phone on (prefix, length); parameters: mynumber and corporate header flags.

    The same rows as reference_sql (tests/test_filescan_equiv.py, bench/filescan_bench.py) for less work:
    group-less patterns, their boundary characters stripped after the match (never digits, never a value's first or
    last character), plain replace() instead of regexp_replace, check digits in integer arithmetic and only on
    10-19 digit candidates, the match position only where context counts, emails only on lines with an @."""
    num, email, postal, ident = (BARE["number"], BARE[EMAIL], BARE[POSTAL], BARE[IDENT])
    col = "0" if not delimiter else (
        f"length(substr(line, 1, p - 1)) - length(replace(substr(line, 1, p - 1), {quote_literal(delimiter)}, ''))")
    before = f"lower(substr(line, greatest(1, p - {CONTEXT_CHARS}), p - greatest(1, p - {CONTEXT_CHARS})))"
    return f"""
WITH nums AS (
  SELECT line_no, line, raw,
    replace(replace(replace(replace(replace(raw, '-', ''), ' ', ''), '(', ''), ')', ''), '+', '') AS digits,
    length(digits) AS l, TRY_CAST(digits AS UBIGINT) AS n
  FROM (SELECT line_no, line, CASE WHEN {_NUMBER_FIRST} THEN m ELSE substr(m, 2) END AS raw
        FROM (SELECT line_no, line, unnest(regexp_extract_all(line, {quote_literal(num)})) AS m FROM lines))
), classed AS (
  SELECT line_no, raw, line,
    CASE WHEN raw LIKE '+81%' THEN '0' || digits[3:] ELSE digits END AS value,
    CASE
      WHEN raw LIKE '+81%' AND l IN (11, 12) THEN '{PHONE}'
      WHEN digits[1] = '0' AND l IN (10, 11) THEN '{PHONE}'
      WHEN bs_my_number_n(l, n) THEN '{MY_NUMBER}'
      WHEN bs_corporate_n(l, n) THEN '{CORPORATE}'
      WHEN l BETWEEN 14 AND 19 AND digits[1] IN ('3', '4', '5', '6') AND bs_luhn_n(l, n) THEN '{CARD}'
    END AS kind  -- every kind needs 10 to 19 digits: no separate length filter (DuckDB would compute digits twice)
  FROM nums
), ctx AS (
  SELECT kind, value, line_no, line, CASE WHEN kind IN ('{MY_NUMBER}', '{CORPORATE}') THEN strpos(line, raw) END AS p
  FROM classed WHERE kind IS NOT NULL
)
SELECT kind, value, line_no,
  CASE WHEN kind = '{MY_NUMBER}' THEN CASE WHEN coalesce($mynumber_header[{col} + 1], false) THEN true
                                           ELSE regexp_matches({before}, {quote_literal(MY_NUMBER_WORDS)}) END
       WHEN kind = '{CORPORATE}' THEN CASE WHEN coalesce($corporate_header[{col} + 1], false) THEN true
                                           ELSE regexp_matches({before}, {quote_literal(CORPORATE_WORDS)}) END
       ELSE false END AS context  -- CASE, not OR: the words are only looked for when the header does not say
FROM ctx
UNION ALL
SELECT '{EMAIL}', lower(trim(CASE WHEN {_EMAIL_FIRST} THEN m ELSE substr(m, 2) END, '.''')), line_no, false
  FROM (SELECT line_no, unnest(regexp_extract_all(line, {quote_literal(email)})) AS m FROM lines
        WHERE contains(line, '@'))
UNION ALL
SELECT '{POSTAL}', right(replace({_NO_TRAILING}, '-', ''), 7), line_no, false
  FROM (SELECT line_no, unnest(regexp_extract_all(line, {quote_literal(postal)})) AS m FROM lines)
UNION ALL
SELECT '{IDENT}', lower(replace(substr(m, 1 + (NOT {_LETTER_FIRST})::INT, length(m) - (NOT {_LETTER_FIRST})::INT
                                       - (NOT ascii(right(m, 1)) BETWEEN 48 AND 57)::INT), '-', '')), line_no, false
  FROM (SELECT line_no, unnest(regexp_extract_all(line, {quote_literal(ident)})) AS m FROM lines WHERE $idents)
"""


def reference_sql(delimiter: str | None) -> str:
    """The first implementation (four extractions with capture groups, every candidate checked), kept as the
    reference recognize_sql is compared with: the same rows as a multiset."""
    num, email, postal, ident = (PATTERNS["number"], PATTERNS[EMAIL], PATTERNS[POSTAL], PATTERNS[IDENT])
    col = "0" if not delimiter else (
        f"length(substr(line, 1, p - 1)) - length(replace(substr(line, 1, p - 1), {quote_literal(delimiter)}, ''))")
    before = f"lower(substr(line, greatest(1, p - {CONTEXT_CHARS}), p - greatest(1, p - {CONTEXT_CHARS})))"
    return f"""
WITH nums AS (
  SELECT line_no, line, raw, regexp_replace(raw, '[^0-9]', '', 'g') AS digits, strpos(line, raw) AS p
  FROM (SELECT line_no, line, unnest(regexp_extract_all(line, {quote_literal(num)}, 1)) AS raw FROM lines)
), classed AS (
  SELECT line_no, raw, p, line,
    CASE WHEN raw LIKE '+81%' THEN '0' || digits[3:] ELSE digits END AS value,
    CASE
      WHEN raw LIKE '+81%' AND length(digits) IN (11, 12) THEN '{PHONE}'
      WHEN digits[1] = '0' AND length(digits) IN (10, 11) THEN '{PHONE}'
      WHEN bs_my_number(digits) THEN '{MY_NUMBER}'
      WHEN bs_corporate(digits) THEN '{CORPORATE}'
      WHEN length(digits) BETWEEN 14 AND 19 AND digits[1] IN ('3', '4', '5', '6') AND bs_luhn(digits) THEN '{CARD}'
    END AS kind
  FROM nums WHERE length(digits) BETWEEN 10 AND 19
)
SELECT kind, value, line_no,
  CASE WHEN kind = '{MY_NUMBER}' THEN regexp_matches({before}, {quote_literal(MY_NUMBER_WORDS)})
                                      OR coalesce($mynumber_header[{col} + 1], false)
       WHEN kind = '{CORPORATE}' THEN regexp_matches({before}, {quote_literal(CORPORATE_WORDS)})
                                      OR coalesce($corporate_header[{col} + 1], false)
       ELSE false END AS context
FROM classed WHERE kind IS NOT NULL
UNION ALL
SELECT '{EMAIL}', lower(trim(v, '.''')), line_no, false
  FROM (SELECT line_no, unnest(regexp_extract_all(line, {quote_literal(email)}, 1)) AS v FROM lines)
UNION ALL
SELECT '{POSTAL}', regexp_replace(v, '[^0-9]', '', 'g'), line_no, false
  FROM (SELECT line_no, unnest(regexp_extract_all(line, {quote_literal(postal)}, 1)) AS v FROM lines)
UNION ALL
SELECT '{IDENT}', lower(replace(v, '-', '')), line_no, false
  FROM (SELECT line_no, unnest(regexp_extract_all(line, {quote_literal(ident)}, 1)) AS v FROM lines WHERE $idents)
"""

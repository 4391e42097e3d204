"""What differs between the SQL engines, as data: one template per construct, per dialect.

Templates use `$name` placeholders (string.Template), so substituted SQL is never re-parsed as a
template. Literals are escaped by the dialect's own rules: DuckDB strings only double quotes, Spark
SQL strings also treat backslash as an escape, which Windows paths are full of. No generic SQL
transpiler is used for these (measured to get regex, LIKE escapes and list functions wrong).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from string import Template

from breachscope.model.sql import quote_backslash_literal, quote_ident, quote_literal


@dataclass(frozen=True)
class SqlDialect:
    name: str
    literal: Callable[[str], str]
    ident_quote: str
    templates: dict[str, str] = field(default_factory=dict)
    max_grouping_columns: int | None = None  # columns one GROUPING SETS query may group by (None: no limit)
    # value lists up to this length are written into the SQL as literals instead of registered tables
    # (Spark plans each `IN (SELECT ...)` as a join of its own: one broadcast job each)
    inline_values: int = 0

    def ident(self, name: str) -> str:
        return quote_ident(name, self.ident_quote)

    def t(self, key: str, **values: str) -> str:
        return Template(self.templates[key]).substitute(values)


# IPv6 text -> 32 lowercase hex digits ('::' expanded, groups padded), so that a CIDR test is a
# string range test; the same steps in both dialects' list functions.
_DUCKDB_V6 = (
    "array_to_string(list_transform(list_concat("
    "CASE WHEN split_part($x, '::', 1) = '' THEN []::VARCHAR[] ELSE string_split(split_part($x, '::', 1), ':') END, "
    "list_transform(range(8 - len(CASE WHEN split_part($x, '::', 1) = '' THEN []::VARCHAR[] "
    "ELSE string_split(split_part($x, '::', 1), ':') END) - len(CASE WHEN NOT contains($x, '::') "
    "OR split_part($x, '::', 2) = '' THEN []::VARCHAR[] ELSE string_split(split_part($x, '::', 2), ':') END)), "
    "lambda i: '0'), "
    "CASE WHEN NOT contains($x, '::') OR split_part($x, '::', 2) = '' THEN []::VARCHAR[] "
    "ELSE string_split(split_part($x, '::', 2), ':') END), lambda p: lpad(p, 4, '0')), '')"
)
_SPARK_V6 = (
    "array_join(transform(concat("
    "CASE WHEN split($x, '::')[0] = '' THEN array() ELSE split(split($x, '::')[0], ':') END, "
    "array_repeat('0', 8 - size(CASE WHEN split($x, '::')[0] = '' THEN array() ELSE split(split($x, '::')[0], ':') END)"
    " - size(CASE WHEN NOT contains($x, '::') OR get(split($x, '::'), 1) = '' THEN array() "
    "ELSE split(get(split($x, '::'), 1), ':') END)), "
    "CASE WHEN NOT contains($x, '::') OR get(split($x, '::'), 1) = '' THEN array() "
    "ELSE split(get(split($x, '::'), 1), ':') END), p -> lpad(p, 4, '0')), '')"
)

DUCKDB = SqlDialect(
    name="duckdb",
    literal=quote_literal,
    ident_quote='"',
    templates={
        "lower": "lower($x)",
        "array": "list_value($items)",
        "pairs_agg": "list(struct_pack(a := $a, b := $b))",
        "nulleq": "$a IS NOT DISTINCT FROM $b",
        "join_text": "concat_ws(chr(31), $items)",
        "map_entries": "SELECT unnest(map_keys($m)) AS k, unnest(map_values($m)) AS v FROM $t",
        # array_to_string gives NULL for a list of only NULLs (and '' for an empty one): make it ''
        "join_list": "CASE WHEN $l IS NULL THEN NULL ELSE coalesce(array_to_string($l, chr(31)), '') END",
        "text": "CAST($x AS VARCHAR)",
        "double": "TRY_CAST($x AS DOUBLE)",
        "timestamp": "TRY_CAST($x AS TIMESTAMPTZ)",
        "contains": "contains($x, $v)",
        "startswith": "starts_with($x, $v)",
        "endswith": "ends_with($x, $v)",
        "like": "$x LIKE $v ESCAPE '\\'",
        "regex": "regexp_matches($x, $v)",
        "map_get": "$m[$k]",
        "map_has": "map_contains($m, $k)",
        "map_values": "map_values($m)",
        "list_any": "len(list_filter($l, lambda $var: $pred)) > 0",
        "ipv4_int": ("(TRY_CAST(split_part($x, '.', 1) AS BIGINT) * 16777216 + TRY_CAST(split_part($x, '.', 2) "
                     "AS BIGINT) * 65536 + TRY_CAST(split_part($x, '.', 3) AS BIGINT) * 256 + "
                     "TRY_CAST(split_part($x, '.', 4) AS BIGINT))"),
        "ipv6_hex": _DUCKDB_V6,
        "minute": "minute($x)", "hour": "hour($x)", "day": "day($x)", "week": "week($x)",
        "month": "month($x)", "year": "year($x)",
    },
)

# Spark renders values as Java does (1.0E20, Infinity, no zone); DuckDB's VARCHAR of a DOUBLE is the
# shortest repr with e+XX past 1e16 and below 1e-4 (Python's repr), of a TIMESTAMPTZ ends in +00 (UTC).
_SPARK_DOUBLE_TEXT = (
    "CASE WHEN isnan($d) THEN 'nan' WHEN $d = double('inf') THEN 'inf' WHEN $d = double('-inf') THEN '-inf' "
    "WHEN $d = 0 THEN CASE WHEN CAST($d AS STRING) LIKE '-%' THEN '-0.0' ELSE '0.0' END "
    "WHEN abs($d) >= 1e-4 AND abs($d) < 1e16 "
    "THEN regexp_replace(regexp_replace(CAST(CAST($d AS DECIMAL(38, 21)) AS STRING), '0+\\\\z', ''), '[.]\\\\z', '.0') "
    "ELSE concat(regexp_replace(split_part(CAST($d AS STRING), 'E', 1), '[.]0\\\\z', ''), 'e', "
    "CASE WHEN split_part(CAST($d AS STRING), 'E', 2) LIKE '-%' THEN '-' ELSE '+' END, "
    "lpad(TRIM(LEADING '-' FROM $exp), greatest(length($exp) - CASE WHEN $exp LIKE '-%' THEN 1 ELSE 0 END, 2), "
    "'0')) END"
).replace("$exp", "split_part(CAST($d AS STRING), 'E', 2)")
_SPARK_TEXT = (
    "CASE typeof($x) WHEN 'double' THEN " + _SPARK_DOUBLE_TEXT.replace("$d", "CAST($x AS DOUBLE)") + " "
    "WHEN 'timestamp' THEN concat(CAST($x AS STRING), '+00') ELSE CAST($x AS STRING) END"
)
# DuckDB's TRY_CAST(VARCHAR AS DOUBLE) grammar (measured): ASCII blanks around, sign + - or '+-', digit
# groups joined by single underscores, optional fraction and exponent, or inf/infinity/nan. Java's parser
# also takes 1d, 1f, 0x1p3: only text in DuckDB's grammar reaches the cast, normalized. A fixed pattern
# with possessive quantifiers: no backtracking on hostile values.
_BLANK = "[ \\\\t\\\\n\\\\r\\\\x0B\\\\f]"
_DIGITS = "[0-9]++(?:_[0-9]++)*+"
_SPARK_NUMBER = (
    f"'\\\\A{_BLANK}*+(?:\\\\+-|[+-])?+(?:(?:{_DIGITS}(?:[.](?:{_DIGITS})?+)?+|[.]{_DIGITS})"
    f"(?:[eE][+-]?+{_DIGITS})?+|(?i:infinity|inf|nan)){_BLANK}*+\\\\z'"
)
_SPARK_DOUBLE = (
    f"CASE WHEN $x RLIKE {_SPARK_NUMBER} THEN try_cast(regexp_replace(regexp_replace(replace("
    f"regexp_replace($x, '\\\\A{_BLANK}+|{_BLANK}+\\\\z', ''), '_', ''), '\\\\A[+]-', '-'), "
    "'(?i)\\\\A([+-]?)nan\\\\z', 'NaN') AS DOUBLE) END"
)

SPARK = SqlDialect(
    name="spark",
    literal=quote_backslash_literal,
    ident_quote="`",
    max_grouping_columns=64,  # GROUPING_SIZE_LIMIT_EXCEEDED beyond (the grouping id is a 64-bit mask)
    inline_values=1000,
    templates={
        # Java's lower() maps İ to i + U+0307 and a word-final Σ to ς; DuckDB maps per code point (i, σ)
        "lower": "lower(translate($x, 'İΣ', 'iσ'))",
        "array": "array($items)",
        "pairs_agg": "collect_list(named_struct('a', $a, 'b', $b))",
        "nulleq": "$a <=> $b",
        "join_text": "concat_ws(char(31), $items)",
        "map_entries": "SELECT explode($m) AS (k, v) FROM $t",
        # concat_ws gives '' for a NULL list where DuckDB's list text is NULL (skipped by join_text)
        "join_list": ("CASE WHEN $l IS NULL THEN NULL ELSE concat_ws(char(31), transform($l, bs_e -> "
                      + _SPARK_TEXT.replace("$x", "bs_e") + ")) END"),
        "text": _SPARK_TEXT,
        "double": _SPARK_DOUBLE,
        "timestamp": "bs_timestamptz($x)",  # DuckDB's timestamp grammar, in a UDF of the Spark engine
        "contains": "contains($x, $v)",
        "startswith": "startswith($x, $v)",
        "endswith": "endswith($x, $v)",
        "like": "$x LIKE $v ESCAPE '\\\\'",
        # RE2 (linear time, DuckDB's semantics) in a UDF the Spark engine registers (engines/spark_case.py);
        # java.util.regex backtracks and reads flags, classes and $ differently
        "regex": "bs_re2($x, $v)",
        "map_get": "try_element_at($m, $k)",
        "map_has": "map_contains_key($m, $k)",
        "map_values": "map_values($m)",
        # a subquery, not a lambda: Spark refuses Python UDFs (the regex) inside lambda functions
        "list_any": "EXISTS (SELECT 1 FROM (SELECT explode($l) AS $var) AS bs_list WHERE $pred)",
        "ipv4_int": ("(try_cast(get(split($x, '[.]'), 0) AS BIGINT) * 16777216 + try_cast(get(split($x, '[.]'), 1) "
                     "AS BIGINT) * 65536 + try_cast(get(split($x, '[.]'), 2) AS BIGINT) * 256 + "
                     "try_cast(get(split($x, '[.]'), 3) AS BIGINT))"),
        "ipv6_hex": _SPARK_V6,
        "minute": "minute($x)", "hour": "hour($x)", "day": "dayofmonth($x)", "week": "weekofyear($x)",
        "month": "month($x)", "year": "year($x)",
    },
)

DIALECTS = {d.name: d for d in (DUCKDB, SPARK)}

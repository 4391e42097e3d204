"""Text that evidence wrote, made safe for the places we print or export it: the one neutralization
every output uses (terminal, stderr, CSV, JSON, files).

Evidence is attacker-written. A value can hold terminal escape sequences (ESC, OSC 8 hyperlinks, BEL),
C1 controls that some terminals obey, bidirectional overrides that make text read backwards (U+202E),
line breaks that forge log lines, and cells a spreadsheet would run as a formula. Here:

- `one_line` shows every control character as an escape (`\\x1b`, `\\n`, `\\u202e`): for messages and
  anything printed on one line;
- `multi_line` does the same but keeps line feeds and tabs (table cells, text blocks, CSV cells);
- `quoted` is a file name (or any name) inside a message: escaped, backslashes doubled, in quotes;
- `csv_text` is a CSV cell: `multi_line`, then a leading apostrophe when a spreadsheet could take any
  line of it for a formula (after spaces, tabs or full-width spaces; `=`, `+`, `-`, `@` and their
  full-width and small forms); `csv_sql` is the same in DuckDB SQL, for CSV written by DuckDB;
- `json_text` is `json.dumps` that leaves no raw control character in the text (JSON escapes them as
  `\\u` escapes; the decoded values are unchanged).

Nothing here imports more than the standard library: every layer may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from breachscope.model.sql import quote_literal

#: C0 except TAB and LF (kept by multi_line), DEL, C1.
_C0 = [*range(0x00, 0x09), *range(0x0B, 0x20)]
_C1 = [0x7F, *range(0x80, 0xA0)]
#: Bidirectional formatting (marks, embeddings, overrides, isolates) and the Unicode line separators.
BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
LINE_SEPARATORS = [0x2028, 0x2029]
#: Every code point that multi_line escapes (TAB and LF are escaped by one_line only).
CONTROL_POINTS = tuple(sorted({*_C0, *_C1, *BIDI, *LINE_SEPARATORS}))


def _escape(cp: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    if cp in named:
        return named[cp]
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


_MULTI = {cp: _escape(cp) for cp in CONTROL_POINTS}
_ONE = {**_MULTI, 0x09: "\\t", 0x0A: "\\n"}
_QUOTED = {**_ONE, ord("\\"): "\\\\", ord("'"): "\\'"}
#: Characters json.dumps(ensure_ascii=False) leaves raw (it escapes C0 itself): DEL, C1, bidi, separators.
_JSON = {cp: f"\\u{cp:04x}" for cp in CONTROL_POINTS if cp >= 0x7F}

#: A spreadsheet starts a formula with these (ASCII, full-width, small forms, the minus sign).
FORMULA_CHARS = "=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212"
#: Skipped before the formula character: ASCII and Unicode spaces, full-width space, zero-width ones.
LEADING_SPACE = " \t\r\n\f\v\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
                "\u200b\u202f\u205f\u3000\ufeff"
_FORMULA = re.compile(f"(?:^|[\\r\\n])[{re.escape(LEADING_SPACE)}]*[{re.escape(FORMULA_CHARS)}]")


def one_line(value: object) -> str:
    """Text of a value on one line: every control character (line breaks and tabs too) shown as an escape."""
    return str(value).translate(_ONE)


def multi_line(value: object) -> str:
    """Text of a value with control characters shown as escapes; line feeds and tabs kept."""
    return str(value).translate(_MULTI)


def quoted(value: object) -> str:
    """A name inside a message, e.g. a file name: 'evil\\nname' (escaped, unambiguous, one line)."""
    return "'" + str(value).translate(_QUOTED) + "'"


def neutralize_formula(cell: str) -> str:
    """A leading apostrophe when a spreadsheet could take the cell, or a line of it, for a formula."""
    return "'" + cell if _FORMULA.search(cell) else cell


def csv_text(value: str) -> str:
    """A text CSV cell: controls escaped (line feeds and tabs kept, the CSV writer quotes them), no formula."""
    return neutralize_formula(multi_line(value))


#: The UTF-8 bytes of _JSON's characters, for JSON that a fast encoder (orjson) wrote: they can only
#: stand inside string values there, where their \u escape decodes to the same text.
_JSON_BYTES = re.compile("|".join(re.escape(chr(cp)) for cp in _JSON).encode())


def json_bytes_escaped(data: bytes) -> bytes:
    """UTF-8 JSON (orjson's, which escapes only C0) with DEL, C1, bidi and separators escaped too."""
    return _JSON_BYTES.sub(_escape_match, data)


def _escape_match(m: re.Match[bytes]) -> bytes:
    return f"\\u{ord(m.group().decode()):04x}".encode()


def json_text(obj: Any, *, indent: int | None = None, sort_keys: bool = False,
              default: Callable[[Any], Any] | None = None) -> str:
    """json.dumps(ensure_ascii=False) with every control character escaped, never raw in the output."""
    return json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=sort_keys, default=default).translate(_JSON)


# The same for CSV written by DuckDB: a cell is rewritten only when the (RE2) trigger matches, so the
# common case costs one regex scan per value.
def _re2_class(points: list[int] | tuple[int, ...] | str) -> str:
    cps = [ord(c) for c in points] if isinstance(points, str) else points
    return "".join(f"\\x{{{cp:x}}}" for cp in cps)


_RE2_FORMULA = f"(?:^|[\\r\\n])[{_re2_class(LEADING_SPACE)}]*[{_re2_class(FORMULA_CHARS)}]"
_RE2_TRIGGER = f"[{_re2_class(CONTROL_POINTS)}]|{_RE2_FORMULA}"


#: Escapes one character (a control character, per _MULTI) in DuckDB SQL.
_SQL_ESCAPE_CHAR = (
    f"CASE WHEN NOT regexp_matches(c, {quote_literal('[' + _re2_class(CONTROL_POINTS) + ']')}) THEN c "
    r"WHEN c = chr(13) THEN '\r' WHEN unicode(c) < 256 THEN printf('\x%02x', unicode(c)) "
    r"ELSE printf('\u%04x', unicode(c)) END"
)
#: DuckDB macros behind csv_sql: create them once on the connection that writes the CSV. A value is
#: split into characters only when the trigger matched (rare); one lambda, not a chain of replace()
#: (70 nested calls cost seconds on a 224k-row table even when no row needed them).
CSV_MACROS_SQL = (
    "CREATE OR REPLACE TEMP MACRO bs_escape_controls(s) AS "
    f"array_to_string(list_transform(string_split(s, ''), lambda c: {_SQL_ESCAPE_CHAR}), '');\n"
    "CREATE OR REPLACE TEMP MACRO bs_no_formula(s) AS "
    f"CASE WHEN regexp_matches(s, {quote_literal(_RE2_FORMULA)}) THEN '''' || s ELSE s END;\n"
    "CREATE OR REPLACE TEMP MACRO bs_csv_text(s) AS "
    f"CASE WHEN regexp_matches(s, {quote_literal(_RE2_TRIGGER)}) THEN bs_no_formula(bs_escape_controls(s)) "
    "ELSE s END;"
)


def csv_sql(expr: str) -> str:
    """DuckDB SQL for csv_text of a VARCHAR expression (needs CSV_MACROS_SQL on the connection)."""
    return f"bs_csv_text({expr})"

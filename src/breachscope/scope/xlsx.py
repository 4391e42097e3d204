"""Cell text of an XLSX workbook, row by row (every sheet), without a spreadsheet library.

An XLSX file is a zip of XML parts: `xl/sharedStrings.xml` (the strings) and `xl/worksheets/sheetN.xml`
(rows of cells that hold a number, an inline string or an index into the shared strings). The file is
evidence: members are size-capped (zip bombs) and parsed with expat, which refuses external entities
and (expat >= 2.4) bounds entity expansion.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import XMLPullParser

MAX_MEMBER = 512 << 20
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_SHEET = re.compile(r"^xl/worksheets/sheet(\d+)\.xml$")
_COL = re.compile(r"^([A-Z]+)")


class XlsxError(Exception):
    pass


def iter_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts) of every sheet in order; row numbers continue across sheets."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise XlsxError("not a zip file") from exc
    with zf:
        shared = _shared_strings(zf)
        sheets = sorted((int(m.group(1)), n) for n in zf.namelist() if (m := _SHEET.match(n)))
        offset = 0
        for _, name in sheets:
            last = 0
            for n, row in _sheet_rows(zf, name, shared):
                last = n
                yield offset + n, row
            offset += last


def _read(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    info = zf.getinfo(name)
    if info.file_size > MAX_MEMBER:
        raise XlsxError(f"{name} is larger than {MAX_MEMBER >> 20} MiB")
    with zf.open(info) as fh:
        total = 0
        while chunk := fh.read(1 << 20):
            total += len(chunk)
            if total > MAX_MEMBER:
                raise XlsxError(f"{name} expands beyond {MAX_MEMBER >> 20} MiB")
            yield chunk


def _events(zf: zipfile.ZipFile, name: str) -> Iterator[tuple[Any, ...]]:
    parser: XMLPullParser[Any] = XMLPullParser(events=("start", "end"))
    try:
        for chunk in _read(zf, name):
            parser.feed(chunk)
            yield from parser.read_events()
        parser.close()
        yield from parser.read_events()
    except Exception as exc:  # expat's ParseError and friends: the part is damaged
        if isinstance(exc, XlsxError):
            raise
        raise XlsxError(f"{name}: {type(exc).__name__}") from exc


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in zf.namelist():
        return []
    out: list[str] = []
    parts: list[str] = []
    for ev, el in _events(zf, "xl/sharedStrings.xml"):
        tag = el.tag
        if ev == "end" and tag == _NS + "t":
            parts.append(el.text or "")
        elif ev == "end" and tag == _NS + "si":
            out.append("".join(parts))
            parts = []
            el.clear()
    return out


def _sheet_rows(zf: zipfile.ZipFile, name: str, shared: list[str]) -> Iterator[tuple[int, list[str]]]:
    row: list[str] = []
    rnum = 0
    ctype = ""
    col = 0
    value: str | None = None
    inline: list[str] = []
    for ev, el in _events(zf, name):
        tag = el.tag
        if ev == "start" and tag == _NS + "row":
            row = []
            rnum = int(el.get("r") or rnum + 1)
        elif ev == "start" and tag == _NS + "c":
            ctype = el.get("t") or ""
            col = _col_index(el.get("r") or "", len(row))
            value, inline = None, []
        elif ev == "end" and tag == _NS + "v":
            value = el.text or ""
        elif ev == "end" and tag == _NS + "t":
            inline.append(el.text or "")
        elif ev == "end" and tag == _NS + "c":
            text = _cell_text(ctype, value, inline, shared)
            row.extend([""] * (col - len(row)))
            row.append(text)
        elif ev == "end" and tag == _NS + "row":
            yield rnum, row
            el.clear()


def _cell_text(ctype: str, value: str | None, inline: list[str], shared: list[str]) -> str:
    if ctype == "s" and value is not None:
        try:
            return shared[int(value)]
        except (ValueError, IndexError):
            return ""
    if ctype == "inlineStr":
        return "".join(inline)
    return value or ""


def _col_index(ref: str, default: int) -> int:
    m = _COL.match(ref)
    if not m:
        return default
    n = 0
    for ch in m.group(1):
        n = n * 26 + (ord(ch) - 64)
    return min(n - 1, 16383)

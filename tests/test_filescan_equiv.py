"""The export scan (recognizers.recognize_sql) gives exactly the rows of the first version (reference_sql): same
kinds, values, lines and context flags, as multisets, on hostile generated lines, on the scope bench's export
and on the fixtures' export-like files; the integer check digits agree with stdnum."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.jp import cn, in_

from breachscope.scope import filescan
from breachscope.scope import recognizers as rz

_CON: list[duckdb.DuckDBPyConnection] = []


def _con() -> duckdb.DuckDBPyConnection:
    if not _CON:  # one connection for every example: hypothesis runs hundreds
        con = duckdb.connect()
        rz.install_macros(con)
        _CON.append(con)
    return _CON[0]


def rows(lines: list[str], header: list[str], delim: str | None, idents: bool, reference: bool) -> Counter[tuple]:
    sql = rz.reference_sql if reference else rz.recognize_sql
    t = filescan.scan_lines(_con(), lines, 1, header, delim, idents, sql)
    return Counter((r["kind"], r["value"], r["line_no"], r["context"]) for r in t.to_pylist())


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


_my_number = _digits(11).map(lambda s: s + in_.calc_check_digit(s))
_corporate = _digits(12).map(lambda s: cn.calc_check_digit(s) + s)
_card = st.sampled_from("3456").flatmap(lambda d: _digits(14).map(lambda s: d + s)).map(
    lambda s: s + luhn.calc_check_digit(s))
_phone = st.sampled_from(["03-1234-5678", "090 1234 5678", "+81 3-1234-5679", "+819012345678", "0120-444-444",
                          "(03)1234-5678", "0312345678", "06-6123-4567", "03-0000-0000", "+81-90-1234-5678"])
_postal = st.sampled_from(["〒100-0005", "〒 1000005", "100-0001", "〒123-4567", "999-99999", "12-3456-7890"])
_email = st.sampled_from(["taro.yamada+x@example.co.jp", "user123456789012@example1.jp", "'q'@a.b", ".a.@b.c",
                          "a@@b@x.jp", "0312345678@example.jp", "x@y", "C00000001@x.jp", "%a_b-c@d-e.f.g"])
_ident = st.sampled_from(["C00000001", "AB-1234", "abcd-123456789012", "ABCDE1234", "x-12", "A_1234", "Ab-1234567890"])
_context = st.sampled_from(["マイナンバー", "個人番号", "my number", "My_Number", "法人番号", "corporate number",
                            "houjin", "法人", "individual number"])
_sep = st.sampled_from([",", "\t", " ", "-", "_", "@", ".", "+", "(", ")", "", "", "", ":", "株", "é", "e\u0301", "〒",
                        "０", "＋", "ー", "/", "'", "%", "\r", '"'])
_piece = st.one_of(_my_number, _corporate, _card, _phone, _postal, _email, _ident, _context, _sep, _sep,
                   _digits(1), st.integers(0, 10 ** 20).map(str), st.text(max_size=8),
                   st.text("0123456789-() +@.abcAZ_〒", max_size=20))
_line = st.lists(_piece, max_size=14).map("".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, min_size=1, max_size=25), delim=st.sampled_from([",", "\t", None]),
       idents=st.booleans(), header=st.lists(st.sampled_from(["id", "個人番号", "法人番号", "mail", "x"]), max_size=4))
def test_scan_equals_the_reference_on_hostile_lines(lines: list[str], delim: str | None, idents: bool,
                                                    header: list[str]) -> None:
    assert rows(lines, header, delim, idents, False) == rows(lines, header, delim, idents, True)


def test_scan_equals_the_reference_on_hand_picked_overlaps() -> None:
    lines = ["AB-1234567890,0312345678@example.jp,〒100-0005〒100-0006", "a,+81 3-1234-5678-100-0001,C1234-5678",
             f"マイナンバー{in_.calc_check_digit('12345678901')}", "1" + cn.calc_check_digit("700110005901") +
             "700110005901" + "9", "法人番号:" + cn.calc_check_digit("700110005901") + "700110005901",
             "4111 1111 1111 1111,4111111111111111", "x" * 70 + "個人番号" + "12345678901" +
             in_.calc_check_digit("12345678901"), "株100-0001株,é1234-5678", "", ",,,", "@", "+81",
             # values at the line start (no boundary character to strip) and right after one
             "%a_b-c@d-e.f.g", "-x@y.jp", "+x@y.jp", "_x@y.jp", "abcd-123456789012", "c00000001", "+81 3-1234-5678",
             "100-0001", "〒1000001", "Ab-1234,abcd-1234", "x%a@y.jp", "株-x@y.jp,(03)1234-5678"]
    for delim in (",", "\t", None):
        for header in ([], ["個人番号", "法人番号", "x"]):
            got = rows(lines, header, delim, True, False)
            assert got == rows(lines, header, delim, True, True) and got


def test_scan_file_equals_the_reference_on_the_bench_export_and_fixtures(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from scope_bench import make_export

    export = tmp_path / "export.csv"
    make_export(export, 1, random.Random(5))
    paths = [export, *sorted(Path(__file__).parent.glob("fixtures/**/*.csv")),
             *sorted(Path(__file__).parent.glob("fixtures/**/*.json"))]
    for p in paths:
        f = filescan.ExportFile(str(p), hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size, None)
        new, ref = filescan.scan_file(f, True), filescan.scan_file(f, True, rz.reference_sql)
        key = ("kind", "value", "line_no", "context")
        assert Counter(tuple(r[k] for k in key) for r in new.values.to_pylist()) == \
            Counter(tuple(r[k] for k in key) for r in ref.values.to_pylist()), p
    assert new is not None


@pytest.mark.parametrize("length", [10, 12, 13, 14, 15, 16, 17, 18, 19])
def test_integer_check_digits_agree_with_stdnum(length: int) -> None:
    rnd = random.Random(length)
    values = ["".join(rnd.choice("0123456789") for _ in range(length)) for _ in range(3000)]
    values += [v[:-1] + luhn.calc_check_digit(v[:-1]) for v in values[:300]]
    if length == 12:
        values += [v[:-1] + in_.calc_check_digit(v[:-1]) for v in values[:300]]
    if length == 13:
        values += [cn.calc_check_digit(v[1:]) + v[1:] for v in values[:300]]
    values += ["9" * length, "0" * length]
    got = _con().execute("SELECT s, bs_my_number_n(length(s), s::UBIGINT), bs_corporate_n(length(s), s::UBIGINT), "
                         "bs_luhn_n(length(s), s::UBIGINT) FROM unnest(?::VARCHAR[]) t(s)", [values]).fetchall()
    assert got == [(s, length == 12 and in_.is_valid(s), length == 13 and cn.is_valid(s),
                    length >= 14 and luhn.is_valid(s)) for s in values]


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.sampled_from(["\n", "\r", "a", "株", "é", "\U0001f600", ",", "0"]), max_size=40) | st.text())
def test_lines_split_like_python(text: str) -> None:
    lines = filescan._split_lines(text)
    lines.validate(full=True)
    assert lines.to_pylist() == text.split("\n")


@pytest.mark.parametrize("data", [
    "a,b\n株式会社,03-1234-5678\r\n\n".encode(), "\ufeffa\n〒100-0001\n".encode(), "電話\n０３－１２３４\n".encode(),
    "会社\n株式会社テスト\n".encode("cp932"), "x\ny\n".encode("utf-16"), b"a\n\xff\xfe\xfd\nb", b"", b"\n"])
def test_chunks_hold_the_decoded_lines(data: bytes) -> None:
    expected = rz.normalize_text(filescan._decode(data)[0]).split("\n")
    got = [line for _, chunk, _, _ in filescan._chunks("export.csv", data) for line in chunk.to_pylist()]
    assert got == expected

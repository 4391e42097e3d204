"""Recognizers (emails, Japanese phones, postal codes, My Number, corporate numbers, cards), XLSX and
encodings of staged exports, and organization counting by keys and normalized names."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import duckdb
import pytest
from stdnum.jp import cn, in_

from breachscope.scope import filescan
from breachscope.scope import recognizers as rz
from breachscope.scope.orgs import OrgRecord, group_organizations, normalize_name
from breachscope.scope.xlsx import XlsxError, iter_rows


def found(lines: list[str], header: list[str] | None = None, delim: str | None = ",") -> set[tuple[str, str, int]]:
    con = duckdb.connect()
    rz.install_macros(con)
    t = filescan.scan_lines(con, lines, 1, header or [], delim, True)
    return {(r["kind"], r["value"], r["line_no"]) for r in t.to_pylist()}


MY_NUMBER = "12345678901" + in_.calc_check_digit("12345678901")
CORPORATE = cn.calc_check_digit("700110005901") + "700110005901"


def test_emails_phones_postal_codes() -> None:
    got = found(["a,Taro.Yamada+x@Example.CO.JP,03-1234-5678,〒100-0005",
                 "b,090 1234 5678,+81 3-1234-5679,100-0001",
                 "c,0120-444-444,not@an,12-3456-7890"])
    assert (rz.EMAIL, "taro.yamada+x@example.co.jp", 1) in got
    assert (rz.PHONE, "0312345678", 1) in got and (rz.POSTAL, "1000005", 1) in got
    assert (rz.PHONE, "09012345678", 2) in got and (rz.PHONE, "0312345679", 2) in got
    assert (rz.POSTAL, "1000001", 2) in got
    assert not any(k == rz.EMAIL and line == 3 for k, _, line in got)


def test_full_width_digits_are_read() -> None:
    text = rz.normalize_text("電話：０３－１２３４－５６７８　メール：ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ")
    got = found([text], delim=None)
    assert (rz.PHONE, "0312345678", 1) in got and (rz.EMAIL, "taro@example.jp", 1) in got


def test_my_number_needs_a_context_word() -> None:
    con = duckdb.connect()
    rz.install_macros(con)
    lines = [f"id,{MY_NUMBER}", f"x,マイナンバー: {MY_NUMBER}", f"{MY_NUMBER}"]
    rows = filescan.scan_lines(con, lines, 1, ["id", "value"], ",", False).to_pylist()
    flags = {r["line_no"]: r["context"] for r in rows if r["kind"] == rz.MY_NUMBER}
    assert flags == {1: False, 2: True, 3: False}
    rows = filescan.scan_lines(con, [f"1,{MY_NUMBER}"], 2, ["no", "個人番号"], ",", False).to_pylist()
    assert [r["context"] for r in rows if r["kind"] == rz.MY_NUMBER] == [True]  # the column header says so
    bad = MY_NUMBER[:-1] + str((int(MY_NUMBER[-1]) + 1) % 10)
    assert not any(r["kind"] == rz.MY_NUMBER for r in filescan.scan_lines(con, [f"マイナンバー {bad}"], 1, [], None,
                                                                            False).to_pylist())


def test_check_digit_macros_agree_with_stdnum() -> None:
    import random

    from stdnum import luhn

    con = duckdb.connect()
    rz.install_macros(con)
    rnd = random.Random(5)
    values = ["".join(rnd.choice("0123456789") for _ in range(rnd.choice([12, 13, 14, 15, 16, 19])))
              for _ in range(3000)]
    got = con.execute("SELECT s, bs_my_number(s), bs_corporate(s), bs_luhn(s) FROM unnest(?::VARCHAR[]) t(s)",
                      [values]).fetchall()
    expected = [(s, len(s) == 12 and in_.is_valid(s), len(s) == 13 and cn.is_valid(s),
                 len(s) >= 14 and luhn.is_valid(s)) for s in values]
    assert got == expected
    assert sum(r[1] for r in got) > 10 and sum(r[2] for r in got) > 10 and sum(r[3] for r in got) > 10


def test_corporate_numbers_and_cards() -> None:
    got = found([f"法人番号 {CORPORATE}", "card,4111 1111 1111 1111", "card,4111 1111 1111 1112"])
    assert (rz.CORPORATE, CORPORATE, 1) in got
    assert (rz.CARD, "4111111111111111", 2) in got
    assert not any(line == 3 and k == rz.CARD for k, _, line in got)


def _xlsx(rows: list[list[str]]) -> bytes:
    shared = sorted({c for r in rows for c in r})
    sst = "".join(f"<si><t>{s}</t></si>" for s in shared)
    sheet = "".join(
        f'<row r="{i}">'
        + "".join(f'<c r="{chr(65 + j)}{i}" t="s"><v>{shared.index(c)}</v></c>' for j, c in enumerate(r))
        + "</row>" for i, r in enumerate(rows, 1))
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/sharedStrings.xml", f"<sst {ns}>{sst}</sst>")
        z.writestr("xl/worksheets/sheet1.xml", f"<worksheet {ns}><sheetData>{sheet}</sheetData></worksheet>")
    return buf.getvalue()


def test_xlsx_rows_and_damaged_files() -> None:
    data = _xlsx([["name", "mail"], ["a", "x@example.jp"]])
    assert list(iter_rows(data)) == [(1, ["name", "mail"]), (2, ["a", "x@example.jp"])]
    with pytest.raises(XlsxError):
        list(iter_rows(b"PK\x03\x04 not really"))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData><row")  # truncated XML
    with pytest.raises(XlsxError):
        list(iter_rows(bomb.getvalue()))


def test_scan_file_checks_the_manifest_hash_and_decodes_cp932(tmp_path: Path) -> None:
    import hashlib

    p = tmp_path / "export.csv"
    p.write_bytes("会社,電話\n株式会社テスト,03-1234-5678\n".encode("cp932"))
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    res = filescan.scan_file(filescan.ExportFile(str(p), sha, p.stat().st_size, None), False)
    assert {(r["kind"], r["value"], r["line_no"]) for r in res.values.to_pylist()} == {(rz.PHONE, "0312345678", 2)}
    res = filescan.scan_file(filescan.ExportFile(str(p), "0" * 64, 1, None), False)
    assert res.values.num_rows == 0 and "changed since it was ingested" in res.warnings[0]
    x = tmp_path / "export.xlsx"
    x.write_bytes(_xlsx([["mail"], ["q@example.jp"]]))
    res = filescan.scan_file(filescan.ExportFile(str(x), hashlib.sha256(x.read_bytes()).hexdigest(), 1, "B"), False)
    assert [(r["kind"], r["line_no"]) for r in res.values.to_pylist()] == [(rz.EMAIL, 2)]


@pytest.mark.parametrize(("a", "b"), [
    ("株式会社サンプル", "(株)サンプル"), ("株式会社サンプル", "㈱サンプル"), ("株式会社サンプル", "サンプル株式会社"),
    ("ＡＢＣ商事株式会社", "ABC商事(株)"), ("Example Co., Ltd.", "EXAMPLE CO LTD"),
    ("サンプル　株式会社", "（株）サンプル"),
])
def test_name_normalization(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b) != ""


def test_organizations_counted_by_keys_then_names_with_review() -> None:
    g = group_organizations([
        OrgRecord("1", "株式会社アルファ", (("corporate_number", "111"),)),
        OrgRecord("2", "アルファ株式会社", (("corporate_number", "111"),)),  # same key
        OrgRecord("3", "㈱ベータ", ()),
        OrgRecord("4", "株式会社ベータ", ()),  # same normalized name, no conflicting key
        OrgRecord("5", "株式会社ガンマ", (("corporate_number", "555"),)),
        OrgRecord("6", "ガンマ株式会社", (("corporate_number", "666"),)),  # same name, different key: two
        OrgRecord("7", "株式会社デルタ 大阪支店", ()),
        OrgRecord("8", "株式会社デルタ", ()),  # near: branch words only -> review, not merged
    ])
    groups = {k: v for k, v in g.group_of.items()}
    assert groups["2"] == "1" and groups["4"] == "3"
    assert groups["5"] != groups["6"] and groups["7"] != groups["8"]
    assert len(set(groups.values())) == 6
    assert [(k, ids) for k, ids, _ in g.review] == [("similar_names", ("7", "8"))]

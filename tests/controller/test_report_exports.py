"""CSV and XLSX of a report table: UTF-8 with a BOM, Vietnamese intact, numbers as numbers, and no
cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from controller.report_exports import Table, safe_text, to_csv, to_xlsx

TABLE = Table(
    "commune",
    "Airtime",
    ["Xã", "Phút", "=header"],
    [
        ["Xã Đông Hưng", 18.3, 2],
        ['=HYPERLINK("http://x","y")', -1.5, None],
        ["+1", 0, "@SUM(A1)"],
        ["-2 ", 1, "\tcmd"],
    ],
)


def test_safe_text_prefixes_formula_starters_only() -> None:
    assert [safe_text(t) for t in ("=1", "+1", "-1", "@a", "\t1", "\r1", "a=1", "Thôn 1")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\t1",
        "'\r1",
        "a=1",
        "Thôn 1",
    ]


def test_csv_has_a_bom_and_escapes_formulas() -> None:
    body = to_csv(TABLE)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        ["Xã", "Phút", "'=header"],
        ["Xã Đông Hưng", "18.3", "2"],
        ['\'=HYPERLINK("http://x","y")', "-1.5", ""],
        ["'+1", "0", "'@SUM(A1)"],
        ["'-2 ", "1", "'\tcmd"],
    ]


def test_xlsx_keeps_numbers_and_stores_formulas_as_text() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(TABLE)))
    sheet = book.active
    assert sheet is not None and sheet.title == "commune"
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["Xã", "Phút", "'=header"]
    assert values[1] == ["Xã Đông Hưng", 18.3, 2]
    assert values[2][0] == '\'=HYPERLINK("http://x","y")' and values[2][1] == -1.5
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)

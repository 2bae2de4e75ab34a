"""Batch registration files from Excel: boxes and villages, with every error named in Vietnamese."""

from __future__ import annotations

import pytest

from controller.registry_text import line_words
from device_registry.csv_import import DeviceRow, VillageRow, parse_devices_csv, parse_villages_csv

DEVICES = """device_id,name,zone_code,lat,lon,address
loa-nd-01,Loa chợ Nghi Đức,w17329,18.6796,105.6813,"Xóm 3, xã Nghi Đức"
loa-nd-02,Loa nhà văn hoá,w17329,,,
"""


def errors(parsed: object) -> list[str]:
    """Every problem as the panel words it by default (Vietnamese; ``str()`` is English, for logs)."""
    return [line_words(e) for e in parsed.errors]  # type: ignore[attr-defined]


def test_devices_file_with_bom_gives_rows() -> None:
    parsed = parse_devices_csv(("\ufeff" + DEVICES).encode(), known_zones={"w17329"})
    assert parsed.ok, errors(parsed)
    assert parsed.rows == (
        DeviceRow(
            line=2,
            device_id="loa-nd-01",
            name="Loa chợ Nghi Đức",
            zone_code="w17329",
            lat=18.6796,
            lon=105.6813,
            address="Xóm 3, xã Nghi Đức",
        ),
        DeviceRow(
            line=3,
            device_id="loa-nd-02",
            name="Loa nhà văn hoá",
            zone_code="w17329",
            lat=None,
            lon=None,
            address="",
        ),
    )


def test_excel_semicolons_decimal_commas_vietnamese_headers_and_decomposed_accents() -> None:
    text = "Mã loa;Tên;Mã khu vực;Vĩ độ;Kinh độ;\r\nLOA-01;Loa cho\u031b\u0300 ;w1;18,5;105,25;;\r\n"
    parsed = parse_devices_csv(text.encode())
    assert parsed.ok, errors(parsed)
    [row] = parsed.rows
    assert (row.device_id, row.name, row.lat, row.lon, row.address) == ("loa-01", "Loa chờ", 18.5, 105.25, "")


def test_every_bad_line_is_named_in_vietnamese() -> None:
    text = (
        "device_id,name,zone_code,lat,lon,address\n"
        "loa-01,Loa 1,w1,,,\n"
        "Loa 02!,Loa 2,w1,,,\n"
        "loa-01,Loa 3,w1,,,\n"
        "loa-04,,w9,18.6,,\n"
        "loa-05,Loa 5,w1,105.6,18.6,\n"
        "loa-06,Loa 6,w1,abc,105,\n"
        "loa-07,Loa 7,w1,,,,extra\n"
        "loa-cu,Loa cũ,w1,,,\n"
    )
    parsed = parse_devices_csv(text, known_zones={"w1"}, known_devices={"loa-cu"})
    assert errors(parsed) == [
        "Dòng 3: mã loa 'loa 02!' không hợp lệ (chỉ dùng chữ thường không dấu, số và dấu gạch ngang, "
        "tối đa 63 ký tự)",
        "Dòng 4: mã loa 'loa-01' trùng với dòng 2",
        "Dòng 5: thiếu tên loa",
        "Dòng 5: mã khu vực 'w9' không có trong hệ thống",
        "Dòng 5: cần cả vĩ độ và kinh độ, hoặc để trống cả hai",
        "Dòng 6: vĩ độ 105.6 nằm ngoài Việt Nam (6–24); có nhầm vĩ độ với kinh độ?",
        "Dòng 6: kinh độ 18.6 nằm ngoài Việt Nam (102–118); có nhầm vĩ độ với kinh độ?",
        "Dòng 7: vĩ độ 'abc' không phải là số",
        "Dòng 8: có 7 cột, nhiều hơn tiêu đề (6 cột)",
        "Dòng 9: mã loa 'loa-cu' đã có trong hệ thống",
    ]
    assert [row.line for row in parsed.rows] == [2]
    assert not parsed.ok


def test_line_numbers_count_blank_lines_and_quoted_line_breaks() -> None:
    text = 'device_id,name,zone_code,address\n\nloa-01,Loa 1,w1,"dòng một\ndòng hai"\nBAD ID,Loa,w1,\n'
    assert errors(parse_devices_csv(text))[0].startswith("Dòng 5: mã loa 'bad id'")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Tệp trống"),
        (
            "device_id,name,zone_code\n".encode("utf-16"),
            "Tệp không phải UTF-8: trong Excel hãy lưu bằng “CSV UTF-8”",
        ),
        (
            "device_id,tên,zone_code\n".encode("cp1258"),
            "Tệp không phải UTF-8: trong Excel hãy lưu bằng “CSV UTF-8”",
        ),
        (b"device_id,name\n", "Dòng 1: thiếu cột 'zone_code'"),
        (
            b"device_id,name,zone_code,ghi chu\n",
            "Dòng 1: cột 'ghi chu' không rõ (các cột: device_id, name, zone_code, lat, lon, address)",
        ),
        (b"device_id,name,zone_code,ten\n", "Dòng 1: cột 'name' xuất hiện hai lần"),
        (b"device_id,name,zone_code\n", "Tệp chỉ có dòng tiêu đề, không có dòng dữ liệu nào"),
        (b"device_id,name,zone_code\n,,\n\n", "Tệp chỉ có dòng tiêu đề, không có dòng dữ liệu nào"),
    ],
)
def test_file_and_header_problems(data: bytes, message: str) -> None:
    parsed = parse_devices_csv(data)
    assert errors(parsed) == [message]
    assert parsed.rows == ()


def test_villages_file_gives_rows_with_canonical_codes_and_kinds() -> None:
    text = (
        "commune_code,name,kind\n"
        "w17329,Xóm 1,xóm\n"
        "17329,Thôn Đông,Thôn\n"
        "017330,Khối 3,khoi\n"
        "w17330,Tổ dân phố 5,TDP\n"
        "w17330,Bản Na,ban\n"
    )
    parsed = parse_villages_csv(text.encode("utf-8-sig"), known_communes={"w17329", "w17330"})
    assert parsed.ok, errors(parsed)
    assert parsed.rows == (
        VillageRow(line=2, commune_code="w17329", name="Xóm 1", kind="xóm"),
        VillageRow(line=3, commune_code="w17329", name="Thôn Đông", kind="thôn"),
        VillageRow(line=4, commune_code="w17330", name="Khối 3", kind="khối"),
        VillageRow(line=5, commune_code="w17330", name="Tổ dân phố 5", kind="tổ dân phố"),
        VillageRow(line=6, commune_code="w17330", name="Bản Na", kind="bản"),
    )


def test_bad_villages_are_named_in_vietnamese() -> None:
    text = (
        "Mã xã;Tên;Loại\n"
        "w17329;Xóm 1;xóm\n"
        "w17329;xóm 1;xóm\n"
        "x12;Thôn 2;thôn\n"
        "w99999;Thôn 3;thôn\n"
        "w17329;Thôn 4;làng\n"
        ";;\n"
        "w17329;;\n"
    )
    parsed = parse_villages_csv(text, known_communes={"w17329"})
    assert errors(parsed) == [
        "Dòng 3: 'xóm 1' của xã w17329 trùng với dòng 2",
        "Dòng 4: mã xã/phường 'x12' không hợp lệ (ví dụ: w17329 hoặc 17329)",
        "Dòng 5: mã xã/phường 'w99999' không có trong hệ thống",
        "Dòng 6: loại 'làng' không hợp lệ (thôn, xóm, bản, khối hoặc tổ dân phố)",
        "Dòng 8: thiếu tên thôn",
        "Dòng 8: thiếu loại (thôn, xóm, bản, khối hoặc tổ dân phố)",
    ]
    assert [row.line for row in parsed.rows] == [2]

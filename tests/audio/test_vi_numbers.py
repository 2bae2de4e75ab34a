from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.vi_numbers import (
    cardinal,
    day_name,
    digit_groups,
    digits,
    month_name,
    number,
    number_words,
    ordinal,
    roman,
)

NORTH = number_words("north")
CENTRAL = number_words("central")
SOUTH = number_words("south")


@pytest.mark.parametrize(
    ("n", "north", "south"),
    [
        (0, "không", "không"),
        (5, "năm", "năm"),
        (10, "mười", "mười"),
        (15, "mười lăm", "mười lăm"),
        (21, "hai mươi mốt", "hai mươi mốt"),
        (24, "hai mươi tư", "hai mươi bốn"),
        (105, "một trăm linh năm", "một trăm lẻ năm"),
        (1000, "một nghìn", "một ngàn"),
        (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
        (2025, "hai nghìn không trăm hai mươi lăm", "hai ngàn không trăm hai mươi lăm"),
        (1_000_000, "một triệu", "một triệu"),
        (1_000_001, "một triệu không trăm linh một", "một triệu không trăm lẻ một"),
        (1_000_000_000, "một tỷ", "một tỷ"),
        (1_000_000_000_000, "một nghìn tỷ", "một ngàn tỷ"),
        (2_000_005_000_000, "hai nghìn tỷ không trăm linh năm triệu", "hai ngàn tỷ không trăm lẻ năm triệu"),
    ],
)
def test_cardinals_follow_the_regional_words(n: int, north: str, south: str) -> None:
    assert cardinal(n, NORTH) == north
    assert cardinal(n, CENTRAL) == north  # Nghệ An follows Northern written usage
    assert cardinal(n, SOUTH) == south


def test_negative_numbers_are_read_with_am() -> None:
    assert cardinal(-5) == "âm năm"


@given(st.integers(min_value=0, max_value=10**18))
def test_every_cardinal_is_words_without_digits_or_doubled_spaces(n: int) -> None:
    spoken = cardinal(n, SOUTH)

    assert re.fullmatch(r"[^\W\d_]+( [^\W\d_]+)*", spoken)


@given(st.integers(min_value=1, max_value=99))
def test_one_after_mươi_is_mốt_and_five_after_ten_is_lăm(n: int) -> None:
    tens, units = divmod(n, 10)
    spoken = cardinal(n)

    if tens >= 2 and units == 1:
        assert spoken.endswith("mươi mốt")
    if tens >= 1 and units == 5:
        assert spoken.endswith("lăm")
    assert "mười mốt" not in spoken and "linh" not in spoken


@pytest.mark.parametrize(("n", "spoken"), [(1, "nhất"), (2, "hai"), (4, "tư"), (7, "bảy"), (14, "mười bốn")])
def test_ordinals(n: int, spoken: str) -> None:
    assert ordinal(n, SOUTH) == spoken


def test_april_is_tháng_tư_everywhere_and_early_days_take_mồng_or_mùng() -> None:
    assert month_name(4, SOUTH) == month_name(4, NORTH) == "tư"
    assert month_name(12) == "mười hai"
    assert day_name(5, NORTH) == "mồng năm"
    assert day_name(5, SOUTH) == "mùng năm"
    assert day_name(10) == "mồng mười"
    assert day_name(11) == "mười một"


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("5.000.000", "năm triệu"),
        ("1,5", "một phẩy năm"),
        ("0,4", "không phẩy bốn"),
        ("1,35", "một phẩy ba mươi lăm"),
        ("1,05", "một phẩy không năm"),
        ("1.234,5", "một nghìn hai trăm ba mươi tư phẩy năm"),
        ("1,000,000", "một triệu"),
        ("5,000", "năm nghìn"),
        ("1.2", "một chấm hai"),
        ("1.2.3", "một chấm hai chấm ba"),
        ("007", "bảy"),
        ("0123", "không một hai ba"),
        (
            "12345678901234567890",
            "một hai ba, bốn năm sáu, bảy tám chín, không một hai, ba bốn năm, sáu bảy tám, chín không",
        ),
    ],
)
def test_written_numbers(written: str, spoken: str) -> None:
    assert number(written) == spoken


def test_a_string_that_is_no_number_is_refused() -> None:
    with pytest.raises(ValueError, match="not a written number"):
        number("12a")


def test_digits_are_read_one_by_one_and_grouped_without_a_lone_digit_at_the_end() -> None:
    assert digits("113") == "một một ba"
    assert digit_groups("1234567") == "một hai ba, bốn năm, sáu bảy"


@pytest.mark.parametrize(
    ("written", "value"),
    [("I", 1), ("IV", 4), ("IX", 9), ("XIV", 14), ("XV", 15), ("XXI", 21), ("MCMXLV", 1945)],
)
def test_roman_numerals(written: str, value: int) -> None:
    assert roman(written) == value


@pytest.mark.parametrize("written", ["IIII", "VX", "IL", "", "ABC", "XIXX"])
def test_malformed_roman_numerals_are_not_numbers(written: str) -> None:
    assert roman(written) is None


def test_an_unknown_accent_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown accent 'hue'"):
        number_words("hue")

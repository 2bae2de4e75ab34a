from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio import prepare_for_speech


def test_runs_of_whitespace_collapse_to_one_space() -> None:
    assert prepare_for_speech("  Kính   thưa\tbà  con.  ") == "Kính thưa bà con."


def test_each_line_becomes_a_sentence() -> None:
    text = "Thông báo\nLịch tiêm phòng vắc xin\n\nTại trạm y tế xã"
    assert prepare_for_speech(text) == "Thông báo. Lịch tiêm phòng vắc xin. Tại trạm y tế xã."


def test_lines_that_end_with_punctuation_keep_it() -> None:
    text = "Kính thưa bà con!\nThời gian:\r\nsáng thứ bảy, \nbà con đã rõ chưa?"
    assert prepare_for_speech(text) == "Kính thưa bà con! Thời gian: sáng thứ bảy, bà con đã rõ chưa?"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Ông nói "xong."', 'Ông nói "xong."'),
        ("theo Điều khoản (sửa đổi)", "theo Điều khoản (sửa đổi)."),
    ],
)
def test_punctuation_inside_closing_quotes_and_brackets_counts(text: str, expected: str) -> None:
    assert prepare_for_speech(text) == expected


def test_control_and_invisible_characters_are_removed() -> None:
    assert prepare_for_speech("\ufeffxã\x00 thông\u200b báo\x07\x1b") == "xã thông báo."


def test_decomposed_vietnamese_is_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Thông báo của Ủy ban")
    assert prepare_for_speech(decomposed) == "Thông báo của Ủy ban."


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n", "\x00\u200b"])
def test_blank_text_prepares_to_nothing(text: str) -> None:
    assert prepare_for_speech(text) == ""


@given(st.text())
def test_prepared_text_is_one_clean_line_and_preparing_again_changes_nothing(text: str) -> None:
    prepared = prepare_for_speech(text)
    assert prepared == prepared.strip()
    assert "  " not in prepared
    assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in prepared)
    assert prepared.splitlines() == ([prepared] if prepared else [])
    assert prepare_for_speech(prepared) == prepared

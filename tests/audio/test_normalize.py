from __future__ import annotations

import dataclasses
import io
import re
import statistics
import time
from pathlib import Path

import pytest

from audio.normalize import Lexicon, Normalized, main, normalize, prepare_for_speech

BULLETINS = sorted((Path(__file__).parent / "data" / "bulletins").glob("*.txt"))


def test_the_result_is_a_frozen_value_with_the_spoken_text_and_the_unknown_abbreviations() -> None:
    result = normalize("Công ty XYZ và UBND xã")

    assert result == Normalized(text="Công ty ích xì i dét và Ủy ban nhân dân xã.", unknown=("XYZ",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "khác"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("UBND, HĐND và MTTQ xã", ()),
        ("XYZ", ("XYZ",)),
        ("Đoàn KTLN và đoàn KTLN", ("KTLN",)),
        ("Tổ chức ABC12, tổ XYZ", ("ABC12", "XYZ")),
        ("Quyết định 12/QĐ-BQLDA", ("BQLDA",)),
        ("Luật số 36/2024/QH15 và QH16", ()),
        ("Luật số 36/2024/QH17", ()),  # "QH" is known; the legislature number is read
        ("bản TIN", ("TIN",)),  # plain capitals in a lower-case line are not taken for a word
        ("BẢN TIN", ()),  # but in a heading they are
        ("NGHỆ AN", ()),
        ("HỘI NGHỊ ABC", ("ABC",)),
        ("UBNDxã", ()),
        ("xãKTLN", ("KTLN",)),
        ("ĐBX", ("ĐBX",)),
        ("H5N1, B2, 4G", ()),  # single letters are read by their names, never reported
    ],
)
def test_unknown_abbreviations_are_reported_once_in_order(text: str, unknown: tuple[str, ...]) -> None:
    assert normalize(text).unknown == unknown


def test_the_lexicon_given_is_the_one_used() -> None:
    province = Lexicon.default().merged(Lexicon(abbreviations={"KTLN": "kiểm tra liên ngành"}))

    assert normalize("Đoàn KTLN", lexicon=province) == Normalized("Đoàn kiểm tra liên ngành.", ())
    assert normalize("UBND", lexicon=Lexicon()) == Normalized("u bê en nờ dê.", ("UBND",))


def test_an_unknown_accent_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown accent 'hue'; expected one of north, central, south"):
        normalize("Có 105 hộ", accent="hue")


def test_blank_text_normalises_to_nothing() -> None:
    for text in ["", "  ", "\n\n\t", "\x00\u200b", "- \n+ \n•"]:
        assert normalize(text) == Normalized("", ())


def test_prepare_for_speech_is_the_central_spoken_form() -> None:
    text = "THÔNG BÁO\nTừ ngày 01/01/2025, UBND xã tiêm vắc xin lúc 7h30."

    assert prepare_for_speech(text) == normalize(text).text
    assert prepare_for_speech(text) == (
        "Thông báo. Từ ngày mồng một tháng một năm hai nghìn không trăm hai mươi lăm, "
        "Ủy ban nhân dân xã tiêm vắc xin lúc bảy giờ ba mươi phút."
    )


def test_control_and_invisible_characters_are_dropped_and_compatibility_forms_folded() -> None:
    assert normalize("\ufeffxã\x00 thông\u200b báo\x07").text == "xã thông báo."
    assert normalize("Có １０５ hộ, ٣ thôn").text == "Có một trăm linh năm hộ, ba thôn."
    assert normalize("⓵0 hộ").text == "mười hộ."


@pytest.mark.parametrize("path", BULLETINS, ids=lambda path: path.name)
@pytest.mark.parametrize("accent", ["north", "central", "south"])
def test_the_sample_bulletins_need_no_digit_and_no_unknown_abbreviation(path: Path, accent: str) -> None:
    result = normalize(path.read_text(encoding="utf-8"), accent=accent)

    assert not re.search(r"[0-9]", result.text)
    assert result.unknown == ()
    assert "nghị định Chính phủ" in result.text or "bảo hiểm y tế" in result.text


def test_the_sample_bulletins_are_here() -> None:
    assert [path.name for path in BULLETINS] == ["01-giao-thong.txt", "02-bao-hiem-y-te.txt"]


def test_a_thousand_word_bulletin_normalises_in_milliseconds() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in BULLETINS)
    while len(text.split()) < 1000:
        text += "\n" + text
    normalize(text)  # warm the lexicon's compiled patterns

    timings = []
    for _ in range(5):
        start = time.perf_counter()
        normalize(text)
        timings.append(time.perf_counter() - start)

    words = len(text.split())
    per_thousand_words = statistics.median(timings) * 1000 / words
    assert per_thousand_words < 0.25, f"{per_thousand_words * 1000:.1f} ms per 1,000 words"


def _run(argv: list[str], text: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(text), stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_the_cli_prints_the_spoken_form_and_each_unknown_abbreviation_on_stderr() -> None:
    code, out, err = _run([], "UBND xã XYZ\nCó 105 hộ, ABC và XYZ\n")

    assert code == 0
    assert out == "Ủy ban nhân dân xã ích xì i dét. Có một trăm linh năm hộ, a bê xê và ích xì i dét.\n"
    assert err == "unknown abbreviation: XYZ\nunknown abbreviation: ABC\n"


@pytest.mark.parametrize(
    ("accent", "spoken"),
    [
        ("north", "Có một trăm linh năm hộ."),
        ("central", "Có một trăm linh năm hộ."),
        ("south", "Có một trăm lẻ năm hộ."),
    ],
)
def test_the_cli_reads_with_the_accent_asked_for(accent: str, spoken: str) -> None:
    assert _run(["--accent", accent], "Có 105 hộ") == (0, spoken + "\n", "")


def test_the_cli_says_nothing_for_empty_input() -> None:
    assert _run([], "") == (0, "", "")


def test_the_cli_refuses_an_unknown_accent_on_stderr() -> None:
    code, out, err = _run(["--accent", "hue"], "Có 105 hộ")

    assert code == 2
    assert out == ""
    assert "invalid choice: 'hue'" in err


def test_the_cli_has_help() -> None:
    code, out, err = _run(["--help"], "")

    assert code == 0
    assert "loa normalize" in out and "--accent" in out
    assert err == ""


def test_the_cli_reads_bytes_that_are_not_utf8_without_failing() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"UBND x\xe3 105"), encoding="utf-8")
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()

    assert main([], stdin=stdin, stdout=stdout, stderr=stderr) == 0
    stdout.flush()
    assert stdout.buffer.getvalue().decode("utf-8") == "Ủy ban nhân dân ích xì\ufffd một trăm linh năm.\n"  # type: ignore[attr-defined]

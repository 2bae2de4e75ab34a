from __future__ import annotations

import re

import pytest

from audio.normalize import Lexicon, LexiconError, normalize
from audio.vi_letters import looks_like_syllable


def test_the_default_lexicon_knows_the_abbreviations_of_commune_bulletins() -> None:
    abbreviations = Lexicon.default().abbreviations

    assert len(abbreviations) >= 60
    for key in ["UBND", "HĐND", "PBGDPL", "MTTQ", "TTg", "NĐ-CP", "QĐ", "CNTT", "BHYT", "BHXH", "CCCD"]:
        assert key in abbreviations
    for key in ["THPT", "THCS", "CSGT", "VHTTDL", "BTP", "QH", "TW", "VNĐ", "km"]:
        assert key in abbreviations


@pytest.mark.parametrize("key", sorted(Lexicon.default().abbreviations))
def test_no_default_abbreviation_is_also_a_word_in_capitals(key: str) -> None:
    """ "AN", "TƯ" or "CA" would turn "NGHỆ AN", "SỞ TƯ PHÁP" in a heading into nonsense."""
    assert not (key.isupper() and looks_like_syllable(key))


@pytest.mark.parametrize(
    ("key", "spoken"),
    sorted({**Lexicon.default().abbreviations, **Lexicon.default().pronunciations}.items()),
)
def test_every_default_spoken_form_reads_as_itself(key: str, spoken: str) -> None:
    """Normalising a spoken form changes nothing, so expanding is safe to do twice."""
    del key
    again = normalize(spoken)

    assert again.text.rstrip(".") == spoken
    assert again.unknown == ()


def test_abbreviations_match_case_and_whole_tokens_only() -> None:
    assert normalize("UBND xã").text == "Ủy ban nhân dân xã."
    assert normalize("Ubnd xã").text == "Ubnd xã."  # not an abbreviation when not written as one
    assert normalize("UBNDX").unknown == ("UBNDX",)


def test_pronunciations_match_whole_words_in_any_case() -> None:
    lexicon = Lexicon(pronunciations={"Nghi Lộc": "nghi lộc quê tôi", "Zalo": "da lô"})

    assert normalize("Huyện NGHI LỘC", lexicon=lexicon).text == "Huyện nghi lộc quê tôi."
    assert normalize("qua zalo, Zalo và ZALO", lexicon=lexicon).text == "qua da lô, da lô và da lô."
    assert normalize("Zalopay", lexicon=lexicon).text == "Zalopay."
    assert normalize("zalo.me", lexicon=lexicon).text != "da lô chấm me."


def test_merged_adds_entries_and_the_overrides_win() -> None:
    province = Lexicon(
        abbreviations={"UBND": "Ủy ban", "BQLDA": "ban quản lý dự án"},
        pronunciations={"Quỳ Hợp": "quỳ hợp"},
    )
    merged = Lexicon.default().merged(province)

    assert merged.abbreviations["UBND"] == "Ủy ban"
    assert merged.abbreviations["BQLDA"] == "ban quản lý dự án"
    assert merged.abbreviations["HĐND"] == "Hội đồng nhân dân"
    assert merged.pronunciations["Quỳ Hợp"] == "quỳ hợp"
    assert Lexicon.default().abbreviations["UBND"] == "Ủy ban nhân dân"  # the default is untouched
    assert normalize("BQLDA xã", lexicon=merged) == normalize("ban quản lý dự án xã")


def test_a_lexicon_is_data_and_cannot_be_changed_after_it_is_made() -> None:
    source = {"ABC": "a bê xê"}
    lexicon = Lexicon(abbreviations=source)
    source["ABC"] = "changed"

    assert lexicon.abbreviations["ABC"] == "a bê xê"
    with pytest.raises(TypeError):
        lexicon.abbreviations["XYZ"] = "x"  # type: ignore[index]


def test_entries_typed_in_decomposed_unicode_still_match() -> None:
    import unicodedata

    lexicon = Lexicon(
        abbreviations={unicodedata.normalize("NFD", "HĐND"): unicodedata.normalize("NFD", "Hội đồng")}
    )

    assert normalize("HĐND xã", lexicon=lexicon).text == "Hội đồng xã."


@pytest.mark.parametrize(
    ("abbreviations", "message"),
    [
        ({"UBND": ""}, "spoken form must be words"),
        ({"UBND": "Ủy ban 5"}, "without digits"),
        ({"UBND": "Ủy ban (xã)"}, "without digits or symbols"),
        ({"UBND": "UBND tỉnh"}, "must not contain an abbreviation"),
        ({"VITC": "vitamin C"}, "single letter by its name"),
        ({"": "trống"}, "written form of the entry is empty"),
        ({"Ủy ban": "ủy ban"}, "no spaces"),
    ],
)
def test_unusable_entries_are_refused_with_a_message_naming_them(
    abbreviations: dict[str, str], message: str
) -> None:
    with pytest.raises(LexiconError, match=re.escape(message)):
        Lexicon(abbreviations=abbreviations)


def test_a_pronunciation_may_be_a_phrase() -> None:
    lexicon = Lexicon(pronunciations={"Con  Cuông": "con cuông"})

    assert lexicon.pronunciations == {"Con Cuông": "con cuông"}

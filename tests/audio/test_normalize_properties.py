"""Properties of the normaliser over generated text: nothing unsaid, nothing unspoken, never a crash."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from audio.normalize import Lexicon, normalize
from audio.vi_letters import looks_like_syllable
from audio.vi_numbers import roman

ACCENTS = st.sampled_from(["north", "central", "south"])

# Text that looks like bulletins: digits, separators, units, dates and codes, in Vietnamese letters.
BULLETIN_ALPHABET = list(
    "0123456789 .,;:/-–%()\"'°²\n"
    "abcdeghiklmnopqrstuvxyđáàảãạăâêôơưếệộờ"
    "ABCDEGHIKLMNOPQRSTUVXYĐÂÊÔƠƯẢẾỆÁ"
    "hgxkmđ+&@$~<>"
)
bulletin_like = st.text(st.sampled_from(BULLETIN_ALPHABET), max_size=80)
any_text = st.one_of(st.text(max_size=80), bulletin_like)

# Capitals with no vowel can never be a Vietnamese word, nor a Roman numeral (no I, V, X).
CONSONANT_CAPITALS = "BCDĐFGHJKLMNPQRSTWZ"
WORDS = ["bà", "con", "xã", "thôn", "phạt", "tiền", "đồng", "ngày", "năm", "hộ", "giờ", "km", "điểm", "số"]
SEPARATORS = ["", " ", " ", ", ", ". ", "-", "/", "\n", " (", ") ", ": "]


@st.composite
def text_with_codes(draw: st.DrawFn) -> str:
    """Words, numbers and runs of capitals joined by spaces, punctuation or nothing at all."""
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from(WORDS),
                st.from_regex(r"[0-9]{1,8}([.,/][0-9]{1,4})?", fullmatch=True),
                st.text(st.sampled_from(CONSONANT_CAPITALS), min_size=2, max_size=6),
                st.sampled_from(sorted(Lexicon.default().abbreviations)),
            ),
            max_size=12,
        )
    )
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(pieces), max_size=len(pieces)))
    return "".join(sep + piece for sep, piece in zip(separators, pieces, strict=True))


def _capital_runs(text: str) -> list[str]:
    return re.findall(r"[A-ZĐ]{2,}", text)


def _lexicon_runs(lexicon: Lexicon) -> set[str]:
    return {run for key in lexicon.abbreviations for run in _capital_runs(key)}


@settings(max_examples=400, deadline=None)
@given(any_text, ACCENTS)
def test_the_spoken_form_has_no_digits_and_is_one_clean_line(text: str, accent: str) -> None:
    spoken = normalize(text, accent=accent).text

    assert not re.search(r"[0-9]", spoken)
    assert spoken == spoken.strip()
    assert "  " not in spoken
    assert spoken.splitlines() == ([spoken] if spoken else [])


@settings(max_examples=400, deadline=None)
@given(any_text, ACCENTS)
# Each of these once read differently the second time.
@example("A\r0", "north")
@example("ă\r0", "north")
@example("0.°", "north")
@example("0'0", "north")
@example("0\r.", "north")
@example("BYT", "north")
@example("A)+", "north")
@example("I\r0", "north")
@example("I.B", "south")
@example("⓵0", "north")  # a digit with no decimal value once reached int()
def test_normalising_the_spoken_form_again_changes_nothing(text: str, accent: str) -> None:
    once = normalize(text, accent=accent)
    twice = normalize(once.text, accent=accent)

    assert twice.text == once.text
    assert twice.unknown == ()


@settings(max_examples=300, deadline=None)
@given(text_with_codes(), ACCENTS)
def test_every_run_of_capitals_is_either_in_the_lexicon_or_reported(text: str, accent: str) -> None:
    result = normalize(text, accent=accent)

    known = _lexicon_runs(Lexicon.default())
    for run in _capital_runs(text):
        assert run in known or any(run in code for code in result.unknown), (run, result)
    assert not _capital_runs(result.text)


@settings(max_examples=300, deadline=None)
@given(text_with_codes())
def test_with_an_empty_lexicon_every_run_of_capitals_is_reported(text: str) -> None:
    result = normalize(text, lexicon=Lexicon())

    for run in _capital_runs(text):
        assert any(run in code for code in result.unknown), (run, result)


@settings(max_examples=400, deadline=None)
@given(any_text)
@example("°CQ")  # "°C" once took the C of "CQ"
def test_capitals_are_never_left_unread_in_any_text(text: str) -> None:
    """In any text a run of capitals is expanded, reported, or read as a word or a Roman numeral."""
    result = normalize(text)

    lexicon = Lexicon.default()
    known = _lexicon_runs(lexicon)
    pronounced = {word.casefold() for key in lexicon.pronunciations for word in re.findall(r"[^\W\d_]+", key)}
    for word in _words(text):
        for run in _capital_runs(word):
            read_as_word = looks_like_syllable(_upper_run_around(word, run)) or word.casefold() in pronounced
            is_roman = re.fullmatch(r"[IVXL]+", run) is not None and roman(run) is not None
            reported = any(run in code for code in result.unknown)
            assert run in known or reported or read_as_word or is_roman, (run, text, result)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.sampled_from(CONSONANT_CAPITALS), min_size=2, max_size=5), min_size=1, max_size=6))
def test_unknown_abbreviations_come_in_order_of_first_appearance_without_repeats(codes: list[str]) -> None:
    lexicon = Lexicon()
    text = " và ".join(codes + codes)

    assert normalize(text, lexicon=lexicon).unknown == tuple(dict.fromkeys(codes))


def _words(text: str) -> list[str]:
    """The words of ``text`` as the normaliser sees them (compatibility forms folded)."""
    return re.findall(r"[^\W\d_]+", unicodedata.normalize("NFKC", text))


def _upper_run_around(word: str, run: str) -> str:
    """The whole run of upper-case letters (any script, any mark) in ``word`` that holds ``run``."""
    start = word.index(run)
    end = start + len(run)
    while start > 0 and word[start - 1].isupper():
        start -= 1
    while end < len(word) and word[end].isupper():
        end += 1
    return word[start:end]

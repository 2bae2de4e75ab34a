"""Vietnamese letter names, for spelling abbreviations, and a test of whether a word is one syllable.

An abbreviation that no lexicon knows is spelled with the letter names Vietnamese speakers use when
they read abbreviations aloud: B "bê", C "xê", Đ "đê", L "e lờ", M "em mờ", N "en nờ", R "e rờ",
S "ét xì", X "ích xì", Y "i", and the foreign letters F "ép", J "gi", W "vê kép", Z "dét". So "UBND",
if it were unknown, would be read "u bê en nờ đê", and "XYZ" "ích xì i dét".
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

LETTER_NAMES: Final = {
    "A": "a",
    "Ă": "á",
    "Â": "ớ",
    "B": "bê",
    "C": "xê",
    "D": "dê",
    "Đ": "đê",
    "E": "e",
    "Ê": "ê",
    "F": "ép",
    "G": "giê",
    "H": "hát",
    "I": "i",
    "J": "gi",
    "K": "ca",
    "L": "e lờ",
    "M": "em mờ",
    "N": "en nờ",
    "O": "o",
    "Ô": "ô",
    "Ơ": "ơ",
    "P": "pê",
    "Q": "quy",
    "R": "e rờ",
    "S": "ét xì",
    "T": "tê",
    "U": "u",
    "Ư": "ư",
    "V": "vê",
    "W": "vê kép",
    "X": "ích xì",
    "Y": "i",
    "Z": "dét",
}

# The letters of abbreviations: plain capitals and Đ. A capital with any other mark (Ả, Ơ, Ư…) only
# occurs in a word, such as a heading in capitals.
ABBREVIATION_LETTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZĐ")

_VOWELS: Final = frozenset("aeiouy")

# One syllable, its marks removed: an onset, then either a vowel group that may take a final
# consonant ("uyê" + "n") or one that ends in a glide and takes none ("ươi", "ai"). It tells a word
# in capitals ("TIN", "NGHĨA") from a string of initials ("CCCD", "HTX", "BYT").
_SYLLABLE = re.compile(
    r"(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdghklmnprstvx])?"
    r"(?:(?P<vowels>uye|oa|oe|oo|ie|ye|uo|ua|ue|uy|[aeiouy])(?P<coda>ng|nh|ch|[cmnpt])?"
    r"|oai|oay|oao|oeo|uay|uoi|uou|ieu|yeu|uya|uyu|ai|ao|au|ay|eo|eu|ia|iu|oi|ui|uu)"
)


def letter_name(letter: str) -> str:
    """How a single letter is read out: "B" → "bê", "đ" → "đê"; a letter with a tone mark is itself."""
    return LETTER_NAMES.get(letter.upper(), letter.lower())


def spell(letters: str) -> str:
    """``letters`` read one by one: "XYZ" → "ích xì i dét"."""
    return " ".join(letter_name(letter) for letter in letters)


def is_vowel(letter: str) -> bool:
    """Whether ``letter`` is a Vietnamese vowel, with or without marks (a, Ơ, ỳ…)."""
    return bare(letter) in _VOWELS


def bare(word: str) -> str:
    """``word`` lower-cased without its marks: "NGHĨA" → "nghia", "Đường" → "duong"."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def looks_like_syllable(word: str) -> bool:
    """Whether ``word`` could be one Vietnamese syllable: "TIN", "NGHĨA", "ƯƠNG" yes; "CCCD", "HIV" no."""
    plain = bare(word)
    m = _SYLLABLE.fullmatch(plain) if plain.isascii() else None
    # A lone "y" ends its syllable ("ly", "kỹ"): "BYT", "TYT" are initials.
    return m is not None and not (m["vowels"] == "y" and m["coda"])


def syllables(word: str) -> list[str] | None:
    """``word`` written without spaces cut into the fewest syllables ("nghean" → nghe, an), or None."""
    best: list[list[str] | None] = [[]] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 7), end):
            before, current = best[start], best[end]
            piece = word[start:end]
            shorter = current is None or (before is not None and len(before) + 1 < len(current))
            if before is not None and shorter and looks_like_syllable(piece):
                best[end] = [*before, piece]
    return best[-1]


def has_vietnamese_mark(word: str) -> bool:
    """Whether ``word`` has a letter beyond the abbreviation letters (Ả, Ô, Ư…): then it is a word."""
    return any(ch.isalpha() and ch.upper() not in ABBREVIATION_LETTERS for ch in word)

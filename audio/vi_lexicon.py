"""The lexicon the normaliser reads: abbreviations and pronunciations, as data.

The built-in entries live in ``audio.vi_lexicon_data``; a province's own entries (local place
names, its departments' abbreviations) will come from the controller's database and are laid over
the built-in ones with ``Lexicon.default().merged(Lexicon(...))``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from audio import vi_lexicon_data
from audio.texts import Text
from audio.vi_letters import is_vowel

# A spoken form is words, optionally separated by commas: nothing the normaliser would change again
# (digits, abbreviations, symbols), so that normalising its own output changes nothing.
_SPOKEN = re.compile(r"[^\W\d_]+(?:,? [^\W\d_]+)*")
_CAPITALS_RUN = re.compile(r"[A-ZĐ]{2}")
_ABBREVIATION_KEY = re.compile(r"[^\W_][^\s]*")
_WORDS = re.compile(r"[^\W\d_]+")


class LexiconError(ValueError):
    """A lexicon entry that cannot be used; ``str()`` names the entry and says why in English (logs,
    the CLI), ``text`` is the same for people, worded by the controller in the reader's language."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


@dataclass(frozen=True)
class Lexicon:
    """Abbreviations (exact, case-sensitive tokens) and pronunciations (whole words, any case).

    ``abbreviations`` maps a written token to its spoken form: "UBND" → "Ủy ban nhân dân",
    "TTg" → "Thủ tướng Chính phủ", "km/h" → "ki lô mét trên giờ", "TP." → "thành phố".
    ``pronunciations`` maps a word or phrase to how it should sound: "Zalo" → "da lô".
    Spoken forms are plain words (commas allowed), with no digits and no capital abbreviations.
    """

    abbreviations: Mapping[str, str] = field(default_factory=dict)
    pronunciations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        abbreviations = {_key(key): _spoken(key, value) for key, value in self.abbreviations.items()}
        for key in abbreviations:
            if _ABBREVIATION_KEY.fullmatch(key) is None:
                raise LexiconError(Text.of("lexicon.bad_abbreviation", written=key))
        pronunciations: dict[str, str] = {}
        for key, value in self.pronunciations.items():
            word = " ".join(_key(key).split())
            pronunciations[word] = _spoken(key, value)
        object.__setattr__(self, "abbreviations", MappingProxyType(abbreviations))
        object.__setattr__(self, "pronunciations", MappingProxyType(pronunciations))

    @classmethod
    def default(cls) -> Lexicon:
        """The built-in lexicon of administrative abbreviations, units and loanwords."""
        return _DEFAULT

    def merged(self, overrides: Lexicon) -> Lexicon:
        """This lexicon with the entries of ``overrides`` added; where both have a key, ``overrides`` wins."""
        return Lexicon(
            abbreviations={**self.abbreviations, **overrides.abbreviations},
            pronunciations={**self.pronunciations, **overrides.pronunciations},
        )

    def pronounce(self, text: str) -> str:
        """``text`` with every whole-word occurrence of a pronunciation key replaced by its spoken form."""
        if self._pronunciation_pattern is None:
            return text
        return self._pronunciation_pattern.sub(self._pronunciation_for, text)

    @cached_property
    def _pronunciation_by_folded_key(self) -> dict[str, str]:
        return {key.casefold(): value for key, value in self.pronunciations.items()}

    @cached_property
    def _pronunciation_pattern(self) -> re.Pattern[str] | None:
        if not self.pronunciations:
            return None
        # Longest first, so that "Wi-Fi" wins over "Wi"; a key never matches inside a word, an
        # address ("zalo.me") or an e-mail address.
        keys = sorted(self.pronunciations, key=len, reverse=True)
        alternatives = "|".join(r"\s+".join(re.escape(word) for word in key.split()) for key in keys)
        return re.compile(rf"(?<![\w.@])(?:{alternatives})(?![\w@]|\.\w)", re.IGNORECASE)

    def _pronunciation_for(self, match: re.Match[str]) -> str:
        key = " ".join(match[0].split()).casefold()
        return self._pronunciation_by_folded_key.get(key, match[0])


def _key(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise LexiconError(Text("lexicon.written_empty"))
    return unicodedata.normalize("NFKC", key.strip())


def _spoken(key: str, value: str) -> str:
    spoken = " ".join(unicodedata.normalize("NFC", value).split()) if isinstance(value, str) else ""
    if _SPOKEN.fullmatch(spoken) is None:
        raise LexiconError(Text.of("lexicon.not_words", written=key, spoken=value))
    if _CAPITALS_RUN.search(spoken):
        raise LexiconError(Text.of("lexicon.abbreviation_in_spoken", written=key, spoken=value))
    if any(len(word) == 1 and not is_vowel(word) for word in _WORDS.findall(spoken)):
        raise LexiconError(Text.of("lexicon.single_letter", written=key, spoken=value))
    return spoken


_DEFAULT = Lexicon(abbreviations=vi_lexicon_data.ABBREVIATIONS, pronunciations=vi_lexicon_data.PRONUNCIATIONS)

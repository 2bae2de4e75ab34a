"""Words, abbreviations and letters: how one written token is read aloud.

A token is a run of letters and digits, possibly joined by "-", ".", "/", "&" or an apostrophe
("UBND", "QĐ-TTg", "QH15", "vắc-xin", "đồng/tháng"). Known abbreviations are expanded from the
lexicon; capitals that spell a Vietnamese word are read as that word where the line is written in
capitals ("BẢN TIN"); any other run of two or more capitals is spelled out letter by letter and
reported, so that nothing reaches the listener unread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import groupby

from audio import vi_numbers
from audio.vi_letters import has_vietnamese_mark, is_vowel, letter_name, looks_like_syllable, spell
from audio.vi_lexicon import Lexicon
from audio.vi_numbers import NumberWords

# A whole token as the scanner hands it over.
TOKEN = r"[^\W_]+(?:[-–./'’&][^\W_]+)*"

_SEPARATOR = re.compile(r"([-–./'’&])")
_RUN = re.compile(r"[0-9]+|[^\W\d_]+")
_WORD = re.compile(r"[^\W\d_]+")

# After "/", these are read "một …": "đồng/tháng" → "đồng một tháng", "đồng/kg" → "đồng một ki lô gam".
PER_WORDS = frozenset(
    {
        *("tháng", "năm", "ngày", "tuần", "giờ", "phút", "giây", "buổi", "kỳ", "kì", "quý", "ca", "lần"),
        *("người", "hộ", "lượt", "xe", "suất", "thẻ", "khẩu", "con", "cái", "chiếc", "thửa", "liều"),
        *("lít", "tấn", "tạ", "sào", "bao", "hộp", "gói", "mét", "ki", "lô", "gam"),
        *("km", "kg", "ha", "m2", "m3"),
    }
)


@dataclass
class Context:
    """What the rules need while reading one text: number words, the lexicon, what was not known."""

    words: NumberWords
    lexicon: Lexicon
    unknown: dict[str, None] = field(default_factory=dict)
    caps_line: bool = False  # the current line has Vietnamese words in capitals (a heading)

    def report(self, code: str) -> None:
        """Remember an unknown abbreviation, once, in order of first appearance."""
        self.unknown.setdefault(code, None)


def has_caps_words(line: str) -> bool:
    """Whether ``line`` has a Vietnamese word in capitals ("THÔNG"): then "TIN", "NAM" there are words too."""
    return any(_is_caps_vietnamese(word) for word in _WORD.findall(line))


def starts_with_caps_word(line: str, ctx: Context) -> bool:
    """Whether ``line`` opens with a word in capitals that is read as a word: its reading gets a capital."""
    first = _WORD.search(line)
    return (
        first is not None
        and first.start() == len(line) - len(line.lstrip("\"'“‘«([ "))
        and len(first[0]) >= 2
        and first[0].isupper()
        and first[0] not in ctx.lexicon.abbreviations
        and _reads_as_word(first[0], ctx)
    )


def say_token(token: str, ctx: Context, *, after_amount: bool = False) -> str:
    """The spoken form of one token."""
    abbreviations = ctx.lexicon.abbreviations
    if token in abbreviations:
        return abbreviations[token]
    pieces = _SEPARATOR.split(token)
    if len(pieces) == 1:
        return _say_part(token, ctx, after_amount=after_amount)
    parts, separators = pieces[0::2], pieces[1::2]
    out = ""
    i = 0
    ate_dot_before = False
    while i < len(parts):
        end, said, ate_dot = _longest_known(parts, separators, i, abbreviations)
        if said is None:
            end, said = i + 1, _say_part(parts[i], ctx)
        if i:
            out += " " if ate_dot_before else _join(separators[i - 1], parts[i - 1], parts[i])
        out += said
        ate_dot_before = ate_dot
        i = end
    return out


def _longest_known(
    parts: list[str], separators: list[str], start: int, abbreviations: Mapping[str, str]
) -> tuple[int, str | None, bool]:
    """The longest run of parts from ``start`` that the lexicon knows ("NĐ-CP" in "49/2024/NĐ-CP").

    Also true when the key needs the dot that follows it ("TP." in "TP.Vinh"); the third value says so.
    """
    for end in range(len(parts), start, -1):
        key = parts[start] + "".join(separators[k - 1] + parts[k] for k in range(start + 1, end))
        if end < len(parts) and separators[end - 1] == "." and key + "." in abbreviations:
            return end, abbreviations[key + "."], True
        if key in abbreviations:
            return end, abbreviations[key], False
    return start + 1, None, False


def _join(separator: str, left: str, right: str) -> str:
    """How the separator between two parts of a token is read."""
    if separator in "-–":
        return " đến " if left.isdigit() and right.isdigit() else " "
    if separator == "/":
        if left.lower() == "và" and right.lower() == "hoặc":
            return " "
        if right.isdigit() or left.isdigit():
            return " trên "
        return " một " if right.lower() in PER_WORDS else " hoặc "
    if separator == ".":
        return ". " if right[:1].isupper() else " chấm "
    if separator == "&":
        return " và "
    return " "  # apostrophes


def _say_part(part: str, ctx: Context, *, after_amount: bool = False) -> str:
    """A run of letters and digits without separators: "UBND", "2025", "QH15", "H5N1", "đ"."""
    abbreviations = ctx.lexicon.abbreviations
    if part in abbreviations:
        return abbreviations[part]
    if part.isascii() and part.isdigit():
        return vi_numbers.integer(part, ctx.words)
    runs = _RUN.findall(part)
    if len(runs) == 1:
        return _say_word(part, ctx, after_amount=after_amount)
    out: list[str] = []
    for k, run in enumerate(runs):
        if "0" <= run[0] <= "9":
            out.append(vi_numbers.integer(run, ctx.words))
        elif run in abbreviations:
            out.append(abbreviations[run])
        elif len(run) >= 2 and run.isupper() and not _reads_as_word(run, ctx):
            following = runs[k + 1] if k + 1 < len(runs) else ""
            ctx.report(run + following if following[:1].isdigit() else run)
            out.append(spell(run))
        else:
            out.append(_say_word(run, ctx))
    return " ".join(out)


def _say_word(word: str, ctx: Context, *, after_amount: bool = False) -> str:
    """A run of letters only."""
    abbreviations = ctx.lexicon.abbreviations
    if word in abbreviations:
        return abbreviations[word]
    if len(word) == 1:
        if word == "đ" and after_amount:
            return "đồng"  # "5 triệu đ"
        # A vowel is read as itself ("điểm a", "Y tế"); a consonant by its name ("điểm b" → "điểm bê").
        return word if is_vowel(word) else letter_name(word)
    if word.isupper():
        return _say_capitals(word, ctx)
    if word.islower() or (word[0].isupper() and word[1:].islower()):
        return word
    # Mixed case ("UBNDxã", "VssID" when not in the lexicon): capitals runs apart from the rest.
    said: list[str] = []
    chunk = ""
    for upper, letters in groupby(word, key=str.isupper):
        run = "".join(letters)
        if upper and len(run) >= 2:
            if chunk:
                said.append(_say_word(chunk, ctx))
                chunk = ""
            said.append(_say_capitals(run, ctx))
        else:
            chunk += run
    if not said:
        return word  # "iPhone", "McKinsey": single capitals only, read as written
    if chunk:
        said.append(_say_word(chunk, ctx))
    return " ".join(said)


def _say_capitals(word: str, ctx: Context) -> str:
    """A run of capitals: an abbreviation, a word in a heading, or unknown (spelled and reported)."""
    abbreviations = ctx.lexicon.abbreviations
    if word in abbreviations:
        return abbreviations[word]
    if _reads_as_word(word, ctx):
        return word.lower()
    ctx.report(word)
    return spell(word)


def _reads_as_word(word: str, ctx: Context) -> bool:
    """Capitals read as a word: one Vietnamese syllable, marked ("BẢN") or in a line of capitals ("TIN")."""
    return looks_like_syllable(word) and (has_vietnamese_mark(word) or ctx.caps_line)


def _is_caps_vietnamese(word: str) -> bool:
    return len(word) >= 2 and word.isupper() and has_vietnamese_mark(word) and looks_like_syllable(word)

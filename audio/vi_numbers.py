"""Vietnamese numbers in words: cardinals, ordinals, decimals, digit strings, dates and Roman numerals.

Where regions say numbers differently the words come from ``NumberWords``: the North and Central
(Nghệ An follows Northern written usage) say "một trăm linh năm", "một nghìn", "hai mươi tư"; the South
says "một trăm lẻ năm", "một ngàn", "hai mươi bốn". Every region says "mười lăm", "hai mươi mốt",
"thứ tư" and "tháng tư".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

ACCENTS: Final = ("north", "central", "south")

DIGIT_WORDS: Final = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Past 15 digits a number is an identifier (a card or account number), not an amount.
_LONGEST_AMOUNT = 15
_BILLION = 10**9
_DOTTED_THOUSANDS = re.compile(r"([0-9]{1,3}(?:\.[0-9]{3})+)(?:,([0-9]+))?")
_COMMA_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3}){2,}")
_DECIMAL = re.compile(r"([0-9]+),([0-9]+)")
_SECTION = re.compile(r"[0-9]+(?:\.[0-9]+)+")
_ROMAN_VALUES: Final = (
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
)


@dataclass(frozen=True)
class NumberWords:
    """The words for numbers that differ between Northern, Central and Southern speech."""

    thousand: str  # 1000: nghìn / ngàn
    zero_tens: str  # 105: một trăm linh năm / lẻ năm
    four_after_tens: str  # 24: hai mươi tư / hai mươi bốn
    early_day: str  # days 1 to 10: ngày mồng một / mùng một


_NORTH = NumberWords(thousand="nghìn", zero_tens="linh", four_after_tens="tư", early_day="mồng")
_SOUTH = NumberWords(thousand="ngàn", zero_tens="lẻ", four_after_tens="bốn", early_day="mùng")
_BY_ACCENT: Final = {"north": _NORTH, "central": _NORTH, "south": _SOUTH}


def number_words(accent: str) -> NumberWords:
    """The number words of ``accent`` (north, central or south); ValueError for any other."""
    try:
        return _BY_ACCENT[accent]
    except KeyError:
        raise ValueError(f"unknown accent {accent!r}; expected one of {', '.join(ACCENTS)}") from None


def cardinal(n: int, words: NumberWords = _NORTH) -> str:
    """``n`` in words: 15 → "mười lăm", 2025 → "hai nghìn không trăm hai mươi lăm"."""
    if n < 0:
        return "âm " + cardinal(-n, words)
    if n == 0:
        return DIGIT_WORDS[0]
    return " ".join(_cardinal(n, words, leading=True))


def ordinal(n: int, words: NumberWords = _NORTH) -> str:
    """The word after "thứ": 1 → "nhất", 4 → "tư", 2 → "hai"."""
    if n == 1:
        return "nhất"
    if n == 4:
        return "tư"
    return cardinal(n, words)


def month_name(month: int, words: NumberWords = _NORTH) -> str:
    """The word after "tháng": April is "tháng tư" in every region."""
    return "tư" if month == 4 else cardinal(month, words)


def day_name(day: int, words: NumberWords = _NORTH) -> str:
    """The words after "ngày" in a date: days 1 to 10 take "mồng" (North, Central) or "mùng" (South)."""
    spoken = cardinal(day, words)
    return f"{words.early_day} {spoken}" if 1 <= day <= 10 else spoken


def digits(text: str) -> str:
    """Each digit of ``text`` in words: "113" → "một một ba"."""
    return " ".join(DIGIT_WORDS[int(ch)] for ch in text if "0" <= ch <= "9")


def digit_groups(text: str, size: int = 3) -> str:
    """A long digit string read digit by digit in groups, with a short pause between groups."""
    if len(text) <= size + 1:
        return digits(text)
    groups = [text[i : i + size] for i in range(0, len(text), size)]
    if len(groups[-1]) == 1:  # never end on a lone digit: 1234567 → 123 456 7 → 123 45 67
        groups[-2:] = [groups[-2][:-1], groups[-2][-1] + groups[-1]]
    return ", ".join(digits(group) for group in groups)


def integer(text: str, words: NumberWords = _NORTH) -> str:
    """A run of ASCII digits as said aloud; codes with a leading zero and very long runs digit by digit."""
    if (len(text) > 3 and text.startswith("0")) or len(text) > _LONGEST_AMOUNT:
        return digit_groups(text)
    return cardinal(int(text), words)


def fraction(text: str, words: NumberWords = _NORTH) -> str:
    """The digits after a decimal comma: "5" → "năm", "35" → "ba mươi lăm", "05" → "không năm"."""
    if len(text) <= 2 and not text.startswith("0"):
        return cardinal(int(text), words)
    return digits(text)


def number(text: str, words: NumberWords = _NORTH) -> str:
    """A written number in words: "5.000.000", "1,5", "0,4", "2025", "1.2" (a section), "1,000,000"."""
    if m := _DOTTED_THOUSANDS.fullmatch(text):
        spoken = integer(m[1].replace(".", ""), words)
        return spoken if m[2] is None else f"{spoken} phẩy {fraction(m[2], words)}"
    if _COMMA_THOUSANDS.fullmatch(text):
        return integer(text.replace(",", ""), words)
    if m := _DECIMAL.fullmatch(text):
        if m[2] == "000" and len(m[1]) <= 3 and not m[1].startswith("0"):  # "5,000": English thousands
            return integer(m[1] + m[2], words)
        return f"{integer(m[1], words)} phẩy {fraction(m[2], words)}"
    if _SECTION.fullmatch(text):
        return " chấm ".join(integer(part, words) for part in text.split("."))
    if text.isascii() and text.isdigit():
        return integer(text, words)
    raise ValueError(f"not a written number: {text!r}")


def roman(text: str) -> int | None:
    """The value of a Roman numeral written the canonical way ("XIV"), else None ("IIII", "VX")."""
    value, rest = 0, text
    for amount, numeral in _ROMAN_VALUES:
        while rest.startswith(numeral):
            value += amount
            rest = rest[len(numeral) :]
    if rest or not value or _to_roman(value) != text:
        return None
    return value


def _to_roman(value: int) -> str:
    out = []
    for amount, numeral in _ROMAN_VALUES:
        count, value = divmod(value, amount)
        out.append(numeral * count)
    return "".join(out)


def _cardinal(n: int, words: NumberWords, *, leading: bool) -> list[str]:
    """Words for n > 0; ``leading`` is false after a higher group, so 5 reads "không trăm linh năm"."""
    if n >= _BILLION:
        high, low = divmod(n, _BILLION)
        out = [*_cardinal(high, words, leading=leading), "tỷ"]
        return out + _cardinal(low, words, leading=False) if low else out
    out = []
    started = not leading
    for size, scale in ((10**6, "triệu"), (10**3, words.thousand), (1, "")):
        group = n // size % 1000
        if group:
            out += _below_thousand(group, words, full=started)
            if scale:
                out.append(scale)
            started = True
    return out


def _below_thousand(n: int, words: NumberWords, *, full: bool) -> list[str]:
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    out = [DIGIT_WORDS[hundreds], "trăm"] if hundreds or full else []
    if tens == 0:
        if units:
            out += [words.zero_tens, DIGIT_WORDS[units]] if out else [DIGIT_WORDS[units]]
    elif tens == 1:
        out.append("mười")
        if units:
            out.append("lăm" if units == 5 else DIGIT_WORDS[units])
    else:
        out += [DIGIT_WORDS[tens], "mươi"]
        if units:
            out.append({1: "mốt", 4: words.four_after_tens, 5: "lăm"}.get(units, DIGIT_WORDS[units]))
    return out

"""Reading one line: one regular expression finds what needs words (numbers, dates, times, money,
units, document numbers, phone numbers, tokens); each kind has a small rule.

The alternatives are tried in order at each position, so the more specific come first: a document
number ("49/2024/NĐ-CP") before a date, a date before a fraction, a time ("21h30") before a unit.
"""

from __future__ import annotations

import re
from typing import Final

from audio.text_rules import RULES, UNIT_NAMES
from audio.text_words import PER_WORDS, TOKEN, Context

_NUM = (
    r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?(?![0-9])"  # 5.000.000 and 1.234,5
    r"|[0-9]{1,3}(?:,[0-9]{3}){2,}(?![0-9])"  # 1,000,000 written the English way
    r"|[0-9]+(?:,[0-9]+)?"  # 2025 and 1,5
)
_END = r"(?![\w/]|[.,][0-9])"  # a number ends here: not "15/4" inside "15/4/2025", not "1,5"

_UNITS = "|".join(re.escape(unit) for unit in sorted(UNIT_NAMES, key=len, reverse=True))
_NOT_A_MONTH_AFTER = (
    r"lần|lượt|buổi|đợt|người|kỳ|kì|ngày|tuần|giờ|phút|triệu|nghìn|ngàn|trăm|tỷ|tỉ|đồng|chục|cái|con|hộ|xe"
)
_ROMAN_KEYWORDS = r"chương|phần|mục|khóa|khoá|đại\s+hội|thế\s+kỷ|thế\s+kỉ|quý|kỳ\s+họp|kì\s+họp|tập|phụ\s+lục"
_PATTERN = re.compile(
    "|".join(
        [
            r"(?P<url>(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]"
            r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
            r"|(?<![\w.])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:vn|com|net|org|gov|edu|info)(?![\w@]|\.\w))",
            r"(?P<doc>(?<![\w/])(?P<doc_n>[0-9]+)(?:/(?P<doc_y>[0-9]{4}))?/"
            r"(?P<doc_code>[A-ZĐ][^\W_]*(?:[-–][^\W_]+)*))",
            r"(?P<phone>(?<![\w.,/])(?:\+84[ .-]?|0)[0-9]{2,4}(?:[ .-]?[0-9]{2,4}){1,3}" + _END + ")",
            r"(?P<dmy>(?:(?<!\w)(?P<dmy_kw>(?i:ngày|mồng|mùng))\s+)?(?<![\w/.,])"
            r"(?P<dmy_d>[0-9]{1,2})(?P<dmy_sep>[/.-])(?P<dmy_m>[0-9]{1,2})(?P=dmy_sep)(?P<dmy_y>[0-9]{4})"
            + _END
            + ")",
            r"(?P<my>(?:(?<!\w)(?P<my_kw>(?i:tháng))\s+)?(?<![\w/.,])(?P<my_m>[0-9]{1,2})[/.-](?P<my_y>[0-9]{4})"
            + _END
            + ")",
            r"(?P<dm>(?:(?<!\w)(?P<dm_kw>(?i:ngày|mồng|mùng))\s+)?(?<![\w/.,])(?P<dm_d>[0-9]{1,2})/(?P<dm_m>[0-9]{1,2})"
            + _END
            + ")",
            r"(?P<time>(?<![\w:.,])(?P<t_h>[0-9]{1,2})"
            r"(?:(?P<t_sep>[hg:])(?P<t_m>[0-9]{2})(?::(?P<t_s>[0-9]{2}))?|h)(?![\w:]))",
            r"(?P<ord>(?<!\w)(?P<ord_kw>(?i:thứ))\s+(?P<ord_n>[0-9]+|[IVXL]+)"
            r"(?P<ord_more>(?:\s*(?:,|và|hoặc)\s*[2-8](?![\w/]|[.,][0-9]))*)(?![\w/]|[.,][0-9]))",
            r"(?P<rom>(?<!\w)(?P<rom_kw>(?i:" + _ROMAN_KEYWORDS + r"))\s+(?P<rom_n>[IVXL]+)(?!\w))",
            r"(?P<month>(?<!\w)(?P<mo_kw>(?i:tháng))\s+(?P<mo_n>0?[1-9]|1[0-2])"
            r"(?:\s*[-–]\s*(?P<mo_n2>0?[1-9]|1[0-2]))?(?![\w/]|[.,:][0-9]|\s+(?:"
            + _NOT_A_MONTH_AFTER
            + r")(?!\w)))",
            r"(?P<day>(?<!\w)(?P<dy_kw>(?i:ngày|mồng|mùng))\s+(?P<dy_n>0?[1-9]|[12][0-9]|3[01])"
            r"(?=\s+(?i:tháng)(?!\w)))",
            r"(?P<pct>(?P<pc_n>" + _NUM + r")\s?(?P<pc_s>[%‰]))",
            r"(?P<cur>(?P<cur_s>[$€])\s?(?P<cur_n>" + _NUM + "))",
            r"(?P<unit>(?<![\w.,])(?P<u_n>"
            + _NUM
            + r")\s?(?P<u_u>"
            + _UNITS
            + r")(?P<u_per>(?:/[^\W\d_]+)*)(?!\w))",
            r"(?P<times>(?<=[0-9])\s?[x×]\s?(?=[0-9]))",
            r"(?P<num>[0-9]+(?:\.[0-9]+)+(?!,[0-9])|" + _NUM + ")",
            r"(?P<deg>°(?:[CF](?![^\W_]))?)",
            r"(?P<token>" + TOKEN + ")",
            r"(?P<dash>\s*[-–—−]+\s*)",
            r"(?P<slash>\s*/\s*)",
            r"(?P<sym>[&+=@~<>≥≤±×÷§|#*_\\^`•·▪►○●■□])",
        ]
    )
)
# Pieces that end or start with a number: a dash between two of them reads "đến" ("2025 - 2030").
_NUMERIC: Final = frozenset(RULES) - {"url", "token", "times", "sym"}


def speak(line: str, ctx: Context) -> str:
    """``line`` with everything that needs words put in words; punctuation and spacing left for tidying."""
    pieces: list[tuple[str, str]] = []  # (kind, spoken)
    pos = 0
    for m in _PATTERN.finditer(line):
        if m.start() > pos:
            pieces.append(("gap", line[pos : m.start()]))
        if m.start() < pos:
            continue  # inside the dot taken by "TP." below
        kind = m.lastgroup or "gap"
        pieces.append((kind, RULES[kind](m, line, ctx) if kind in RULES else m[0]))
        pos = m.end()
        if kind == "token" and line[pos : pos + 1] == "." and m[0] + "." in ctx.lexicon.abbreviations:
            pieces[-1] = (kind, ctx.lexicon.abbreviations[m[0] + "."])  # "TP. Vinh", "v.v."
            pos += 1
    if pos < len(line):
        pieces.append(("gap", line[pos:]))
    return _assemble(pieces, ctx)


def _assemble(pieces: list[tuple[str, str]], ctx: Context) -> str:
    """Join the pieces, reading dashes and slashes by their neighbours and keeping words apart."""
    out = ""
    for i, (kind, text) in enumerate(pieces):
        before = pieces[i - 1][0] if i else ""
        after = pieces[i + 1][0] if i + 1 < len(pieces) else ""
        if kind == "dash":
            text = _dash(text, before, after, pieces[i + 1][1] if after else "")
        elif kind == "slash":
            following = pieces[i + 1][1].split(" ", 1)[0].lower() if after else ""
            text = (
                " trên "
                if before in _NUMERIC and after in _NUMERIC
                else (" một " if following in PER_WORDS else " ")
            )
        if out and text and out[-1].isalnum() and text[0].isalnum():
            out += " "
        out += text
    return out


def _dash(text: str, before: str, after: str, next_text: str) -> str:
    if before in _NUMERIC and after in _NUMERIC:
        return " đến "  # "2025 - 2030", "6-8 giờ", "19h00 - 21h00"
    if after in _NUMERIC and text[0].isspace() and not text[-1].isspace() and text.strip() in "-−":
        return " âm "  # "nhiệt độ -2°C"
    if not after or not next_text.strip():
        return " "
    return ", "  # "Độc lập - Tự do - Hạnh phúc"

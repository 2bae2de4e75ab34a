"""The rule for each kind of thing the scanner finds: dates, times, numbers, money, units, codes.

Each rule takes the match, the whole line (for the words around it) and the reading context, and
returns words only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from audio import vi_numbers as nums
from audio.text_words import PER_WORDS, Context, say_token
from audio.vi_letters import spell, syllables

UNIT_NAMES: Final = {
    "km/h": "ki lô mét trên giờ",
    "km2": "ki lô mét vuông",
    "km": "ki lô mét",
    "m/s": "mét trên giây",
    "m2": "mét vuông",
    "m3": "mét khối",
    "cm": "xen ti mét",
    "mm": "mi li mét",
    "ha": "héc ta",
    "kg": "ki lô gam",
    "mg/l": "mi li gam trên lít",
    "mg": "mi li gam",
    "ml": "mi li lít",
    "kWh": "ki lô oát giờ",
    "kW": "ki lô oát",
    "cc": "phân khối",
    "°C": "độ xê",
    "oC": "độ xê",
    "°F": "độ ép",
    "°": "độ",
    "g": "gam",
    "l": "lít",
    "m": "mét",
    "W": "oát",
    "V": "vôn",
    "đ": "đồng",
    "$": "đô la",
    "h": "giờ",
    "s": "giây",
    "tr": "triệu",
    "k": "",  # "50k": fifty thousand, the thousand word depends on the accent
}
# "giảm 1/2", "1/2 số hộ": a fraction, not the 1st of February.
_FRACTION_BEFORE: Final = frozenset(
    {
        *("bằng", "chiếm", "quá", "giảm", "tăng", "khoảng", "gần", "hơn"),
        *("trên", "dưới", "còn", "được", "hưởng", "đạt"),
    }
)
_FRACTION_AFTER: Final = {"số", "tổng", "diện", "mức", "giá", "thời", "lượng", "dân", "kinh", "chi", "phí"}
_AMOUNT_BEFORE = re.compile(r"(?:[0-9]|\b(?:triệu|nghìn|ngàn|tỷ|tỉ|trăm|chục))\s*$")
_SYMBOLS: Final = {
    "&": " và ",
    "+": " cộng ",
    "=": " bằng ",
    "@": " a còng ",
    "~": " khoảng ",
    ">": " lớn hơn ",
    "<": " nhỏ hơn ",
    "≥": " lớn hơn hoặc bằng ",
    "≤": " nhỏ hơn hoặc bằng ",
    "±": " cộng trừ ",
    "×": " nhân ",
    "÷": " chia ",
    "§": " điều ",
    "|": ", ",
}


def _before(line: str, start: int) -> str:
    """The few characters before ``start``: enough for a word or two, and no quadratic scans of long lines."""
    return line[max(0, start - 30) : start]


def _previous_word(line: str, start: int) -> str:
    m = re.search(r"(\w+)\W*$", _before(line, start))
    return m[1].lower() if m else ""


def _next_word(line: str, end: int) -> str:
    m = re.match(r"\W*(\w+)", line[end : end + 30])
    return m[1].lower() if m else ""


def _url(m: re.Match[str], line: str, ctx: Context) -> str:
    """ "dichvucong.gov.vn" → "dichvucong chấm gốp chấm vê en"; short names that are no word are spelled."""
    del line
    spoken = []
    for part in re.split(r"([^\w]+|_+)", m[0]):
        if not part:
            continue
        if part.lower() in _URL_WORDS:
            spoken.append(_URL_WORDS[part.lower()])
        elif part.isascii() and part.isalpha() and part.islower():
            # "nghean" → "nghe an", "dichvucong" → "dich vu cong"; "ubnd" cannot be cut, so it is spelled
            cut = syllables(part)
            spoken.append(" ".join(cut) if cut else spell(part) if len(part) <= 5 else part)
        elif part[0].isalnum():
            spoken.append(say_token(part, ctx))
        else:
            spoken.extend(_URL_MARKS.get(ch, "") for ch in part)
    return " ".join(word for word in spoken if word)


_URL_MARKS: Final = {
    ".": "chấm",
    "/": "gạch chéo",
    "@": "a còng",
    ":": "hai chấm",
    "-": "gạch ngang",
    "_": "gạch dưới",
}
_URL_WORDS: Final = {
    "www": "vê kép vê kép vê kép",
    "http": "hát tê tê pê",
    "https": "hát tê tê pê ét xì",
    "gov": "gốp",
    "vn": "vê en",
    "com": "com",
    "net": "nét",
    "org": "o rờ gờ",
    "edu": "e đu",
    "gmail": "gờ meo",
}


def _doc(m: re.Match[str], line: str, ctx: Context) -> str:
    """ "49/2024/NĐ-CP" → "bốn mươi chín năm hai nghìn không trăm hai mươi tư nghị định Chính phủ"."""
    del line
    out = nums.integer(m["doc_n"], ctx.words)
    if m["doc_y"]:
        out += " năm " + nums.cardinal(int(m["doc_y"]), ctx.words)
    return out + " " + say_token(m["doc_code"], ctx)


def _phone(m: re.Match[str], line: str, ctx: Context) -> str:
    """Read digit by digit in the groups written, or 4-3-3 / 4-4-3 when written as one run."""
    del line, ctx
    raw = m["phone"]
    prefix = ""
    if raw.startswith("+"):
        prefix, raw = "cộng tám bốn, ", raw[3:].lstrip(" .-")
    groups = re.findall(r"[0-9]+", raw)
    if len(groups) == 1:
        run = groups[0]
        sizes = {9: (3, 3, 3), 10: (4, 3, 3), 11: (4, 4, 3)}.get(len(run))
        if sizes is None:
            return prefix + nums.digit_groups(run)
        groups = [run[sum(sizes[:k]) : sum(sizes[: k + 1])] for k in range(len(sizes))]
    return prefix + ", ".join(nums.digits(group) for group in groups)


def _date_lead(keyword: str | None, day: int, ctx: Context) -> str:
    if keyword is None:
        return "ngày " + nums.day_name(day, ctx.words)
    if keyword.lower() == "ngày":
        return keyword + " " + nums.day_name(day, ctx.words)
    return keyword + " " + nums.cardinal(day, ctx.words)  # "mồng 5/4" already says "mồng"


def _dmy(m: re.Match[str], line: str, ctx: Context) -> str:
    day, month, year = int(m["dmy_d"]), int(m["dmy_m"]), int(m["dmy_y"])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return _numbers_apart(m["dmy_kw"], [m["dmy_d"], m["dmy_m"], m["dmy_y"]], ctx)
    return (
        f"{_date_lead(m['dmy_kw'], day, ctx)} tháng {nums.month_name(month, ctx.words)}"
        f" năm {nums.cardinal(year, ctx.words)}"
    )


def _my(m: re.Match[str], line: str, ctx: Context) -> str:
    month, year = int(m["my_m"]), int(m["my_y"])
    if not 1 <= month <= 12:
        return _numbers_apart(m["my_kw"], [m["my_m"], m["my_y"]], ctx)
    return f"{m['my_kw'] or 'tháng'} {nums.month_name(month, ctx.words)} năm {nums.cardinal(year, ctx.words)}"


def _dm(m: re.Match[str], line: str, ctx: Context) -> str:
    day, month = int(m["dm_d"]), int(m["dm_m"])
    keyword = m["dm_kw"]
    is_date = 1 <= day <= 31 and 1 <= month <= 12
    if keyword is None and (
        not is_date
        or _previous_word(line, m.start()) in _FRACTION_BEFORE
        or _next_word(line, m.end()) in _FRACTION_AFTER
    ):
        # "1/2 số hộ" → "một phần hai"; "45/100" is no date either
        return f"{nums.integer(m['dm_d'], ctx.words)} phần {nums.integer(m['dm_m'], ctx.words)}"
    if not is_date:
        return _numbers_apart(keyword, [m["dm_d"], m["dm_m"]], ctx)
    return f"{_date_lead(keyword, day, ctx)} tháng {nums.month_name(month, ctx.words)}"


def _numbers_apart(keyword: str | None, numbers: list[str], ctx: Context) -> str:
    spoken = " trên ".join(nums.integer(n, ctx.words) for n in numbers)
    return f"{keyword} {spoken}" if keyword else spoken


def _time(m: re.Match[str], line: str, ctx: Context) -> str:
    """ "21h30" → "hai mươi mốt giờ ba mươi phút", "6h" → "sáu giờ", "14:30"."""
    del line
    hour = int(m["t_h"])
    minute = int(m["t_m"] or 0)
    second = int(m["t_s"] or 0)
    if m["t_sep"] == ":" and (hour > 24 or minute > 59 or second > 59):
        return " trên ".join(nums.integer(n, ctx.words) for n in (m["t_h"], m["t_m"], m["t_s"]) if n)
    out = nums.cardinal(hour, ctx.words) + " giờ"
    if minute:
        out += " " + nums.cardinal(minute, ctx.words) + " phút"
    if second:
        out += " " + nums.cardinal(second, ctx.words) + " giây"
    return out


def _ord(m: re.Match[str], line: str, ctx: Context) -> str:
    """ "thứ 2" → "thứ hai", "lần thứ 1" → "lần thứ nhất", "thứ 2, 4, 6" → "thứ hai, tư, sáu"."""
    del line
    written = m["ord_n"]
    value = int(written) if written.isdigit() else nums.roman(written)
    if value is None:
        return f"{m['ord_kw']} {say_token(written, ctx)}"
    out = f"{m['ord_kw']} {nums.ordinal(value, ctx.words)}"
    more = m["ord_more"] or ""
    return out + re.sub(r"[2-8]", lambda d: nums.ordinal(int(d[0]), ctx.words), more)


def _rom(m: re.Match[str], line: str, ctx: Context) -> str:
    """ "Chương II" → "Chương hai", "khóa XV" → "khóa mười lăm"."""
    del line
    value = nums.roman(m["rom_n"])
    if value is None or value > 89:
        return f"{m['rom_kw']} {say_token(m['rom_n'], ctx)}"
    return f"{m['rom_kw']} {nums.cardinal(value, ctx.words)}"


def _month(m: re.Match[str], line: str, ctx: Context) -> str:
    """ "tháng 4" → "tháng tư"; "tháng 6-8" → "tháng sáu đến tháng tám"."""
    del line
    out = f"{m['mo_kw']} {nums.month_name(int(m['mo_n']), ctx.words)}"
    if m["mo_n2"]:
        out += f" đến tháng {nums.month_name(int(m['mo_n2']), ctx.words)}"
    return out


def _day(m: re.Match[str], line: str, ctx: Context) -> str:
    del line
    return _date_lead(m["dy_kw"], int(m["dy_n"]), ctx)


def _pct(m: re.Match[str], line: str, ctx: Context) -> str:
    del line
    per = "phần trăm" if m["pc_s"] == "%" else "phần " + ctx.words.thousand
    return f"{nums.number(m['pc_n'], ctx.words)} {per}"


def _cur(m: re.Match[str], line: str, ctx: Context) -> str:
    del line
    return f"{nums.number(m['cur_n'], ctx.words)} {'đô la' if m['cur_s'] == '$' else 'ơ rô'}"


def _unit(m: re.Match[str], line: str, ctx: Context) -> str:
    """ "1,5 km" → "một phẩy năm ki lô mét", "50.000đ/lượt" → "năm mươi nghìn đồng một lượt"."""
    del line
    unit = m["u_u"]
    out = f"{nums.number(m['u_n'], ctx.words)} {UNIT_NAMES[unit] or ctx.words.thousand}"
    for per in filter(None, (m["u_per"] or "").split("/")):
        said = say_token(per, ctx)
        out += f" một {said}" if per.lower() in PER_WORDS else f" trên {said}"
    return out


def _num(m: re.Match[str], line: str, ctx: Context) -> str:
    written = m["num"]
    if re.fullmatch(r"11[1-5]", written) and _previous_word(line, m.start()) in {"gọi", "đài"}:
        return nums.digits(written)  # emergency numbers: "gọi 113" → "một một ba"
    return nums.number(written, ctx.words)


def _deg(m: re.Match[str], line: str, ctx: Context) -> str:
    del line, ctx
    return UNIT_NAMES[m["deg"]]


def _token(m: re.Match[str], line: str, ctx: Context) -> str:
    # Only a lone "đ" needs to look back: "8 triệu đ" is "tám triệu đồng".
    after_amount = m["token"] == "đ" and _AMOUNT_BEFORE.search(_before(line, m.start())) is not None
    return say_token(m["token"], ctx, after_amount=after_amount)


def _times(m: re.Match[str], line: str, ctx: Context) -> str:
    del m, line, ctx
    return " nhân "


def _sym(m: re.Match[str], line: str, ctx: Context) -> str:
    del line, ctx
    return _SYMBOLS.get(m["sym"], " ")


RULES: Final[dict[str, Callable[[re.Match[str], str, Context], str]]] = {
    "url": _url,
    "doc": _doc,
    "phone": _phone,
    "dmy": _dmy,
    "my": _my,
    "dm": _dm,
    "time": _time,
    "ord": _ord,
    "rom": _rom,
    "month": _month,
    "day": _day,
    "pct": _pct,
    "cur": _cur,
    "unit": _unit,
    "times": _times,
    "num": _num,
    "deg": _deg,
    "token": _token,
    "sym": _sym,
}

"""Vietnamese text normalisation: written bulletins into the words a speech engine should say.

``normalize`` reads numbers, dates, times, ranges, percentages, money, units, phone numbers, legal
references ("Điều 5", "766/QĐ-TTg", "49/2024/NĐ-CP") and abbreviations ("UBND", "PBGDPL") as words,
in the Northern, Central or Southern way where usage differs ("một trăm linh năm / lẻ năm", "nghìn /
ngàn"). Every line becomes a sentence, so line breaks and headings give pauses; bullets ("- ", "+ ",
"a) ", "1. ", "IV. ") are read naturally and headings in capitals are read as ordinary words.

An abbreviation that the lexicon does not know is spelled letter by letter (see ``audio.vi_letters``)
and returned in ``Normalized.unknown``, so that the editor can add it to the lexicon: nothing is
left for the engine to guess. The code is pure: no I/O, no database; the lexicon is passed in.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from audio import text_scan
from audio.text_words import Context, has_caps_words, say_token, starts_with_caps_word
from audio.vi_lexicon import Lexicon, LexiconError
from audio.vi_numbers import ACCENTS, cardinal, number_words, roman

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["ACCENTS", "Lexicon", "LexiconError", "Normalized", "main", "normalize", "prepare_for_speech"]

# A line that already ends with one of these gets no extra full stop.
_PAUSE_MARKS = frozenset(".,;:!?…")
# Closing quotes and brackets may follow the punctuation: 'Ông nói "xong."'
_CLOSERS = "\"'”’»)]}"
# Cc covers NUL, BEL, ESC…; Cf covers zero-width spaces, BOM, soft hyphens, bidi marks.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})

_BULLETS = re.compile(r"(?:(?:[•*·▪►○●■□✓❖➢◦‣⁃]|[-–—+](?![0-9]))\s*)+")
# A marker ends the line or is followed by a space or a symbol: "IV. TỔ CHỨC", "a) ", "1.".
_ITEM_END = r"(?:\s+|$|(?=[^\w\s]))"
_ROMAN_ITEM = re.compile(r"([IVX]+)[.):–-]" + _ITEM_END)
_NUMBER_ITEM = re.compile(r"([0-9]{1,2}(?:\.[0-9]{1,2})*)[.)]" + _ITEM_END)
_LETTER_ITEM = re.compile(r"([^\W\d_])([.)])" + _ITEM_END)
_SPACE_BEFORE_MARK = re.compile(r"\s+([,.;:!?])")
_DOUBLED_MARKS = re.compile(r"[,;:]\s*([,;:.!?])|([.!?])\s*[,;:]")
_LEADING_MARKS = re.compile(r"^[\s,;:]+")
_GLUED_AFTER_MARK = re.compile(r"([,.;:!?])(?=[^\W_])")
_APOSTROPHE_IN_WORD = re.compile(r"(?<=[^\W_])['’](?=[^\W_])")


@dataclass(frozen=True)
class Normalized:
    """A text in its spoken form, and the abbreviations that had to be spelled because nobody knew them."""

    text: str  # spoken form, one line
    unknown: tuple[str, ...]  # unknown abbreviations in order of first appearance


def normalize(text: str, *, accent: str = "central", lexicon: Lexicon | None = None) -> Normalized:
    """``text`` in words, as ``accent`` (north, central, south) says it; ValueError for another accent."""
    ctx = Context(words=number_words(accent), lexicon=Lexicon.default() if lexicon is None else lexicon)
    sentences: list[str] = []
    for raw_line in text.splitlines():
        line = _clean(raw_line)
        if not line:
            continue
        spoken = " ".join(unicodedata.normalize("NFKC", _speak_line(line, ctx)).split())
        if not spoken:
            continue
        spoken = spoken if _ends_with_pause(spoken) else spoken + "."
        # What reads as a list marker once spoken is made one now ("I.B" → "I. bê" → "Mục một, bê"),
        # so that normalising the output again changes nothing.
        lead, rest = _list_marker(spoken, ctx)
        sentences.append(f"{lead} {rest}" if lead and rest else lead or rest)
    # Tidy across the joins too, so that the text reads the same when it is normalised again.
    return Normalized(text=_tidy(" ".join(sentences)), unknown=tuple(ctx.unknown))


def prepare_for_speech(text: str) -> str:
    """``text`` as one line of words for the engine: ``normalize(text).text`` with the Central accent."""
    return normalize(text).text


def _clean(raw_line: str) -> str:
    """Visible characters only, compatibility forms folded ("５", "m²", "℃"), any digit as 0-9."""
    kept = "".join(
        ch for ch in raw_line if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    folded = unicodedata.normalize("NFKC", kept)
    ascii_digits = "".join(_ascii_digit(ch) for ch in folded)
    return " ".join(ascii_digits.split())


def _ascii_digit(ch: str) -> str:
    if ch.isdigit() and not ch.isascii():
        value = unicodedata.digit(ch, None)  # "٣" → 3, "⓵" → 1
        return ch if value is None else str(value)
    return ch


def _speak_line(line: str, ctx: Context) -> str:
    line = ctx.lexicon.pronounce(line)
    lead, body = _list_marker(line, ctx)
    ctx.caps_line = has_caps_words(body)
    spoken = _tidy(text_scan.speak(body, ctx))
    if spoken and not lead and starts_with_caps_word(body, ctx):
        spoken = _capitalise(spoken)
    return f"{lead} {spoken}" if lead else spoken


def _list_marker(line: str, ctx: Context) -> tuple[str, str]:
    """Split off a list or section marker: "- ", "+ ", "IV. " → "Mục bốn,", "1. " → "Một,", "b) " → "bê)"."""
    if bullets := _BULLETS.match(line):
        line = line[bullets.end() :]
    if (m := _ROMAN_ITEM.match(line)) and (value := roman(m[1])) is not None and value < 40:
        return f"Mục {cardinal(value, ctx.words)},", line[m.end() :]
    if m := _NUMBER_ITEM.match(line):
        spoken = " chấm ".join(cardinal(int(part), ctx.words) for part in m[1].split("."))
        return _capitalise(spoken) + ",", line[m.end() :]
    if m := _LETTER_ITEM.match(line):
        # The item keeps its own mark (the engine pauses at both), so "a)" reads the same next time.
        return say_token(m[1], ctx) + m[2], line[m.end() :]
    return "", line


def _tidy(text: str) -> str:
    """One space between words, none before a punctuation mark and one after, no doubled or leading marks."""
    text = " ".join(text.split())
    previous = None
    while previous != text:
        previous = text
        text = _SPACE_BEFORE_MARK.sub(r"\1", text)
        text = _DOUBLED_MARKS.sub(lambda m: m[1] or m[2], text)
        text = _LEADING_MARKS.sub("", text)
        text = _GLUED_AFTER_MARK.sub(r"\1 ", text)  # "không.độ" would read "không chấm độ" next time
        text = _APOSTROPHE_IN_WORD.sub(" ", text)
    return text


def _capitalise(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isalpha():
            upper = ch.upper()
            return text[:i] + upper + text[i + 1 :] if len(upper) == 1 else text
    return text


def _ends_with_pause(line: str) -> bool:
    stripped = line.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _PAUSE_MARKS


class _Parser(argparse.ArgumentParser):
    """argparse writing to the streams given to ``main`` rather than to the process's own."""

    def __init__(self, *, out: TextIO, err: TextIO, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._out, self._err = out, err

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            (self._err if file is sys.stderr else self._out).write(message)


def main(
    argv: list[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``loa normalize [--accent north|central|south]``: text on stdin, its spoken form on stdout.

    Each unknown abbreviation goes to stderr as one line, ``unknown abbreviation: XYZ``.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = _Parser(
        out=stdout,
        err=stderr,
        prog="loa normalize",
        description="Print the spoken form of the Vietnamese text on standard input.",
    )
    parser.add_argument(
        "--accent", choices=ACCENTS, default="central", help="regional usage (default: central)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    result = normalize(_read(stdin), accent=args.accent)
    if result.text:
        _write(stdout, result.text + "\n")
    for code in result.unknown:
        stderr.write(f"unknown abbreviation: {code}\n")
    stderr.flush()
    return 0


def _read(stream: TextIO) -> str:
    """All of ``stream``; bytes that are not UTF-8 become U+FFFD rather than an error."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read()
        return data.decode("utf-8-sig", errors="replace")
    return stream.read()


def _write(stream: TextIO, text: str) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    else:
        stream.write(text)
        stream.flush()

"""Text preparation before speech synthesis.

For now this is only the seam: ``prepare_for_speech`` tidies the text so that the TTS engine reads it
with sensible pauses. Full Vietnamese normalisation (numbers, dates, times, money, article and
decree numbers, abbreviations such as "UBND" or "TP.") belongs here too and comes with a later issue;
until then such tokens reach the engine as written.
"""

from __future__ import annotations

import unicodedata

# A line that already ends with one of these gets no extra full stop.
_PAUSE_MARKS = frozenset(".,;:!?…")
# Closing quotes and brackets may follow the punctuation: 'Ông nói "xong."'
_CLOSERS = "\"'”’»)]}"
# Cc covers NUL, BEL, ESC…; Cf covers zero-width spaces, BOM, soft hyphens, bidi marks.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})


def prepare_for_speech(text: str) -> str:
    """Return ``text`` as one line the engine reads with a pause at every line break.

    Line breaks and blank lines become sentence ends (a full stop is added where a line has no
    punctuation of its own), runs of whitespace collapse to one space, control and invisible format
    characters are removed and the text is put in Unicode NFC form (Vietnamese typed on some
    keyboards arrives decomposed). It does not yet spell out numbers, dates or abbreviations.
    """
    sentences: list[str] = []
    for raw_line in text.splitlines():
        kept = "".join(ch for ch in raw_line if _keep(ch))
        line = " ".join(unicodedata.normalize("NFC", kept).split())
        if line:
            sentences.append(line if _ends_with_pause(line) else line + ".")
    return " ".join(sentences)


def _keep(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES


def _ends_with_pause(line: str) -> bool:
    stripped = line.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _PAUSE_MARKS

"""The audio package's sentences (why an uploaded recording or a lexicon entry is refused) in the
reader's language.

``audio`` hands over a ``Text`` (a stable code and its parameters, see ``audio/texts.py``); this
module is the one place that words it, through the catalogue: Vietnamese by default, English for a
reader who chose it. Numbers read as the reader writes them (``0,4 MB`` / ``0.4 MB``).
"""

from __future__ import annotations

from audio.errors import UploadRejected
from audio.vi_lexicon import LexiconError
from controller.errors import InvalidInput
from controller.i18n import N_, decimal
from controller.wording import Wording

#: The message id of each code of ``audio.texts.ENGLISH`` (a test holds the two lists equal).
MESSAGES = {
    "upload.missing": N_("The uploaded file was not found."),
    "upload.not_a_file": N_("The upload is not a regular file."),
    "upload.empty": N_("The uploaded file is empty (0 bytes)."),
    "upload.too_large": N_("The file is too large (%(size_mb)s MB); at most %(limit_mb)s MB."),
    "upload.not_audio": N_("The file is not a sound file, or its format cannot be read."),
    "upload.playlist": N_("The file is a playlist or a stream address, not a recording."),
    "upload.no_audio_stream": N_(
        "The file has no sound (no audio stream), for example a picture or a video without sound."
    ),
    "upload.undecodable": N_("The sound file is damaged and cannot be decoded."),
    "upload.damaged": N_("The sound file is damaged in the middle and cannot be decoded to the end."),
    "upload.truncated": N_(
        "The sound file is incomplete (the upload did not finish): only %(found_s)s of %(claimed_s)s"
        " seconds can be read."
    ),
    "upload.silent": N_("The recording is only silence."),
    "upload.too_long": N_("The recording is too long (%(length_min)s min); at most %(limit_min)s min."),
    "lexicon.written_empty": N_("The written form of the entry is empty."),
    "lexicon.bad_abbreviation": N_(
        "Abbreviation “%(written)s”: it must start with a letter or a digit and have no spaces."
    ),
    "lexicon.not_words": N_(
        "“%(written)s” → “%(spoken)s”: the spoken form must be words (commas allowed), without digits or"
        " symbols."
    ),
    "lexicon.abbreviation_in_spoken": N_(
        "“%(written)s” → “%(spoken)s”: the spoken form must not contain an abbreviation."
    ),
    "lexicon.single_letter": N_(
        "“%(written)s” → “%(spoken)s”: write a single letter by its name (“ca”, not “k”)."
    ),
}


class _Number(float):
    """A number the library measured, written out when the message is read (in its language)."""

    def __str__(self) -> str:
        return decimal(float(self), "0.#")


def _param(value: object) -> object:
    return _Number(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


WORDING = Wording(MESSAGES, _param)
message_of = WORDING.message_of
words = WORDING.words


def invalid_input(error: UploadRejected | LexiconError, *, field: str) -> InvalidInput:
    """The panel's and the API's error for a refused upload or lexicon entry, worded when shown."""
    return WORDING.invalid_input(error.text, field=field)

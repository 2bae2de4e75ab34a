"""The audio package's sentences (why an uploaded recording is refused) in the reader's language.

``audio`` hands over a ``Text`` (a stable code and its parameters, see ``audio/texts.py``); this
module is the one place that words it, through the catalogue: Vietnamese by default, English for a
reader who chose it. Numbers read as the reader writes them (``0,4 MB`` / ``0.4 MB``).
"""

from __future__ import annotations

from audio.errors import UploadRejected
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


def invalid_input(error: UploadRejected, *, field: str) -> InvalidInput:
    """The panel's and the API's error for a refused upload, worded when shown."""
    return WORDING.invalid_input(error.text, field=field)

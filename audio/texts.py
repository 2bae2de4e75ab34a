"""Sentences the audio package hands to people, as stable codes with parameters (pure).

Like ``playlists/texts.py`` (the two pure packages do not import each other): a refused upload or
an unusable lexicon entry carries a ``Text`` that the controller words in the reader's language
(``controller/audio_text.py``);
``str()`` gives plain English, for logs, the CLI and tests. Numbers are parameters, rounded as they
are shown (sizes in MB, lengths in minutes or seconds to one decimal), never written out here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Every code the package uses, with its English wording (``str.format`` on the parameters).
ENGLISH = {
    "upload.missing": "The uploaded file was not found.",
    "upload.not_a_file": "The upload is not a regular file.",
    "upload.empty": "The uploaded file is empty (0 bytes).",
    "upload.too_large": "The file is too large ({size_mb:g} MB); at most {limit_mb:g} MB.",
    "upload.not_audio": "The file is not a sound file, or its format cannot be read.",
    "upload.playlist": "The file is a playlist or a stream address, not a recording.",
    "upload.no_audio_stream": (
        "The file has no sound (no audio stream), for example a picture or a video without sound."
    ),
    "upload.undecodable": "The sound file is damaged and cannot be decoded.",
    "upload.damaged": "The sound file is damaged in the middle and cannot be decoded to the end.",
    "upload.truncated": (
        "The sound file is incomplete (the upload did not finish): only {found_s:g} of {claimed_s:g}"
        " seconds can be read."
    ),
    "upload.silent": "The recording is only silence.",
    "upload.too_long": "The recording is too long ({length_min:g} min); at most {limit_min:g} min.",
    "lexicon.written_empty": "The written form of the entry is empty.",
    "lexicon.bad_abbreviation": (
        "Abbreviation “{written}”: it must start with a letter or a digit and have no spaces."
    ),
    "lexicon.not_words": (
        "“{written}” → “{spoken}”: the spoken form must be words (commas allowed), without digits or symbols."
    ),
    "lexicon.abbreviation_in_spoken": (
        "“{written}” → “{spoken}”: the spoken form must not contain an abbreviation."
    ),
    "lexicon.single_letter": "“{written}” → “{spoken}”: write a single letter by its name (“ca”, not “k”).",
}


@dataclass(frozen=True)
class Text:
    """A sentence for a reader: a code of ``ENGLISH`` and its parameters (numbers, names)."""

    code: str
    params: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, code: str, /, **params: object) -> Text:
        """The text ``code`` with ``params`` (kept hashable, in a stable order)."""
        return cls(code, tuple(sorted(params.items())))

    @property
    def args(self) -> dict[str, object]:
        """The parameters by name."""
        return dict(self.params)

    def __str__(self) -> str:
        return ENGLISH.get(self.code, self.code).format(**self.args)

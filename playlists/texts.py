"""Sentences the pure library hands to people, as stable codes with parameters (pure).

The library speaks none of the panel's languages: a conflict, a policy breach or a playlist problem
carries a ``Text`` (a code and its parameters) that the controller words in the reader's language
(``controller/library_text.py``). ``str()`` gives plain English, for logs and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

#: Every code the library uses, with its English wording (``str.format`` on the parameters).
ENGLISH = {
    "compile.quiet_hours": "Falls in quiet hours {window}.",
    "compile.clash": "Clashes with a schedule of higher priority.",
    "policy.quiet_hours": "The airing at {at:%H:%M %d/%m/%Y} falls in quiet hours {window}.",
    "policy.max_sessions": "Over the daily limit of airings ({limit}) on {day:%d/%m/%Y}.",
    "policy.max_minutes": "Over the daily limit of minutes on air ({limit}) on {day:%d/%m/%Y}.",
    "playlist.too_deep": "Playlists are nested too deeply.",
    "playlist.bulletin_missing": "Bulletin no. {id} not found.",
    "playlist.bulletin_unapproved": "Bulletin no. {id} is not approved, so it cannot air yet.",
    "playlist.chime_missing": "Chime not found.",
    "playlist.loop": "The playlist contains itself (a loop).",
    "playlist.playlist_missing": "Playlist no. {id} not found.",
}


@dataclass(frozen=True)
class Text:
    """A sentence for a reader: a code of ``english`` (this package's ``ENGLISH``; a subclass in a
    package that depends on this one brings its own) and its parameters (dates, times, numbers)."""

    english: ClassVar[Mapping[str, str]] = ENGLISH
    code: str
    params: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, code: str, /, **params: object) -> Self:
        """The text ``code`` with ``params`` (kept hashable, in a stable order)."""
        return cls(code, tuple(sorted(params.items())))

    @property
    def args(self) -> dict[str, object]:
        """The parameters by name."""
        return dict(self.params)

    def __str__(self) -> str:
        return self.english.get(self.code, self.code).format(**self.args)

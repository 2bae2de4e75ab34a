"""The pure library's sentences (clashes, policy breaches, playlist problems) in the reader's language.

``playlists`` hands over a ``Text`` (a stable code and its parameters, see ``playlists/texts.py``);
this module is the one place that words it, through the catalogue: Vietnamese by default, English
for a reader who chose it. Dates read dd/mm/yyyy and times HH:MM in both languages, on the wall
clock the library worked in (the zone's, Asia/Ho_Chi_Minh unless set otherwise).
"""

from __future__ import annotations

from datetime import date, datetime

from controller.errors import InvalidInput
from controller.i18n import N_
from controller.wording import Wording
from playlists.playlist import PlaylistError

#: The message id of each code of ``playlists.texts.ENGLISH`` (a test holds the two lists equal).
MESSAGES = {
    "compile.quiet_hours": N_("Falls in quiet hours %(window)s."),
    "compile.clash": N_("Clashes with a schedule of higher priority."),
    "policy.quiet_hours": N_("The airing at %(at)s falls in quiet hours %(window)s."),
    "policy.max_sessions": N_("Over the daily limit of airings (%(limit)s) on %(day)s."),
    "policy.max_minutes": N_("Over the daily limit of minutes on air (%(limit)s) on %(day)s."),
    "playlist.too_deep": N_("Playlists are nested too deeply."),
    "playlist.bulletin_missing": N_("Bulletin no. %(id)s not found."),
    "playlist.bulletin_unapproved": N_("Bulletin no. %(id)s is not approved, so it cannot air yet."),
    "playlist.chime_missing": N_("Chime not found."),
    "playlist.loop": N_("The playlist contains itself (a loop)."),
    "playlist.playlist_missing": N_("Playlist no. %(id)s not found."),
}


def _shown(value: object) -> object:
    if isinstance(value, datetime):
        return f"{value:%H:%M %d/%m/%Y}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return value


WORDING = Wording(MESSAGES, _shown)
message_of = WORDING.message_of
words = WORDING.words


def invalid_input(error: PlaylistError, *, field: str) -> InvalidInput:
    """The panel's and the API's error for a playlist that cannot be played, worded when shown."""
    return WORDING.invalid_input(error.text, field=field)

"""Reading, changing and deleting playlists, and describing their items for the panel.

Creating one is ``library.create_playlist``; the checks here are the same (every item exists and is
in the user's communes, no playlist contains itself), with the edited playlist's new items in place
of its old ones, so that a cycle made by the edit is caught too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from controller import audit_log
from controller.airings import Catalogue
from controller.auth import commune_ids, require
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_, gettext
from controller.library_text import invalid_input, words
from controller.models import Bulletin, Media, Playlist, Schedule, User, Zone
from playlists.playlist import PlaylistEntry, PlaylistError, expand, total_duration_ms
from playlists.wire import MediaRef

MAX_ENTRIES = 200  # as the API allows
_PROBE = MediaRef(sha256="0" * 64, url="http://probe/", bytes=0, duration_ms=0)


@dataclass(frozen=True)
class EntryRow:
    """One item of a playlist as the panel lists it."""

    entry: PlaylistEntry
    label: str
    duration_ms: int | None  # None: not playable as it stands
    problem: str | None = None

    @property
    def value(self) -> str:
        """The item as the form carries it (compact JSON, read back with ``parse_entries``)."""
        return self.entry.model_dump_json(exclude_none=True, exclude_defaults=True)


def entries_of(playlist: Playlist) -> tuple[PlaylistEntry, ...]:
    return tuple(PlaylistEntry.model_validate(e) for e in json.loads(playlist.entries_json))


def parse_entries(values: Iterable[str]) -> list[PlaylistEntry]:
    """Items sent back by the panel's form, in the order they were sent."""
    try:
        return [PlaylistEntry.model_validate_json(v) for v in values]
    except ValueError:
        raise InvalidInput(
            N_("An item of the playlist is not valid; reload the page."), field="entries"
        ) from None


def _visible(session: Session, user: User, playlist: Playlist) -> bool:
    allowed = commune_ids(session, user)
    return allowed is None or playlist.commune_id is None or playlist.commune_id in allowed


def may_edit(session: Session, user: User, playlist: Playlist) -> bool:
    """Editors and approvers change their communes' playlists; the province's are the admin's."""
    if user.role == "admin":
        return True
    if user.role not in ("editor", "approver") or playlist.commune_id is None:
        return False
    allowed = commune_ids(session, user)
    return allowed is None or playlist.commune_id in allowed


def get_playlist(session: Session, *, user: User, playlist_id: int) -> Playlist:
    require(user, "bulletin.view")
    playlist = session.get(Playlist, playlist_id)
    if playlist is None or not _visible(session, user, playlist):
        raise NotFound(N_("Playlist not found."))  # another commune's looks missing too
    return playlist


def _editable(session: Session, user: User, playlist_id: int) -> Playlist:
    require(user, "schedule.write")
    playlist = get_playlist(session, user=user, playlist_id=playlist_id)
    if not may_edit(session, user, playlist):
        raise Forbidden(N_("Only the province administrator may change the province's playlists."))
    return playlist


def check_entries(
    session: Session, *, user: User, entries: Sequence[PlaylistEntry], playlist_id: int | None = None
) -> None:
    """Refuse an empty or too long list, items outside the user's communes and playlists in a loop."""
    if not entries:
        raise InvalidInput(N_("A playlist needs at least one item."), field="entries")
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput(N_("A playlist holds at most %(n)s items."), field="entries", n=MAX_ENTRIES)
    catalogue = Catalogue.load(session, "http://probe")
    allowed = commune_ids(session, user)
    visible: dict[int, MediaRef | None] = {
        b.id or 0: _PROBE
        for b in session.exec(select(Bulletin)).all()
        if allowed is None or b.commune_id in allowed
    }
    playlists = dict(catalogue.playlists)
    top: tuple[PlaylistEntry, ...] = tuple(entries)
    if playlist_id is not None:
        # Expanded as "the playlist itself", so that an item leading back to it is a loop.
        playlists[playlist_id] = top
        top = (PlaylistEntry(kind="playlist", playlist_id=playlist_id),)
    try:
        expand(top, playlists=playlists, bulletins=visible, chimes=catalogue.chimes)
    except PlaylistError as exc:
        raise invalid_input(exc, field="entries") from exc


def update_playlist(
    session: Session, *, user: User, playlist_id: int, name: str, entries: Sequence[PlaylistEntry]
) -> Playlist:
    """Rename a playlist and replace its items (their new order included); audited."""
    playlist = _editable(session, user, playlist_id)
    if not name.strip():
        raise InvalidInput(N_("Please name the playlist."), field="name")
    check_entries(session, user=user, entries=entries, playlist_id=playlist_id)
    before = json.loads(playlist.entries_json)
    playlist.name = name.strip()[:200]
    playlist.entries_json = json.dumps([e.model_dump(mode="json", exclude_none=True) for e in entries])
    session.add(playlist)
    audit_log.record(
        session,
        actor=user,
        action="playlist.update",
        object_type="playlist",
        object_id=playlist_id,
        before=before,
        after=json.loads(playlist.entries_json),
    )
    session.commit()
    session.refresh(playlist)
    return playlist


def delete_playlist(session: Session, *, user: User, playlist_id: int) -> None:
    """Delete a playlist that no schedule and no other playlist refers to; audited."""
    playlist = _editable(session, user, playlist_id)
    used = session.exec(select(Schedule).where(Schedule.playlist_id == playlist_id)).all()
    if any(s.status == "active" for s in used):
        raise InvalidInput(
            N_("The playlist is used by a schedule in force; cancel that schedule first."), field="playlist"
        )
    if used:
        raise InvalidInput(
            N_("The playlist has been scheduled before; it is kept for the as-run log."), field="playlist"
        )
    for other in session.exec(select(Playlist).where(Playlist.id != playlist_id)).all():
        if any(e.kind == "playlist" and e.playlist_id == playlist_id for e in entries_of(other)):
            raise InvalidInput(
                N_("The playlist %(name)s includes this one; remove it from there first."),
                field="playlist",
                name=other.name,
            )
    session.delete(playlist)
    audit_log.record(
        session, actor=user, action="playlist.delete", object_type="playlist", object_id=playlist_id
    )
    session.commit()


def commune_names(session: Session, playlists: Sequence[Playlist]) -> dict[int, str]:
    """The names of the communes the playlists belong to."""
    ids = {p.commune_id for p in playlists if p.commune_id is not None}
    return {z.id or 0: z.name for z in session.exec(select(Zone).where(col(Zone.id).in_(ids))).all()}


def durations(session: Session, playlists: Sequence[Playlist]) -> dict[int, int | None]:
    """Total playing time of each playlist, None while something in it cannot be played."""
    catalogue = Catalogue.load(session, "http://probe")
    result: dict[int, int | None] = {}
    for playlist in playlists:
        try:
            segments = catalogue.segments(bulletin_id=None, playlist_id=playlist.id)
            result[playlist.id or 0] = total_duration_ms(segments)
        except PlaylistError:
            result[playlist.id or 0] = None
    return result


def entry_rows(session: Session, entries: Sequence[PlaylistEntry]) -> list[EntryRow]:
    """Each item with a label in the reader's language, its duration and what keeps it off air."""
    catalogue = Catalogue.load(session, "http://probe")
    bulletin_ids = {e.bulletin_id for e in entries if e.bulletin_id is not None}
    playlist_ids = {e.playlist_id for e in entries if e.playlist_id is not None}
    titles = {b.id: b for b in session.exec(select(Bulletin).where(col(Bulletin.id).in_(bulletin_ids))).all()}
    names = {
        p.id: p.name for p in session.exec(select(Playlist).where(col(Playlist.id).in_(playlist_ids))).all()
    }
    rows = []
    for entry in entries:
        problem = None
        try:
            duration: int | None = total_duration_ms(
                expand(
                    (entry,),
                    playlists=catalogue.playlists,
                    bulletins=catalogue.bulletins,
                    chimes=catalogue.chimes,
                )
            )
        except PlaylistError as exc:
            duration, problem = None, words(exc.text)
        if entry.kind == "bulletin":
            bulletin = titles.get(entry.bulletin_id)
            label = bulletin.title if bulletin else gettext("Bulletin no. %(id)s", id=entry.bulletin_id)
            if bulletin is not None and bulletin.recording_sha256:
                label = gettext("%(title)s (recording)", title=label)
            if problem is not None and bulletin is not None and bulletin.status != "approved":
                problem = gettext("Not approved yet: it does not air until it is.")
        elif entry.kind == "playlist":
            label = gettext("Playlist: %(name)s", name=names.get(entry.playlist_id, "?"))
        elif entry.kind == "silence":
            label = gettext("Pause")
        elif entry.kind == "stream":
            label = gettext("Relay of %(url)s", url=entry.stream_url)
        else:
            label = gettext("Chime")
        rows.append(EntryRow(entry, label, duration, problem))
    return rows


def addable_bulletins(session: Session, *, user: User, commune_id: int | None) -> list[tuple[Bulletin, int]]:
    """Approved bulletins (read or recorded) a playlist of this commune may hold, with their length."""
    query = select(Bulletin, Media.duration_ms).join(Media, col(Media.sha256) == col(Bulletin.media_sha256))
    query = query.where(Bulletin.status == "approved").order_by(col(Bulletin.id).desc()).limit(300)
    allowed = commune_ids(session, user)
    if commune_id is not None:
        query = query.where(Bulletin.commune_id == commune_id)
    elif allowed is not None:
        query = query.where(col(Bulletin.commune_id).in_(allowed))
    if allowed is not None and commune_id is not None and commune_id not in allowed:
        return []
    return [(bulletin, duration) for bulletin, duration in session.exec(query).all()]

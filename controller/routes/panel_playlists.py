"""Playlist pages: the list, and one editor for a new or a saved playlist.

The editor is one form. Its items travel as hidden fields in their order, so a drag and drop or the
up/down buttons (static/playlists.js) only reorder the page, and saving sends the new order. Without
JavaScript the same buttons submit the form and the server moves, removes or adds the item and shows
the page again, unsaved, with everything typed kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from controller import library, playlist_edit
from controller.auth import commune_ids, require
from controller.deps import PanelLogin, SessionDep
from controller.errors import Forbidden, InvalidInput, LoaError
from controller.i18n import N_, gettext
from controller.models import Playlist, User, Zone
from controller.routes.panel import check_csrf, page, see_other
from controller.zones import targetable_zones
from playlists.playlist import PlaylistEntry

router = APIRouter(include_in_schema=False)
MAX_PAUSE_S = 600


def clock(ms: int | None) -> str:
    """A duration as m:ss (h:mm:ss past an hour); a dash when unknown."""
    if ms is None:
        return "—"
    minutes, seconds = divmod(round(ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _communes(session: Session, user: User) -> list[Zone]:
    return [z for z in targetable_zones(session, user=user) if z.kind == "commune"]


@router.get("/playlists", response_class=HTMLResponse)
def playlist_list(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    user = login[0]
    playlists = library.list_playlists(session, user=user)
    return page(
        request,
        login,
        "playlists.html",
        playlists=playlists,
        durations=playlist_edit.durations(session, playlists),
        counts={p.id: len(playlist_edit.entries_of(p)) for p in playlists},
        commune_names=playlist_edit.commune_names(session, playlists),
        editable={p.id for p in playlists if playlist_edit.may_edit(session, user, p)},
        clock=clock,
    )


def _editor(
    request: Request,
    login: PanelLogin,
    session: Session,
    *,
    playlist: Playlist | None,
    form: dict[str, Any],
    entries: list[PlaylistEntry],
    error: LoaError | None = None,
    message: str = "",
) -> HTMLResponse:
    user = login[0]
    commune_id = playlist.commune_id if playlist is not None else _int(form.get("commune_id"))
    rows = playlist_edit.entry_rows(session, entries)
    known = [r.duration_ms for r in rows]
    return page(
        request,
        login,
        "playlists_edit.html",
        playlist=playlist,
        form=form,
        rows=rows,
        total_ms=sum(d for d in known if d is not None),
        incomplete=any(d is None for d in known),
        can_edit=playlist is None or playlist_edit.may_edit(session, user, playlist),
        communes=_communes(session, user),
        addable=playlist_edit.addable_bulletins(session, user=user, commune_id=commune_id),
        error=error,
        message=message,
        clock=clock,
        status_code=error.status_code if error else 200,
    )


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


@router.get("/playlists/new", response_class=HTMLResponse)
def playlist_new(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    commune_id: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    require(login[0], "schedule.write")
    allowed = commune_ids(session, login[0])
    if commune_id is None and allowed is not None:
        commune_id = min(allowed, default=None)
    form = {"name": "", "commune_id": "" if commune_id is None else str(commune_id)}
    return _editor(request, login, session, playlist=None, form=form, entries=[])


@router.post("/playlists/new", response_model=None)
async def playlist_create(request: Request, login: PanelLogin, session: SessionDep) -> Response:
    require(login[0], "schedule.write")
    return await _submit(request, login, session, playlist=None)


@router.get("/playlists/{playlist_id}", response_class=HTMLResponse)
def playlist_detail(
    playlist_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    saved: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    playlist = playlist_edit.get_playlist(session, user=login[0], playlist_id=playlist_id)
    form = {"name": playlist.name, "commune_id": str(playlist.commune_id or "")}
    return _editor(
        request,
        login,
        session,
        playlist=playlist,
        form=form,
        entries=list(playlist_edit.entries_of(playlist)),
        message=gettext("Playlist saved.") if saved else "",
    )


@router.post("/playlists/{playlist_id}", response_model=None)
async def playlist_save(
    playlist_id: int, request: Request, login: PanelLogin, session: SessionDep
) -> Response:
    require(login[0], "schedule.write")
    playlist = playlist_edit.get_playlist(session, user=login[0], playlist_id=playlist_id)
    if not playlist_edit.may_edit(session, login[0], playlist):
        raise Forbidden(N_("Only the province administrator may change the province's playlists."))
    return await _submit(request, login, session, playlist=playlist)


@router.post("/playlists/{playlist_id}/delete", response_model=None)
async def playlist_delete(
    playlist_id: int, request: Request, login: PanelLogin, session: SessionDep
) -> Response:
    raw = await request.form()
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    try:
        playlist_edit.delete_playlist(session, user=login[0], playlist_id=playlist_id)
    except InvalidInput as exc:
        playlist = playlist_edit.get_playlist(session, user=login[0], playlist_id=playlist_id)
        form = {"name": playlist.name, "commune_id": str(playlist.commune_id or "")}
        entries = list(playlist_edit.entries_of(playlist))
        return _editor(request, login, session, playlist=playlist, form=form, entries=entries, error=exc)
    return see_other("/playlists")


async def _submit(
    request: Request, login: PanelLogin, session: Session, *, playlist: Playlist | None
) -> Response:
    """Apply the button pressed: save, or (without JavaScript) move, remove or add an item."""
    raw = await request.form()
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    form = {
        "name": str(raw.get("name", "")),
        "commune_id": str(raw.get("commune_id", "")),
        "add_bulletin_id": str(raw.get("add_bulletin_id", "")),
        "pause_seconds": str(raw.get("pause_seconds", "")),
    }
    op = str(raw.get("op", "save"))
    try:
        entries = playlist_edit.parse_entries(str(v) for v in raw.getlist("entry"))
    except InvalidInput as exc:
        return _editor(request, login, session, playlist=playlist, form=form, entries=[], error=exc)
    try:
        if op == "save":
            saved = _save(session, login[0], playlist, form, entries)
            return see_other(f"/playlists/{saved.id}?saved=1")
        commune_id = playlist.commune_id if playlist is not None else _int(form["commune_id"])
        entries, message = _apply(session, login[0], op, entries, raw, commune_id=commune_id)
    except InvalidInput as exc:
        return _editor(request, login, session, playlist=playlist, form=form, entries=entries, error=exc)
    form["pause_seconds"] = ""  # added: the field is free for the next one
    return _editor(request, login, session, playlist=playlist, form=form, entries=entries, message=message)


def _save(
    session: Session,
    user: User,
    playlist: Playlist | None,
    form: dict[str, Any],
    entries: list[PlaylistEntry],
) -> Playlist:
    if playlist is not None:
        return playlist_edit.update_playlist(
            session, user=user, playlist_id=playlist.id or 0, name=form["name"], entries=entries
        )
    commune_id, allowed = _int(form["commune_id"]), commune_ids(session, user)
    if allowed is not None and commune_id not in allowed:
        raise InvalidInput(N_("You do not look after this commune."), field="commune_id")
    if not form["name"].strip():
        raise InvalidInput(N_("Please name the playlist."), field="name")
    playlist_edit.check_entries(session, user=user, entries=entries)
    return library.create_playlist(
        session, user=user, name=form["name"], commune_id=commune_id, entries=entries
    )


def _apply(
    session: Session, user: User, op: str, entries: list[PlaylistEntry], raw: Any, *, commune_id: int | None
) -> tuple[list[PlaylistEntry], str]:
    """The list after one move, removal or addition, and what to tell the reader."""
    action, _, position = op.partition("-")
    entries = list(entries)
    if action in ("up", "down", "remove"):
        index = _int(position)
        if index is None or not 0 <= index < len(entries):
            raise InvalidInput(N_("That item is no longer in the list; reload the page."), field="entries")
        if action == "remove":
            entries.pop(index)
            return entries, gettext("Item removed. %(n)s items left.", n=len(entries))
        target = index - 1 if action == "up" else index + 1
        if 0 <= target < len(entries):
            entries[index], entries[target] = entries[target], entries[index]
            index = target
        return entries, gettext("Moved to position %(pos)s of %(n)s.", pos=index + 1, n=len(entries))
    if action == "add":
        chosen = _int(raw.get("add_bulletin_id", ""))
        ids = {b.id for b, _ms in playlist_edit.addable_bulletins(session, user=user, commune_id=commune_id)}
        if chosen is None or chosen not in ids:
            raise InvalidInput(N_("Choose an approved bulletin to add."), field="add_bulletin_id")
        entries.append(PlaylistEntry(kind="bulletin", bulletin_id=chosen))
        return entries, gettext("Bulletin added at position %(n)s.", n=len(entries))
    if action == "pause":
        seconds = _int(raw.get("pause_seconds", ""))
        if seconds is None or not 1 <= seconds <= MAX_PAUSE_S:
            raise InvalidInput(
                N_("A pause lasts 1 to %(max)s seconds."), field="pause_seconds", max=MAX_PAUSE_S
            )
        entries.append(PlaylistEntry(kind="silence", duration_ms=seconds * 1000))
        return entries, gettext("Pause added at position %(n)s.", n=len(entries))
    raise InvalidInput(N_("Unknown action; reload the page."), field="entries")

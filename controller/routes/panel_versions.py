"""Editing a draft or a rejected bulletin, its versions and history, and a diff between two versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from controller import bulletin_versions, bulletins, rendering
from controller.auth import require
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import Conflict, InvalidInput, LoaError
from controller.i18n import N_
from controller.models import Bulletin
from controller.routes.panel import CsrfField, check_csrf, page, see_other

router = APIRouter(include_in_schema=False)
VersionNumber = Annotated[int, Query(ge=0, le=1_000_000)]


def _edit_page(
    request: Request,
    login: PanelLogin,
    services: ServicesDep,
    bulletin: Bulletin,
    form: dict[str, Any],
    error: LoaError | None = None,
) -> HTMLResponse:
    return page(
        request,
        login,
        "bulletin_edit.html",
        b=bulletin,
        form=form,
        voices=services.renderer.voices(),
        error=error,
        status_code=error.status_code if error else 200,
    )


@router.get("/bulletins/{bulletin_id}/edit", response_class=HTMLResponse)
def bulletin_edit(
    bulletin_id: int, request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    require(login[0], "bulletin.write")
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    if bulletin.status not in ("draft", "rejected"):
        raise Conflict(N_("Only a draft or a rejected bulletin can be edited."))
    speech = bulletins.speech_of(bulletin)
    form = {
        "title": bulletin.title,
        "body": bulletin.body,
        "category": bulletin.category,
        "source_ref": bulletin.source_ref or "",
        "voice": speech.voice.key,
        "accent": speech.accent,
        "speed": str(speech.speed),
        "base_version": bulletins.current_version(session, bulletin),
    }
    return _edit_page(request, login, services, bulletin, form)


@router.post("/bulletins/{bulletin_id}/edit", response_model=None)
def bulletin_save(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    category: Annotated[str, Form(max_length=32)] = "legal",
    voice: Annotated[str, Form(max_length=140)] = "",
    accent: Annotated[str, Form(max_length=16)] = "",
    speed: Annotated[str, Form(max_length=8)] = "",
    source_ref: Annotated[str, Form()] = "",
    base_version: Annotated[int | None, Form(ge=0)] = None,
) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    form: dict[str, Any] = {
        "title": title,
        "body": body,
        "category": category,
        "source_ref": source_ref,
        "voice": voice,
        "accent": accent,
        "speed": speed,
        "base_version": "" if base_version is None else base_version,
    }
    try:
        speech = rendering.chosen_speech(
            bulletins.speech_of(bulletin), voice=voice, accent=accent, speed=speed
        )
        bulletins.edit_bulletin(
            session,
            user=login[0],
            bulletin=bulletin,
            title=title,
            body=body,
            category=category,
            source_ref=source_ref,
            speech=speech,
            voices=services.renderer.voices(),
            base_version=base_version,
        )
    except (InvalidInput, Conflict) as exc:
        return _edit_page(request, login, services, bulletin, form, error=exc)
    return see_other(f"/bulletins/{bulletin_id}")


def _history(session: SessionDep, bulletin: Bulletin, old: int | None, new: int | None) -> dict[str, Any]:
    """The versions, the history and the diff between versions ``old`` and ``new`` (by default the
    last two), for the templates."""
    rows = bulletin_versions.versions(session, bulletin)
    by_number = {v.number: v for v in rows}
    newer = by_number.get(new or 0, rows[-1])
    older = by_number.get(old or 0, rows[-2] if len(rows) > 1 else rows[-1])
    if older.number > newer.number:
        older, newer = newer, older
    return {
        "b": bulletin,
        "versions": rows,
        "authors": bulletin_versions.author_names(session, rows),
        "approved_version": bulletin_versions.approved_version(bulletin, rows),
        "history": bulletin_versions.history(session, bulletin),
        "diff": bulletin_versions.compare(older, newer) if older.number != newer.number else None,
        "field_names": bulletin_versions.FIELD_NAMES,
    }


@router.get("/bulletins/{bulletin_id}/versions", response_class=HTMLResponse)
def bulletin_versions_page(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    old: VersionNumber = 0,
    new: VersionNumber = 0,
) -> HTMLResponse:
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    return page(request, login, "bulletin_versions.html", **_history(session, bulletin, old, new))


@router.get("/bulletins/{bulletin_id}/_history", response_class=HTMLResponse)
def bulletin_history_part(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    old: VersionNumber = 0,
    new: VersionNumber = 0,
) -> HTMLResponse:
    """The history section alone, loaded into the bulletin's page (htmx)."""
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    return page(request, login, "bulletin_history.html", **_history(session, bulletin, old, new))

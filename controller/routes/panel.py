"""The web panel: server-rendered pages (Vietnamese, or English on request), forms with CSRF tokens,
no state change on GET."""

from __future__ import annotations

import hmac
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from controller import asrun, bulletins, lexicon, rendering, schedules
from controller.auth import ROLE_NAMES, require
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import Conflict, Forbidden, InvalidInput, LoaError, NotFound
from controller.i18n import COOKIE as LANGUAGE_COOKIE
from controller.i18n import LANGUAGES, N_, gettext
from controller.models import AuthSession, Bulletin, User, Zone
from controller.rendering import RenderFailed
from controller.schedule_words import WEEKDAY_NAMES
from controller.uploads import UploadTooLarge, save_upload
from controller.zones import targetable_zones

router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(request, name, context, status_code=status_code)
    return response


def page(request: Request, login: tuple[User, AuthSession], name: str, **context: Any) -> HTMLResponse:
    user, auth = login
    status_code = context.pop("status_code", 200)
    return render(
        request,
        name,
        {
            "user": user,
            "csrf": auth.csrf_token,
            "role_name": gettext(ROLE_NAMES.get(user.role, user.role)),
            **context,
        },
        status_code,
    )


def check_csrf(auth: AuthSession, token: str) -> None:
    if not hmac.compare_digest(auth.csrf_token.encode(), token.encode()):  # bytes: any text compares
        raise Forbidden(N_("Your session has changed. Please reload the page and try again."))


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


CsrfField = Annotated[str, Form(alias="csrf_token")]


@router.get("/language/{code}")
def choose_language(
    code: str, services: ServicesDep, next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    """Remember the reader's language in a cookie and go back to the page (nothing on the server
    changes, so a GET link will do, on the login and public pages too)."""
    if code not in LANGUAGES:
        raise NotFound(N_("This language is not available."))
    parts = urlsplit(next_url)
    local = next_url.startswith("/") and not parts.scheme and not parts.netloc and "\\" not in next_url
    response = see_other(next_url if local else "/")
    response.set_cookie(
        LANGUAGE_COOKIE,
        code,
        max_age=365 * 24 * 3600,
        path="/",
        httponly=True,
        secure=services.settings.secure_cookies,
        samesite="lax",
    )
    return response


# The home page (GET /) is in routes/panel_home.py.


@router.get("/bulletins", response_class=HTMLResponse)
def bulletin_list(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return page(request, login, "bulletins.html", bulletins=bulletins.list_bulletins(session, user=login[0]))


def _communes(session: SessionDep, user: User) -> list[Zone]:
    return [z for z in targetable_zones(session, user=user) if z.kind == "commune"]


def _speech_form(speech: rendering.Speech) -> dict[str, Any]:
    return {"voice": speech.voice.key, "accent": speech.accent, "speed": str(speech.speed)}


def _new_form_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    form: dict[str, Any],
    error: LoaError | None = None,
) -> HTMLResponse:
    return page(
        request,
        login,
        "bulletin_new.html",
        form=form,
        communes=_communes(session, login[0]),
        voices=services.renderer.voices(),
        error=error,
        status_code=422 if error else 200,
    )


@router.get("/bulletins/new", response_class=HTMLResponse)
def bulletin_new(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep, commune_id: int = 0
) -> HTMLResponse:
    require(login[0], "bulletin.write")  # the form is no use to those who may not write
    communes = _communes(session, login[0])
    chosen = next((c for c in communes if c.id == commune_id), communes[0] if communes else None)
    defaults = rendering.speech_defaults(
        session, zone_id=chosen.id if chosen and chosen.id else 0, settings=services.settings
    )
    form = {
        "commune_id": chosen.id if chosen else 0,
        "title": "",
        "body": "",
        "category": "legal",
        "source_ref": "",
        **_speech_form(defaults),
    }
    return _new_form_page(request, login, session, services, form)


@router.post("/bulletins/new", response_model=None)
def bulletin_create(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
    commune_id: Annotated[int, Form()] = 0,
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "legal",
    voice: Annotated[str, Form(max_length=140)] = "",
    accent: Annotated[str, Form(max_length=16)] = "",
    speed: Annotated[str, Form(max_length=8)] = "",
    source_ref: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(login[1], csrf)
    form = {
        "commune_id": commune_id,
        "title": title,
        "body": body,
        "category": category,
        "voice": voice,
        "accent": accent,
        "speed": speed,
        "source_ref": source_ref,
    }
    try:
        defaults = rendering.speech_defaults(session, zone_id=commune_id, settings=services.settings)
        form.update({k: v for k, v in _speech_form(defaults).items() if not form[k]})
        bulletin = bulletins.create_bulletin(
            session,
            user=login[0],
            commune_id=commune_id,
            title=title,
            body=body,
            category=category,
            source_ref=source_ref,
            speech=rendering.chosen_speech(defaults, voice=voice, accent=accent, speed=speed),
            voices=services.renderer.voices(),
        )
    except InvalidInput as exc:
        return _new_form_page(request, login, session, services, form, error=exc)
    return see_other(f"/bulletins/{bulletin.id}")


def _detail(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    bulletin: Bulletin,
    error: LoaError | None = None,
    status_code: int = 200,
    schedule_form: dict[str, Any] | None = None,
    report: schedules.SaveReport | None = None,
) -> HTMLResponse:
    user = login[0]
    zones = targetable_zones(session, user=user)
    commune_zone_ids = {
        z.id for z in zones if z.id == bulletin.commune_id or z.parent_id == bulletin.commune_id
    }
    tz = ZoneInfo(request.app.state.services.settings.timezone)
    default_at = (datetime.now(tz) + timedelta(minutes=5)).replace(second=0, microsecond=0)
    form = schedule_form or {
        "when": "soon",
        "date": default_at.strftime("%d/%m/%Y"),
        "time": default_at.strftime("%H:%M"),
        "start_date": default_at.strftime("%d/%m/%Y"),
        "times": "06:00, 17:00",
        "freq": "weekly",
        "interval": "1",
        "weekdays": [],
        "monthly_mode": "day",
        "month_day": "1",
        "nth_n": "-1",
        "nth_weekday": "1",
        "priority": "normal",
    }
    own = [row for row in schedules.list_schedules(session, user=user) if row[0].bulletin_id == bulletin.id]
    return page(
        request,
        login,
        "bulletin_detail.html",
        b=bulletin,
        error=error,
        status_code=status_code,
        zones=[z for z in zones if z.id in commune_zone_ids],
        schedule_form=form,
        schedules=own,
        report=report,
        spoken=lexicon.spoken_form(
            session, text=f"{bulletin.title}.\n\n{bulletin.body}", accent=bulletin.accent
        ),
        speech=bulletins.speech_of(bulletin),
        preview=bulletins.previewed(session, bulletin=bulletin, renderer=services.renderer),
        weekday_names=WEEKDAY_NAMES,
        describe=schedules.describe,
    )


@router.get("/bulletins/{bulletin_id}", response_class=HTMLResponse)
def bulletin_detail(
    bulletin_id: int, request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    return _detail(request, login, session, services, bulletin)


@router.post("/bulletins/{bulletin_id}/submit", response_model=None)
def bulletin_submit(bulletin_id: int, login: PanelLogin, session: SessionDep, csrf: CsrfField) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    bulletins.submit_bulletin(session, user=login[0], bulletin=bulletin)
    return see_other(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/preview", response_model=None)
async def bulletin_preview(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)

    def work() -> None:
        bulletins.preview_bulletin(session, user=login[0], bulletin=bulletin, renderer=services.renderer)

    try:
        await run_in_threadpool(work)
    except RenderFailed as exc:
        return _detail(request, login, session, services, bulletin, error=exc, status_code=exc.status_code)
    return see_other(f"/bulletins/{bulletin_id}#nghe-thu")


@router.post("/bulletins/{bulletin_id}/approve", response_model=None)
async def bulletin_approve(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
    heard_sha256: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)

    def work() -> None:
        bulletins.approve_bulletin(
            session, user=login[0], bulletin=bulletin, renderer=services.renderer, heard_sha256=heard_sha256
        )

    try:
        await run_in_threadpool(work)
    except (Conflict, RenderFailed) as exc:
        return _detail(request, login, session, services, bulletin, error=exc, status_code=exc.status_code)
    return see_other(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/recording", response_model=None)
async def bulletin_recording(
    bulletin_id: int, request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    limit = services.settings.max_upload_mb * 1024 * 1024
    form = await request.form(max_part_size=limit + 1)
    try:
        check_csrf(login[1], str(form.get("csrf_token", "")))
        bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    except LoaError:
        await form.close()  # the upload's temporary file (save_upload closes it otherwise)
        raise
    try:
        with tempfile.TemporaryDirectory(prefix="loa-upload-") as scratch:
            path = Path(scratch) / "upload"
            await save_upload(request, path, limit=limit, field="recording")

            def work() -> None:
                bulletins.attach_recording(
                    session, user=login[0], bulletin=bulletin, path=path, renderer=services.renderer
                )

            await run_in_threadpool(work)
    except (InvalidInput, UploadTooLarge) as exc:
        return _detail(request, login, session, services, bulletin, error=exc, status_code=exc.status_code)
    return see_other(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/reject", response_model=None)
def bulletin_reject(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
    comment: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    try:
        bulletins.reject_bulletin(session, user=login[0], bulletin=bulletin, comment=comment)
    except InvalidInput as exc:
        return _detail(request, login, session, services, bulletin, error=exc, status_code=422)
    return see_other(f"/bulletins/{bulletin_id}")


# The schedule routes (the list, the form, the calendar) are in routes/panel_schedules.py.


@router.get("/asrun", response_class=HTMLResponse)
def asrun_page(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return page(request, login, "asrun.html", rows=asrun.as_run(session, user=login[0]))


# How new bulletins of each commune are read (engine, voice, accent, speed): routes/panel_voices.py.

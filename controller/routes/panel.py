"""The web panel: server-rendered Vietnamese pages, forms with CSRF tokens, no state change on GET."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from controller import asrun, bulletins, devices, schedules
from controller.auth import ROLE_NAMES_VI, authenticate, close_session, open_session
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import Forbidden, InvalidInput, LoaError
from controller.models import AuthSession, Bulletin, User, Zone, utcnow
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
            "role_name": ROLE_NAMES_VI.get(user.role, user.role),
            **context,
        },
        status_code,
    )


def check_csrf(auth: AuthSession, token: str) -> None:
    if not hmac.compare_digest(auth.csrf_token, token):
        raise Forbidden("Phiên làm việc đã thay đổi. Vui lòng tải lại trang và thử lại.")


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


CsrfField = Annotated[str, Form(alias="csrf_token")]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"error": None, "username": ""})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    user = authenticate(session, username, password)
    if user is None:
        return render(
            request,
            "login.html",
            {"error": "Sai tên đăng nhập hoặc mật khẩu.", "username": username},
            status_code=401,
        )
    old = request.cookies.get(services.session_cookie)
    if old:
        close_session(session, old)  # a new session id at every login
    token, _row = open_session(session, user=user, kind="web")
    response = see_other("/")
    response.set_cookie(
        services.session_cookie,
        token,
        httponly=True,
        secure=services.settings.secure_cookies,
        samesite="lax",
        path="/",
        max_age=services.settings.session_max_hours * 3600,
    )
    return response


@router.post("/logout")
def logout(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    close_session(session, request.cookies.get(services.session_cookie, ""))
    response = see_other("/login")
    response.delete_cookie(services.session_cookie, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    user = login[0]
    waiting = bulletins.list_bulletins(session, user=user, status="submitted")
    now = utcnow()
    upcoming = [row for row in schedules.list_schedules(session, user=user) if row[0].starts_at >= now][:10]
    boxes = devices.list_devices(session, user=user)
    online = sum(1 for d, _z in boxes if d.state == "online")
    return page(
        request, login, "home.html", waiting=waiting, upcoming=upcoming, online=online, total=len(boxes)
    )


@router.get("/bulletins", response_class=HTMLResponse)
def bulletin_list(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return page(request, login, "bulletins.html", bulletins=bulletins.list_bulletins(session, user=login[0]))


def _communes(session: SessionDep, user: User) -> list[Zone]:
    return [z for z in targetable_zones(session, user=user) if z.kind == "commune"]


@router.get("/bulletins/new", response_class=HTMLResponse)
def bulletin_new(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    communes = _communes(session, login[0])
    form = {"title": "", "body": "", "category": "legal", "accent": "central", "source_ref": ""}
    return page(request, login, "bulletin_new.html", form=form, communes=communes, error=None)


@router.post("/bulletins/new", response_model=None)
def bulletin_create(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    commune_id: Annotated[int, Form()] = 0,
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "legal",
    accent: Annotated[str, Form()] = "central",
    source_ref: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(login[1], csrf)
    form = {
        "commune_id": commune_id,
        "title": title,
        "body": body,
        "category": category,
        "accent": accent,
        "source_ref": source_ref,
    }
    try:
        bulletin = bulletins.create_bulletin(
            session,
            user=login[0],
            commune_id=commune_id,
            title=title,
            body=body,
            category=category,
            accent=accent,
            source_ref=source_ref,
        )
    except InvalidInput as exc:
        communes = _communes(session, login[0])
        return page(
            request, login, "bulletin_new.html", form=form, communes=communes, error=exc, status_code=422
        )
    return see_other(f"/bulletins/{bulletin.id}")


def _detail(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    bulletin: Bulletin,
    error: LoaError | None = None,
    status_code: int = 200,
    schedule_form: dict[str, str] | None = None,
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
        "date": default_at.date().isoformat(),
        "time": default_at.strftime("%H:%M"),
    }
    own = [row for row in schedules.list_schedules(session, user=user) if row[1].id == bulletin.id]
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
    )


@router.get("/bulletins/{bulletin_id}", response_class=HTMLResponse)
def bulletin_detail(
    bulletin_id: int, request: Request, login: PanelLogin, session: SessionDep
) -> HTMLResponse:
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    return _detail(request, login, session, bulletin)


@router.post("/bulletins/{bulletin_id}/submit", response_model=None)
def bulletin_submit(bulletin_id: int, login: PanelLogin, session: SessionDep, csrf: CsrfField) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    bulletins.submit_bulletin(session, user=login[0], bulletin=bulletin)
    return see_other(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/approve", response_model=None)
async def bulletin_approve(
    bulletin_id: int, login: PanelLogin, session: SessionDep, services: ServicesDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)

    def work() -> None:
        bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
        bulletins.approve_bulletin(session, user=login[0], bulletin=bulletin, renderer=services.renderer)

    await run_in_threadpool(work)
    return see_other(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/reject", response_model=None)
def bulletin_reject(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    comment: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    try:
        bulletins.reject_bulletin(session, user=login[0], bulletin=bulletin, comment=comment)
    except InvalidInput as exc:
        return _detail(request, login, session, bulletin, error=exc, status_code=422)
    return see_other(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/schedule", response_model=None)
def bulletin_schedule(
    bulletin_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
    target_zone_id: Annotated[int, Form()] = 0,
    when: Annotated[str, Form()] = "soon",
    day: Annotated[str, Form(alias="date")] = "",
    at: Annotated[str, Form(alias="time")] = "",
) -> Response:
    check_csrf(login[1], csrf)
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    form = {"when": when, "date": day, "time": at, "target_zone_id": str(target_zone_id)}
    try:
        starts_at = _starts_at(when, day, at, ZoneInfo(services.settings.timezone))
        schedules.create_one_off(
            session,
            user=login[0],
            bulletin=bulletin,
            target_zone_id=target_zone_id,
            starts_at=starts_at,
            horizon=timedelta(hours=services.settings.timeline_horizon_hours),
        )
    except InvalidInput as exc:
        return _detail(request, login, session, bulletin, error=exc, status_code=422, schedule_form=form)
    services.publisher.refresh()
    return see_other(f"/bulletins/{bulletin_id}")


def _starts_at(when: str, day: str, at: str, tz: ZoneInfo) -> datetime:
    """'soon' is one minute from now; 'at' is a wall-clock dd/mm/yyyy and HH:MM in the panel's zone."""
    if when == "soon":
        return utcnow() + timedelta(minutes=1)
    try:
        wall_day = datetime.strptime(day.strip(), "%d/%m/%Y").date()
    except ValueError:
        raise InvalidInput(
            "Ngày phát không hợp lệ, hãy nhập theo dạng dd/mm/yyyy (ví dụ 30/11/2026).", field="date"
        ) from None
    try:
        wall_time = datetime.strptime(at.strip(), "%H:%M").time()
    except ValueError:
        raise InvalidInput(
            "Giờ phát không hợp lệ, hãy nhập theo dạng 24 giờ HH:MM (ví dụ 06:30).", field="time"
        ) from None
    return datetime.combine(wall_day, wall_time, tzinfo=tz)


@router.get("/schedules", response_class=HTMLResponse)
def schedule_list(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return page(request, login, "schedules.html", rows=schedules.list_schedules(session, user=login[0]))


@router.get("/asrun", response_class=HTMLResponse)
def asrun_page(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return page(request, login, "asrun.html", rows=asrun.as_run(session, user=login[0]))


@router.get("/devices", response_class=HTMLResponse)
def device_list(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    rows = [(d, z, devices.status_of(d)) for d, z in devices.list_devices(session, user=login[0])]
    return page(request, login, "devices.html", rows=rows)

"""Logging in and out of the panel: a server-side session in a ``__Host-`` cookie (under TLS),
a new session id at every login, login rate limiting and lockout (controller/login_limits.py) that
spares browsers the user logged in from before (controller/device_cookies.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from controller import device_cookies
from controller.auth import LoginLocked, check_login, close_session, open_session
from controller.deps import PanelLogin, ServicesDep, SessionDep, client_address
from controller.errors import Forbidden, Unauthenticated
from controller.i18n import N_
from controller.login_limits import LoginLimits
from controller.models import utcnow
from controller.routes.panel import CsrfField, check_csrf, render, see_other
from controller.services import Services

router = APIRouter(include_in_schema=False)


def set_session_cookie(response: Response, services: Services, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Path=/, and Secure with the ``__Host-`` prefix
    when the panel is served over TLS (``LOA_SECURE_COOKIES``)."""
    response.set_cookie(
        services.session_cookie,
        token,
        httponly=True,
        secure=services.settings.secure_cookies,
        samesite="lax",
        path="/",
        max_age=services.settings.session_max_hours * 3600,
    )


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
    if request.headers.get("sec-fetch-site") == "cross-site":
        # Login CSRF: another site must not log a visitor in to an account of its choosing.
        raise Forbidden(N_("Log in from the panel's own login page."))
    now = utcnow()
    secure = services.settings.secure_cookies
    device = device_cookies.throttle_key(
        services.signer, request.cookies.get(device_cookies.cookie_name(secure)), username=username, now=now
    )
    try:
        user = check_login(
            session,
            username=username,
            password=password,
            address=client_address(request),
            limits=LoginLimits.from_settings(services.settings),
            now=now,
            device=device,
        )
    except (LoginLocked, Unauthenticated) as exc:
        page = render(
            request,
            "login.html",
            {"error": exc.message, "username": username},
            status_code=exc.status_code,
        )
        if isinstance(exc, LoginLocked):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    old = request.cookies.get(services.session_cookie)
    if old:
        close_session(session, old)  # a new session id at every login (no session fixation)
    token, _row = open_session(session, user=user, kind="web")
    response = see_other("/")
    set_session_cookie(response, services, token)
    response.set_cookie(  # this browser is now one the user logged in from (see device_cookies)
        device_cookies.cookie_name(secure),
        device_cookies.issue(services.signer, username=username, now=now),
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
        max_age=int(device_cookies.LIFETIME.total_seconds()),
    )
    return response


@router.post("/logout")
def logout(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    close_session(session, request.cookies.get(services.session_cookie, ""))
    response = see_other("/login")
    response.delete_cookie(services.session_cookie, path="/", secure=services.settings.secure_cookies)
    return response

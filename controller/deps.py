"""FastAPI dependencies: the services, a DB session, the current user (cookie or bearer token)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from controller.api_tokens import is_api_token, resolve_token
from controller.auth import resolve_session
from controller.errors import Forbidden, Unauthenticated
from controller.i18n import N_
from controller.models import AuthSession, User
from controller.services import Services

#: Methods that change nothing; every other one needs a CSRF token when a cookie authenticates it.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The header that carries the CSRF token of a cookie-authenticated API call that changes state.
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """A panel page was asked for without a live login: the handler redirects to /login."""


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_db(services: ServicesDep) -> Iterator[Session]:
    with Session(services.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def client_address(request: Request) -> str:
    """The client's address (the proxy's X-Forwarded-For when `loa serve` trusts the proxy)."""
    return request.client.host if request.client else "unknown"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _login(request: Request, session: Session, services: Services) -> tuple[User, AuthSession] | None:
    token = bearer_token(request)
    if token is not None:
        if is_api_token(token):
            user = resolve_token(session, token)
            # A per-user token has no session row: this one is never stored, and its CSRF token is
            # new each time (a bearer token needs none: no browser sends it by itself).
            return None if user is None else (user, _token_login(user))
        return resolve_session(session, token=token, kind="api", settings=services.settings)
    cookie = request.cookies.get(services.session_cookie)
    if cookie:
        return resolve_session(session, token=cookie, kind="web", settings=services.settings)
    return None


def _token_login(user: User) -> AuthSession:
    return AuthSession(
        token_hash="", user_id=user.id or 0, kind="token", csrf_token=secrets.token_urlsafe(24)
    )


def api_user(request: Request, session: SessionDep, services: ServicesDep) -> User:
    found = _login(request, session, services)
    if found is None:
        raise Unauthenticated(N_("Log in, or use a valid API access token."))
    user, auth = found
    if auth.kind == "web" and request.method not in SAFE_METHODS:
        # The API takes the panel's cookie too; a change made with it must prove it comes from our
        # own page (SameSite=Lax already keeps other sites' forms from sending the cookie).
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), auth.csrf_token.encode()):
            raise Forbidden(N_("Send the X-CSRF-Token header of your session, or use an API token."))
    return user


def panel_login(request: Request, session: SessionDep, services: ServicesDep) -> tuple[User, AuthSession]:
    found = _login(request, session, services)
    if found is None:
        raise LoginRequired()
    return found


ApiUser = Annotated[User, Depends(api_user)]
PanelLogin = Annotated[tuple[User, AuthSession], Depends(panel_login)]

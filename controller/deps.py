"""FastAPI dependencies: the services, a DB session, the current user (cookie or bearer token)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from controller.auth import resolve_session
from controller.errors import Unauthenticated
from controller.i18n import N_
from controller.models import AuthSession, User
from controller.services import Services


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


def _login(request: Request, session: Session, services: Services) -> tuple[User, AuthSession] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return resolve_session(session, token=header[7:].strip(), kind="api", settings=services.settings)
    cookie = request.cookies.get(services.session_cookie)
    if cookie:
        return resolve_session(session, token=cookie, kind="web", settings=services.settings)
    return None


def api_user(request: Request, session: SessionDep, services: ServicesDep) -> User:
    found = _login(request, session, services)
    if found is None:
        raise Unauthenticated(N_("Log in, or use a valid API access token."))
    return found[0]


def panel_login(request: Request, session: SessionDep, services: ServicesDep) -> tuple[User, AuthSession]:
    found = _login(request, session, services)
    if found is None:
        raise LoginRequired()
    return found


ApiUser = Annotated[User, Depends(api_user)]
PanelLogin = Annotated[tuple[User, AuthSession], Depends(panel_login)]

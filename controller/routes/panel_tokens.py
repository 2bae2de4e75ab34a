"""The panel's API token screen (controller/api_tokens.py): a user makes, sees and revokes their own
tokens; an admin those of any user (``?user_id=``). A new token's secret is shown once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from controller import api_tokens
from controller.deps import PanelLogin, SessionDep
from controller.errors import InvalidInput, LoaError, NotFound
from controller.i18n import N_
from controller.models import User, utcnow
from controller.routes.panel import CsrfField, check_csrf, page, see_other

router = APIRouter(include_in_schema=False)


def _owner(session: Session, actor: User, user_id: int) -> User:
    """Whose tokens: the actor's own (0 or their id), or, for an admin, any user's."""
    if user_id in (0, actor.id):
        return actor
    owner = session.get(User, user_id) if actor.role == "admin" else None
    if owner is None:
        raise NotFound(N_("No such user."))
    return owner


def _page(
    request: Request,
    login: PanelLogin,
    session: Session,
    owner: User,
    *,
    form: dict[str, Any] | None = None,
    error: LoaError | None = None,
    secret: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    response = page(
        request,
        login,
        "tokens.html",
        owner=owner,
        own=owner.id == login[0].id,
        tokens=api_tokens.list_tokens(session, owner_id=owner.id or 0),
        state_of=api_tokens.state_of,
        states=api_tokens.STATE_NAMES,
        lifetimes=api_tokens.LIFETIMES,
        now=utcnow(),
        form=form or {"name": "", "expires": "90"},
        error=error,
        secret=secret,
        status_code=error.status_code if error else status_code,
    )
    response.headers["Cache-Control"] = "no-store"  # the page may show a secret
    return response


@router.get("/tokens", response_class=HTMLResponse)
def token_list(request: Request, login: PanelLogin, session: SessionDep, user_id: int = 0) -> HTMLResponse:
    return _page(request, login, session, _owner(session, login[0], user_id))


@router.post("/tokens", response_model=None)
def token_create(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    name: Annotated[str, Form(max_length=200)] = "",
    expires: Annotated[str, Form(max_length=8)] = "",
    user_id: Annotated[int, Form()] = 0,
) -> Response:
    check_csrf(login[1], csrf)
    owner = _owner(session, login[0], user_id)
    form = {"name": name, "expires": expires}
    try:
        days = int(expires) if expires.strip() else None
        secret, _token = api_tokens.create_token(
            session, actor=login[0], owner=owner, name=name, expires_in_days=days
        )
    except ValueError:
        error = InvalidInput(N_("Choose how long the token lasts."), field="expires")
        return _page(request, login, session, owner, form=form, error=error)
    except LoaError as exc:
        return _page(request, login, session, owner, form=form, error=exc)
    return _page(request, login, session, owner, secret=secret, status_code=201)


@router.post("/tokens/{token_id}/revoke", response_model=None)
def token_revoke(token_id: int, login: PanelLogin, session: SessionDep, csrf: CsrfField) -> Response:
    check_csrf(login[1], csrf)
    token = api_tokens.get_token(session, actor=login[0], token_id=token_id)
    api_tokens.revoke_token(session, actor=login[0], token=token)
    return see_other("/tokens" if token.user_id == login[0].id else f"/tokens?user_id={token.user_id}")

"""Admin screens for logins (controller/users.py): list, create with role and communes, edit,
reset a password, disable and enable. Only the province administrator may use them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from controller import api_tokens, users
from controller.auth import MIN_PASSWORD_LENGTH, ROLE_NAMES, ROLES, require
from controller.deps import PanelLogin, SessionDep
from controller.errors import LoaError
from controller.models import utcnow
from controller.routes.panel import CsrfField, check_csrf, page, see_other

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=256)]
CommuneIds = Annotated[list[int], Form()]


def _list_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    *,
    form: dict[str, Any] | None = None,
    error: LoaError | None = None,
) -> HTMLResponse:
    return page(
        request,
        login,
        "users.html",
        rows=users.list_users(session, actor=login[0]),
        communes=users.communes(session),
        roles=ROLES,
        role_names=ROLE_NAMES,
        min_password=MIN_PASSWORD_LENGTH,
        form=form or {"username": "", "full_name": "", "role": "editor", "commune_ids": []},
        error=error,
        status_code=error.status_code if error else 200,
    )


def _edit_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    user_id: int,
    *,
    form: dict[str, Any] | None = None,
    error: LoaError | None = None,
    done: str = "",
) -> HTMLResponse:
    row = users.get_user(session, actor=login[0], user_id=user_id)
    return page(
        request,
        login,
        "user_edit.html",
        row=row,
        communes=users.communes(session),
        roles=ROLES,
        role_names=ROLE_NAMES,
        min_password=MIN_PASSWORD_LENGTH,
        form=form
        or {
            "full_name": row.user.full_name,
            "role": row.user.role,
            "commune_ids": [z.id for z in row.communes],
        },
        tokens=api_tokens.list_tokens(session, owner_id=user_id),
        token_state=api_tokens.state_of,
        token_states=api_tokens.STATE_NAMES,
        now=utcnow(),
        error=error,
        done=done,
        status_code=error.status_code if error else 200,
    )


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return _list_page(request, login, session)


@router.post("/users", response_model=None)
def user_create(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    username: Text = "",
    full_name: Text = "",
    role: Text = "",
    password: Text = "",
    commune_ids: CommuneIds = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    check_csrf(login[1], csrf)
    require(login[0], "user.manage")
    try:
        user = users.create_user(
            session,
            actor=login[0],
            username=username,
            full_name=full_name,
            role=role,
            password=password,
            commune_ids=commune_ids,
        )
    except LoaError as exc:
        form = {"username": username, "full_name": full_name, "role": role, "commune_ids": commune_ids}
        return _list_page(request, login, session, form=form, error=exc)
    return see_other(f"/users/{user.id}?done=created")


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_edit(
    user_id: int, request: Request, login: PanelLogin, session: SessionDep, done: str = ""
) -> HTMLResponse:
    return _edit_page(request, login, session, user_id, done=done[:16])


@router.post("/users/{user_id}", response_model=None)
def user_update(
    user_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    full_name: Text = "",
    role: Text = "",
    commune_ids: CommuneIds = [],  # noqa: B006
) -> Response:
    check_csrf(login[1], csrf)
    row = users.get_user(session, actor=login[0], user_id=user_id)
    try:
        users.update_user(
            session, actor=login[0], user=row.user, full_name=full_name, role=role, commune_ids=commune_ids
        )
    except LoaError as exc:
        session.rollback()
        form = {"full_name": full_name, "role": role, "commune_ids": commune_ids}
        return _edit_page(request, login, session, user_id, form=form, error=exc)
    return see_other(f"/users/{user_id}?done=saved")


@router.post("/users/{user_id}/password", response_model=None)
def user_password(
    user_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    password: Text = "",
) -> Response:
    check_csrf(login[1], csrf)
    row = users.get_user(session, actor=login[0], user_id=user_id)
    try:
        users.reset_password(session, actor=login[0], user=row.user, password=password)
    except LoaError as exc:
        return _edit_page(request, login, session, user_id, error=exc)
    return see_other(f"/users/{user_id}?done=password")


@router.post("/users/{user_id}/disable", response_model=None)
def user_disable(
    user_id: int, request: Request, login: PanelLogin, session: SessionDep, csrf: CsrfField
) -> Response:
    return _set_active(user_id, request, login, session, csrf, active=False)


@router.post("/users/{user_id}/enable", response_model=None)
def user_enable(
    user_id: int, request: Request, login: PanelLogin, session: SessionDep, csrf: CsrfField
) -> Response:
    return _set_active(user_id, request, login, session, csrf, active=True)


def _set_active(
    user_id: int, request: Request, login: PanelLogin, session: SessionDep, csrf: str, *, active: bool
) -> Response:
    check_csrf(login[1], csrf)
    row = users.get_user(session, actor=login[0], user_id=user_id)
    try:
        users.set_active(session, actor=login[0], user=row.user, active=active)
    except LoaError as exc:
        return _edit_page(request, login, session, user_id, error=exc)
    return see_other(f"/users/{user_id}?done={'enabled' if active else 'disabled'}")

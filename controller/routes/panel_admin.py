"""Panel pages for emergency broadcasts and the pronunciation lexicon."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from controller import bulletins, lexicon
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.emergency import STATUS_NAMES as EMERGENCY_STATUS_NAMES
from controller.errors import InvalidInput, LoaError
from controller.i18n import N_
from controller.models import User
from controller.routes.panel import CsrfField, check_csrf, page, see_other
from controller.zones import targetable_zones

router = APIRouter(include_in_schema=False)


@router.get("/emergency", response_class=HTMLResponse)
def emergency_page(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    return _emergency_page(request, login, session, services)


def _emergency_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    error: LoaError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    user = login[0]
    approved = bulletins.list_bulletins(session, user=user, status="approved")
    users = {u.id: u.full_name for u in session.exec(select(User)).all()}
    return page(
        request,
        login,
        "emergency.html",
        bulletins=approved,
        zones=targetable_zones(session, user=user),
        emergencies=services.emergencies.list(session, user=user),
        users=users,
        status_names=EMERGENCY_STATUS_NAMES,
        two_person=services.settings.emergency_two_person,
        error=error,
        status_code=status_code,
    )


@router.post("/emergency", response_model=None)
async def emergency_create(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    raw = await request.form()
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    try:
        zone_ids = [int(z) for z in raw.getlist("zone_ids")]
        services.emergencies.create(
            session,
            user=login[0],
            bulletin_id=int(str(raw.get("bulletin_id") or 0)),
            zone_ids=zone_ids,
            repeat=int(str(raw.get("repeat") or 1)),
            after=str(raw.get("after") or "skip"),
        )
    except (InvalidInput, ValueError) as exc:
        error = (
            exc
            if isinstance(exc, InvalidInput)
            else InvalidInput(N_("Invalid number of times."), field="repeat")
        )
        return _emergency_page(request, login, session, services, error=error, status_code=422)
    return see_other("/emergency")


@router.post("/emergency/{emergency_id}/{action}", response_model=None)
def emergency_action(
    emergency_id: int,
    action: str,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
) -> Response:
    check_csrf(login[1], csrf)
    if action == "confirm":
        services.emergencies.confirm(session, user=login[0], emergency_id=emergency_id)
    elif action == "approve":
        services.emergencies.approve_draft(
            session, user=login[0], emergency_id=emergency_id, renderer=services.renderer
        )
    elif action == "stop":
        services.emergencies.stop(session, user=login[0], emergency_id=emergency_id)
    else:
        raise InvalidInput(N_("Invalid action."))
    return see_other("/emergency")


@router.post("/emergency-stop-all", response_model=None)
def emergency_stop_all(
    login: PanelLogin, session: SessionDep, services: ServicesDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    services.emergencies.stop_all(session, user=login[0])
    return see_other("/emergency")


@router.get("/lexicon", response_class=HTMLResponse)
def lexicon_page(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return page(
        request,
        login,
        "lexicon.html",
        entries=lexicon.list_entries(session),
        kinds=lexicon.KINDS,
        error=None,
        form={"kind": "abbreviation", "term": "", "spoken": ""},
    )


@router.post("/lexicon", response_model=None)
def lexicon_save(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    kind: Annotated[str, Form()] = "abbreviation",
    term: Annotated[str, Form()] = "",
    spoken: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(login[1], csrf)
    try:
        lexicon.save_entry(session, user=login[0], kind=kind, term=term, spoken=spoken)
    except InvalidInput as exc:
        return page(
            request,
            login,
            "lexicon.html",
            entries=lexicon.list_entries(session),
            kinds=lexicon.KINDS,
            error=exc,
            form={"kind": kind, "term": term, "spoken": spoken},
            status_code=422,
        )
    return see_other("/lexicon")


@router.post("/lexicon/{entry_id}/delete", response_model=None)
def lexicon_delete(entry_id: int, login: PanelLogin, session: SessionDep, csrf: CsrfField) -> Response:
    check_csrf(login[1], csrf)
    lexicon.delete_entry(session, user=login[0], entry_id=entry_id)
    return see_other("/lexicon")

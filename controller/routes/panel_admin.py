"""Panel pages for emergency broadcasts (with their live tally), the pronunciation lexicon and the
zones' broadcast rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from controller import bulletins, emergency_tally, lexicon, library, policy_form, zone_policies
from controller.auth import require
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.emergency import STATUS_NAMES as EMERGENCY_STATUS_NAMES
from controller.errors import InvalidInput, LoaError, NotFound
from controller.i18n import N_
from controller.live import DeviceHub
from controller.models import AuthSession, Emergency, User, Zone
from controller.routes.panel import CsrfField, check_csrf, page, see_other
from controller.zones import targetable_zones, visible_zone_ids

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
    emergencies = services.emergencies.list(session, user=user)
    return page(
        request,
        login,
        "emergency.html",
        bulletins=approved,
        zones=targetable_zones(session, user=user),
        emergencies=emergencies,
        tallies=emergency_tally.tallies(session, emergencies),
        users=users,
        status_names=EMERGENCY_STATUS_NAMES,
        two_person=services.settings.emergency_two_person,
        error=error,
        status_code=status_code,
    )


def _emergency_reader(login: PanelLogin) -> tuple[User, AuthSession]:
    require(login[0], "bulletin.view")  # before the stream starts: a refusal is a plain 403
    return login


@router.get("/emergency/_events", response_class=EventSourceResponse)
async def emergency_events(
    request: Request,
    login: Annotated[tuple[User, AuthSession], Depends(_emergency_reader)],
    session: SessionDep,
    services: ServicesDep,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: the tallies of the user's recent orders, whenever a box reports."""

    def scope() -> tuple[list[int], set[int] | None]:
        listed = services.emergencies.list(session, user=login[0])[: emergency_tally.TALLIED]
        return [e.id for e in listed if e.id is not None], visible_zone_ids(session, user=login[0])

    ids, zones = await run_in_threadpool(scope)
    session.close()  # a stream lives for minutes: it must hold no connection (nor an SQLite snapshot)
    hub: DeviceHub = request.app.state.device_hub
    subscription = hub.subscribe(zone_ids=zones, device_ids=None)
    try:
        yield ServerSentEvent(comment="start", retry=5000)
        last = await run_in_threadpool(_tally_data, services.engine, ids)
        yield ServerSentEvent(event="tally", data=last)  # what came between the page and the stream
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hub.stream_seconds
        while (left := deadline - loop.time()) > 0:
            if not await subscription.wait(left):
                continue
            if hub.coalesce_seconds:
                await asyncio.sleep(hub.coalesce_seconds)
                subscription.take()
            data = await run_in_threadpool(_tally_data, services.engine, ids)
            if data != last:
                last = data
                yield ServerSentEvent(event="tally", data=data)
    finally:
        hub.unsubscribe(subscription)


def _tally_data(engine: Engine, ids: list[int]) -> dict[str, Any]:
    with Session(engine) as session:
        rows = session.exec(
            select(Emergency).where(col(Emergency.id).in_(ids)).order_by(col(Emergency.id).desc())
        ).all()
        return {"tallies": [t.live() for t in emergency_tally.tallies(session, rows).values()]}


@router.post("/emergency", response_model=None)
async def emergency_create(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    raw = await request.form()
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    try:
        zone_ids = [int(str(z)) for z in raw.getlist("zone_ids")]
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


# Broadcast rules (quiet hours, daily caps, volume limits) of a zone: the API's PUT /zones/{id}/policy
# as a form; library.set_policy decides who may, ZonePolicy what is valid.


@router.get("/policies", response_class=HTMLResponse)
def policies_page(
    request: Request, login: PanelLogin, session: SessionDep, zone_id: int = 0, saved: int = 0
) -> HTMLResponse:
    zones = zone_policies.policy_zones(session, user=login[0])
    chosen = next((z for z in zones if z.id == zone_id), None)
    if zone_id and chosen is None:
        raise NotFound(N_("Area not found."))
    chosen = chosen or (zones[0] if zones else None)
    own = zone_policies.rules_of(session, chosen).own if chosen else None
    return _policies_page(
        request, login, session, zones, chosen, form=policy_form.form_of(own), saved=bool(saved)
    )


@router.post("/policies/{zone_id}", response_model=None)
async def policies_save(
    zone_id: int, request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    raw = await request.form()
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    zones = zone_policies.policy_zones(session, user=login[0])
    chosen = next((z for z in zones if z.id == zone_id), None)
    if chosen is None:
        raise NotFound(N_("Area not found."))
    form = {name: str(raw.get(name, ""))[:2000] for name in policy_form.FIELDS}
    try:
        policy = None
        if raw.get("op") != "clear":
            kept = zone_policies.rules_of(session, chosen).own
            tz = kept.timezone if kept else services.settings.timezone
            policy = policy_form.policy_from_form(form, timezone=tz)
        library.set_policy(session, user=login[0], zone_id=zone_id, policy=policy)
    except InvalidInput as exc:
        session.rollback()
        return _policies_page(request, login, session, zones, chosen, form=form, error=exc)
    services.publisher.changed()  # the boxes' timelines follow the new rules
    return see_other(f"/policies?zone_id={zone_id}&saved=1")


def _policies_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    zones: list[Zone],
    chosen: Zone | None,
    *,
    form: dict[str, str],
    error: InvalidInput | None = None,
    saved: bool = False,
) -> HTMLResponse:
    errors = error.errors if isinstance(error, policy_form.PolicyInvalid) else {}
    if error is not None and not errors and error.field in policy_form.FIELDS:
        errors = {error.field: error}
    return page(
        request,
        login,
        "policies.html",
        zones=zones,
        chosen=chosen,
        rules=zone_policies.rules_of(session, chosen) if chosen else None,
        listed=zone_policies.with_own_policy(zones),
        form=form,
        error=error,
        errors=errors,
        saved=saved,
        status_code=error.status_code if error else 200,
    )

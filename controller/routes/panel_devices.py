"""Panel pages for speaker boxes: the list (filters, paging, map, live updates) and one box's page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from controller import alerts, commands, devices, health
from controller.alerts import AlertRules
from controller.auth import PERMISSIONS
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import Conflict, InvalidInput, LoaError
from controller.i18n import N_, gettext
from controller.live import DeviceHub
from controller.models import DeviceCommand, User, utcnow
from controller.routes.panel import CsrfField, check_csrf, page, see_other

router = APIRouter(include_in_schema=False)
MAX_LIVE_IDS = 200
Format = devices.Format


def _rules(services: ServicesDep) -> AlertRules:
    return AlertRules.from_settings(services.settings)


def _fmt(request: Request) -> Format:
    fmt: Format = request.app.state.templates.env.filters["vn_datetime"]
    return fmt


def _filters(commune: str, state: str, alert: str, q: str, page_no: int) -> devices.DeviceFilter:
    return devices.DeviceFilter(
        commune_id=int(commune) if commune.isdigit() else None,
        state=state if state in ("online", "offline", "unknown") else None,
        alert=alert == "1",
        q=q[:100],
        page=page_no,
    )


def _query(filters: devices.DeviceFilter, **extra: Any) -> str:
    params = {
        "commune": filters.commune_id or "",
        "state": filters.state or "",
        "alert": "1" if filters.alert else "",
        "q": filters.q,
        **extra,
    }
    return urlencode({k: v for k, v in params.items() if v not in ("", None)})


@router.get("/devices", response_class=HTMLResponse)
def device_list(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    commune: str = "",
    state: str = "",
    alert: str = "",
    q: str = "",
    page_no: Annotated[str, Query(alias="page", max_length=6)] = "1",
) -> HTMLResponse:
    filters = _filters(commune, state, alert, q, int(page_no) if page_no.isdigit() else 1)
    now = utcnow()
    found = devices.find_devices(session, user=login[0], filters=filters, now=now, rules=_rules(services))
    query = _query(filters)
    return page(
        request,
        login,
        "devices.html",
        found=found,
        filters=filters,
        communes=devices.communes(session, user=login[0]),
        query=query,
        page_url=lambda n: "/devices?" + _query(filters, page=n),
        live_url="/devices/_events?" + urlencode({"ids": ",".join(r.id for r in found.rows)}),
        map_url="/devices/_map" + (f"?{query}" if query else ""),
        now_ms=int(now.timestamp() * 1000),
        stale_ms=int(_rules(services).stale_after.total_seconds() * 1000),
        tiles=services.settings.map_tile_url,
        attribution=services.settings.map_tile_attribution,
    )


@router.get("/devices/_map")
def device_map(
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    commune: str = "",
    state: str = "",
    alert: str = "",
    q: str = "",
) -> JSONResponse:
    """Markers of every box matching the list's filters (all pages), for the map."""
    filters = _filters(commune, state, alert, q, 1)
    rows = devices.matching_rows(
        session, user=login[0], filters=filters, now=utcnow(), rules=_rules(services)
    )
    return JSONResponse([_marker(r) for r in rows if r.lat is not None and r.lon is not None])


def _marker(row: devices.DeviceRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "lat": row.lat,
        "lon": row.lon,
        "state": "revoked" if row.revoked else row.state,
        "state_label": row.state_label,
        "alerts": len(row.alerts),
    }


@router.get("/devices/_events", response_class=EventSourceResponse)
async def device_events(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    ids: str = "",
    detail: str = "",
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: the rows of the listed boxes again, whenever they change."""
    zones = await run_in_threadpool(devices.scope_zone_ids, session, user=login[0])
    session.close()  # a stream lives for minutes: it must hold no connection (nor an SQLite snapshot)
    wanted = {i for i in ids.split(",") if i} or None
    if wanted is not None and len(wanted) > MAX_LIVE_IDS:
        wanted = set(sorted(wanted)[:MAX_LIVE_IDS])
    hub: DeviceHub = request.app.state.device_hub
    rules, fmt, engine = _rules(services), _fmt(request), services.engine
    with_commands = detail == "1" and wanted is not None and len(wanted) == 1
    subscription = hub.subscribe(zone_ids=zones, device_ids=wanted)
    try:
        yield ServerSentEvent(comment="start", retry=5000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hub.stream_seconds
        while (left := deadline - loop.time()) > 0:
            changed = await subscription.wait(left)
            if not changed:
                continue
            if hub.coalesce_seconds:
                await asyncio.sleep(hub.coalesce_seconds)
                changed |= subscription.take()
            data = await run_in_threadpool(_live_data, engine, zones, changed, rules, fmt, with_commands)
            if data["devices"]:
                yield ServerSentEvent(event="devices", data=data)
    finally:
        hub.unsubscribe(subscription)


def _live_data(
    engine: Engine,
    zones: set[int] | None,
    changed: set[str],
    rules: AlertRules,
    fmt: Format,
    with_commands: bool,
) -> dict[str, Any]:
    now = utcnow()
    with Session(engine) as session:
        rows = devices.live_rows(session, zone_ids=zones, device_ids=changed, now=now, rules=rules)
        data: dict[str, Any] = {"devices": [r.live(fmt) for r in rows], "now_ms": int(now.timestamp() * 1000)}
        if with_commands and rows:
            data["commands"] = [
                _command_live(c, now, fmt) for c in commands.recent_commands(session, device_id=rows[0].id)
            ]
    return data


def _command_live(command: DeviceCommand, now: datetime, fmt: Format) -> dict[str, Any]:
    state = commands.state_of(command, now=now)
    return {
        "id": command.id,
        "state": state,
        "state_label": gettext(commands.STATE_LABELS[state]),
        "reason": command.reason or "",
        "done_at": fmt(command.done_at) if command.done_at else "",
    }


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(
    device_id: str, request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    return _detail(request, login, session, services, device_id)


def _detail(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    device_id: str,
    error: LoaError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = utcnow()
    found = devices.device_detail(
        session, user=login[0], device_id=device_id, now=now, rules=_rules(services)
    )
    rows = found.history
    users = _user_names(session, {c.issued_by for c in found.commands if c.issued_by})
    return page(
        request,
        login,
        "device_detail.html",
        d=found,
        error=error,
        status_code=status_code,
        hours=health.hourly_view(rows),
        sparks={
            "cpu_temp_c": health.sparkline([r.cpu_temp_c for r in rows]),
            "disk_free_mb": health.sparkline([r.disk_free_mb for r in rows]),
            "link_quality": health.sparkline([r.link_quality for r in rows]),
        },
        command_rows=[(c, commands.state_of(c, now=now), commands.describe(c)) for c in found.commands],
        command_states=commands.STATE_LABELS,
        command_names=commands.NAMES,
        can_command=login[0].role in PERMISSIONS["device.command"],
        users=users,
        live_url="/devices/_events?" + urlencode({"ids": found.row.id, "detail": "1"}),
        now_ms=int(now.timestamp() * 1000),
        stale_ms=int(_rules(services).stale_after.total_seconds() * 1000),
        tiles=services.settings.map_tile_url,
        attribution=services.settings.map_tile_attribution,
        marker=_marker(found.row) if found.row.lat is not None and found.row.lon is not None else None,
        uptime=_uptime(found.row.status.get("uptime_s")),
        ttl_minutes=max(1, services.settings.device_command_ttl_seconds // 60),
    )


def _uptime(seconds: object) -> str:
    if not isinstance(seconds, int):
        return ""
    return alerts.duration_text(timedelta(seconds=seconds))


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id or 0: u.full_name for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}


@router.post("/devices/{device_id}/commands", response_model=None)
def device_command(
    device_id: str,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
    name: Annotated[str, Form(max_length=32)] = "",
    volume: Annotated[str, Form(max_length=8)] = "",
    seconds: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    check_csrf(login[1], csrf)
    args: dict[str, Any] = {}
    try:
        if name == "set_volume":
            args["volume"] = _int(volume, N_("The volume must be a whole number from 0 to 100."))
        elif name == "test_tone" and seconds:
            args["seconds"] = _int(seconds, N_("The test tone lasts a whole number of seconds from 1 to 60."))
        request.app.state.commands.send(session, user=login[0], device_id=device_id, name=name, args=args)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _detail(request, login, session, services, device_id, error=exc, status_code=exc.status_code)
    return see_other(f"/devices/{device_id}#lenh")


def _int(text: str, message: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(message, field="args") from None

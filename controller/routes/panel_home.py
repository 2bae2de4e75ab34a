"""The home page: today's and tomorrow's broadcasts, what is on air now (redrawn live), the boxes,
their alerts, and the bulletins waiting for the user."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controller import home
from controller.alerts import AlertRules
from controller.auth import PERMISSIONS
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.devices import DeviceFilter, matching_rows
from controller.models import utcnow
from controller.routes.panel import page

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home_page(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    user, now = login[0], utcnow()
    settings = services.settings
    # One read of the user's boxes gives the counts, the alerts and what is playing.
    rows = matching_rows(
        session, user=user, filters=DeviceFilter(), now=now, rules=AlertRules.from_settings(settings)
    )
    reads_bulletins = user.role in PERMISSIONS["bulletin.view"]  # technicians see boxes, not bulletins
    return page(
        request,
        login,
        "home.html",
        days=home.airings(session, user=user, tz=ZoneInfo(settings.timezone), now=now)
        if reads_bulletins
        else [],
        now=now,
        boxes=home.boxes(rows),
        playing=home.now_playing(session, rows),
        waiting=home.waiting_for(session, user=user),
        unfinished=home.my_unfinished(session, user=user),
    )


@router.get("/home/_playing", response_class=HTMLResponse)
def home_playing(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """The "on air now" list alone, for the home page to redraw when a box changes."""
    rules = AlertRules.from_settings(services.settings)
    rows = home.playing_rows(session, user=login[0], now=utcnow(), rules=rules)
    return page(request, login, "home_playing.html", playing=home.now_playing(session, rows))

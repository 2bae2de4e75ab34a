"""Schedule pages: the list, the schedule form (a bulletin or a playlist, a target, a rule in plain
words, a check of clashes and policy breaks before saving) and the week calendar of a zone.

The form works without JavaScript: "Check" submits it and the page comes back with the report.
With htmx, the rule's plain words follow the typing (GET /schedules/_words) and "Check" swaps only
the report in (the same POST, answered with the partial when htmx asks).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from controller import bulletins, calendar, library, playlist_edit, schedules
from controller.auth import require
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import InvalidInput, LoaError
from controller.forms import rule_from_form
from controller.i18n import N_
from controller.models import Schedule, User, Zone, utcnow
from controller.routes.panel import CsrfField, check_csrf, page, see_other
from controller.schedule_words import WEEKDAY_NAMES, describe_rule
from controller.zones import targetable_zones

router = APIRouter(include_in_schema=False)
#: The form's fields of the rule: the plain words are made from these alone.
RULE_FIELDS = (
    "when",
    "date",
    "time",
    "freq",
    "interval",
    "times",
    "weekdays",
    "monthly_mode",
    "month_day",
    "nth_n",
    "nth_weekday",
    "start_date",
    "end_date",
    "exceptions",
)


@router.get("/schedules", response_class=HTMLResponse)
def schedule_list(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return page(
        request,
        login,
        "schedules.html",
        rows=schedules.list_schedules(session, user=login[0]),
        describe=schedules.describe,
    )


@router.post("/schedules/{schedule_id}/cancel", response_model=None)
def schedule_cancel(
    schedule_id: int, login: PanelLogin, session: SessionDep, services: ServicesDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    schedules.cancel_schedule(session, user=login[0], schedule_id=schedule_id)
    services.publisher.changed()
    return see_other("/schedules")


def _tz(services: ServicesDep) -> ZoneInfo:
    return ZoneInfo(services.settings.timezone)


def _defaults(tz: ZoneInfo, what: str = "", target: str = "") -> dict[str, Any]:
    """A new form: Monday, Wednesday and Friday at 06:00 and 17:00 from today."""
    soon = (datetime.now(tz) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return {
        "what": what,
        "target": target,
        "when": "repeat",
        "date": soon.strftime("%d/%m/%Y"),
        "time": soon.strftime("%H:%M"),
        "start_date": datetime.now(tz).strftime("%d/%m/%Y"),
        "end_date": "",
        "exceptions": "",
        "times": "06:00, 17:00",
        "freq": "weekly",
        "interval": "1",
        "weekdays": ["0", "2", "4"],
        "monthly_mode": "day",
        "month_day": "1",
        "nth_n": "-1",
        "nth_weekday": "0",
        "priority": "normal",
    }


async def _read_form(request: Request) -> dict[str, Any]:
    raw = await request.form()
    form: dict[str, Any] = {key: str(raw.get(key, "")) for key in raw}
    form["weekdays"] = [str(d) for d in raw.getlist("weekdays")]
    if not form.get("target") and form.get("target_zone_id"):
        form["target"] = f"zone:{form['target_zone_id']}"  # the bulletin page's short form
    return form


def words(form: dict[str, Any], tz: ZoneInfo) -> tuple[str, LoaError | None]:
    """The rule of the form in plain words, or the mistake that keeps it from being a rule."""
    try:
        return describe_rule(rule_from_form(form, tz=tz)), None
    except InvalidInput as exc:
        return "", exc


def _target(form: dict[str, Any]) -> schedules.Target:
    kind, _, ident = str(form.get("target", "")).partition(":")
    if kind not in ("zone", "group") or not ident.isdigit():
        raise InvalidInput(N_("Please choose where to broadcast."), field="target")
    if kind == "group":
        return schedules.Target("group", group_id=int(ident))
    return schedules.Target("zone", zone_id=int(ident))


def _what(form: dict[str, Any]) -> tuple[int | None, int | None]:
    kind, _, ident = str(form.get("what", "")).partition(":")
    if kind not in ("bulletin", "playlist") or not ident.isdigit():
        raise InvalidInput(N_("Choose a bulletin or a playlist to broadcast."), field="what")
    return (int(ident), None) if kind == "bulletin" else (None, int(ident))


def _plan(
    session: Session, services: ServicesDep, user: User, form: dict[str, Any]
) -> tuple[Schedule, schedules.SaveReport]:
    bulletin_id, playlist_id = _what(form)
    target = _target(form)
    rule = rule_from_form(form, tz=_tz(services))
    return schedules.plan_schedule(
        session,
        user=user,
        bulletin_id=bulletin_id,
        playlist_id=playlist_id,
        target=target,
        rule=rule,
        priority=str(form.get("priority") or "normal"),
        volume=100,
        media_url=services.settings.public_url,
        horizon=timedelta(hours=services.settings.timeline_horizon_hours),
    )


def _choices(session: Session, user: User) -> dict[str, Any]:
    """What may be broadcast (approved bulletins, playlists) and where (zones, saved groups)."""
    return {
        "bulletin_choices": [
            b for b, _ms in playlist_edit.addable_bulletins(session, user=user, commune_id=None)
        ],
        "playlist_choices": library.list_playlists(session, user=user),
        "zones": targetable_zones(session, user=user),
        "groups": [g for g, _members in library.list_groups(session, user=user)],
    }


def _form_page(
    request: Request,
    login: PanelLogin,
    session: Session,
    services: ServicesDep,
    form: dict[str, Any],
    *,
    error: LoaError | None = None,
    report: schedules.SaveReport | None = None,
    checked: bool = False,
) -> HTMLResponse:
    rule_words, rule_error = words(form, _tz(services))
    template = (
        "schedule_form_check.html" if checked and request.headers.get("hx-request") else "schedule_form.html"
    )
    return page(
        request,
        login,
        template,
        form=form,
        error=error,
        report=report,
        checked=checked,
        partial=template == "schedule_form_check.html",
        rule_words=rule_words,
        rule_error=rule_error,
        weekday_names=WEEKDAY_NAMES,
        reasons=calendar.REASONS,
        status_code=error.status_code if error and not request.headers.get("hx-request") else 200,
        **_choices(session, login[0]),
    )


@router.get("/schedules/new", response_class=HTMLResponse)
def schedule_new(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    bulletin_id: Annotated[int | None, Query()] = None,
    playlist_id: Annotated[int | None, Query()] = None,
    zone: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    user = login[0]
    require(user, "schedule.write")
    what = ""
    if bulletin_id is not None:
        what = f"bulletin:{bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id).id}"
    elif playlist_id is not None:
        what = f"playlist:{playlist_edit.get_playlist(session, user=user, playlist_id=playlist_id).id}"
    form = _defaults(_tz(services), what=what, target=f"zone:{zone}" if zone else "")
    return _form_page(request, login, session, services, form)


@router.post("/schedules/new", response_model=None)
async def schedule_create(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    """ "Check" shows what saving would do; "Save" saves unless the check finds a reason not to."""
    form = await _read_form(request)
    check_csrf(login[1], str(form.get("csrf_token", "")))
    require(login[0], "schedule.write")
    checked = form.get("op") == "check"
    try:
        schedule, report = _plan(session, services, login[0], form)
        if checked:
            return _form_page(request, login, session, services, form, report=report, checked=True)
        schedules.save_schedule(
            session,
            user=login[0],
            schedule=schedule,
            report=report,
            accept_clashes=form.get("accept_clashes") == "1",
        )
    except schedules.ScheduleRefused as exc:
        return _form_page(request, login, session, services, form, error=exc, report=exc.report, checked=True)
    except InvalidInput as exc:
        return _form_page(request, login, session, services, form, error=exc, checked=checked)
    services.publisher.changed(device_ids=report.devices)
    return see_other(_after_save(session, schedule, _tz(services)))


def _after_save(session: Session, schedule: Schedule, tz: ZoneInfo) -> str:
    """The calendar week of the first airing, in the zone it goes to (or the zone's commune)."""
    zone_id = schedule.target_zone_id
    zone = session.get(Zone, zone_id) if zone_id is not None else None
    if zone is None or zone.kind not in ("commune", "village"):
        return "/schedules"
    week = calendar.week_key(schedule.starts_at.astimezone(tz).date())
    return f"/calendar?zone={zone.id}&week={week}"


@router.get("/schedules/_words", response_class=HTMLResponse)
def schedule_words(request: Request, login: PanelLogin, services: ServicesDep) -> HTMLResponse:
    """The rule being typed, in plain words (or what is wrong with it): the form redraws it live."""
    require(login[0], "schedule.write")
    query = request.query_params
    form: dict[str, Any] = {key: query.get(key, "") for key in RULE_FIELDS if key != "weekdays"}
    form["weekdays"] = query.getlist("weekdays")
    rule_words, rule_error = words(form, _tz(services))
    return page(request, login, "schedule_form_words.html", rule_words=rule_words, rule_error=rule_error)


@router.post("/bulletins/{bulletin_id}/schedule", response_model=None)
async def bulletin_schedule(
    bulletin_id: int, request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    """The bulletin page's short form: saved at once; on a problem, the full form says what to fix."""
    form = await _read_form(request)
    check_csrf(login[1], str(form.get("csrf_token", "")))
    bulletin = bulletins.get_bulletin(session, user=login[0], bulletin_id=bulletin_id)
    form["what"] = f"bulletin:{bulletin.id}"
    form.setdefault("priority", "normal")
    try:
        schedule, report = _plan(session, services, login[0], form)
        schedules.save_schedule(
            session,
            user=login[0],
            schedule=schedule,
            report=report,
            accept_clashes=form.get("accept_clashes") == "1",
        )
    except schedules.ScheduleRefused as exc:
        return _form_page(request, login, session, services, form, error=exc, report=exc.report, checked=True)
    except InvalidInput as exc:
        return _form_page(request, login, session, services, form, error=exc)
    services.publisher.changed(device_ids=report.devices)
    return see_other(f"/bulletins/{bulletin_id}")


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    zone: Annotated[int | None, Query()] = None,
    week: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """A week of airings in a commune or a village, Monday to Sunday."""
    user = login[0]
    tz = _tz(services)
    zones = calendar.calendar_zones(session, user=user)
    today = utcnow().astimezone(tz).date()
    error = None
    try:
        monday = calendar.parse_week(week, today=today)
    except InvalidInput as exc:
        error, monday = exc, calendar.parse_week(None, today=today)
    chosen = zone if zone is not None else (zones[0].id if zones else None)
    shown = (
        calendar.week_of(
            session, user=user, zone_id=chosen, monday=monday, tz=tz, media_url=services.settings.public_url
        )
        if chosen is not None
        else None
    )
    return page(
        request,
        login,
        "calendar.html",
        zones=zones,
        week=shown,
        monday=monday,
        today=today,
        week_key=calendar.week_key(monday),
        error=error,
        weekday_names=WEEKDAY_NAMES,
        status_code=422 if error else 200,
    )

"""Panel pages of the registry: registering boxes (one code and QR each), villages, saved groups."""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session, col, select

from controller import library, registry
from controller.auth import require
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import InvalidInput, LoaError
from controller.i18n import N_, gettext
from controller.models import Device, Zone
from controller.routes.api_devices import read_csv, registry_changed
from controller.routes.panel import CsrfField, check_csrf, page, see_other
from controller.services import Services
from controller.zones import VILLAGE_KINDS_VI, add_village, import_villages, targetable_zones

router = APIRouter(include_in_schema=False)


def enrol_qr(url: str, code: str) -> Markup:
    """The enrolment command as an inline SVG QR code, for the installer's phone."""
    text = f"loa agent enroll --controller {url} --code {code}"
    return Markup(segno.make(text, error="m").svg_inline(scale=3, dark="#111", light="#fff"))


def _registry_page(
    request: Request,
    login: PanelLogin,
    session: Session,
    services: Services,
    *,
    issued: list[tuple[Device, str]] | None = None,
    error: LoaError | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    require(login[0], "device.manage")
    pending = session.exec(
        select(Device)
        .where(col(Device.enrolled_at).is_(None), col(Device.revoked_at).is_(None))
        .order_by(col(Device.id))
    ).all()
    revoked = session.exec(
        select(Device)
        .where(col(Device.revoked_at).is_not(None))
        .order_by(col(Device.revoked_at).desc())
        .limit(50)
    ).all()
    url = services.settings.public_url
    return page(
        request,
        login,
        "registry.html",
        zones=[z for z in targetable_zones(session, user=login[0])],
        pending=pending,
        revoked=revoked,
        issued=[(device, code, enrol_qr(url, code)) for device, code in issued or []],
        controller_url=url,
        code_hours=services.settings.enrolment_code_hours,
        error=error,
        form=form or {},
        status_code=status_code,
    )


@router.get("/registry", response_class=HTMLResponse)
def registry_page(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    return _registry_page(request, login, session, services)


@router.post("/registry/boxes", response_model=None)
async def registry_register(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    raw = await request.form()
    form = {
        key: str(raw.get(key, "")).strip()
        for key in ("device_id", "name", "zone_id", "lat", "lon", "address")
    }
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    try:
        device, code = registry.register_box(
            session,
            user=login[0],
            device_id=form["device_id"].lower(),
            name=form["name"],
            zone_id=_int(form["zone_id"], "zone_id", N_("Choose where the box stands.")),
            lat=_coordinate(form["lat"], "lat"),
            lon=_coordinate(form["lon"], "lon"),
            address=form["address"],
            code_hours=services.settings.enrolment_code_hours,
        )
    except LoaError as exc:
        session.rollback()
        return _registry_page(
            request, login, session, services, error=exc, form=form, status_code=exc.status_code
        )
    return _registry_page(request, login, session, services, issued=[(device, code)], status_code=201)


@router.post("/registry/import", response_model=None)
async def registry_import(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    file: UploadFile,
    csrf: CsrfField,
) -> Response:
    check_csrf(login[1], csrf)
    try:
        data = await read_csv(file)
        made = registry.import_boxes(
            session, user=login[0], data=data, code_hours=services.settings.enrolment_code_hours
        )
    except LoaError as exc:
        session.rollback()
        return _registry_page(request, login, session, services, error=exc, status_code=exc.status_code)
    return _registry_page(request, login, session, services, issued=made, status_code=201)


@router.post("/registry/boxes/{device_id}/code", response_model=None)
def registry_new_code(
    device_id: str,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
) -> Response:
    check_csrf(login[1], csrf)
    code = registry.new_code(
        session, user=login[0], device_id=device_id, code_hours=services.settings.enrolment_code_hours
    )
    device = session.get(Device, device_id)
    assert device is not None
    return _registry_page(request, login, session, services, issued=[(device, code)])


@router.post("/registry/boxes/{device_id}/revoke", response_model=None)
def registry_revoke(
    device_id: str, login: PanelLogin, session: SessionDep, services: ServicesDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    registry.revoke(session, user=login[0], device_id=device_id, reason="thu hồi từ bảng điều khiển")
    registry_changed(services, session, [device_id])
    return see_other("/registry")


@router.post("/registry/go/{action}", response_model=None)
async def registry_go(
    action: str, request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    """The "by device id" form: a new code or a revocation for any registered box."""
    raw = await request.form()
    csrf = str(raw.get("csrf_token", ""))
    device_id = str(raw.get("which", "")).strip().lower()
    if session.get(Device, device_id) is None:
        error = InvalidInput(
            N_("There is no speaker box with id %(id)s."), field="which", id=device_id or gettext("(empty)")
        )
        return _registry_page(request, login, session, services, error=error, status_code=404)
    if action == "revoke":
        return registry_revoke(device_id, login, session, services, csrf)
    return registry_new_code(device_id, request, login, session, services, csrf)


def _int(text: str, field: str, message: str) -> int:
    if not text.isdigit():
        raise InvalidInput(message, field=field)
    return int(text)


def _coordinate(text: str, field: str) -> float | None:
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise InvalidInput(
            N_("A coordinate is a decimal number, for example 18.8226."), field=field
        ) from None


def _villages_page(
    request: Request,
    login: PanelLogin,
    session: Session,
    *,
    error: LoaError | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    zones = targetable_zones(session, user=login[0])
    communes = [z for z in zones if z.kind == "commune"]
    if login[0].role in ("admin", "technician"):
        communes = list(
            session.exec(select(Zone).where(Zone.kind == "commune").order_by(col(Zone.name))).all()
        )
    return page(
        request,
        login,
        "villages.html",
        communes=communes,
        zones=zones,
        kinds=VILLAGE_KINDS_VI,
        error=error,
        form=form or {},
        status_code=status_code,
    )


@router.get("/villages", response_class=HTMLResponse)
def villages_page(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return _villages_page(request, login, session)


@router.post("/villages", response_model=None)
async def villages_add(request: Request, login: PanelLogin, session: SessionDep) -> Response:
    raw = await request.form()
    form = {key: str(raw.get(key, "")).strip() for key in ("commune_id", "name", "kind")}
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    try:
        add_village(
            session,
            user=login[0],
            commune_id=_int(form["commune_id"], "commune_id", N_("Choose a commune/ward.")),
            name=form["name"],
            kind=form["kind"] or "thôn",
        )
    except LoaError as exc:
        session.rollback()
        return _villages_page(request, login, session, error=exc, form=form, status_code=exc.status_code)
    return see_other("/villages")


@router.post("/villages/import", response_model=None)
async def villages_import(
    request: Request, login: PanelLogin, session: SessionDep, file: UploadFile, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    try:
        data = await read_csv(file)
        import_villages(session, user=login[0], data=data)
    except LoaError as exc:
        session.rollback()
        return _villages_page(request, login, session, error=exc, status_code=exc.status_code)
    return see_other("/villages")


def _groups_page(
    request: Request,
    login: PanelLogin,
    session: Session,
    *,
    error: LoaError | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    from controller.devices import list_devices

    user = login[0]
    return page(
        request,
        login,
        "groups.html",
        groups=library.list_groups(session, user=user),
        devices=list_devices(session, user=user),
        communes=[z for z in targetable_zones(session, user=user) if z.kind == "commune"],
        error=error,
        form=form or {"device_ids": []},
        status_code=status_code,
    )


@router.get("/groups", response_class=HTMLResponse)
def groups_page(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return _groups_page(request, login, session)


@router.post("/groups", response_model=None)
async def groups_create(request: Request, login: PanelLogin, session: SessionDep) -> Response:
    raw = await request.form()
    check_csrf(login[1], str(raw.get("csrf_token", "")))
    form: dict[str, Any] = {
        "name": str(raw.get("name", "")).strip(),
        "commune_id": str(raw.get("commune_id", "")),
        "device_ids": [str(d) for d in raw.getlist("device_ids")],
    }
    try:
        library.create_group(
            session,
            user=login[0],
            name=form["name"],
            commune_id=int(form["commune_id"]) if form["commune_id"].isdigit() else None,
            device_ids=form["device_ids"],
        )
    except LoaError as exc:
        session.rollback()
        return _groups_page(request, login, session, error=exc, form=form, status_code=exc.status_code)
    return see_other("/groups")


@router.post("/groups/{group_id}/delete", response_model=None)
def groups_delete(
    group_id: int, request: Request, login: PanelLogin, session: SessionDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    try:
        library.delete_group(session, user=login[0], group_id=group_id)
    except LoaError as exc:
        return _groups_page(request, login, session, error=exc, status_code=exc.status_code)
    return see_other("/groups")

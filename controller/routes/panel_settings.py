"""Panel pages of the province administrator: the effective settings (read-only) and the communes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from controller import communes, settings_view
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import Forbidden, InvalidInput
from controller.i18n import N_
from controller.routes.panel import CsrfField, check_csrf, page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, login: PanelLogin, services: ServicesDep) -> HTMLResponse:
    """What this controller runs with; changed in its LOA_ variables and a restart, not here."""
    if login[0].role != "admin":
        raise Forbidden(N_("Only the province administrator may see the settings."))
    return page(request, login, "settings.html", sections=settings_view.sections(services.settings))


@router.get("/communes", response_class=HTMLResponse)
def communes_page(request: Request, login: PanelLogin, session: SessionDep, edit: int = 0) -> HTMLResponse:
    return _communes_page(request, login, session, form={"zone_id": edit, "name": ""})


@router.post("/communes/{zone_id}", response_model=None)
def communes_rename(
    zone_id: int,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    csrf: CsrfField,
    name: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    check_csrf(login[1], csrf)
    try:
        communes.rename_commune(session, user=login[0], zone_id=zone_id, name=name)
    except InvalidInput as exc:
        session.rollback()
        form = {"zone_id": zone_id, "name": name}
        return _communes_page(request, login, session, form=form, error=exc)
    return see_other(f"/communes#c{zone_id}")


def _communes_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    *,
    form: dict[str, object],
    error: InvalidInput | None = None,
) -> HTMLResponse:
    return page(
        request,
        login,
        "communes.html",
        rows=communes.list_communes(session, user=login[0]),
        form=form,
        error=error,
        status_code=error.status_code if error else 200,
    )

"""How new bulletins of each commune are read (engine and voice, accent, speed): set by the
province administrator in the panel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from controller import rendering
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import Forbidden, InvalidInput, LoaError
from controller.i18n import N_
from controller.rendering import Voice
from controller.routes.panel import CsrfField, check_csrf, page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/voices", response_class=HTMLResponse)
def voice_defaults(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep, zone_id: int = 0
) -> HTMLResponse:
    return _voices_page(request, login, session, services, form={"zone_id": zone_id})


@router.post("/voices", response_model=None)
def voice_defaults_save(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField,
    zone_id: Annotated[int, Form()] = 0,
    voice: Annotated[str, Form(max_length=140)] = "",
    accent: Annotated[str, Form(max_length=16)] = "",
    speed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    check_csrf(login[1], csrf)
    form: dict[str, Any] = {"zone_id": zone_id, "voice": voice, "accent": accent, "speed": speed}
    try:
        rendering.set_speech_defaults(
            session,
            user=login[0],
            zone_id=zone_id,
            voice=Voice.from_key(voice) if voice else None,
            accent=accent or None,
            speed=rendering.parse_speed(speed),
            voices=services.renderer.voices(),
        )
    except InvalidInput as exc:
        return _voices_page(request, login, session, services, form=form, error=exc)
    return see_other(f"/voices?zone_id={zone_id}")


def _voices_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    *,
    form: dict[str, Any],
    error: LoaError | None = None,
) -> HTMLResponse:
    if login[0].role != "admin":
        raise Forbidden(N_("Only the province administrator may set the default voices."))
    table = rendering.speech_table(session, settings=services.settings)
    chosen = next((z for z, _speech in table if z.id == form.get("zone_id")), table[0][0] if table else None)
    if chosen is not None and "voice" not in form:
        form = {
            "zone_id": chosen.id,
            "voice": Voice(chosen.speech_engine, chosen.speech_voice).key if chosen.speech_engine else "",
            "accent": chosen.speech_accent or "",
            "speed": str(chosen.speech_speed or ""),
        }
    return page(
        request,
        login,
        "bulletin_voices.html",
        table=table,
        voices=services.renderer.voices(),
        voices_dir=services.renderer.piper_voices_dir,
        form=form,
        error=error,
        status_code=422 if error else 200,
    )

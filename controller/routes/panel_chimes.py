"""Panel page of the chimes: a commune's (or the province's) own opening and closing sounds."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from audio.chimes import MAX_CHIME_S
from controller import chimes
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import InvalidInput, LoaError
from controller.routes.panel import CsrfField, check_csrf, page, see_other
from controller.uploads import UploadTooLarge, save_upload

router = APIRouter(include_in_schema=False)


@router.get("/chimes", response_class=HTMLResponse)
def chimes_page(request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    return _chimes_page(request, login, session, form={"zone_id": "", "which": "opening"})


@router.post("/chimes", response_model=None)
async def chimes_upload(
    request: Request, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> Response:
    """Upload a chime: checked by ffmpeg before it replaces anything, refused in plain words."""
    limit = min(services.settings.max_upload_mb, chimes.MAX_CHIME_MB) * 1024 * 1024
    raw = await request.form(max_part_size=limit + 1)
    form = {"zone_id": str(raw.get("zone_id", "")), "which": str(raw.get("which", ""))}
    upload = raw.get("file")
    name = upload.filename or "" if isinstance(upload, UploadFile) else ""
    try:
        check_csrf(login[1], str(raw.get("csrf_token", "")))
        zone_id = int(form["zone_id"]) if form["zone_id"].isdigit() else 0
        with tempfile.TemporaryDirectory(prefix="loa-chime-") as scratch:
            path = Path(scratch) / "upload"
            await save_upload(request, path, limit=limit, field="file")

            def work() -> None:
                chimes.save_chime(
                    session,
                    user=login[0],
                    zone_id=zone_id,
                    which=form["which"],
                    path=path,
                    name=name,
                    store=services.renderer.store,
                )

            await run_in_threadpool(work)
    except (InvalidInput, UploadTooLarge) as exc:
        session.rollback()
        return _chimes_page(request, login, session, form=form, error=exc)
    finally:
        await raw.close()
    return see_other("/chimes")


@router.post("/chimes/{zone_id}/{which}/delete", response_model=None)
def chimes_remove(
    zone_id: int, which: str, login: PanelLogin, session: SessionDep, csrf: CsrfField
) -> Response:
    check_csrf(login[1], csrf)
    chimes.remove_chime(session, user=login[0], zone_id=zone_id, which=which)
    return see_other("/chimes")


@router.get("/chimes/{zone_id}/{which}")
def chimes_listen(
    zone_id: int, which: str, login: PanelLogin, session: SessionDep, services: ServicesDep
) -> FileResponse:
    """A zone's own chime as uploaded, to listen to before a bulletin is made with it."""
    path = chimes.chime_file(
        session, user=login[0], zone_id=zone_id, which=which, store=services.renderer.store
    )
    return FileResponse(path, media_type="application/octet-stream")  # the <audio> element sniffs it


def _chimes_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    *,
    form: dict[str, Any],
    error: LoaError | None = None,
) -> HTMLResponse:
    zones = chimes.chime_zones(session, user=login[0])
    return page(
        request,
        login,
        "chimes.html",
        rows=chimes.table(session, zones),
        which_names=chimes.WHICH,
        max_mb=chimes.MAX_CHIME_MB,
        max_seconds=int(MAX_CHIME_S),
        form=form,
        error=error,
        status_code=error.status_code if error else 200,
    )

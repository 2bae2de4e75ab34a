"""``GET /media/{sha256}``: immutable audio for boxes (bearer token) and panel users (cookie), a
commune's users hearing only their communes' audio (controller/media_grants.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from sqlmodel import Session

from controller.api_tokens import is_api_token, resolve_token
from controller.auth import resolve_session
from controller.deps import ServicesDep, SessionDep
from controller.devices import device_for_token
from controller.errors import NotFound, Unauthenticated
from controller.i18n import N_
from controller.media_grants import may_hear
from controller.models import Device, Media, User
from controller.services import Services

router = APIRouter(tags=["media"])


def _caller(request: Request, session: Session, services: Services) -> User | Device | None:
    """Who asks: a box (its media token), a user (API token, API login or panel cookie), or nobody."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        if is_api_token(token):
            return resolve_token(session, token)
        login = resolve_session(session, token=token, kind="api", settings=services.settings)
        return login[0] if login is not None else device_for_token(session, token)
    cookie = request.cookies.get(services.session_cookie)
    login = resolve_session(session, token=cookie, kind="web", settings=services.settings) if cookie else None
    return login[0] if login is not None else None


@router.get(
    "/media/{sha256}",
    response_class=FileResponse,
    responses={200: {"description": "The audio file (Range requests work)", "content": {"audio/*": {}}}},
)
def get_media(sha256: str, request: Request, session: SessionDep, services: ServicesDep) -> FileResponse:
    caller = _caller(request, session, services)
    if caller is None:
        raise Unauthenticated(N_("A speaker box's access token or a login is needed."))
    media = session.get(Media, sha256) if len(sha256) == 64 else None
    if media is None or not services.store.has(sha256):
        raise NotFound(N_("No such audio file."))
    if isinstance(caller, User) and not may_hear(session, user=caller, sha256=sha256):
        raise NotFound(N_("No such audio file."))  # another commune's: not even its existence is told
    return FileResponse(
        services.store.path_for(sha256),
        media_type=media.mime,
        headers={"Cache-Control": "private, max-age=31536000, immutable", "ETag": f'"{sha256}"'},
    )

"""The JSON API for agent releases: add a wheel, list releases, roll one out to boxes in stages."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from controller import agent_releases
from controller.commands import CommandService
from controller.deps import ApiUser, ServicesDep, SessionDep
from controller.models import RowId, utcnow
from controller.routes.api_devices import CommandOut, command_out
from controller.uploads import save_upload
from edge_agent.update import MAX_WHEEL_BYTES

router = APIRouter(prefix="/api/v1", tags=["agent releases"])


class ReleaseOut(BaseModel):
    version: str
    sha256: str
    bytes: int
    created_at: datetime
    running: int = Field(description="Boxes whose last status reports this version")


class RolloutIn(BaseModel):
    """Exactly one of: these boxes, every box in a zone, or a share of all boxes (canaries first)."""

    device_ids: list[str] | None = Field(default=None, max_length=10_000)
    zone_id: RowId | None = None
    percent: int | None = Field(default=None, description="1–100: the same boxes come first every time")


@router.get("/agent-releases", response_model=list[ReleaseOut])
def get_releases(user: ApiUser, session: SessionDep, services: ServicesDep) -> list[ReleaseOut]:
    agent_releases.require_view(user)
    return [ReleaseOut(**vars(r)) for r in agent_releases.list_releases(session, services.store)]


@router.post("/agent-releases", response_model=ReleaseOut, status_code=201)
async def post_release(
    request: Request, user: ApiUser, session: SessionDep, services: ServicesDep
) -> ReleaseOut:
    """Add a wheel of the agent (multipart field ``file``, or the raw body); administrators only."""
    agent_releases.require_manage(user)
    with tempfile.TemporaryDirectory(prefix="loa-release-") as scratch:
        path = Path(scratch) / "release.whl"
        await save_upload(request, path, limit=MAX_WHEEL_BYTES)
        data = path.read_bytes()
    release = await run_in_threadpool(
        lambda: agent_releases.add_release(session, services.store, user=user, data=data)
    )
    return ReleaseOut(**vars(release))


@router.post("/agent-releases/{version}/rollout", response_model=list[CommandOut], status_code=201)
def post_rollout(
    version: str, body: RolloutIn, request: Request, user: ApiUser, session: SessionDep, services: ServicesDep
) -> list[CommandOut]:
    """Send ``update`` to the chosen boxes not yet on ``version``; each command's state shows the outcome."""
    service: CommandService = request.app.state.commands
    sent = agent_releases.rollout(
        session,
        services.store,
        service,
        user=user,
        version=version,
        device_ids=body.device_ids,
        zone_id=body.zone_id,
        percent=body.percent,
    )
    now = utcnow()
    return [command_out(c, now=now) for c in sent]

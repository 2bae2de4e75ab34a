"""The JSON API for emergency broadcasts and CAP alerts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from controller import cap
from controller.deps import ApiUser, ServicesDep, SessionDep
from controller.models import Emergency, RowId
from controller.routes.api import _bulletin_out

router = APIRouter(prefix="/api/v1", tags=["api"])


class EmergencyIn(BaseModel):
    bulletin_id: RowId
    zone_ids: list[RowId] = Field(min_length=1, max_length=200)
    repeat: int = Field(default=1, ge=1, le=20)
    after: Literal["resume", "skip"] = "skip"


class EmergencyOut(BaseModel):
    id: int
    bulletin_id: int
    zone_ids: list[int]
    repeat: int
    after: str
    status: str
    created_by: int
    confirmed_by: int | None
    created_at: datetime
    sent_at: datetime | None
    stopped_at: datetime | None


def _emergency_out(e: Emergency) -> EmergencyOut:
    return EmergencyOut(
        **e.model_dump(exclude={"zone_ids_json", "source"}), zone_ids=json.loads(e.zone_ids_json)
    )


@router.get("/emergencies", response_model=list[EmergencyOut])
def get_emergencies(user: ApiUser, session: SessionDep, services: ServicesDep) -> list[EmergencyOut]:
    return [_emergency_out(e) for e in services.emergencies.list(session, user=user)]


@router.post("/emergencies", response_model=EmergencyOut, status_code=201)
def post_emergency(
    body: EmergencyIn, user: ApiUser, session: SessionDep, services: ServicesDep
) -> EmergencyOut:
    """Start an emergency broadcast (sent at once, or pending a second person's confirmation)."""
    return _emergency_out(services.emergencies.create(session, user=user, **body.model_dump()))


@router.post("/emergencies/{emergency_id}/confirm", response_model=EmergencyOut)
def confirm_emergency(
    emergency_id: RowId, user: ApiUser, session: SessionDep, services: ServicesDep
) -> EmergencyOut:
    return _emergency_out(services.emergencies.confirm(session, user=user, emergency_id=emergency_id))


@router.post("/emergencies/{emergency_id}/stop", response_model=EmergencyOut)
def stop_emergency(
    emergency_id: RowId, user: ApiUser, session: SessionDep, services: ServicesDep
) -> EmergencyOut:
    return _emergency_out(services.emergencies.stop(session, user=user, emergency_id=emergency_id))


@router.post("/emergencies/stop-all")
def stop_all(user: ApiUser, session: SessionDep, services: ServicesDep) -> dict[str, list[str]]:
    """Silence every box in the user's communes (the whole province for an admin)."""
    return {"zones": services.emergencies.stop_all(session, user=user)}


@router.post("/cap", status_code=201)
async def post_cap(request: Request, user: ApiUser, session: SessionDep) -> dict[str, object]:
    """Import a CAP 1.2 alert (XML body): an emergency bulletin and a draft broadcast to its zones."""
    bulletin, emergency = cap.import_cap(session, user=user, raw=await request.body())
    return {
        "bulletin": _bulletin_out(bulletin).model_dump(mode="json"),
        "emergency": _emergency_out(emergency).model_dump(mode="json"),
    }


@router.post("/emergencies/{emergency_id}/approve", response_model=EmergencyOut)
async def approve_emergency_draft(
    emergency_id: RowId, user: ApiUser, session: SessionDep, services: ServicesDep
) -> EmergencyOut:
    """Approve a draft from an alert: renders its bulletin, then sends it (or awaits the second person)."""

    def work() -> Emergency:
        return services.emergencies.approve_draft(
            session, user=user, emergency_id=emergency_id, renderer=services.renderer
        )

    return _emergency_out(await run_in_threadpool(work))

"""The JSON API (``/api/v1``): what the panel can do, for automation and tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from controller import asrun, bulletins, devices, schedules
from controller.auth import authenticate, open_session
from controller.deps import ApiUser, ServicesDep, SessionDep
from controller.errors import InvalidInput, Unauthenticated
from controller.models import Bulletin, Schedule, utcnow
from controller.zones import targetable_zones

router = APIRouter(prefix="/api/v1", tags=["api"])


class TokenRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class TokenOut(BaseModel):
    token: str
    username: str
    role: str


class BulletinIn(BaseModel):
    commune_id: int
    title: str = Field(max_length=300)
    body: str = Field(max_length=30_000)
    category: str = "legal"
    source_ref: str | None = Field(default=None, max_length=300)
    accent: Literal["north", "central", "south"] = "central"


class BulletinOut(BaseModel):
    id: int
    commune_id: int
    title: str
    body: str
    category: str
    status: str
    accent: str
    text_sha256: str | None
    media_sha256: str | None
    decision_comment: str | None
    created_at: datetime
    decided_at: datetime | None


class RejectIn(BaseModel):
    comment: str = Field(max_length=2000)


class ScheduleIn(BaseModel):
    bulletin_id: int
    target_zone_id: int
    starts_at: datetime | None = Field(default=None, description="Aware instant; or give in_seconds")
    in_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)


class ScheduleOut(BaseModel):
    id: int
    bulletin_id: int
    target_zone_id: int
    starts_at: datetime
    priority: str
    status: str


def _bulletin_out(b: Bulletin) -> BulletinOut:
    return BulletinOut.model_validate(b, from_attributes=True)


def _schedule_out(s: Schedule) -> ScheduleOut:
    return ScheduleOut.model_validate(s, from_attributes=True)


@router.post("/auth/token", response_model=TokenOut)
def issue_token(body: TokenRequest, session: SessionDep) -> TokenOut:
    user = authenticate(session, body.username, body.password)
    if user is None:
        raise Unauthenticated("Sai tên đăng nhập hoặc mật khẩu.")
    token, _row = open_session(session, user=user, kind="api")
    return TokenOut(token=token, username=user.username, role=user.role)


@router.get("/zones")
def list_zones(user: ApiUser, session: SessionDep) -> list[dict[str, object]]:
    return [
        {"id": z.id, "code": z.code, "name": z.name, "kind": z.kind, "parent_id": z.parent_id}
        for z in targetable_zones(session, user=user)
    ]


@router.get("/bulletins", response_model=list[BulletinOut])
def get_bulletins(user: ApiUser, session: SessionDep, status: str | None = None) -> list[BulletinOut]:
    return [_bulletin_out(b) for b in bulletins.list_bulletins(session, user=user, status=status)]


@router.post("/bulletins", response_model=BulletinOut, status_code=201)
def post_bulletin(body: BulletinIn, user: ApiUser, session: SessionDep) -> BulletinOut:
    return _bulletin_out(bulletins.create_bulletin(session, user=user, **body.model_dump()))


@router.get("/bulletins/{bulletin_id}", response_model=BulletinOut)
def get_bulletin(bulletin_id: int, user: ApiUser, session: SessionDep) -> BulletinOut:
    return _bulletin_out(bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id))


@router.post("/bulletins/{bulletin_id}/submit", response_model=BulletinOut)
def submit(bulletin_id: int, user: ApiUser, session: SessionDep) -> BulletinOut:
    bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
    return _bulletin_out(bulletins.submit_bulletin(session, user=user, bulletin=bulletin))


@router.post("/bulletins/{bulletin_id}/approve", response_model=BulletinOut)
async def approve(bulletin_id: int, user: ApiUser, session: SessionDep, services: ServicesDep) -> BulletinOut:
    def work() -> Bulletin:
        bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
        return bulletins.approve_bulletin(session, user=user, bulletin=bulletin, renderer=services.renderer)

    return _bulletin_out(await run_in_threadpool(work))


@router.post("/bulletins/{bulletin_id}/reject", response_model=BulletinOut)
def reject(bulletin_id: int, body: RejectIn, user: ApiUser, session: SessionDep) -> BulletinOut:
    bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
    return _bulletin_out(
        bulletins.reject_bulletin(session, user=user, bulletin=bulletin, comment=body.comment)
    )


@router.get("/schedules", response_model=list[ScheduleOut])
def get_schedules(user: ApiUser, session: SessionDep) -> list[ScheduleOut]:
    return [_schedule_out(s) for s, _b, _z in schedules.list_schedules(session, user=user)]


@router.post("/schedules", response_model=ScheduleOut, status_code=201)
def post_schedule(body: ScheduleIn, user: ApiUser, session: SessionDep, services: ServicesDep) -> ScheduleOut:
    if (body.starts_at is None) == (body.in_seconds is None):
        raise InvalidInput("Cho biết starts_at hoặc in_seconds (một trong hai).", field="starts_at")
    starts_at = body.starts_at or utcnow() + timedelta(seconds=body.in_seconds or 0)
    bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=body.bulletin_id)
    schedule = schedules.create_one_off(
        session,
        user=user,
        bulletin=bulletin,
        target_zone_id=body.target_zone_id,
        starts_at=starts_at,
        horizon=timedelta(hours=services.settings.timeline_horizon_hours),
    )
    services.publisher.refresh()
    return _schedule_out(schedule)


@router.get("/devices")
def get_devices(user: ApiUser, session: SessionDep) -> list[dict[str, object]]:
    return [
        {
            "id": d.id,
            "name": d.name,
            "zone": z.name,
            "state": d.state,
            "last_seen_at": d.last_seen_at,
            "status": devices.status_of(d),
        }
        for d, z in devices.list_devices(session, user=user)
    ]


@router.get("/asrun")
def get_asrun(user: ApiUser, session: SessionDep) -> list[dict[str, object]]:
    return [row.__dict__ for row in asrun.as_run(session, user=user)]

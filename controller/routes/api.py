"""The JSON API (``/api/v1``): what the panel can do, for automation and tests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from controller import asrun, bulletins, rendering, schedules
from controller.auth import check_login, open_session
from controller.deps import ApiUser, ServicesDep, SessionDep, client_address
from controller.errors import InvalidInput
from controller.i18n import N_
from controller.login_limits import LoginLimits
from controller.models import Bulletin, Media, RowId, Schedule, User, utcnow
from controller.services import Services
from controller.zones import targetable_zones
from playlists.rules import Rule

router = APIRouter(prefix="/api/v1", tags=["api"])


class TokenRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class TokenOut(BaseModel):
    token: str
    username: str
    role: str


class BulletinIn(BaseModel):
    commune_id: RowId
    title: str = Field(max_length=300)
    body: str = Field(max_length=30_000)
    category: str = "legal"
    source_ref: str | None = Field(default=None, max_length=300)
    engine: str | None = Field(default=None, description="TTS engine; default: the commune's")
    voice: str | None = Field(default=None, description="The engine's voice (a Piper voice's name)")
    accent: Literal["north", "central", "south"] | None = Field(
        default=None, description="Default: the commune's"
    )
    speed: int | None = Field(default=None, description="Words per minute (80-300); default: the commune's")


class BulletinOut(BaseModel):
    id: int
    commune_id: int
    title: str
    body: str
    category: str
    status: str
    engine: str
    voice: str | None
    accent: str
    speed: int
    text_sha256: str | None
    media_sha256: str | None
    recording_sha256: str | None
    decision_comment: str | None
    created_at: datetime
    decided_at: datetime | None


class RejectIn(BaseModel):
    comment: str = Field(max_length=2000)


class ApproveIn(BaseModel):
    media_sha256: str | None = Field(
        default=None, description="The audio the approver heard (from preview); approval fails if it changed"
    )


class PreviewOut(BaseModel):
    media_sha256: str
    duration_ms: int
    codec: str | None
    lufs: float | None
    true_peak_dbtp: float | None
    url: str


_ROW_ID: TypeAdapter[int] = TypeAdapter(RowId)


class TargetIn(BaseModel):
    kind: Literal["zone", "device", "group"]
    id: int | str


class ScheduleIn(BaseModel):
    bulletin_id: RowId | None = None
    playlist_id: RowId | None = None
    target: TargetIn | None = None
    target_zone_id: RowId | None = Field(default=None, description="Shortcut for target {kind: zone, id}")
    rule: Rule | None = None
    starts_at: datetime | None = Field(
        default=None, description="Shortcut for a one-off rule at this instant"
    )
    in_seconds: int | None = Field(
        default=None, ge=0, le=7 * 24 * 3600, description="One-off, this many seconds ahead"
    )
    priority: Literal["normal", "priority", "emergency"] = "normal"
    volume: int = Field(default=100, ge=0, le=100)
    accept_clashes: bool = Field(default=False, description="Save even if it clashes with other schedules")

    def to_target(self) -> schedules.Target:
        if self.target is None:
            if self.target_zone_id is None:
                raise InvalidInput(N_("Say where to broadcast (target)."), field="target")
            return schedules.Target("zone", zone_id=self.target_zone_id)
        if self.target.kind == "device":
            return schedules.Target("device", device_id=str(self.target.id))
        try:
            number = _ROW_ID.validate_python(self.target.id)
        except ValidationError:
            raise InvalidInput(
                N_("The target's id must be the number of a zone or a group."), field="target"
            ) from None
        if self.target.kind == "group":
            return schedules.Target("group", group_id=number)
        return schedules.Target("zone", zone_id=number)

    def to_rule(self) -> Rule:
        given = [x is not None for x in (self.rule, self.starts_at, self.in_seconds)]
        if sum(given) != 1:
            raise InvalidInput(N_("Give exactly one of rule, starts_at, in_seconds."), field="rule")
        if self.rule is not None:
            return self.rule
        at = self.starts_at or utcnow() + timedelta(seconds=self.in_seconds or 0)
        if at.tzinfo is None:
            raise InvalidInput(N_("The broadcast time needs a time zone."), field="starts_at")
        return Rule(kind="once", at=at)


class ScheduleOut(BaseModel):
    id: int
    bulletin_id: int | None
    playlist_id: int | None
    target_kind: str
    target_zone_id: int | None
    target_device_id: str | None
    target_group_id: int | None
    rule: dict[str, object]
    description: str
    starts_at: datetime
    ends_at: datetime | None
    priority: str
    volume: int
    status: str


def _bulletin_out(b: Bulletin) -> BulletinOut:
    return BulletinOut.model_validate(b, from_attributes=True)


def _schedule_out(s: Schedule) -> ScheduleOut:
    return ScheduleOut(
        **s.model_dump(exclude={"rule_json", "created_by", "created_at"}),
        rule=json.loads(s.rule_json),
        description=schedules.describe(s),
    )


@router.post("/auth/token", response_model=TokenOut)
def issue_token(body: TokenRequest, request: Request, session: SessionDep, services: ServicesDep) -> TokenOut:
    """A login token (a server-side session with the panel's idle and absolute limits, and the same
    login limits); for long-lived automation, make a per-user token at /api/v1/tokens instead."""
    user = check_login(
        session,
        username=body.username,
        password=body.password,
        address=client_address(request),
        limits=LoginLimits.from_settings(services.settings),
    )
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
def post_bulletin(body: BulletinIn, user: ApiUser, session: SessionDep, services: ServicesDep) -> BulletinOut:
    if body.voice and not body.engine:
        raise InvalidInput(N_("Say which engine this voice belongs to."), field="engine")
    defaults = rendering.speech_defaults(session, zone_id=body.commune_id, settings=services.settings)
    speech = rendering.chosen_speech(
        defaults,
        voice=f"{body.engine}:{body.voice or ''}" if body.engine else None,
        accent=body.accent,
        speed=body.speed,
    )
    created = bulletins.create_bulletin(
        session,
        user=user,
        commune_id=body.commune_id,
        title=body.title,
        body=body.body,
        category=body.category,
        source_ref=body.source_ref,
        speech=speech,
        voices=services.renderer.voices(),
    )
    return _bulletin_out(created)


@router.get("/bulletins/{bulletin_id}", response_model=BulletinOut)
def get_bulletin(bulletin_id: RowId, user: ApiUser, session: SessionDep) -> BulletinOut:
    return _bulletin_out(bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id))


@router.post("/bulletins/{bulletin_id}/submit", response_model=BulletinOut)
def submit(bulletin_id: RowId, user: ApiUser, session: SessionDep) -> BulletinOut:
    bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
    return _bulletin_out(bulletins.submit_bulletin(session, user=user, bulletin=bulletin))


@router.post("/bulletins/{bulletin_id}/preview", response_model=PreviewOut)
async def preview(
    bulletin_id: RowId, user: ApiUser, session: SessionDep, services: ServicesDep
) -> PreviewOut:
    """Render a bulletin before approval (the same audio approval will freeze) to listen to it."""

    def work() -> Media:
        bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
        return bulletins.preview_bulletin(session, user=user, bulletin=bulletin, renderer=services.renderer)

    media = await run_in_threadpool(work)
    return PreviewOut(
        media_sha256=media.sha256,
        duration_ms=media.duration_ms,
        codec=media.codec,
        lufs=media.lufs,
        true_peak_dbtp=media.true_peak_dbtp,
        url=f"/media/{media.sha256}",
    )


@router.post("/bulletins/{bulletin_id}/approve", response_model=BulletinOut)
async def approve(
    bulletin_id: RowId,
    user: ApiUser,
    session: SessionDep,
    services: ServicesDep,
    body: ApproveIn | None = None,
) -> BulletinOut:
    def work() -> Bulletin:
        bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
        return bulletins.approve_bulletin(
            session,
            user=user,
            bulletin=bulletin,
            renderer=services.renderer,
            heard_sha256=body.media_sha256 if body else None,
        )

    return _bulletin_out(await run_in_threadpool(work))


@router.post("/bulletins/{bulletin_id}/reject", response_model=BulletinOut)
def reject(bulletin_id: RowId, body: RejectIn, user: ApiUser, session: SessionDep) -> BulletinOut:
    bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
    return _bulletin_out(
        bulletins.reject_bulletin(session, user=user, bulletin=bulletin, comment=body.comment)
    )


@router.get("/schedules", response_model=list[ScheduleOut])
def get_schedules(user: ApiUser, session: SessionDep) -> list[ScheduleOut]:
    return [_schedule_out(s) for s, _what, _where in schedules.list_schedules(session, user=user)]


def _plan(
    body: ScheduleIn, user: User, session: Session, services: Services
) -> tuple[Schedule, schedules.SaveReport]:
    return schedules.plan_schedule(
        session,
        user=user,
        bulletin_id=body.bulletin_id,
        playlist_id=body.playlist_id,
        target=body.to_target(),
        rule=body.to_rule(),
        priority=body.priority,
        volume=body.volume,
        media_url=services.settings.public_url,
        horizon=timedelta(hours=services.settings.timeline_horizon_hours),
    )


@router.post("/schedules/check")
def check_schedule(
    body: ScheduleIn, user: ApiUser, session: SessionDep, services: ServicesDep
) -> dict[str, object]:
    """What saving would do: boxes reached, policy breaches and clashes, without saving."""
    _schedule, report = _plan(body, user, session, services)
    return report.as_dict()


@router.post("/schedules", response_model=ScheduleOut, status_code=201)
def post_schedule(body: ScheduleIn, user: ApiUser, session: SessionDep, services: ServicesDep) -> ScheduleOut:
    schedule, report = _plan(body, user, session, services)
    saved = schedules.save_schedule(
        session, user=user, schedule=schedule, report=report, accept_clashes=body.accept_clashes
    )
    services.publisher.changed(device_ids=report.devices)
    return _schedule_out(saved)


@router.post("/schedules/{schedule_id}/cancel", response_model=ScheduleOut)
def cancel(schedule_id: RowId, user: ApiUser, session: SessionDep, services: ServicesDep) -> ScheduleOut:
    schedule = schedules.cancel_schedule(session, user=user, schedule_id=schedule_id)
    services.publisher.changed()
    return _schedule_out(schedule)


@router.get("/asrun")
def get_asrun(user: ApiUser, session: SessionDep) -> list[dict[str, object]]:
    return [row.__dict__ for row in asrun.as_run(session, user=user)]

"""The JSON API (``/api/v1``): what the panel can do, for automation and tests."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from controller import asrun, bulletins, cap, devices, lexicon, library, schedules
from controller.auth import authenticate, open_session
from controller.deps import ApiUser, ServicesDep, SessionDep
from controller.errors import InvalidInput, Unauthenticated
from controller.models import Bulletin, Emergency, Schedule, User, utcnow
from controller.services import Services
from controller.uploads import save_upload
from controller.zones import targetable_zones
from playlists.playlist import PlaylistEntry
from playlists.policy import ZonePolicy
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
    commune_id: int
    title: str = Field(max_length=300)
    body: str = Field(max_length=30_000)
    category: str = "legal"
    source_ref: str | None = Field(default=None, max_length=300)
    accent: Literal["north", "central", "south"] = "central"
    speed: int = Field(default=150, ge=80, le=300)


class BulletinOut(BaseModel):
    id: int
    commune_id: int
    title: str
    body: str
    category: str
    status: str
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


class TargetIn(BaseModel):
    kind: Literal["zone", "device", "group"]
    id: int | str


class ScheduleIn(BaseModel):
    bulletin_id: int | None = None
    playlist_id: int | None = None
    target: TargetIn | None = None
    target_zone_id: int | None = Field(default=None, description="Shortcut for target {kind: zone, id}")
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
                raise InvalidInput("Cho biết nơi phát (target).", field="target")
            return schedules.Target("zone", zone_id=self.target_zone_id)
        if self.target.kind == "device":
            return schedules.Target("device", device_id=str(self.target.id))
        if self.target.kind == "group":
            return schedules.Target("group", group_id=int(self.target.id))
        return schedules.Target("zone", zone_id=int(self.target.id))

    def to_rule(self) -> Rule:
        given = [x is not None for x in (self.rule, self.starts_at, self.in_seconds)]
        if sum(given) != 1:
            raise InvalidInput("Cho biết đúng một trong rule, starts_at, in_seconds.", field="rule")
        if self.rule is not None:
            return self.rule
        at = self.starts_at or utcnow() + timedelta(seconds=self.in_seconds or 0)
        if at.tzinfo is None:
            raise InvalidInput("Thời điểm phát phải có múi giờ.", field="starts_at")
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
    services.publisher.refresh(device_ids=report.devices)
    return _schedule_out(saved)


@router.post("/schedules/{schedule_id}/cancel", response_model=ScheduleOut)
def cancel(schedule_id: int, user: ApiUser, session: SessionDep, services: ServicesDep) -> ScheduleOut:
    schedule = schedules.cancel_schedule(session, user=user, schedule_id=schedule_id)
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


class EmergencyIn(BaseModel):
    bulletin_id: int
    zone_ids: list[int] = Field(min_length=1, max_length=200)
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
    emergency_id: int, user: ApiUser, session: SessionDep, services: ServicesDep
) -> EmergencyOut:
    return _emergency_out(services.emergencies.confirm(session, user=user, emergency_id=emergency_id))


@router.post("/emergencies/{emergency_id}/stop", response_model=EmergencyOut)
def stop_emergency(
    emergency_id: int, user: ApiUser, session: SessionDep, services: ServicesDep
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
    emergency_id: int, user: ApiUser, session: SessionDep, services: ServicesDep
) -> EmergencyOut:
    """Approve a draft from an alert: renders its bulletin, then sends it (or awaits the second person)."""

    def work() -> Emergency:
        return services.emergencies.approve_draft(
            session, user=user, emergency_id=emergency_id, renderer=services.renderer
        )

    return _emergency_out(await run_in_threadpool(work))


class PlaylistIn(BaseModel):
    name: str = Field(max_length=200)
    commune_id: int | None = None
    entries: list[PlaylistEntry] = Field(max_length=200)


class PlaylistOut(BaseModel):
    id: int
    name: str
    commune_id: int | None
    entries: list[dict[str, object]]
    duration_ms: int | None = Field(description="None while something in it is not approved")


@router.get("/playlists", response_model=list[PlaylistOut])
def get_playlists(user: ApiUser, session: SessionDep) -> list[PlaylistOut]:
    return [
        PlaylistOut(
            id=p.id or 0,
            name=p.name,
            commune_id=p.commune_id,
            entries=json.loads(p.entries_json),
            duration_ms=library.playlist_duration_ms(session, p),
        )
        for p in library.list_playlists(session, user=user)
    ]


@router.post("/playlists", response_model=PlaylistOut, status_code=201)
def post_playlist(body: PlaylistIn, user: ApiUser, session: SessionDep) -> PlaylistOut:
    p = library.create_playlist(
        session, user=user, name=body.name, commune_id=body.commune_id, entries=body.entries
    )
    return PlaylistOut(
        id=p.id or 0,
        name=p.name,
        commune_id=p.commune_id,
        entries=json.loads(p.entries_json),
        duration_ms=library.playlist_duration_ms(session, p),
    )


class GroupIn(BaseModel):
    name: str = Field(max_length=200)
    commune_id: int | None = None
    device_ids: list[str] = Field(min_length=1, max_length=5000)


@router.post("/groups", status_code=201)
def post_group(body: GroupIn, user: ApiUser, session: SessionDep) -> dict[str, object]:
    group = library.create_group(
        session, user=user, name=body.name, commune_id=body.commune_id, device_ids=body.device_ids
    )
    return {
        "id": group.id,
        "name": group.name,
        "commune_id": group.commune_id,
        "device_ids": sorted(body.device_ids),
    }


@router.put("/zones/{zone_id}/policy")
def put_policy(
    zone_id: int, body: ZonePolicy | None, user: ApiUser, session: SessionDep, services: ServicesDep
) -> dict[str, object]:
    """Quiet hours, daily caps and volume limits for a zone and every zone below it (null clears)."""
    zone = library.set_policy(session, user=user, zone_id=zone_id, policy=body)
    services.publisher.refresh()
    return {"zone_id": zone.id, "policy": json.loads(zone.policy_json) if zone.policy_json else None}


class NormalizeIn(BaseModel):
    text: str = Field(max_length=30_000)
    accent: Literal["north", "central", "south"] = "central"


@router.post("/normalize")
def post_normalize(body: NormalizeIn, user: ApiUser, session: SessionDep) -> dict[str, object]:
    """How a text will be read with the province's lexicon, and the abbreviations it does not know."""
    result = lexicon.spoken_form(session, text=body.text, accent=body.accent)
    return {"spoken": result.text, "unknown": list(result.unknown)}


class LexiconIn(BaseModel):
    kind: Literal["abbreviation", "pronunciation"]
    term: str = Field(max_length=100)
    spoken: str = Field(max_length=300)


@router.get("/lexicon")
def get_lexicon(user: ApiUser, session: SessionDep) -> list[dict[str, object]]:
    return [
        {"id": e.id, "kind": e.kind, "term": e.term, "spoken": e.spoken}
        for e in lexicon.list_entries(session)
    ]


@router.put("/lexicon", status_code=200)
def put_lexicon(body: LexiconIn, user: ApiUser, session: SessionDep) -> dict[str, object]:
    entry = lexicon.save_entry(session, user=user, kind=body.kind, term=body.term, spoken=body.spoken)
    return {"id": entry.id, "kind": entry.kind, "term": entry.term, "spoken": entry.spoken}


@router.delete("/lexicon/{entry_id}", status_code=204)
def delete_lexicon(entry_id: int, user: ApiUser, session: SessionDep) -> None:
    lexicon.delete_entry(session, user=user, entry_id=entry_id)


@router.post("/bulletins/{bulletin_id}/recording", response_model=BulletinOut)
async def post_recording(
    bulletin_id: int, request: Request, user: ApiUser, session: SessionDep, services: ServicesDep
) -> BulletinOut:
    """Upload a recording (any format ffmpeg reads) that airs instead of synthetic speech."""
    bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
    limit = services.settings.max_upload_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="loa-upload-") as scratch:
        path = Path(scratch) / "upload"
        await save_upload(request, path, limit=limit)

        def work() -> Bulletin:
            return bulletins.attach_recording(
                session, user=user, bulletin=bulletin, path=path, renderer=services.renderer
            )

        return _bulletin_out(await run_in_threadpool(work))

"""The registry's API: enrolment (for boxes), registration, import, new codes and revocation."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, UploadFile
from pydantic import BaseModel, Field

from controller import commands, devices, registry
from controller.alerts import AlertRules
from controller.commands import CommandService
from controller.deps import ApiUser, ServicesDep, SessionDep
from controller.errors import Conflict, Gone, InvalidInput, NotFound, TooManyRequests
from controller.i18n import N_, gettext
from controller.models import Device, DeviceCommand, RowId, utcnow
from controller.services import Services

router = APIRouter(prefix="/api/v1", tags=["registry"])

MAX_CSV_BYTES = 2 * 1024 * 1024


async def read_csv(file: UploadFile) -> bytes:
    """An uploaded CSV file, refused past 2 MB without reading the rest."""
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(N_("The CSV file is too large (at most 2 MB)."), field="file")
    return data


class EnrolIn(BaseModel):
    code: str = Field(min_length=4, max_length=64)
    public_key: str = Field(min_length=40, max_length=64, description="The box's Ed25519 key, base64 raw")


class EnrolOut(BaseModel):
    device_id: str
    mqtt_host: str
    mqtt_port: int
    mqtt_tls: bool
    mqtt_username: str
    mqtt_password: str
    media_token: str
    media_base_url: str
    controller_public_key: str
    zones: list[str]


class DeviceIn(BaseModel):
    device_id: str = Field(max_length=63)
    name: str = Field(max_length=200)
    zone_id: RowId
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=300)


class DeviceOut(BaseModel):
    id: str
    name: str
    zone_id: int
    lat: float | None
    lon: float | None
    address: str | None
    state: str
    enrolled_at: datetime | None
    revoked_at: datetime | None


class RegisteredOut(BaseModel):
    device: DeviceOut
    enrolment_code: str = Field(description="Shown once; the installer types it on the box")
    code_valid_hours: int


class RevokeIn(BaseModel):
    reason: str = Field(default="", max_length=500)


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        name=device.name,
        zone_id=device.zone_id,
        lat=device.lat,
        lon=device.lon,
        address=device.address,
        state=device.state,
        enrolled_at=device.enrolled_at,
        revoked_at=device.revoked_at,
    )


def registry_changed(services: Services, session: SessionDep, device_ids: list[str]) -> None:
    """After a box is enrolled or revoked: the broker's accounts and the box's timeline follow."""
    services.broker.apply(session)
    services.publisher.changed(device_ids=device_ids)


class FailedAttempts:
    """Wrong enrolment codes per client address in a sliding window: guessing codes gets slow."""

    def __init__(self, limit: int = 10, window_s: float = 600.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        with self._lock:
            recent = self._recent(client)
            return len(recent) >= self.limit

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        recent = self._seen.setdefault(client, deque())
        while recent and recent[0] < time.monotonic() - self.window_s:
            recent.popleft()
        return recent


def enrol_failures(request: Request) -> FailedAttempts:
    """The app's attempt counter (one per controller process)."""
    state = request.app.state
    if not hasattr(state, "enrol_failures"):
        state.enrol_failures = FailedAttempts()
    failures: FailedAttempts = state.enrol_failures
    return failures


@router.post("/enroll", response_model=EnrolOut)
def enroll(body: EnrolIn, request: Request, session: SessionDep, services: ServicesDep) -> EnrolOut:
    """Called by ``loa agent enroll`` on a new box, with its one-time code (no login)."""
    client = request.client.host if request.client else "?"
    failures = enrol_failures(request)
    if failures.blocked(client):
        raise TooManyRequests(N_("Too many wrong activation codes; try again in 10 minutes."))
    try:
        done = registry.enroll(
            session,
            code=body.code,
            public_key=body.public_key,
            settings=services.settings,
            controller_key=services.signer.public_key_b64,
        )
    except (NotFound, Conflict, Gone):
        failures.failed(client)
        raise
    registry_changed(services, session, [done.device_id])
    return EnrolOut(**{**asdict(done), "zones": list(done.zones)})


@router.post("/devices", response_model=RegisteredOut, status_code=201)
def register(body: DeviceIn, user: ApiUser, session: SessionDep, services: ServicesDep) -> RegisteredOut:
    hours = services.settings.enrolment_code_hours
    device, code = registry.register_box(session, user=user, code_hours=hours, **body.model_dump())
    return RegisteredOut(device=device_out(device), enrolment_code=code, code_valid_hours=hours)


@router.post("/devices/import", response_model=list[RegisteredOut], status_code=201)
async def import_devices(
    file: UploadFile, user: ApiUser, session: SessionDep, services: ServicesDep
) -> list[RegisteredOut]:
    """Register boxes from CSV (device_id,name,zone_code,lat,lon,address), all or none."""
    data = await read_csv(file)
    hours = services.settings.enrolment_code_hours
    made = registry.import_boxes(session, user=user, data=data, code_hours=hours)
    return [RegisteredOut(device=device_out(d), enrolment_code=c, code_valid_hours=hours) for d, c in made]


@router.post("/devices/{device_id}/code", response_model=RegisteredOut)
def new_code(device_id: str, user: ApiUser, session: SessionDep, services: ServicesDep) -> RegisteredOut:
    """A new one-time code: enrolling again with it rotates every credential of the box."""
    hours = services.settings.enrolment_code_hours
    code = registry.new_code(session, user=user, device_id=device_id, code_hours=hours)
    device = session.get(Device, device_id)
    assert device is not None
    return RegisteredOut(device=device_out(device), enrolment_code=code, code_valid_hours=hours)


@router.post("/devices/{device_id}/revoke", response_model=DeviceOut)
def revoke(
    device_id: str, body: RevokeIn, user: ApiUser, session: SessionDep, services: ServicesDep
) -> DeviceOut:
    device = registry.revoke(session, user=user, device_id=device_id, reason=body.reason)
    registry_changed(services, session, [device_id])
    return device_out(device)


# -- status, health and remote commands (issue #6) ----------------------------------------------


class AlertOut(BaseModel):
    code: str
    label: str
    detail: str


class DeviceStateOut(BaseModel):
    id: str
    name: str
    zone_id: int
    zone: str
    commune: str | None
    lat: float | None
    lon: float | None
    state: str = Field(description="online, offline or unknown; 'online' only while the box keeps reporting")
    reported_state: str = Field(description="What the box (or its will) last said")
    revoked: bool
    last_seen_at: datetime | None
    status: dict[str, Any] = Field(description="The box's last status document (playlists.wire.Status)")
    alerts: list[AlertOut]


class HealthOut(BaseModel):
    at: datetime
    online: bool
    hourly: bool
    disk_free_mb: int | None
    cache_mb: float | None
    cpu_temp_c: float | None
    clock_offset_ms: float | None
    outbox_pending: int | None
    link_quality: int | None
    volume: int | None


class CommandIn(BaseModel):
    name: Literal["set_volume", "stop", "test_tone", "resync", "restart"]
    args: dict[str, Any] = Field(
        default_factory=dict, description="set_volume: {volume}; test_tone: {seconds, frequency_hz}"
    )


class CommandOut(BaseModel):
    id: str
    device_id: str
    name: str
    args: dict[str, Any]
    issued_at: datetime
    expires_at: datetime
    state: str = Field(description="sent, done, failed, or expired (sent, and the box never confirmed it)")
    state_label: str
    reason: str | None
    done_at: datetime | None


class DeviceDetailOut(BaseModel):
    device: DeviceStateOut
    health: list[HealthOut] = Field(description="The last 24 h of health history, oldest first")
    commands: list[CommandOut] = Field(description="The most recent commands, newest first")
    failed_plays_24h: int


def device_state_out(row: devices.DeviceRow) -> DeviceStateOut:
    return DeviceStateOut(
        id=row.id,
        name=row.name,
        zone_id=row.zone_id,
        zone=row.zone_name,
        commune=row.commune_name,
        lat=row.lat,
        lon=row.lon,
        state=row.state,
        reported_state=row.reported_state,
        revoked=row.revoked,
        last_seen_at=row.last_seen_at,
        status=row.status,
        alerts=[AlertOut(**a.as_dict()) for a in row.alerts],
    )


def command_out(command: DeviceCommand, *, now: datetime) -> CommandOut:
    state = commands.state_of(command, now=now)
    return CommandOut(
        id=command.id,
        device_id=command.device_id,
        name=command.name,
        args=json.loads(command.args_json or "{}"),
        issued_at=command.issued_at,
        expires_at=command.expires_at,
        state=state,
        state_label=gettext(commands.STATE_LABELS[state]),
        reason=command.reason,
        done_at=command.done_at,
    )


@router.get("/devices", response_model=list[DeviceStateOut])
def list_device_states(
    user: ApiUser,
    session: SessionDep,
    services: ServicesDep,
    commune_id: RowId | None = None,
    state: Literal["online", "offline", "unknown"] | None = None,
    alert: bool = False,
    q: str = Query(default="", max_length=100),
) -> list[DeviceStateOut]:
    """Every box the user may see, with its state and alerts; optional filters as in the panel."""
    filters = devices.DeviceFilter(commune_id=commune_id, state=state, alert=alert, q=q)
    rules = AlertRules.from_settings(services.settings)
    rows = devices.matching_rows(session, user=user, filters=filters, now=utcnow(), rules=rules)
    return [device_state_out(r) for r in rows]


@router.get("/devices/{device_id}", response_model=DeviceDetailOut)
def get_device(device_id: str, user: ApiUser, session: SessionDep, services: ServicesDep) -> DeviceDetailOut:
    """One box: state, alerts, a day of health history and its recent commands."""
    now = utcnow()
    rules = AlertRules.from_settings(services.settings)
    found = devices.device_detail(session, user=user, device_id=device_id, now=now, rules=rules)
    return DeviceDetailOut(
        device=device_state_out(found.row),
        health=[HealthOut.model_validate(h, from_attributes=True) for h in found.history],
        commands=[command_out(c, now=now) for c in found.commands],
        failed_plays_24h=found.failed_plays,
    )


@router.post("/devices/{device_id}/commands", response_model=CommandOut, status_code=201)
def post_command(
    device_id: str, body: CommandIn, request: Request, user: ApiUser, session: SessionDep
) -> CommandOut:
    """Send a remote command to one box (admins and technicians); follow its state with GET."""
    service: CommandService = request.app.state.commands
    command = service.send(session, user=user, device_id=device_id, name=body.name, args=body.args)
    return command_out(command, now=utcnow())

"""The registry's API: enrolment (for boxes), registration, import, new codes and revocation."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Request, UploadFile
from pydantic import BaseModel, Field

from controller import registry
from controller.deps import ApiUser, ServicesDep, SessionDep
from controller.errors import Conflict, Gone, InvalidInput, NotFound, TooManyRequests
from controller.models import Device
from controller.services import Services

router = APIRouter(prefix="/api/v1", tags=["registry"])

MAX_CSV_BYTES = 2 * 1024 * 1024


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
    zone_id: int
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
    services.publisher.refresh(device_ids=device_ids)


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
        raise TooManyRequests("Nhập sai mã kích hoạt quá nhiều lần; hãy thử lại sau 10 phút.")
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
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput("Tệp CSV quá lớn (tối đa 2 MB).", field="file")
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

"""Boxes as the controller sees them: registration, status updates, listing."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controller.auth import require
from controller.models import Device, User, Zone, utcnow
from controller.zones import visible_zone_ids
from device_registry.credentials import new_token, token_hash, valid_device_id
from playlists.signing import public_key_from_b64
from playlists.wire import Status

log = logging.getLogger(__name__)


def register_device(
    session: Session, *, device_id: str, name: str, zone_id: int, public_key: str
) -> tuple[Device, str]:
    """Add a box with its own public key; returns it and its media token (shown once)."""
    if not valid_device_id(device_id):
        raise ValueError(f"bad device id {device_id!r}")
    public_key_from_b64(public_key)  # refuses anything that is not an Ed25519 key
    token = new_token()
    device = Device(
        id=device_id, name=name, zone_id=zone_id, public_key=public_key, media_token_hash=token_hash(token)
    )
    session.add(device)
    session.commit()
    session.refresh(device)
    return device, token


def device_for_token(session: Session, token: str) -> Device | None:
    return session.exec(
        select(Device).where(Device.media_token_hash == token_hash(token), col(Device.is_active).is_(True))
    ).first()


def handle_status(engine: Engine, *, device_id: str, raw: bytes) -> None:
    """Record a box's presence and health snapshot."""
    try:
        status = Status.model_validate_json(raw)
    except ValidationError:
        log.warning("malformed status ignored", extra={"device": device_id})
        return
    if status.device_id != device_id:
        return
    with Session(engine) as session:
        device = session.get(Device, device_id)
        if device is None:
            return
        device.state = status.state
        device.last_seen_at = datetime.fromtimestamp(status.at_ms / 1000, UTC) if status.at_ms else utcnow()
        device.status_json = status.model_dump_json()
        session.add(device)
        session.commit()


def list_devices(session: Session, *, user: User) -> Sequence[tuple[Device, Zone]]:
    require(user, "device.view")
    query = select(Device, Zone).join(Zone, col(Zone.id) == Device.zone_id).order_by(col(Device.id))
    zones = visible_zone_ids(session, user=user)
    if zones is not None:
        query = query.where(col(Device.zone_id).in_(zones))
    return session.exec(query).all()


def status_of(device: Device) -> dict[str, object]:
    return json.loads(device.status_json) if device.status_json else {}

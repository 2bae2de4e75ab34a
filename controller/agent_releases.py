"""Agent releases: wheels of the box agent the controller serves, and roll-outs to boxes in stages.

An administrator adds a release (``loa agent-release add`` or ``POST /api/v1/agent-releases``): the
wheel is checked as a box would check it (the ``loa`` project, a version, the agent inside, no path
outside its folder) and kept in the media store, served at ``/media/<sha256>`` with the boxes' bearer
tokens like any audio. A roll-out sends the ``update`` command (signed, one per box, recorded like
every device command) to chosen boxes, a zone, or a share of the fleet: the share is always taken in
the same order (by a hash of the box id), so 5 % then 25 % then 100 % widens the same canary group.
Boxes already reporting the version are skipped. Each box answers when the new release has proved
itself (``command_done``) or was rolled back (``failed``, ``update_rolled_back:<version>``);
edge_agent/update.py is the box's side, docs/agent.md "Updates" the whole story.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from audio import MediaStore
from controller import audit_log
from controller.auth import require
from controller.commands import CommandService
from controller.errors import Conflict, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import Device, DeviceCommand, Media, User, utcnow
from controller.targets import ZoneIndex
from controller.zones import visible_zone_ids
from edge_agent.update import MAX_WHEEL_BYTES, UpdateError, wheel_version

WHEEL_MIME = "application/vnd.loa.agent-wheel+zip"
# A box offline for a while still gets an update when it comes back (its broker session keeps the
# command); the outcome comes once the new release proved itself, well after the box accepted it.
UPDATE_TTL = timedelta(days=1)


@dataclass(frozen=True)
class Release:
    version: str
    sha256: str
    bytes: int
    created_at: datetime
    running: int  # boxes whose last status reports this version


def require_view(user: User) -> None:
    require(user, "release.rollout")


def require_manage(user: User) -> None:
    require(user, "release.manage")


def add_release(session: Session, store: MediaStore, *, user: User | None, data: bytes) -> Release:
    """Check and keep a wheel; adding the same wheel again is harmless, another one of a version is not.
    ``user`` None: the command line on the server."""
    if user is not None:
        require_manage(user)
    if len(data) > MAX_WHEEL_BYTES:
        raise InvalidInput(N_("The file is too large for an agent release."), field="file")
    with tempfile.TemporaryDirectory(prefix="loa-release-") as folder:
        wheel = Path(folder) / "release.whl"
        wheel.write_bytes(data)
        try:
            version = wheel_version(wheel)
        except UpdateError as exc:
            raise InvalidInput(N_("This is not a wheel of the Loa agent."), field="file") from exc
    sha256 = hashlib.sha256(data).hexdigest()
    same_version = _by_version(session, store).get(version)
    if same_version is not None and same_version.sha256 != sha256:
        raise Conflict(N_("Another file is already stored under this version; give it a new version."))
    if session.get(Media, sha256) is None:
        stored = store.put_bytes(data)
        session.add(Media(sha256=stored.sha256, bytes=stored.bytes, duration_ms=0, mime=WHEEL_MIME))
        audit_log.record(
            session, actor=user, action="agent_release.add", object_type="agent_release", object_id=version,
            sha256=sha256, bytes=len(data),
        )  # fmt: skip
        session.commit()
    return next(r for r in list_releases(session, store) if r.version == version)


def list_releases(session: Session, store: MediaStore) -> list[Release]:
    """Every release, newest first, with how many boxes run each."""
    running = Counter(_running_versions(session).values())
    releases = [
        Release(version=v, sha256=m.sha256, bytes=m.bytes, created_at=m.created_at, running=running[v])
        for v, m in _by_version(session, store).items()
    ]
    return sorted(releases, key=lambda r: r.created_at, reverse=True)


def rollout(
    session: Session,
    store: MediaStore,
    commands: CommandService,
    *,
    user: User,
    version: str,
    device_ids: list[str] | None = None,
    zone_id: int | None = None,
    percent: int | None = None,
) -> list[DeviceCommand]:
    """Send ``update`` to the chosen boxes that do not run ``version`` yet; returns the commands sent."""
    require(user, "release.rollout")
    media = _by_version(session, store).get(version)
    if media is None:
        raise NotFound(N_("No such agent release."))
    if sum(x is not None for x in (device_ids, zone_id, percent)) != 1:
        raise InvalidInput(N_("Choose boxes, a zone, or a share of the boxes."), field="target")
    candidates = _candidates(session, user=user)
    if device_ids is not None:
        unknown = sorted(set(device_ids) - set(candidates))
        if unknown:
            raise InvalidInput(N_("Unknown or uninstalled speaker box."), field="device_ids")
        chosen = sorted(set(device_ids))
    elif zone_id is not None:
        index = ZoneIndex.load(session)
        if zone_id not in index.zones:
            raise InvalidInput(N_("No such zone."), field="zone_id")
        chosen = [d for d in index.devices_below(zone_id) if d in candidates]
    else:
        assert percent is not None
        if not 1 <= percent <= 100:
            raise InvalidInput(N_("The share must be 1–100 %."), field="percent")
        ordered = sorted(candidates, key=_canary_rank)
        chosen = ordered[: math.ceil(len(ordered) * percent / 100)]
    running, pending = _running_versions(session), _pending_updates(session, version)
    args = {"version": version, "url": f"/media/{media.sha256}", "sha256": media.sha256, "bytes": media.bytes}
    return [
        commands.send(
            session, user=user, device_id=device_id, name="update", args=args, system=True, ttl=UPDATE_TTL
        )
        for device_id in chosen
        if running.get(device_id) != version and device_id not in pending
    ]


def _pending_updates(session: Session, version: str) -> set[str]:
    """Boxes told to run ``version`` that have not answered yet (a wider stage does not tell them again)."""
    now = utcnow()
    sent = session.exec(
        select(DeviceCommand).where(DeviceCommand.name == "update", DeviceCommand.state == "sent")
    ).all()
    return {
        c.device_id
        for c in sent
        if c.expires_at > now and json.loads(c.args_json or "{}").get("version") == version
    }


def _by_version(session: Session, store: MediaStore) -> dict[str, Media]:
    """Stored releases by version (read from each wheel: there are a handful)."""
    found: dict[str, Media] = {}
    for media in session.exec(select(Media).where(Media.mime == WHEEL_MIME)).all():
        try:
            found[wheel_version(store.path_for(media.sha256))] = media
        except (OSError, UpdateError):
            continue  # a damaged store file: not offered
    return found


def _candidates(session: Session, *, user: User) -> list[str]:
    """Enrolled, active boxes the user may see."""
    query = select(Device.id).where(col(Device.is_active).is_(True), col(Device.public_key).is_not(None))
    zones = visible_zone_ids(session, user=user)
    if zones is not None:
        query = query.where(col(Device.zone_id).in_(zones))
    return list(session.exec(query).all())


def _running_versions(session: Session) -> dict[str, str]:
    versions = {}
    for device_id, status in session.exec(select(Device.id, Device.status_json)).all():
        try:
            version = json.loads(status or "{}").get("agent_version")
        except ValueError:
            continue
        if isinstance(version, str):
            versions[device_id] = version
    return versions


def _canary_rank(device_id: str) -> bytes:
    return hashlib.sha256(f"loa-rollout:{device_id}".encode()).digest()

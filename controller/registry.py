"""The registry of boxes: registration, one-time enrolment, revocation, and the broker's accounts.

A box's life: an admin or technician registers it (one at a time or from CSV) and gets a one-time
enrolment code; the installer runs ``loa agent enroll --controller URL --code CODE`` on the box,
which sends the box's own public key and receives its broker password, media token and the
controller's key (``enroll`` below). Only hashes are kept here. Issuing a new code and enrolling
again rotates every credential; revoking cuts the box off the broker at once (the broker files are
rewritten and reloaded), stops its media token and makes its receipts refused.
"""

from __future__ import annotations

import grp
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from controller import audit_log, registry_text
from controller.auth import require
from controller.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import Device, EnrolmentCode, User, Zone, utcnow
from controller.settings import Settings
from controller.targets import ZoneIndex
from device_registry.broker import (
    BoxAccount,
    BrokerAccounts,
    ControllerAccount,
    apply_broker_accounts,
    mosquitto_hash,
)
from device_registry.credentials import new_token, token_hash, valid_device_id
from device_registry.csv_import import parse_devices_csv
from device_registry.enrolment import code_expired, code_hash, new_enrolment_code, normalise_code
from playlists.signing import WireError, public_key_from_b64

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enrolment:
    """What a box receives once, at enrolment (the contract of ``POST /api/v1/enroll``)."""

    device_id: str
    mqtt_host: str
    mqtt_port: int
    mqtt_tls: bool
    mqtt_username: str
    mqtt_password: str
    media_token: str
    media_base_url: str
    controller_public_key: str
    zones: tuple[str, ...]


def check_location(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise InvalidInput(N_("Type both latitude and longitude, or leave both empty."), field="lat")
    if lat is not None and lon is not None:
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise InvalidInput(N_("The latitude must be between −90 and 90."), field="lat")
        if not (math.isfinite(lon) and -180 <= lon <= 180):
            raise InvalidInput(N_("The longitude must be between −180 and 180."), field="lon")


def register_box(
    session: Session,
    *,
    user: User,
    device_id: str,
    name: str,
    zone_id: int,
    lat: float | None = None,
    lon: float | None = None,
    address: str | None = None,
    code_hours: int,
) -> tuple[Device, str]:
    """Add a box waiting for enrolment; returns it and its one-time code (shown once)."""
    require(user, "device.manage")
    device = _new_device(
        session, device_id=device_id, name=name, zone_id=zone_id, lat=lat, lon=lon, address=address
    )
    code = _issue_code(session, user=user, device=device, hours=code_hours)
    audit_log.record(session, actor=user, action="device.register", object_type="device", object_id=device_id)
    session.commit()
    session.refresh(device)
    return device, code


def _new_device(
    session: Session,
    *,
    device_id: str,
    name: str,
    zone_id: int,
    lat: float | None,
    lon: float | None,
    address: str | None,
) -> Device:
    if not valid_device_id(device_id):
        raise InvalidInput(
            N_("A box id has only lowercase unaccented letters, digits and hyphens (at most 63 characters)."),
            field="device_id",
        )
    if session.get(Device, device_id) is not None:
        raise Conflict(N_("Box id %(id)s is already registered."), field="device_id", id=device_id)
    if not name.strip():
        raise InvalidInput(N_("Give the speaker box a name."), field="name")
    zone = session.get(Zone, zone_id)
    if zone is None or zone.kind == "province":
        raise InvalidInput(N_("Choose the commune/ward or village where the box stands."), field="zone_id")
    check_location(lat, lon)
    device = Device(
        id=device_id,
        name=name.strip()[:200],
        zone_id=zone_id,
        lat=lat,
        lon=lon,
        address=(address or "").strip()[:300] or None,
    )
    session.add(device)
    return device


def import_boxes(session: Session, *, user: User, data: bytes, code_hours: int) -> list[tuple[Device, str]]:
    """Register boxes from a CSV file (device_id,name,zone_code,lat,lon,address): all, or none with
    every line's problem listed."""
    require(user, "device.manage")
    zone_by_code = {z.code: z for z in session.exec(select(Zone)).all() if z.kind != "province"}
    parsed = parse_devices_csv(
        data, known_zones=zone_by_code.keys(), known_devices=set(session.exec(select(Device.id)).all())
    )
    if not parsed.ok:
        if len(parsed.errors) > registry_text.SHOWN:
            raise registry_text.invalid_file(
                N_("The list of boxes cannot be imported: %(errors)s (and %(more)s more errors)."),
                parsed.errors,
            )
        raise registry_text.invalid_file(
            N_("The list of boxes cannot be imported: %(errors)s."), parsed.errors
        )
    if not parsed.rows:
        raise InvalidInput(N_("The file has no rows to import."), field="file")
    made = []
    for row in parsed.rows:
        device = _new_device(
            session,
            device_id=row.device_id,
            name=row.name,
            zone_id=zone_by_code[row.zone_code].id or 0,
            lat=row.lat,
            lon=row.lon,
            address=row.address or None,
        )
        made.append((device, _issue_code(session, user=user, device=device, hours=code_hours)))
    audit_log.record(
        session, actor=user, action="device.import", object_type="device", object_id="*", count=len(made)
    )
    session.commit()
    return made


def _issue_code(session: Session, *, user: User | None, device: Device, hours: int) -> str:
    for old in session.exec(
        select(EnrolmentCode).where(
            EnrolmentCode.device_id == device.id, col(EnrolmentCode.used_at).is_(None)
        )
    ).all():
        old.expires_at = utcnow()  # one live code per box
        session.add(old)
    made = new_enrolment_code(now=utcnow(), ttl=timedelta(hours=hours))
    session.add(
        EnrolmentCode(
            device_id=device.id,
            code_hash=made.code_hash,
            created_by=user.id if user else None,
            expires_at=made.expires_at,
        )
    )
    return made.code


def new_code(session: Session, *, user: User, device_id: str, code_hours: int) -> str:
    """A fresh enrolment code for a box (a replaced box, or to rotate its credentials)."""
    require(user, "device.manage")
    device = _device(session, device_id)
    if device.revoked_at is not None:
        raise Conflict(N_("This speaker box has been revoked; register it again with a new id."))
    code = _issue_code(session, user=user, device=device, hours=code_hours)
    audit_log.record(session, actor=user, action="device.code", object_type="device", object_id=device_id)
    session.commit()
    return code


def enroll(
    session: Session, *, code: str, public_key: str, settings: Settings, controller_key: str
) -> Enrolment:
    """Trade a valid one-time code and the box's public key for its credentials."""
    now = utcnow()
    if normalise_code(code) is None:
        raise NotFound(N_("Wrong activation code."))
    entry = session.exec(select(EnrolmentCode).where(EnrolmentCode.code_hash == code_hash(code))).first()
    if entry is None:
        raise NotFound(N_("Wrong activation code."))
    if entry.used_at is not None:
        raise Conflict(N_("This activation code has already been used."))
    if code_expired(entry.expires_at, now=now):
        raise Gone(N_("The activation code has expired; ask for a new one."))
    device = _device(session, entry.device_id)
    if device.revoked_at is not None:
        raise Forbidden(N_("This speaker box has been revoked."))
    try:
        public_key_from_b64(public_key)
    except WireError as exc:
        raise InvalidInput(N_("The box's public key is not valid."), field="public_key") from exc
    mqtt_password = secrets.token_urlsafe(32)
    media_token = new_token()
    device.public_key = public_key
    device.mqtt_password_hash = mosquitto_hash(mqtt_password)
    device.media_token_hash = token_hash(media_token)
    device.enrolled_at = now
    device.is_active = True
    entry.used_at = now
    session.add(device)
    session.add(entry)
    audit_log.record(  # the key, so receipts signed before a re-enrolment still verify
        session,
        actor=None,
        action="device.enroll",
        object_type="device",
        object_id=device.id,
        public_key=public_key,
    )
    session.commit()
    return Enrolment(
        device_id=device.id,
        mqtt_host=settings.mqtt_public_host or settings.mqtt_host,
        mqtt_port=settings.mqtt_public_port or settings.mqtt_port,
        mqtt_tls=settings.mqtt_public_tls,
        mqtt_username=device.id,
        mqtt_password=mqtt_password,
        media_token=media_token,
        media_base_url=settings.public_url,
        controller_public_key=controller_key,
        zones=_zone_chain(session, device.zone_id),
    )


def revoke(session: Session, *, user: User, device_id: str, reason: str = "") -> Device:
    """Cut a box off: no broker account, no media, receipts refused, no more timelines."""
    require(user, "device.manage")
    device = _device(session, device_id)
    if device.revoked_at is not None:
        return device
    device.revoked_at = utcnow()
    device.is_active = False
    device.state = "offline"  # the broker does not publish a will for a client it cuts off
    session.add(device)
    audit_log.record(
        session, actor=user, action="device.revoke", object_type="device", object_id=device_id, reason=reason
    )
    session.commit()
    session.refresh(device)
    return device


def _device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(N_("There is no speaker box %(id)s."), id=device_id)
    return device


CONTROLLER_USERNAME = "loa_controller"


def broker_accounts(session: Session, settings: Settings) -> BrokerAccounts:
    """The broker's accounts as the registry says: enrolled boxes (revoked ones out) and the controller."""
    if not settings.mqtt_password:
        raise InvalidInput("LOA_MQTT_PASSWORD is needed when the controller manages the broker's accounts")
    index = ZoneIndex.load(session)
    boxes = session.exec(select(Device).where(col(Device.mqtt_password_hash).is_not(None))).all()
    own = settings.mqtt_username or CONTROLLER_USERNAME
    password_hash = mosquitto_hash(settings.mqtt_password)
    others = [name.strip() for name in settings.mqtt_controller_usernames.split(",") if name.strip()]
    return BrokerAccounts(
        controller=ControllerAccount(username=own, password_hash=password_hash),
        replicas=tuple(
            ControllerAccount(username=name, password_hash=password_hash)
            for name in dict.fromkeys(others)
            if name != own
        ),
        boxes=tuple(
            BoxAccount(
                device_id=box.id,
                password_hash=box.mqtt_password_hash or "",
                zones=zone_codes(index, box),
                revoked=box.revoked_at is not None,
            )
            for box in boxes
        ),
        topic_root=settings.topic_root,
    )


def _zone_chain(session: Session, zone_id: int | None) -> tuple[str, ...]:
    """One box's zone codes, nearest first, walking up the parents (no need to load the whole tree)."""
    codes = []
    while zone_id is not None and (zone := session.get(Zone, zone_id)) is not None:
        codes.append(zone.code)
        zone_id = zone.parent_id
    return tuple(codes)


def zone_codes(index: ZoneIndex, box: Device) -> tuple[str, ...]:
    """The codes of the box's zone and those above it: the zone-command topics it obeys."""
    return tuple(zone.code for zone in index.chain(box.zone_id))


class BrokerSync:
    """Writes Mosquitto's password and ACL files from the registry and reloads the broker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def managed(self) -> bool:
        return self.settings.broker_password_file is not None and self.settings.broker_acl_file is not None

    def apply(self, session: Session) -> bool:
        """Rewrite and reload; False when the broker's accounts are not managed here."""
        password_file, acl_file = self.settings.broker_password_file, self.settings.broker_acl_file
        if password_file is None or acl_file is None:
            return False
        pid_file = self.settings.broker_pid_file
        group = self.settings.broker_files_group
        apply_broker_accounts(
            broker_accounts(session, self.settings),
            password_file=password_file,
            acl_file=acl_file,
            reload=pid_file if pid_file is not None and pid_file.exists() else _no_reload,
            # Mosquitto re-reads the files as its own user on reload; it must be able to read them.
            owner=(-1, grp.getgrnam(group).gr_gid) if group else None,
            mode=0o640 if group else 0o600,
        )
        log.info("broker accounts written", extra={"password_file": str(password_file)})
        return True


def _no_reload() -> None:
    """The systemd path unit (systemd/loa-broker-reload.path) sees the files change and reloads;
    with a pid file that does not exist (yet), no broker runs: it reads the files when it starts."""

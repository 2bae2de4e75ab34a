"""Boxes as the controller sees them: registration, status updates, listing with filters and alerts."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controller import alerts, audit_log, commands, health
from controller.alerts import Alert, AlertRules
from controller.auth import require
from controller.health import HealthSampler
from controller.i18n import gettext
from controller.live import DeviceHub
from controller.models import Device, DeviceCommand, DeviceHealth, User, Zone, utcnow
from controller.zones import descendant_ids, visible_zone_ids
from device_registry.credentials import new_token, token_hash, valid_device_id
from playlists.signing import public_key_from_b64

PER_PAGE = 50
HISTORY = timedelta(hours=24)
Format = Callable[[datetime | None], str]


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
    audit_log.record(
        session,
        actor=None,
        action="device.add",
        object_type="device",
        object_id=device_id,
        public_key=public_key,
    )
    session.commit()
    session.refresh(device)
    return device, token


def device_for_token(session: Session, token: str) -> Device | None:
    return session.exec(
        select(Device).where(Device.media_token_hash == token_hash(token), col(Device.is_active).is_(True))
    ).first()


def handle_status(
    engine: Engine,
    *,
    device_id: str,
    raw: bytes,
    sampler: HealthSampler | None = None,
    hub: DeviceHub | None = None,
    now: datetime | None = None,
) -> bool:
    """Record one status at once (the app batches them with ``health.StatusWriter``); True if it
    changed anything."""
    batch = [(device_id, raw, now or utcnow())]
    return health.write_statuses(engine, batch, sampler=sampler, hub=hub) > 0


def list_devices(session: Session, *, user: User) -> Sequence[tuple[Device, Zone]]:
    require(user, "device.view")
    query = select(Device, Zone).join(Zone, col(Zone.id) == Device.zone_id).order_by(col(Device.id))
    zones = visible_zone_ids(session, user=user)
    if zones is not None:
        query = query.where(col(Device.zone_id).in_(zones))
    return session.exec(query).all()


def status_of(device: Device) -> dict[str, object]:
    return json.loads(device.status_json) if device.status_json else {}


@dataclass(frozen=True)
class DeviceFilter:
    """What the device list shows: a commune, a state (``online``/``offline``), only boxes with an
    alert, a free text found in the id or the name, and a page."""

    commune_id: int | None = None
    state: str | None = None
    alert: bool = False
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class DeviceRow:
    """One box as the panel lists it."""

    id: str
    name: str
    zone_id: int
    zone_name: str
    commune_name: str | None
    reported_state: str
    state: str
    last_seen_at: datetime | None
    lat: float | None
    lon: float | None
    revoked: bool
    status: dict[str, Any] = field(default_factory=dict)
    alerts: tuple[Alert, ...] = ()

    @property
    def state_label(self) -> str:
        return gettext("Revoked") if self.revoked else gettext(alerts.STATE_LABELS[self.state])

    def live(self, fmt: Format) -> dict[str, Any]:
        """What a live page needs to redraw the row (see static/devices.js)."""
        return {
            "id": self.id,
            "state": "revoked" if self.revoked else self.state,
            "state_label": self.state_label,
            "last_seen": fmt(self.last_seen_at),
            "last_seen_ms": int(self.last_seen_at.timestamp() * 1000) if self.last_seen_at else None,
            "reported_state": self.reported_state,
            "alerts": [a.as_dict() for a in self.alerts],
        }


@dataclass(frozen=True)
class DevicePage:
    rows: list[DeviceRow]
    total: int
    page: int
    pages: int
    with_alerts: int
    online: int


@dataclass(frozen=True)
class _Zones:
    """Names and parents of every zone, loaded in one query per page."""

    names: dict[int, str]
    parents: dict[int, int | None]
    kinds: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> _Zones:
        rows = session.exec(select(Zone.id, Zone.name, Zone.parent_id, Zone.kind)).all()
        return cls(
            names={i: n for i, n, _p, _k in rows if i is not None},
            parents={i: p for i, _n, p, _k in rows if i is not None},
            kinds={i: k for i, _n, _p, k in rows if i is not None},
        )

    def commune_name(self, zone_id: int) -> str | None:
        current: int | None = zone_id
        while current is not None and self.kinds.get(current) not in (None, "commune"):
            current = self.parents.get(current)
        return self.names.get(current) if current is not None else None


def _rows(
    session: Session,
    *,
    zone_ids: set[int] | None,
    device_ids: Iterable[str] | None,
    now: datetime,
    rules: AlertRules,
) -> list[DeviceRow]:
    query = sa_select(
        col(Device.id),
        col(Device.name),
        col(Device.zone_id),
        col(Device.state),
        col(Device.last_seen_at),
        col(Device.status_json),
        col(Device.lat),
        col(Device.lon),
        col(Device.revoked_at),
        col(Device.is_active),
    ).order_by(col(Device.id))
    ids = list(device_ids) if device_ids is not None else None
    if zone_ids is not None:
        query = query.where(col(Device.zone_id).in_(zone_ids))
    if ids is not None:
        query = query.where(col(Device.id).in_(ids))
    zones = _Zones.load(session)
    failed = alerts.failed_play_counts(session, now=now, device_ids=ids)
    result = []
    for device_id, name, zone_id, state, seen, status_json, lat, lon, revoked_at, active in session.execute(
        query
    ):
        status = json.loads(status_json) if status_json else {}
        revoked = revoked_at is not None or not active
        result.append(
            DeviceRow(
                id=device_id,
                name=name,
                zone_id=zone_id,
                zone_name=zones.names.get(zone_id, "?"),
                commune_name=zones.commune_name(zone_id),
                reported_state=state,
                state=alerts.effective_state(state, seen, now=now, rules=rules),
                last_seen_at=seen,
                lat=lat,
                lon=lon,
                revoked=revoked,
                status=status,
                alerts=()
                if revoked
                else alerts.alerts_for(
                    state=state,
                    last_seen_at=seen,
                    status=status,
                    failed_plays=failed.get(device_id, 0),
                    now=now,
                    rules=rules,
                ),
            )
        )
    return result


def scope_zone_ids(session: Session, *, user: User, commune_id: int | None = None) -> set[int] | None:
    """The zones whose boxes the user sees (narrowed to one commune if asked); None: every zone."""
    require(user, "device.view")
    zones = visible_zone_ids(session, user=user)
    if commune_id is not None:
        below = descendant_ids(session, commune_id)
        zones = below if zones is None else zones & below
    return zones


def matching_rows(
    session: Session, *, user: User, filters: DeviceFilter, now: datetime, rules: AlertRules
) -> list[DeviceRow]:
    """Every box the user may see that matches the filters (all pages), with its alerts."""
    rows = _rows(
        session,
        zone_ids=scope_zone_ids(session, user=user, commune_id=filters.commune_id),
        device_ids=None,
        now=now,
        rules=rules,
    )
    needle = filters.q.strip().casefold()
    if needle:
        rows = [r for r in rows if needle in r.id.casefold() or needle in r.name.casefold()]
    if filters.state is not None:
        rows = [r for r in rows if r.state == filters.state and not r.revoked]
    if filters.alert:
        rows = [r for r in rows if r.alerts]
    return rows


def find_devices(
    session: Session, *, user: User, filters: DeviceFilter, now: datetime, rules: AlertRules
) -> DevicePage:
    """The page of boxes the user may see that match the filters, and counts over every page."""
    rows = matching_rows(session, user=user, filters=filters, now=now, rules=rules)
    pages = max(1, math.ceil(len(rows) / filters.per_page))
    page = min(max(1, filters.page), pages)
    start = (page - 1) * filters.per_page
    return DevicePage(
        rows=rows[start : start + filters.per_page],
        total=len(rows),
        page=page,
        pages=pages,
        with_alerts=sum(1 for r in rows if r.alerts),
        online=sum(1 for r in rows if r.state == "online" and not r.revoked),
    )


def live_rows(
    session: Session,
    *,
    zone_ids: set[int] | None,
    device_ids: Iterable[str],
    now: datetime,
    rules: AlertRules,
) -> list[DeviceRow]:
    """The current rows of the given boxes, within the zones a live page may see."""
    return _rows(session, zone_ids=zone_ids, device_ids=device_ids, now=now, rules=rules)


def summary(session: Session, *, user: User, now: datetime, rules: AlertRules) -> DevicePage:
    """Counts for the home page: boxes, online, with an alert."""
    return find_devices(session, user=user, filters=DeviceFilter(per_page=1), now=now, rules=rules)


def communes(session: Session, *, user: User) -> list[Zone]:
    """Communes the user may filter the list by, by name."""
    zones = visible_zone_ids(session, user=user)
    query = select(Zone).where(Zone.kind == "commune").order_by(col(Zone.name))
    if zones is not None:
        query = query.where(col(Zone.id).in_(zones))
    return list(session.exec(query).all())


@dataclass(frozen=True)
class DeviceDetail:
    device: Device
    row: DeviceRow
    history: Sequence[DeviceHealth]
    commands: Sequence[DeviceCommand]
    failed_plays: int


def device_detail(
    session: Session, *, user: User, device_id: str, now: datetime, rules: AlertRules
) -> DeviceDetail:
    """One box the user may see: its row, a day of health history and its recent commands."""
    device = commands.visible_device(session, user=user, device_id=device_id)
    [row] = _rows(session, zone_ids=None, device_ids=[device.id], now=now, rules=rules)
    return DeviceDetail(
        device=device,
        row=row,
        history=health.history(session, device_id=device.id, since=now - HISTORY),
        commands=commands.recent_commands(session, device_id=device.id),
        failed_plays=alerts.failed_play_counts(session, now=now, device_ids=[device.id]).get(device.id, 0),
    )

"""The export for the provincial/central source information system: four feeds (bulletins, schedules,
as-run summaries, device status), each a total order read page by page with an opaque cursor, so a
reader (the pull API, routes/api_export.py, or the push job, controller/export_push.py) resumes
exactly where it stopped. docs/export.md is the contract; ``SCHEMA_VERSION`` names it.

- ``bulletins`` and ``schedules``: one record per change, in the order of the audit log (its ``seq``
  is given under the chain head's lock and committed in that order, so a page never passes over a
  change that commits late), each with the object as it stands when read.
- ``devices``: one record per box whose status changed, ordered by its last change (last status, or
  enrolment, creation, revocation), read up to two minutes behind now so late commits are not passed.
- ``asrun``: one record per broadcast with its boxes per outcome, province-wide and per commune, once
  it has settled (``EXPORT_SETTLE`` plus the as-run grace period after it started) and again after
  every later change (a late receipt from a box that was offline), in the order the as-run fold
  listed them (``listed_at``, read two minutes behind now like the devices).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from controller.errors import Forbidden, InvalidInput
from controller.i18n import N_
from controller.models import AuditEvent, BroadcastTally, Bulletin, Device, Schedule, User, Zone
from controller.reconciliation import source_titles

SCHEMA_VERSION = "1.0"
KINDS = ("bulletins", "schedules", "asrun", "devices")
Kind = Literal["bulletins", "schedules", "asrun", "devices"]
EXPORT_ROLES = frozenset({"admin", "auditor"})
MAX_LIMIT = 1000
LAG = timedelta(minutes=2)  # rows stamped by time are read this far behind now (commits in flight)
STATES = ("pending", "aired", "partial", "failed", "skipped", "missing")


@dataclass(frozen=True)
class Page:
    """Records of one feed after a cursor; ``cursor`` is where the next page starts (the one given
    when there was nothing new), ``more`` whether records are waiting after it."""

    kind: str
    records: list[dict[str, Any]]
    cursor: str | None
    more: bool

    def document(self, *, now: datetime) -> dict[str, Any]:
        """The page as the API answers it and the push sends it."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "generated_at": iso(now),
            "count": len(self.records),
            "records": self.records,
            "next_cursor": self.cursor,
            "has_more": self.more,
        }


def require_export(user: User) -> None:
    """Only the province's auditors and administrators read the export."""
    if user.role not in EXPORT_ROLES:
        raise Forbidden(N_("Only auditors and administrators may read the export."))


def iso(value: datetime | None) -> str | None:
    """UTC, ISO 8601 with milliseconds and a Z."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _exact(value: datetime) -> str:
    """A time as a cursor holds it: to the microsecond, so a page never ends inside a tie."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def encode_cursor(kind: str, position: Sequence[Any]) -> str:
    raw = json.dumps([kind, *position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> list[Any]:
    """The position a cursor of this feed holds; a cursor of another feed or garbage is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        value = None
    if not isinstance(value, list) or not value or value[0] != kind:
        raise InvalidInput(N_("This cursor does not belong to this export."), field="cursor")
    return value[1:]


def utc_time(text: str, *, field: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (naive: UTC); anything else is refused."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        if field == "since":
            raise InvalidInput(
                N_("Give since as an ISO 8601 time, e.g. 2026-11-01T00:00:00Z."), field=field
            ) from None
        raise InvalidInput(N_("This cursor does not belong to this export."), field=field) from None


def _zones(session: Session, ids: set[int]) -> dict[int, Zone]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {z.id or 0: z for z in session.exec(select(Zone).where(col(Zone.id).in_(wanted))).all()}


def _zone(zone: Zone | None) -> dict[str, Any] | None:
    return None if zone is None else {"id": zone.id, "code": zone.code, "name": zone.name, "kind": zone.kind}


def _audit_page(
    session: Session,
    kind: str,
    object_type: str,
    *,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    load: Callable[[Session, set[int]], dict[int, dict[str, Any]]],
) -> Page:
    after = 0
    if cursor:
        position = decode_cursor(kind, cursor)
        if len(position) != 1 or not isinstance(position[0], int) or not 0 <= position[0] < 2**62:
            raise InvalidInput(N_("This cursor does not belong to this export."), field="cursor")
        after = position[0]
    query = select(AuditEvent).where(AuditEvent.object_type == object_type, col(AuditEvent.seq) > after)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    events = list(session.exec(query.order_by(col(AuditEvent.seq)).limit(limit + 1)).all())
    more = len(events) > limit
    events = events[:limit]
    objects = load(session, {int(e.object_id) for e in events if e.object_id.isdigit()})
    records = [
        {
            "seq": e.seq,
            "event": e.action,
            "event_at": iso(e.at),
            object_type: objects.get(int(e.object_id)) if e.object_id.isdigit() else None,
        }
        for e in events
    ]
    following = encode_cursor(kind, [events[-1].seq]) if events else cursor
    return Page(kind, records, following, more)


def _bulletins(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = session.exec(select(Bulletin).where(col(Bulletin.id).in_(ids or {-1}))).all()
    zones = _zones(session, {b.commune_id for b in rows})
    return {
        b.id or 0: {
            "id": b.id,
            "commune": _zone(zones.get(b.commune_id)),
            "title": b.title,
            "body": b.body,
            "category": b.category,
            "language": b.language,
            "source_ref": b.source_ref,
            "status": b.status,
            "text_sha256": b.text_sha256,
            "media_sha256": b.media_sha256,
            "created_at": iso(b.created_at),
            "updated_at": iso(b.updated_at),
            "submitted_at": iso(b.submitted_at),
            "decided_at": iso(b.decided_at),
        }
        for b in rows
    }


def _schedules(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = session.exec(select(Schedule).where(col(Schedule.id).in_(ids or {-1}))).all()
    zones = _zones(session, {s.target_zone_id or 0 for s in rows})
    return {
        s.id or 0: {
            "id": s.id,
            "bulletin_id": s.bulletin_id,
            "playlist_id": s.playlist_id,
            "target": {
                "kind": s.target_kind,
                "zone": _zone(zones.get(s.target_zone_id or 0)),
                "device_id": s.target_device_id,
                "group_id": s.target_group_id,
            },
            "rule": json.loads(s.rule_json),
            "starts_at": iso(s.starts_at),
            "ends_at": iso(s.ends_at),
            "priority": s.priority,
            "status": s.status,
            "created_at": iso(s.created_at),
        }
        for s in rows
    }


def _device_changed() -> Any:
    d = Device
    return func.coalesce(col(d.revoked_at), col(d.last_seen_at), col(d.enrolled_at), col(d.created_at))


def _time_cursor(kind: str, cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    position = decode_cursor(kind, cursor)
    if len(position) != 2 or not all(isinstance(p, str) for p in position):
        raise InvalidInput(N_("This cursor does not belong to this export."), field="cursor")
    return utc_time(position[0], field="cursor"), position[1]


def _devices(
    session: Session, *, since: datetime | None, cursor: str | None, limit: int, now: datetime
) -> Page:
    changed = _device_changed().label("changed")
    query = select(Device, changed).where(changed <= now - LAG)
    after = _time_cursor("devices", cursor)
    if after is not None:
        query = query.where(or_(changed > after[0], and_(changed == after[0], col(Device.id) > after[1])))
    if since is not None:
        query = query.where(changed >= since)
    rows = list(session.exec(query.order_by(changed, col(Device.id)).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    zones = _zones(session, {d.zone_id for d, _ in rows})
    parents = _zones(session, {z.parent_id or 0 for z in zones.values()})
    records = []
    for device, stamp in rows:
        zone = zones.get(device.zone_id)
        status = json.loads(device.status_json) if device.status_json else {}
        records.append(
            {
                "id": device.id,
                "name": device.name,
                "zone": _zone(zone),
                "commune": _zone(
                    zone if zone and zone.kind == "commune" else parents.get(zone.parent_id or 0)
                )
                if zone
                else None,
                "state": device.state,
                "last_seen_at": iso(device.last_seen_at),
                "enrolled_at": iso(device.enrolled_at),
                "revoked_at": iso(device.revoked_at),
                "lat": device.lat,
                "lon": device.lon,
                "agent_version": status.get("agent_version"),
                "timeline_version": status.get("timeline_version"),
                "clock_offset_ms": status.get("clock_offset_ms"),
                "outbox_pending": status.get("outbox_pending"),
                "acked_seq": device.acked_seq,
                "changed_at": iso(stamp),
            }
        )
    position = encode_cursor("devices", [_exact(rows[-1][1]), rows[-1][0].id]) if rows else cursor
    return Page("devices", records, position, more)


def _asrun(
    session: Session,
    *,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> Page:
    t = BroadcastTally
    query = select(t).where(t.commune_id == 0, col(t.listed_at) <= now - LAG)
    after = _time_cursor("asrun", cursor)
    if after is not None:
        query = query.where(
            or_(
                col(t.listed_at) > after[0],
                and_(col(t.listed_at) == after[0], col(t.broadcast_key) > after[1]),
            )
        )
    if since is not None:
        query = query.where(col(t.broadcast_at) >= since)
    rows = list(session.exec(query.order_by(col(t.listed_at), col(t.broadcast_key)).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    keys = [r.broadcast_key for r in rows]
    by_commune: dict[str, list[BroadcastTally]] = {}
    for row in session.exec(
        select(t).where(col(t.broadcast_key).in_(keys or ["-"]), t.commune_id != 0)
    ).all():
        by_commune.setdefault(row.broadcast_key, []).append(row)
    zones = _zones(session, {r.commune_id for rows_ in by_commune.values() for r in rows_})
    titles = source_titles(session, [(r.source, r.source_id) for r in rows])

    def counts(row: BroadcastTally) -> dict[str, Any]:
        found: dict[str, Any] = {state: getattr(row, state) for state in STATES}
        due = sum(found[s] for s in STATES[1:])
        found["targeted"] = due + row.pending
        found["delivery_rate"] = round(row.aired / due, 4) if due else None
        return found

    records = [
        {
            "broadcast_key": r.broadcast_key,
            "source": r.source,
            "source_id": r.source_id,
            "title": titles.get((r.source, r.source_id), ""),
            "broadcast_at": iso(r.broadcast_at),
            "listed_at": iso(r.listed_at),
            "category": r.category,
            "language": r.language,
            "boxes": counts(r),
            "communes": [
                {"commune": _zone(zones.get(c.commune_id)), "boxes": counts(c)}
                for c in sorted(by_commune.get(r.broadcast_key, []), key=lambda c: c.commune_id)
            ],
        }
        for r in rows
    ]
    position = (
        encode_cursor("asrun", [_exact(rows[-1].listed_at or now), rows[-1].broadcast_key])
        if rows
        else cursor
    )
    return Page("asrun", records, position, more)


def read_page(
    session: Session,
    kind: str,
    *,
    now: datetime,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 500,
) -> Page:
    """One page of a feed after ``cursor`` (from the start without one), from ``since`` on."""
    if kind not in KINDS:
        raise InvalidInput(N_("Unknown export: use bulletins, schedules, asrun or devices."), field="kind")
    limit = max(1, min(limit, MAX_LIMIT))
    if kind == "bulletins":
        return _audit_page(
            session, kind, "bulletin", since=since, cursor=cursor, limit=limit, load=_bulletins
        )
    if kind == "schedules":
        return _audit_page(
            session, kind, "schedule", since=since, cursor=cursor, limit=limit, load=_schedules
        )
    if kind == "devices":
        return _devices(session, since=since, cursor=cursor, limit=limit, now=now)
    return _asrun(session, since=since, cursor=cursor, limit=limit, now=now)

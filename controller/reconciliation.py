"""Reconciliation: per broadcast (one airing of a schedule, or an emergency), the boxes it was sent
to and what each did — aired, partly aired, failed, skipped, missing — and the delivery rate.

Read from the tallies the as-run fold keeps (one row per broadcast and commune), so a list over any
period costs one indexed range; one broadcast's boxes come from its occurrences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controller.errors import NotFound
from controller.i18n import N_
from controller.models import (
    BroadcastTally,
    Bulletin,
    Device,
    Emergency,
    Occurrence,
    Playlist,
    Schedule,
    User,
    Zone,
)
from controller.periods import Period
from controller.reconcile import STATES, box_state, is_content
from controller.reports import scope_of

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class BroadcastRow:
    """One broadcast in the user's communes: boxes by outcome (``counts``, every state, pending too)."""

    key: str
    source: str  # schedule or emergency
    source_id: int
    title: str
    at: datetime
    category: str
    counts: dict[str, int]

    @property
    def targeted(self) -> int:
        return sum(self.counts.values())

    @property
    def due(self) -> int:
        return self.targeted - self.counts.get("pending", 0)

    @property
    def delivery_rate(self) -> float | None:
        """Share of the boxes it was due on that aired all of it."""
        return self.counts.get("aired", 0) / self.due if self.due else None


@dataclass(frozen=True)
class ItemOutcome:
    item_id: str
    category: str
    scheduled_at: datetime
    state: str
    seconds: float
    reason: str | None
    receipt_id: int | None
    clock_offset_ms: float | None


@dataclass(frozen=True)
class BoxOutcome:
    """One box's outcome of a broadcast, with its items (the receipts they link to can be verified)."""

    device_id: str
    device_name: str
    zone_name: str
    state: str
    seconds: float
    items: list[ItemOutcome] = field(default_factory=list)


def reconciliation(
    session: Session,
    *,
    user: User,
    period: Period,
    tz: ZoneInfo = DEFAULT_TZ,
    category: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[BroadcastRow]:
    """The broadcasts of the period (newest first), counted over the user's communes. The province's
    view reads one total row per broadcast; a commune user's sums their communes' rows."""
    scope = scope_of(session, user)
    start, end = period.bounds(tz)
    t = BroadcastTally
    keys: list[Any] = [
        col(t.broadcast_key),
        col(t.source),
        col(t.source_id),
        col(t.broadcast_at),
        col(t.category),
    ]
    when = (col(t.broadcast_at) >= start, col(t.broadcast_at) < end)
    if scope is None:  # the province's own row of each broadcast, read along the index, newest first
        counts = [getattr(t, state) for state in STATES]
        query = sa_select(*keys, *counts).where(col(t.commune_id) == 0, *when, sum(counts[1:], counts[0]) > 0)
    else:
        sums = [func.sum(getattr(t, state)) for state in STATES]
        query = (
            sa_select(*keys, *sums)
            .where(col(t.commune_id).in_(scope), *when)
            .group_by(*keys)
            .having(sum(sums[1:], sums[0]) > 0)
        )
    query = query.order_by(col(t.broadcast_at).desc(), col(t.broadcast_key)).limit(limit).offset(offset)
    if category is not None:
        query = query.where(col(t.category) == category)
    rows = session.connection().execute(query).all()
    titles = source_titles(session, [(r[1], r[2]) for r in rows])
    return [
        BroadcastRow(
            key=key,
            source=source,
            source_id=source_id,
            title=titles.get((source, source_id), ""),
            at=at,
            category=category_code,
            counts={s: int(n or 0) for s, n in zip(STATES, counts, strict=True)},
        )
        for key, source, source_id, at, category_code, *counts in rows
    ]


def broadcast_boxes(session: Session, *, user: User, broadcast_key: str) -> list[BoxOutcome]:
    """Each box of one broadcast in the user's communes, by zone and name, with its items."""
    scope = scope_of(session, user)
    query = (
        select(Occurrence, Device.name, Zone.name)
        .join(Device, col(Device.id) == Occurrence.device_id)
        .join(Zone, col(Zone.id) == Occurrence.zone_id)
        .where(Occurrence.broadcast_key == broadcast_key)
        .order_by(col(Occurrence.scheduled_at))
    )
    if scope is not None:
        query = query.where(col(Occurrence.commune_id).in_(scope))
    rows = session.exec(query).all()
    if not rows:
        raise NotFound(N_("Broadcast not found."))
    boxes: dict[str, tuple[str, str, list[Occurrence]]] = {}
    for occurrence, device_name, zone_name in rows:
        boxes.setdefault(occurrence.device_id, (device_name, zone_name, []))[2].append(occurrence)
    found = []
    for device_id, (device_name, zone_name, items) in boxes.items():
        content = [i for i in items if is_content(i.category)]
        found.append(
            BoxOutcome(
                device_id=device_id,
                device_name=device_name,
                zone_name=zone_name,
                state=box_state(i.state for i in content) or "aired",
                seconds=sum(i.seconds_aired for i in content),
                items=[
                    ItemOutcome(
                        i.item_id,
                        i.category,
                        i.scheduled_at,
                        i.state,
                        i.seconds_aired,
                        i.reason,
                        i.receipt_id,
                        i.clock_offset_ms,
                    )
                    for i in items
                ],
            )
        )
    return sorted(found, key=lambda b: (b.zone_name, b.device_name))


def source_titles(session: Session, sources: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The title of each (source, id) broadcast: its schedule's bulletin or playlist, or the emergency."""
    schedules = {i for s, i in sources if s == "schedule"}
    emergencies = {i for s, i in sources if s == "emergency"}
    found: dict[tuple[str, int], str] = {}
    if schedules:
        rows = session.exec(
            select(Schedule.id, Bulletin.title, Playlist.name)
            .outerjoin(Bulletin, col(Bulletin.id) == Schedule.bulletin_id)
            .outerjoin(Playlist, col(Playlist.id) == Schedule.playlist_id)
            .where(col(Schedule.id).in_(schedules))
        ).all()
        found.update({("schedule", sid or 0): title or name or "" for sid, title, name in rows})
    if emergencies:
        titles = session.exec(
            select(Emergency.id, Bulletin.title)
            .join(Bulletin, col(Bulletin.id) == Emergency.bulletin_id)
            .where(col(Emergency.id).in_(emergencies))
        ).all()
        found.update({("emergency", eid or 0): title for eid, title in titles})
    return found

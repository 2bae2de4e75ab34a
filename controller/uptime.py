"""Box uptime and the clock audit, folded into rollups as part of the as-run fold.

**Uptime** comes from the status history (``devicehealth``), read by arrival time a little behind now
(the status writer commits within a second). A box counts as online from each online snapshot until the
next snapshot, but for at most ``stale`` (3 status intervals: a box that says "online" and then falls
silent is offline, as in the panel). A row the pruning job already downsampled to one per hour stands
for its whole hour. The fold runs every minute, long before history is downsampled after a day.

**Clock audit**: per box and day, the largest clock offset the box reported in its statuses, the largest
it had reported when each of its receipts was folded, and the largest lead of a receipt's recorded time
(the box's clock) over its arrival (the controller's): a receipt cannot be recorded after it arrived,
so a lead proves the box's clock was ahead by at least that much, whatever it reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controller import rollups
from controller.asrun_facts import Places
from controller.models import AsRunDevice, ClockRollup, DeviceHealth, UptimeRollup
from controller.periods import split_by_day

KEYS = ("grain", "period", "commune_id", "zone_id", "device_id")
LAG = timedelta(minutes=2)
WINDOW = timedelta(hours=1)  # status history read per transaction, at most
ROWS = 5000  # … and at most about this many rows (3,000 boxes send ~60 a second)


@dataclass(frozen=True)
class Presence:
    """What the fold remembers of a box between windows."""

    last_online_at: datetime | None = None  # its last snapshot, if that said online
    credited_until: datetime | None = None  # online time is counted up to here


def credit(
    presence: Presence, rows: Sequence[tuple[datetime, bool, bool]], *, until: datetime, stale: timedelta
) -> tuple[Presence, list[tuple[datetime, datetime]]]:
    """Online intervals from a box's snapshots ``(at, online, hourly)`` in time order, up to ``until``
    (pure). Returns the presence to remember and the intervals to count."""
    intervals: list[tuple[datetime, datetime]] = []
    last, done = presence.last_online_at, presence.credited_until

    def count(start: datetime, end: datetime) -> None:
        nonlocal done
        start = max(start, done) if done is not None else start
        if end > start:
            intervals.append((start, end))
            done = end

    for at, online, hourly in rows:
        if last is not None:
            count(last, min(at, last + stale))
        if online and hourly:
            count(at.replace(minute=0, second=0, microsecond=0), at)
        last = at if online else None
        done = max(done, at) if done is not None else at
    if last is not None:
        count(last, min(until, last + stale))
    return Presence(last, done), intervals


class ClockSums:
    """Per box and day (and month): receipts, the largest reported offsets, the largest lead."""

    def __init__(self, tz: ZoneInfo, places: Places) -> None:
        self.tz, self.places = tz, places
        self.sums: dict[tuple[str, str, date], list[float]] = {}

    def _entries(self, device_id: str, at: datetime) -> list[list[float]]:
        commune_id = self.places.of(device_id).commune_id
        day = at.astimezone(self.tz).date()
        keys = [("d", device_id, day), ("m", device_id, day.replace(day=1))]
        return [self.sums.setdefault(key, [commune_id, 0, 0.0, 0.0, 0.0]) for key in keys]

    def receipt(
        self, device_id: str, recorded_at: datetime, received_at: datetime, offset_ms: float | None
    ) -> None:
        ahead = max(0.0, (recorded_at - received_at).total_seconds() * 1000)
        for entry in self._entries(device_id, min(recorded_at, received_at)):
            entry[1] += 1
            entry[2] = max(entry[2], abs(offset_ms or 0.0))
            entry[4] = max(entry[4], ahead)

    def status(self, device_id: str, at: datetime, offset_ms: float) -> None:
        for entry in self._entries(device_id, at):
            entry[3] = max(entry[3], abs(offset_ms))

    def write(self, session: Session) -> None:
        rows = [
            {
                "grain": grain,
                "device_id": device_id,
                "period": period,
                "commune_id": int(v[0]),
                "receipts": int(v[1]),
                "max_receipt_offset_ms": v[2],
                "max_status_offset_ms": v[3],
                "max_ahead_ms": v[4],
            }
            for (grain, device_id, period), v in self.sums.items()
        ]
        rollups.add(
            session,
            ClockRollup,
            rows,
            keys=("grain", "device_id", "period"),
            sums=("receipts",),
            maxima=("max_receipt_offset_ms", "max_status_offset_ms", "max_ahead_ms"),
        )


def fold_health(engine: Engine, *, now: datetime, tz: ZoneInfo, places: Places, stale: timedelta) -> int:
    """Read the status history up to a little before ``now`` into uptime and clock rollups; returns the
    number of history rows read."""
    read = 0
    while True:
        with Session(engine) as session:
            rollups.lock(session)
            cursor = rollups.lock(session, "health")
            end_limit = now - LAG
            start = cursor.at or session.exec(select(func.min(DeviceHealth.at))).one() or end_limit
            if start >= end_limit:
                if cursor.at is None:
                    cursor.at = end_limit
                    session.add(cursor)
                    session.commit()
                return read
            start = _skip_quiet(session, start, end_limit, stale)
            end = _window_end(session, start, min(start + WINDOW, end_limit))
            read += _window(session, start, end, tz=tz, places=places, stale=stale)
            cursor.at = end
            session.add(cursor)
            session.commit()


def _window_end(session: Session, start: datetime, limit: datetime) -> datetime:
    """Where a window from ``start`` ends: at ``limit``, or earlier after about ``ROWS`` history rows."""
    query = select(DeviceHealth.at).where(col(DeviceHealth.at) >= start, col(DeviceHealth.at) < limit)
    nth = session.exec(query.order_by(col(DeviceHealth.at)).offset(ROWS).limit(1)).first()
    if nth is None:
        return limit
    if nth > start:
        return nth
    # More than ROWS snapshots at one instant: take them all.
    later = session.exec(select(func.min(DeviceHealth.at)).where(col(DeviceHealth.at) > start)).one()
    return min(later or limit, limit)


def _skip_quiet(session: Session, start: datetime, limit: datetime, stale: timedelta) -> datetime:
    """Where the next window may start: past a stretch with no history while no box can still count as
    online, nothing changes (a first run after the upgrade reads a month of history in few windows)."""
    latest = session.exec(select(func.max(AsRunDevice.last_online_at))).one()
    if latest is not None and latest + stale > start:
        return start
    following = session.exec(select(func.min(DeviceHealth.at)).where(col(DeviceHealth.at) >= start)).one()
    return min(max(start, following or limit), limit)


def _window(
    session: Session, start: datetime, end: datetime, *, tz: ZoneInfo, places: Places, stale: timedelta
) -> int:
    rows = (
        session.connection()
        .execute(
            sa_select(
                col(DeviceHealth.device_id),
                col(DeviceHealth.at),
                col(DeviceHealth.online),
                col(DeviceHealth.hourly),
                col(DeviceHealth.clock_offset_ms),
            )
            .where(col(DeviceHealth.at) >= start, col(DeviceHealth.at) < end)
            .order_by(col(DeviceHealth.at), col(DeviceHealth.id))
        )
        .all()
    )
    by_device: dict[str, list[tuple[datetime, bool, bool]]] = defaultdict(list)
    clock = ClockSums(tz, places)
    states = {s.device_id: s for s in session.exec(select(AsRunDevice)).all()}
    for device_id, at, online, hourly, offset in rows:
        by_device[device_id].append((at, online, hourly))
        if offset is not None:
            clock.status(device_id, at, offset)
            state = states.setdefault(device_id, AsRunDevice(device_id=device_id))
            state.clock_offset_ms = offset
            session.add(state)
    seconds: dict[tuple[Any, ...], float] = defaultdict(float)
    for device_id in set(by_device) | {d for d, s in states.items() if s.last_online_at is not None}:
        state = states.setdefault(device_id, AsRunDevice(device_id=device_id))
        presence, intervals = credit(
            Presence(state.last_online_at, state.credited_until),
            by_device.get(device_id, []),
            until=end,
            stale=stale,
        )
        state.last_online_at, state.credited_until = presence.last_online_at, presence.credited_until
        session.add(state)
        place = places.of(device_id)
        for a, b in intervals:
            for day, part in split_by_day(a, b, tz):
                seconds[("d", day, place.commune_id, place.zone_id, device_id)] += part
                seconds[("m", day.replace(day=1), place.commune_id, place.zone_id, device_id)] += part
    session.flush()
    rollups.add(
        session,
        UptimeRollup,
        [{**dict(zip(KEYS, k, strict=True)), "online_s": v} for k, v in seconds.items()],
        keys=KEYS,
        sums=("online_s",),
    )
    clock.write(session)
    return len(rows)

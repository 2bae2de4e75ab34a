"""Box reports: uptime (the share of the period a box was online) and the clock audit (boxes whose
clock was off by more than a threshold). Read from the rollups the as-run fold keeps
(controller/uptime.py says how they are made)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controller.models import ClockRollup, Device, UptimeRollup, User, Zone, utcnow
from controller.periods import Period
from controller.reports import scope_of, zone_names

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
Rollup = type[UptimeRollup] | type[ClockRollup]


@dataclass(frozen=True)
class UptimeRow:
    """A box, village or commune: seconds online against the seconds of the period its boxes existed."""

    key: int | str
    name: str
    online_s: float
    expected_s: float
    boxes: int
    commune: str | None = None

    @property
    def share(self) -> float | None:
        return min(1.0, self.online_s / self.expected_s) if self.expected_s else None


@dataclass(frozen=True)
class ClockRow:
    """A box whose clock was off by more than the threshold in the period."""

    device_id: str
    name: str
    commune: str | None
    receipts: int
    max_receipt_offset_ms: float  # the offset it had reported when its receipts came in
    max_status_offset_ms: float  # the largest offset in its statuses
    max_ahead_ms: float  # a receipt recorded this long after it arrived: its clock was ahead
    flagged_days: int

    @property
    def worst_ms(self) -> float:
        return max(self.max_receipt_offset_ms, self.max_status_offset_ms, self.max_ahead_ms)


def _periods(model: Rollup, period: Period) -> list[Any]:
    """Conditions selecting the month rows of whole months and the day rows of the rest."""
    months = period.months_inside()
    parts = [
        and_(col(model.grain) == "d", col(model.period) >= a, col(model.period) < b)
        for a, b in period.edges()
    ]
    if months:
        parts.append(
            and_(col(model.grain) == "m", col(model.period) >= months[0], col(model.period) <= months[-1])
        )
    return parts


def _boxes(session: Session, scope: set[int] | None) -> Sequence[Device]:
    query = select(Device).where(col(Device.public_key).is_not(None))
    if scope is not None:
        query = query.where(col(Device.zone_id).in_(scope))
    return session.exec(query).all()


def uptime(
    session: Session,
    *,
    user: User,
    period: Period,
    by: Literal["box", "village", "commune"] = "box",
    now: datetime | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
) -> list[UptimeRow]:
    """Online share of the period per enrolled box (or summed per village or commune). A box counts from
    its enrolment (or creation) to its revocation, and never past ``now``."""
    scope = scope_of(session, user)
    start, end = period.bounds(tz)
    end = min(end, now or utcnow())
    online: dict[str, float] = {}
    for part in _periods(UptimeRollup, period):
        query = select(UptimeRollup.device_id, func.sum(UptimeRollup.online_s)).where(part)
        if scope is not None:
            query = query.where(col(UptimeRollup.commune_id).in_(scope))
        for device_id, seconds in session.exec(query.group_by(col(UptimeRollup.device_id))).all():
            online[device_id] = online.get(device_id, 0.0) + float(seconds or 0.0)
    boxes = _boxes(session, scope)
    zones = {z.id: z for z in session.exec(select(Zone)).all()}
    groups: dict[int | str, list[Any]] = {}
    for box in boxes:
        first = max(start, box.enrolled_at or box.created_at)
        last = min(end, box.revoked_at or end)
        expected = max(0.0, (last - first).total_seconds())
        village = zones.get(box.zone_id)
        commune_id = _commune_of(village, zones)
        key: int | str = box.id if by == "box" else box.zone_id if by == "village" else commune_id
        entry = groups.setdefault(key, [0.0, 0.0, 0, box.name if by == "box" else None, commune_id])
        entry[0] += online.get(box.id, 0.0)
        entry[1] += expected
        entry[2] += 1
    names = zone_names(session, {k for k in groups if isinstance(k, int)} | {e[4] for e in groups.values()})
    found = [
        UptimeRow(
            key=key,
            name=entry[3] or names.get(key, "—") if isinstance(key, int) else entry[3] or key,
            online_s=entry[0],
            expected_s=entry[1],
            boxes=entry[2],
            commune=None if by == "commune" else names.get(entry[4]),
        )
        for key, entry in groups.items()
    ]
    return sorted(found, key=lambda r: (r.commune or "", r.name))


def _commune_of(zone: Zone | None, zones: dict[int | None, Zone]) -> int:
    while zone is not None and zone.kind not in ("commune", "province"):
        zone = zones.get(zone.parent_id)
    return zone.id or 0 if zone is not None and zone.kind == "commune" else 0


def clock_audit(
    session: Session, *, user: User, period: Period, threshold_ms: float, only_flagged: bool = True
) -> list[ClockRow]:
    """Boxes whose clock was off by more than ``threshold_ms`` in the period, worst first."""
    scope = scope_of(session, user)
    c = ClockRollup
    sums: dict[str, list[float]] = {}
    for part in _periods(ClockRollup, period):
        query = sa_select(
            col(c.device_id),
            func.max(c.commune_id),
            func.sum(c.receipts),
            func.max(c.max_receipt_offset_ms),
            func.max(c.max_status_offset_ms),
            func.max(c.max_ahead_ms),
        ).where(part)
        if scope is not None:
            query = query.where(col(c.commune_id).in_(scope))
        grouped = query.group_by(col(c.device_id))
        for device_id, commune_id, receipts, by_receipt, by_status, ahead in session.connection().execute(
            grouped
        ):
            entry = sums.setdefault(device_id, [commune_id, 0, 0.0, 0.0, 0.0])
            entry[1] += int(receipts or 0)
            entry[2] = max(entry[2], float(by_receipt or 0))
            entry[3] = max(entry[3], float(by_status or 0))
            entry[4] = max(entry[4], float(ahead or 0))
    flagged = sorted(d for d, e in sums.items() if max(e[2:]) > threshold_ms)
    over = or_(
        col(c.max_receipt_offset_ms) > threshold_ms,
        col(c.max_status_offset_ms) > threshold_ms,
        col(c.max_ahead_ms) > threshold_ms,
    )
    days: dict[str, int] = {}
    for i in range(0, len(flagged), 500):  # day rows of the flagged boxes only
        days_query = (
            select(c.device_id, func.count())
            .where(
                col(c.grain) == "d",
                col(c.device_id).in_(flagged[i : i + 500]),
                col(c.period) >= period.start,
                col(c.period) < period.end,
                over,
            )
            .group_by(col(c.device_id))
        )
        days.update(dict(session.exec(days_query).all()))
    shown = flagged if only_flagged else sorted(sums)
    names = dict(session.exec(select(Device.id, Device.name).where(col(Device.id).in_(shown))).all())
    communes = zone_names(session, {int(sums[d][0]) for d in shown})
    found = [
        ClockRow(
            device_id,
            names.get(device_id, device_id),
            communes.get(int(sums[device_id][0])),
            int(sums[device_id][1]),
            sums[device_id][2],
            sums[device_id][3],
            sums[device_id][4],
            days.get(device_id, 0),
        )
        for device_id in shown
    ]
    return sorted(found, key=lambda r: (-r.worst_ms, r.device_id))

"""The as-run log: what each box actually played, folded from its receipts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from controller.auth import require
from controller.i18n import N_
from controller.models import Bulletin, Device, Receipt, Schedule, User, Zone
from controller.zones import visible_zone_ids

OUTCOMES = {
    "completed": N_("Played to the end"),
    "playing": N_("Playing"),
    "interrupted": N_("Interrupted"),
    "failed": N_("Failed"),
    "skipped": N_("Skipped"),
}
FINAL_EVENTS = ("completed", "interrupted", "failed", "skipped")


@dataclass
class AsRunRow:
    device_id: str
    device_name: str
    zone_name: str
    item_id: str
    schedule_id: int | None
    bulletin_title: str | None
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str
    reason: str | None


def fold(
    receipts: list[Receipt],
) -> tuple[str, datetime | None, datetime | None, datetime | None, str | None]:
    """One occurrence's receipts → (outcome, scheduled, started, ended, reason). Pure."""
    outcome, scheduled, started, ended, reason = "playing", None, None, None, None
    for receipt in sorted(receipts, key=lambda r: r.seq):
        scheduled = receipt.scheduled_at or scheduled
        started = receipt.started_at or started
        ended = receipt.ended_at or ended
        if receipt.event in FINAL_EVENTS:
            outcome, reason = receipt.event, receipt.reason
    return outcome, scheduled, started, ended, reason


def as_run(session: Session, *, user: User, limit: int = 500) -> list[AsRunRow]:
    """Newest first, limited to the user's communes."""
    require(user, "asrun.view")
    query = (
        select(Receipt, Device, Zone)
        .join(Device, col(Device.id) == Receipt.device_id)
        .join(Zone, col(Zone.id) == Device.zone_id)
        .where(col(Receipt.item_id).is_not(None))
        .order_by(col(Receipt.id).desc())
        .limit(limit * 3)
    )
    zones = visible_zone_ids(session, user=user)
    if zones is not None:
        query = query.where(col(Device.zone_id).in_(zones))
    groups: dict[tuple[str, str], list[Receipt]] = {}
    meta: dict[tuple[str, str], tuple[Device, Zone]] = {}
    for receipt, device, zone in session.exec(query).all():
        key = (receipt.device_id, receipt.item_id or "")
        groups.setdefault(key, []).append(receipt)
        meta[key] = (device, zone)
    titles = _titles(session, {r.schedule_id for rs in groups.values() for r in rs if r.schedule_id})
    rows = []
    for key, receipts in groups.items():
        device, zone = meta[key]
        outcome, scheduled, started, ended, reason = fold(receipts)
        schedule_id = receipts[0].schedule_id
        rows.append(
            AsRunRow(
                device_id=device.id,
                device_name=device.name,
                zone_name=zone.name,
                item_id=key[1],
                schedule_id=schedule_id,
                bulletin_title=titles.get(schedule_id) if schedule_id else None,
                scheduled_at=scheduled,
                started_at=started,
                ended_at=ended,
                outcome=outcome,
                reason=reason,
            )
        )
    rows.sort(key=_when, reverse=True)
    return rows[:limit]


def _when(row: AsRunRow) -> float:
    instant = row.scheduled_at or row.started_at
    return instant.timestamp() if instant else 0.0


def _titles(session: Session, schedule_ids: set[int]) -> dict[int, str]:
    if not schedule_ids:
        return {}
    rows = session.exec(
        select(Schedule.id, Bulletin.title)
        .join(Bulletin, col(Bulletin.id) == Schedule.bulletin_id)
        .where(col(Schedule.id).in_(schedule_ids))
    ).all()
    return {sid: title for sid, title in rows if sid is not None}

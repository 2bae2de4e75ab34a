"""How far an emergency order got: of the boxes in its target zones, how many started playing it,
finished it or failed, counted from their signed receipts (the play_now item of order N is ``eN``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import distinct, func, or_
from sqlmodel import Session, col, select

from controller.i18n import N_, gettext, ngettext
from controller.models import Device, Emergency, Receipt
from controller.zones import descendant_ids

STARTED = ("started", "completed", "interrupted")  # a box that sent any of these put the order on air
STOPPED = "stopped:"  # the reason of a repeat that a stop command cancelled: not a failure
TALLIED = 20  # the most recent sent orders that get a tally (older ones are history in the as-run log)


@dataclass(frozen=True)
class Tally:
    emergency_id: int
    boxes: int  # boxes in the target zones now (revoked ones left out)
    started: int
    completed: int
    failed: int

    def label(self) -> str:
        """ "3 of 5 boxes started playing, 1 failed", in the reader's language."""
        text = ngettext(
            "%(started)s of %(num)s box started playing",
            "%(started)s of %(num)s boxes started playing",
            self.boxes,
            started=self.started,
        )
        if self.failed:
            text += gettext(N_(", %(num)s failed"), num=self.failed)
        return text

    def live(self) -> dict[str, object]:
        return {**asdict(self), "label": self.label()}


def item_id(emergency_id: int) -> str:
    """The timeline item id of an order's play_now (as EmergencyService sends it)."""
    return f"e{emergency_id}"


def tallies(session: Session, emergencies: Sequence[Emergency]) -> dict[int, Tally]:
    """Tallies of the orders that were sent, the most recent ``TALLIED`` of them."""
    sent = [e for e in emergencies if e.sent_at is not None and e.id is not None][:TALLIED]
    if not sent:
        return {}
    items = [item_id(e.id or 0) for e in sent]
    counts: dict[tuple[str, str], int] = {}
    not_stopped = or_(col(Receipt.reason).is_(None), ~col(Receipt.reason).startswith(STOPPED))
    for label, events in (("started", STARTED), ("completed", ("completed",)), ("failed", ("failed",))):
        rows = session.exec(
            select(Receipt.item_id, func.count(distinct(col(Receipt.device_id))))
            .where(col(Receipt.item_id).in_(items), col(Receipt.event).in_(events))
            .where(not_stopped if label == "failed" else True)
            .group_by(col(Receipt.item_id))
        ).all()
        counts.update({(str(item), label): int(n) for item, n in rows})
    below: dict[int, set[int]] = {}
    result = {}
    for emergency in sent:
        zones: set[int] = set()
        for zone_id in json.loads(emergency.zone_ids_json):
            zones |= below.setdefault(zone_id, descendant_ids(session, zone_id))
        boxes = session.exec(
            select(func.count())
            .select_from(Device)
            .where(col(Device.zone_id).in_(zones), col(Device.revoked_at).is_(None))
        ).one()
        key = item_id(emergency.id or 0)
        result[emergency.id or 0] = Tally(
            emergency.id or 0,
            int(boxes),
            counts.get((key, "started"), 0),
            counts.get((key, "completed"), 0),
            counts.get((key, "failed"), 0),
        )
    return result

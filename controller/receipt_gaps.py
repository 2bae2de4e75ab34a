"""Receipts gone for good: a box deleted them on an ack, and the controller no longer has them.

That happens after ``loa restore`` of an older backup: the receipts a box sent between the backup
and the restore were acknowledged (so the box deleted them) and then lost with the database. Acks
move only over contiguous sequence numbers, so without this the box's newer receipts would be stored
but never acknowledged, and stay in its outbox forever.

A box's status says the lowest seq still in its outbox (``outbox_first_seq``): it holds nothing below
it. When that is above the next seq the controller expects, every seq in between that is not stored
is lost. The controller then records the gap in the audit log (``receipts.gap``, with the ranges: it
is history that cannot be filled, and ``loa audit verify`` accepts exactly the recorded ranges as
missing) and moves the box's acknowledged seq past it; the box's next resend gets an ack for
everything after.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from controller import audit_log
from controller.models import AuditEvent, Device, Receipt

log = logging.getLogger(__name__)
ACTION = "receipts.gap"


@dataclass(frozen=True)
class Gap:
    device_id: str
    ranges: tuple[tuple[int, int], ...]
    acked_seq: int  # after closing it


def close_gaps(engine: Engine, first_pending: Mapping[str, int]) -> list[Gap]:
    """For each box whose outbox starts above its acknowledged seq + 1, close the gap; returns what
    was closed. Safe to run on several replicas at once: a box's gap is recorded once."""
    closed = []
    for device_id, first in sorted(first_pending.items()):
        try:
            gap = _close(engine, device_id, first)
        except OperationalError:  # another replica is writing the same box: its status comes again
            log.info("gap check for %s deferred", device_id, exc_info=True)
            continue
        if gap is not None:
            closed.append(gap)
    return closed


def _close(engine: Engine, device_id: str, first: int) -> Gap | None:
    with Session(engine) as session:
        device = session.get(Device, device_id)
        if device is None or first <= device.acked_seq + 1:
            return None
        acked = device.acked_seq
        stored = set(
            session.exec(
                select(Receipt.seq).where(Receipt.device_id == device_id, col(Receipt.seq) > acked)
            ).all()
        )
        missing = [n for n in range(acked + 1, first) if n not in stored]
        if not missing:
            return None  # all there: the receipts' own path moves the ack over them
        top = first - 1
        while top + 1 in stored:
            top += 1
        moved = session.execute(
            update(Device)
            .where(col(Device.id) == device_id, col(Device.acked_seq) == acked)
            .values(acked_seq=top)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()  # another replica closed it first
            return None
        ranges = _ranges(missing)
        audit_log.record(
            session,
            actor=None,
            action=ACTION,
            object_type="device",
            object_id=device_id,
            ranges=[list(r) for r in ranges],
            missing=len(missing),
            outbox_first_seq=first,
        )
        session.commit()
    log.warning(
        "receipts %s of %s are gone for good (acknowledged, then lost); acknowledged up to %d",
        ranges,
        device_id,
        top,
        extra={"device": device_id},
    )
    return Gap(device_id, ranges, top)


def recorded(session: Session, device_id: str) -> set[int]:
    """The seqs of ``device_id`` recorded as gone for good."""
    events = session.exec(
        select(AuditEvent.detail).where(AuditEvent.action == ACTION, AuditEvent.object_id == device_id)
    ).all()
    seqs: set[int] = set()
    for detail in events:
        for first, last in json.loads(detail or "{}").get("ranges", []):
            seqs.update(range(int(first), int(last) + 1))
    return seqs


def _ranges(seqs: Iterable[int]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for n in sorted(seqs):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return tuple(out)

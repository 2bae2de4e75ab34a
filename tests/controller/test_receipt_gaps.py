"""After a restore: receipts a box deleted on an ack that the database lost are recorded as gone, and
the box's newer receipts are acknowledged again (controller/receipt_gaps.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from controller import health
from controller.audit_verify import Tampered
from controller.models import AuditEvent, Device, utcnow
from controller.receipts import handle_report
from playlists.wire import Status, to_json
from tests.controller.conftest import World
from tests.controller.test_audit_chain import _receipt, _verify

BOX = "box-a1"


def _store(world: World, *seqs: int) -> int:
    """Send receipts as the box does; returns the seq of the last ack."""
    ack = None
    for seq in seqs:
        ack = handle_report(world.services.engine, device_id=BOX, raw=_receipt(world, BOX, seq))
    assert ack is not None
    return ack.seq


def _status(world: World, first_seq: int | None) -> None:
    status = Status(device_id=BOX, state="online", outbox_first_seq=first_seq, outbox_pending=2)
    health.write_statuses(world.services.engine, [(BOX, to_json(status), utcnow())])


def _gaps(world: World) -> list[str | None]:
    with world.session() as session:
        return list(session.exec(select(AuditEvent.detail).where(AuditEvent.action == "receipts.gap")).all())


def test_a_gap_the_box_no_longer_holds_is_recorded_and_acks_move_on(world: World) -> None:
    assert _store(world, 1, 2, 3) == 3
    # Receipts 4-6 were acknowledged by the database before the restore: the box deleted them.
    assert _store(world, 7, 8) == 3, "acks move only over contiguous receipts"
    _status(world, first_seq=7)
    [detail] = _gaps(world)
    assert detail is not None and '"ranges": [[4, 6]]' in detail
    with world.session() as session:
        device = session.get(Device, BOX)
        assert device is not None and device.acked_seq == 8
    assert _store(world, 8) == 8, "the box's next resend is acknowledged: its outbox drains"
    _status(world, first_seq=7)  # the same status again, or from another replica
    _status(world, first_seq=9)
    assert len(_gaps(world)) == 1
    summary = _verify(world)
    assert summary.receipts == 5


def test_no_gap_is_invented_while_receipts_are_merely_in_flight(world: World) -> None:
    assert _store(world, 1, 2) == 2
    _status(world, first_seq=3)  # 3 not stored yet, but the box still holds it
    _status(world, first_seq=None)
    assert _gaps(world) == []
    assert _store(world, 4) == 2
    _status(world, first_seq=3)
    assert _gaps(world) == [], "3 is in the outbox: it will come"


def test_a_recorded_gap_does_not_excuse_other_deletions(world: World) -> None:
    _store(world, 1, 2, 3, 7)
    _status(world, first_seq=7)
    with world.session() as session:
        session.execute(text("DELETE FROM receipt WHERE device_id = :d AND seq = 2"), {"d": BOX})
        session.commit()
    with pytest.raises(Tampered, match="seq 2 is missing"):
        _verify(world)

"""Receipts stored in batches off the MQTT thread: one transaction per batch, acks after the commit."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlmodel import Session, col, select

from controller.models import Receipt
from controller.receipts import Outcome, ReceiptWriter, store_reports
from playlists.signing import sign
from playlists.wire import Receipt as ReceiptDoc
from tests.controller.conftest import World


def _receipt(world: World, device_id: str, seq: int) -> bytes:
    doc = ReceiptDoc(device_id=device_id, seq=seq, event="completed", item_id=f"s1-{seq}", recorded_at_ms=seq)
    return sign(doc, world.device_keys[device_id], device_id)


def test_a_batch_is_stored_in_arrival_order_once_and_acked_contiguously(world: World) -> None:
    batch = [
        ("box-a1", _receipt(world, "box-a1", 2)),
        ("box-a2", _receipt(world, "box-a2", 1)),
        ("box-a1", _receipt(world, "box-a1", 1)),
        ("box-a1", _receipt(world, "box-a1", 2)),  # sent again before its ack came
        ("box-a1", _receipt(world, "box-a1", 4)),  # 3 is missing: the ack stops at 2
        ("box-b1", _receipt(world, "box-a1", 3)),  # box-a1's receipt on box-b1's topic
    ]
    outcomes = store_reports(world.services.engine, batch)
    assert [(device, ack.seq if ack else None) for device, ack in outcomes] == [
        ("box-a1", 2),
        ("box-a2", 1),
        ("box-a1", 2),
        ("box-a1", 2),
        ("box-a1", 2),
        ("box-b1", None),
    ]
    with Session(world.services.engine) as session:
        rows = session.exec(select(Receipt.device_id, Receipt.seq).order_by(col(Receipt.chain_seq))).all()
    assert [tuple(row) for row in rows] == [("box-a1", 2), ("box-a2", 1), ("box-a1", 1), ("box-a1", 4)]
    again = store_reports(world.services.engine, [("box-a1", _receipt(world, "box-a1", 3))])
    assert again[0][1] is not None and again[0][1].seq == 4


def test_the_writer_acks_only_what_is_committed(world: World) -> None:
    engine = world.services.engine
    seen: list[tuple[Outcome, int]] = []
    done = threading.Event()

    def on_stored(outcomes: Sequence[Outcome]) -> None:
        with Session(engine) as session:  # another connection: sees only committed rows
            stored = len(session.exec(select(Receipt.id)).all())
        seen.extend((outcome, stored) for outcome in outcomes)
        if len(seen) >= 30:
            done.set()

    writer = ReceiptWriter(engine, on_stored=on_stored)
    try:
        for seq in range(1, 31):
            writer.submit("box-a1", _receipt(world, "box-a1", seq))
        assert done.wait(30)
    finally:
        writer.stop()
    assert [outcome[1].seq for outcome, _stored in seen if outcome[1]] == sorted(
        outcome[1].seq for outcome, _stored in seen if outcome[1]
    )
    assert all(outcome[1] is not None and outcome[1].seq <= stored for outcome, stored in seen)
    assert seen[-1][0][1] is not None and seen[-1][0][1].seq == 30

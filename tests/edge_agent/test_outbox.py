"""The durable outbox: contiguous seqs that never go back, signed receipts, deleted only when acked."""

from __future__ import annotations

import sqlite3

from edge_agent.outbox import Outbox
from playlists.signing import verify
from playlists.wire import Receipt

DEVICE_ID = "box-1"


def reopen(outbox: Outbox, device_key, clock) -> Outbox:
    outbox.close()
    return Outbox(outbox.path, device_id=DEVICE_ID, private_key=device_key, clock=clock)


def test_seq_is_contiguous_from_one_across_restarts_and_acks(outbox, device_key, clock):
    seqs = [outbox.append(event="started", item_id=f"i{n}").seq for n in range(3)]
    outbox.acknowledge(3)
    outbox = reopen(outbox, device_key, clock)
    seqs += [outbox.append(event="completed", item_id=f"j{n}").seq for n in range(2)]
    outbox = reopen(outbox, device_key, clock)
    seqs.append(outbox.append(event="skipped", item_id="k").seq)

    assert seqs == [1, 2, 3, 4, 5, 6]
    assert outbox.last_seq() == 6
    outbox.close()


def test_acknowledge_deletes_only_receipts_up_to_the_acked_seq(outbox):
    assert outbox.first_pending_seq() is None
    for n in range(5):
        outbox.append(event="started", item_id=f"i{n}")

    deleted = outbox.acknowledge(3)

    assert deleted == 3
    assert [seq for seq, _ in outbox.pending()] == [4, 5]
    assert outbox.acknowledge(3) == 0
    assert outbox.pending_count() == 2
    assert outbox.first_pending_seq() == 4, "the status tells the controller nothing below 4 is kept"
    outbox.acknowledge(5)
    assert outbox.first_pending_seq() is None


def test_pending_receipts_survive_reopening_and_are_signed_by_the_device_key(outbox, device_key, clock):
    receipt = outbox.append(
        event="completed",
        item_id="a",
        timeline_version=3,
        scheduled_at_ms=clock.now_ms(),
        started_at_ms=clock.now_ms() + 4,
        ended_at_ms=clock.now_ms() + 300,
        media_sha256="ab" * 32,
    )
    outbox = reopen(outbox, device_key, clock)

    [(seq, envelope)] = outbox.pending()
    stored, kid = verify(envelope, Receipt, {DEVICE_ID: device_key.public_key()})

    assert (seq, kid) == (1, DEVICE_ID)
    assert stored == receipt
    assert stored.recorded_at_ms == clock.now_ms()
    outbox.close()


def test_item_marked_handled_with_its_receipt_stays_handled_after_a_restart(outbox, device_key, clock):
    outbox.append(event="started", item_id="a", handled=True)
    outbox.append(event="completed", item_id="a")
    outbox.append(event="started", item_id="b")

    outbox = reopen(outbox, device_key, clock)

    assert outbox.handled_ids() == {"a"}
    assert outbox.is_handled("a") and not outbox.is_handled("b")
    outbox.close()


def test_outbox_is_sqlite_in_wal_mode(outbox):
    outbox.append(event="started", item_id="a")

    with sqlite3.connect(outbox.path) as db:
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    db.close()

    assert mode == "wal"


def test_ack_beyond_the_last_seq_renumbers_pending_receipts_after_it(outbox, device_key):
    # A box whose data was wiped still has the controller's retained ack from its previous life.
    outbox.append(event="started", item_id="a")
    outbox.append(event="completed", item_id="a")

    assert outbox.acknowledge(40) == 0

    pending = outbox.pending()
    receipts = [verify(env, Receipt, {DEVICE_ID: device_key.public_key()})[0] for _, env in pending]
    assert [seq for seq, _ in pending] == [41, 42]
    assert [(r.seq, r.event) for r in receipts] == [(41, "started"), (42, "completed")]
    assert outbox.append(event="skipped", item_id="b").seq == 43


def test_unreadable_outbox_file_is_moved_aside_and_a_new_one_started(tmp_path, device_key, clock):
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not a database" * 100)

    outbox = Outbox(path, device_id=DEVICE_ID, private_key=device_key, clock=clock)

    assert outbox.append(event="started", item_id="a").seq == 1
    assert len(list(tmp_path.glob("outbox.db.corrupt-*"))) == 1
    assert outbox.reset_from is not None and outbox.reset_from.exists()
    outbox.close()


def test_listeners_get_each_receipt_after_it_is_committed(outbox):
    seen: list[tuple[int, int]] = []
    outbox.add_listener(lambda receipt, envelope: seen.append((receipt.seq, outbox.pending_count())))

    outbox.append(event="started", item_id="a")
    outbox.append(event="completed", item_id="a")

    assert seen == [(1, 1), (2, 2)]


def test_receipts_carry_command_id_and_seconds_aired(outbox, device_key):
    outbox.append(event="interrupted", item_id="a", command_id="cmd-1", seconds_aired=1.23456)

    [(_, envelope)] = outbox.pending()
    receipt = verify(envelope, Receipt, {DEVICE_ID: device_key.public_key()})[0]
    assert (receipt.command_id, receipt.seconds_aired) == ("cmd-1", 1.235)


def test_an_accepted_command_id_is_remembered_across_restarts(outbox, device_key, clock):
    assert outbox.accept_command("cmd-1", expires_at_ms=clock.now_ms() + 60_000)
    assert not outbox.accept_command("cmd-1", expires_at_ms=clock.now_ms() + 60_000)
    outbox.append(event="command_done", command_id="cmd-1", command_done=True)

    outbox = reopen(outbox, device_key, clock)

    assert outbox.command_seen("cmd-1") and not outbox.command_seen("cmd-2")
    outbox.close()


def test_long_expired_command_ids_are_forgotten(outbox, device_key, clock):
    outbox.accept_command("old", expires_at_ms=clock.now_ms())
    outbox.append(event="command_done", command_id="old", command_done=True)
    clock.advance(8 * 24 * 3600 * 1000)

    outbox = reopen(outbox, device_key, clock)

    assert not outbox.command_seen("old")
    outbox.close()


def test_recovery_after_a_crash_closes_what_was_on_air_and_fails_unfinished_commands(
    outbox, device_key, clock
):
    outbox.accept_command("play", expires_at_ms=clock.now_ms() + 60_000)
    outbox.accept_command("tone", expires_at_ms=clock.now_ms() + 60_000)
    outbox.append(event="command_done", command_id="tone", command_done=True)
    outbox.append(
        event="started",
        item_id="alarm",
        command_id="play",
        scheduled_at_ms=5,
        started_at_ms=clock.now_ms(),
        handled=True,
        airing="start",
    )

    outbox = reopen(outbox, device_key, clock)
    outbox.recover()
    outbox.recover()  # a second start finds nothing left to close

    receipts = [verify(env, Receipt, {DEVICE_ID: device_key.public_key()})[0] for _, env in outbox.pending()]
    assert [(r.event, r.item_id, r.command_id, r.reason) for r in receipts[2:]] == [
        ("interrupted", "alarm", "play", "agent_restarted"),
        ("failed", None, "play", "agent_restarted"),
    ]
    assert receipts[2].started_at_ms == receipts[1].started_at_ms
    outbox.close()


def test_a_finished_airing_leaves_nothing_to_recover(outbox, device_key, clock):
    outbox.append(event="started", item_id="a", handled=True, airing="start")
    outbox.append(event="completed", item_id="a", airing="end")

    outbox = reopen(outbox, device_key, clock)

    assert outbox.recover() == []
    outbox.close()

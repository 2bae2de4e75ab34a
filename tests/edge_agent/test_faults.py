"""Faults on real agent processes: kill -9 mid-download, mid-play and mid-write; corrupt state;
a restart command. After a restart no partial file is ever played and no receipt is lost or doubled."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import pytest

from edge_agent.main import EXIT_RESTART
from playlists.wire import Receipt
from tests.edge_agent.conftest import (
    DEVICE_ID,
    TOPICS,
    AgentBox,
    Probe,
    eventually,
    is_receipt,
    is_status,
    now_ms,
)

pytestmark = pytest.mark.integration


def outbox_count(box: AgentBox) -> int:
    path = box.config.data_dir / "outbox.db"
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM receipts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def all_receipts(box: AgentBox, probe: Probe) -> list[Receipt]:
    """Every receipt seen, once per seq; the copies of one seq (resends) must be identical."""
    copies: dict[int, set[bytes]] = defaultdict(set)
    for topic, payload in probe.drain():
        if topic == TOPICS.report(DEVICE_ID):
            copies[box.receipt(payload).seq].add(payload)
    assert all(len(payloads) == 1 for payloads in copies.values()), "a seq was reused for another receipt"
    receipts = [box.receipt(next(iter(copies[seq]))) for seq in sorted(copies)]
    assert [r.seq for r in receipts] == list(range(1, len(receipts) + 1)), "seqs are not contiguous"
    return receipts


def test_kill_mid_download_resumes_the_part_and_plays_only_the_verified_file(
    spawn_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    data = audio(2_000, frequency=523)
    media = media_server.add(data, duration_ms=2_000)
    media_server.trickle_bytes_per_s = 6_000
    start = now_ms() + 6_000
    timeline = controller.timeline(1, [controller.item("slow", start, media)], now_ms=now_ms())
    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)
    box = spawn_agent()
    part = box.config.data_dir / "media" / f"{media.sha256}.part"
    eventually(lambda: part.exists() and part.stat().st_size >= 2_000, what="a partial download")

    box.kill()
    kept = part.stat().st_size
    media_server.trickle_bytes_per_s = None
    restarted = spawn_agent()

    probe.wait_for(is_receipt(restarted, "completed", "slow"), timeout_s=15)
    assert 0 < kept < len(data)
    ranges = [r.get("Range") for r in media_server.requests if r["path"] == media.url]
    assert ranges[0] is None and ranges[-1] is not None and int(ranges[-1][6:-1]) >= kept
    [line] = restarted.played()
    assert line["sha256"] == media.sha256
    assert [(r.event, r.item_id) for r in all_receipts(restarted, probe)] == [
        ("started", "slow"),
        ("completed", "slow"),
    ]


def test_kill_mid_play_never_replays_the_item_and_reports_it_interrupted(
    spawn_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    media = media_server.add(audio(3_000, frequency=587), duration_ms=3_000)
    timeline = controller.timeline(1, [controller.item("cut", now_ms() + 2_500, media)], now_ms=now_ms())
    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)
    box = spawn_agent()
    probe.wait_for(is_receipt(box, "started", "cut"), timeout_s=10)

    box.kill()
    restarted = spawn_agent()

    probe.wait_for(is_receipt(restarted, "interrupted", "cut"), timeout_s=10)
    probe.wait_for(is_status("online", timeline_version=1, playing_item_id=None))
    receipts = all_receipts(restarted, probe)
    assert [(r.event, r.item_id, r.reason) for r in receipts] == [
        ("started", "cut", None),
        ("interrupted", "cut", "agent_restarted"),
    ]
    assert receipts[1].started_at_ms == receipts[0].started_at_ms
    sink = restarted.config.file_sink_dir
    assert restarted.played() == []  # the killed airing left no record, and it is not played again
    assert list(sink.glob("*.pcm")) == [] and list(sink.glob(".prep-*")) == []


def test_kill_while_receipts_are_appended_loses_and_doubles_none(spawn_agent, probe_factory, controller):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    start = now_ms() + 2_000
    items = [controller.item(f"q{n:03d}", start, kind="silence", duration_ms=0) for n in range(200)]
    probe.publish(
        TOPICS.timeline(DEVICE_ID),
        controller.sign(controller.timeline(1, items, now_ms=now_ms())),
        retain=True,
    )
    box = spawn_agent()
    eventually(lambda: outbox_count(box) >= 40, what="receipts being appended")

    box.kill()
    died_with = outbox_count(box)
    restarted = spawn_agent()

    def settled() -> list[Receipt] | None:
        try:
            receipts = all_receipts(restarted, probe)
        except AssertionError:
            return None  # a resent receipt may arrive after a newer one published live: wait for it
        if receipts:  # acknowledged as the controller does, so the backlog's window moves on
            probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(receipts[-1].seq), retain=True)
        handled = {r.item_id for r in receipts if r.event in ("completed", "skipped", "interrupted")}
        return receipts if len(handled) == len(items) else None

    receipts = eventually(settled, timeout_s=20, what="every item accounted for")
    assert 40 <= died_with < len(receipts)
    by_item: dict[str | None, list[str]] = defaultdict(list)
    for receipt in receipts:
        by_item[receipt.item_id].append(receipt.event)
    allowed = (["started", "completed"], ["skipped"], ["started", "interrupted"])
    assert all(events in allowed for events in by_item.values()), by_item
    assert sum(events == ["started", "interrupted"] for events in by_item.values()) <= 1


def test_corrupt_state_files_mean_defaults_and_reports_never_a_crash(spawn_agent, probe_factory, controller):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    box = spawn_agent(volume=60)
    probe.publish(
        TOPICS.timeline(DEVICE_ID), controller.sign(controller.timeline(3, now_ms=now_ms())), retain=True
    )
    probe.wait_for(is_status("online", timeline_version=3))
    box.kill()
    data = box.config.data_dir
    for name in ("timeline.json", "state.json", "volume.json", "outbox.db"):
        (data / name).write_bytes(b"\x00garbage\xff" * 50)
    for name in ("outbox.db-wal", "outbox.db-shm"):
        (data / name).unlink(missing_ok=True)

    restarted = spawn_agent(volume=60)

    expected = {f"state_reset:{name}" for name in ("outbox.db", "volume.json", "timeline.json", "state.json")}
    eventually(
        lambda: expected <= {r.reason for r in restarted.receipts(probe)}, what="state resets reported"
    )
    # The retained timeline (version 3) is adopted again: the stored one was unreadable.
    probe.seen.clear()
    probe.publish(
        TOPICS.command(DEVICE_ID), controller.sign(controller.command(now_ms=now_ms(), name="resync"))
    )
    probe.wait_for(is_status("online", timeline_version=3, volume=60, rejected_documents=0), timeout_s=10)
    assert list(data.glob("outbox.db.corrupt-*"))
    assert "Traceback" not in restarted.log()


def test_restart_command_exits_non_zero_after_its_receipt_is_durable(spawn_agent, probe_factory, controller):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    box = spawn_agent()
    probe.wait_for(is_status("online"))
    command = controller.command(now_ms=now_ms(), name="restart")

    probe.publish(TOPICS.command(DEVICE_ID), controller.sign(command))

    assert box.process is not None
    assert box.process.wait(15) == EXIT_RESTART
    probe.wait_for(is_receipt(box, "command_done", command_id=command.id))
    probe.wait_for(is_status("offline"))
    db = sqlite3.connect(box.config.data_dir / "outbox.db")
    try:
        stored = [json.loads(env)["payload"] for (env,) in db.execute("SELECT envelope FROM receipts")]
    finally:
        db.close()
    assert [(r["event"], r["command_id"]) for r in stored] == [("command_done", command.id)]

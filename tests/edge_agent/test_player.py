"""The player's timing and decisions, on a fake clock: what plays, when, and which receipts it leaves."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from edge_agent.media import MediaCache
from edge_agent.outbox import Outbox
from edge_agent.player import Player
from edge_agent.sinks import FileSink
from playlists.signing import verify
from playlists.wire import MediaRef, Receipt

DEVICE_ID = "box-1"


@pytest.fixture
def cache(tmp_path):
    return MediaCache(tmp_path / "media")


@pytest.fixture
def sink(tmp_path, clock):
    return FileSink(tmp_path / "sink", clock)


@pytest.fixture
def player(sink, cache, outbox, clock):
    return Player(sink=sink, cache=cache, outbox=outbox, clock=clock)


def cached(cache: MediaCache, data: bytes, *, duration_ms: int = 300) -> MediaRef:
    """Media as the fetcher leaves it: verified, under its sha256."""
    sha = hashlib.sha256(data).hexdigest()
    cache.path(sha).write_bytes(data)
    return MediaRef(sha256=sha, url=f"/media/{sha}", bytes=len(data), duration_ms=duration_ms)


def receipts(outbox: Outbox, device_key) -> list[Receipt]:
    return [verify(env, Receipt, {DEVICE_ID: device_key.public_key()})[0] for _, env in outbox.pending()]


def played(sink: FileSink) -> list[dict[str, object]]:
    if not sink.played_log.exists():
        return []
    return [json.loads(line) for line in sink.played_log.read_text().splitlines()]


def test_item_plays_at_its_instant_between_started_and_completed_receipts(
    player, sink, cache, outbox, device_key, controller, clock
):
    data = os.urandom(4_000)
    start = clock.now_ms() + 10_000
    media = cached(cache, data)
    player.set_timeline(controller.timeline(3, [controller.item("a", start, media)], now_ms=clock.now_ms()))

    assert player.step() == 10.0
    assert played(sink) == []
    clock.advance(10_000)
    assert player.step() is None

    [line] = played(sink)
    assert line["item_id"] == "a"
    assert line["sha256"] == hashlib.sha256(data).hexdigest()
    assert (line["started_at_ms"], line["ended_at_ms"], line["volume"]) == (start, start + 300, 100)
    started, completed = receipts(outbox, device_key)
    assert (started.seq, started.event, started.started_at_ms) == (1, "started", start)
    assert (completed.seq, completed.event, completed.ended_at_ms) == (2, "completed", start + 300)
    for receipt in (started, completed):
        assert (receipt.item_id, receipt.timeline_version, receipt.scheduled_at_ms) == ("a", 3, start)
        assert receipt.media_sha256 == media.sha256


def test_started_receipt_is_committed_before_the_first_sound(cache, outbox, controller, clock):
    class RecordingSink:
        def __init__(self) -> None:
            self.seen_before_play: list[str] = []

        def play(self, item, media_path, stop):
            self.seen_before_play = [json.loads(env)["payload"]["event"] for _, env in outbox.pending()]

    sink = RecordingSink()
    player = Player(sink=sink, cache=cache, outbox=outbox, clock=clock)
    item = controller.item("a", clock.now_ms(), cached(cache, b"sound"))
    player.set_timeline(controller.timeline(1, [item], now_ms=clock.now_ms()))

    player.step()

    assert sink.seen_before_play == ["started"]
    assert outbox.is_handled("a")


def test_item_whose_cached_bytes_differ_from_its_hash_is_never_played(
    player, sink, cache, outbox, device_key, controller, clock
):
    media = cached(cache, b"approved bulletin")
    cache.path(media.sha256).write_bytes(b"something else!!!")
    player.set_timeline(
        controller.timeline(1, [controller.item("a", clock.now_ms(), media)], now_ms=clock.now_ms())
    )

    player.step()

    assert played(sink) == []
    [failed] = receipts(outbox, device_key)
    assert (failed.event, failed.reason, failed.item_id) == ("failed", "hash_mismatch", "a")
    assert not cache.path(media.sha256).exists()


def test_item_whose_media_never_arrived_fails_with_media_missing(
    player, sink, outbox, device_key, controller, clock
):
    media = MediaRef(sha256="0" * 64, url="/media/x", bytes=10, duration_ms=300)
    player.set_timeline(
        controller.timeline(1, [controller.item("a", clock.now_ms(), media)], now_ms=clock.now_ms())
    )

    player.step()

    assert played(sink) == []
    assert [(r.event, r.reason) for r in receipts(outbox, device_key)] == [("failed", "media_missing")]


@pytest.mark.parametrize(("late_ms", "events"), [(4_000, ["started", "completed"]), (5_001, ["skipped"])])
def test_item_more_than_five_seconds_late_is_skipped_not_played(
    player, cache, outbox, device_key, controller, clock, late_ms, events
):
    start = clock.now_ms()
    item = controller.item("a", start, cached(cache, b"sound"))
    player.set_timeline(controller.timeline(1, [item], now_ms=start))
    clock.advance(late_ms)

    player.step()

    got = receipts(outbox, device_key)
    assert [r.event for r in got] == events
    if events == ["skipped"]:
        assert got[0].reason == "late"


def test_item_handled_before_a_restart_is_not_played_again(
    sink, cache, outbox, device_key, controller, clock
):
    timeline = controller.timeline(
        1, [controller.item("a", clock.now_ms(), cached(cache, b"s"))], now_ms=clock.now_ms()
    )
    first = Player(sink=sink, cache=cache, outbox=outbox, clock=clock)
    first.set_timeline(timeline)
    first.step()
    outbox.close()

    reopened = Outbox(outbox.path, device_id=DEVICE_ID, private_key=device_key, clock=clock)
    second = Player(sink=sink, cache=cache, outbox=reopened, clock=clock)
    second.set_timeline(timeline)
    second.step()

    assert len(played(sink)) == 1
    assert reopened.last_seq() == 2
    reopened.close()


def test_item_due_after_its_timeline_expired_is_skipped(
    player, sink, cache, outbox, device_key, controller, clock
):
    start = clock.now_ms() + 1_000
    timeline = controller.timeline(
        1, [controller.item("a", start, cached(cache, b"s"))], now_ms=clock.now_ms(), valid_for_ms=2_000
    )
    player.set_timeline(timeline)
    clock.set(start + 3_000)

    player.step()

    assert played(sink) == []
    assert [(r.event, r.reason) for r in receipts(outbox, device_key)] == [("skipped", "expired")]


def test_items_outside_the_validity_window_are_ignored(player, outbox, controller, clock):
    now = clock.now_ms()
    timeline = controller.timeline(
        1, [controller.item("after", now + 10_000, None, kind="silence")], now_ms=now, valid_for_ms=5_000
    )
    player.set_timeline(timeline)

    assert player.step() is None
    clock.advance(20_000)
    assert player.step() is None
    assert outbox.last_seq() == 0


def test_stream_item_is_skipped_as_not_supported_yet(player, outbox, device_key, controller, clock):
    item = controller.item("s", clock.now_ms(), None, kind="stream", duration_ms=60_000)
    player.set_timeline(controller.timeline(1, [item], now_ms=clock.now_ms()))

    player.step()

    assert [(r.event, r.reason) for r in receipts(outbox, device_key)] == [
        ("skipped", "stream_not_supported")
    ]


def test_silence_item_waits_its_duration_without_the_sink(
    player, sink, outbox, device_key, controller, clock
):
    start = clock.now_ms()
    player.set_timeline(
        controller.timeline(
            1, [controller.item("q", start, None, kind="silence", duration_ms=2_000)], now_ms=start
        )
    )

    player.step()

    assert played(sink) == []
    started, completed = receipts(outbox, device_key)
    assert (started.event, completed.event, completed.ended_at_ms) == ("started", "completed", start + 2_000)


def test_new_timeline_replaces_the_old_one_entirely(player, sink, cache, controller, clock):
    now = clock.now_ms()
    old = controller.timeline(1, [controller.item("old", now + 1_000, cached(cache, b"o"))], now_ms=now)
    new = controller.timeline(2, [controller.item("new", now + 2_000, cached(cache, b"n"))], now_ms=now)
    player.set_timeline(old)
    assert player.step() == 1.0

    player.set_timeline(new)
    clock.advance(2_000)
    player.step()

    assert [line["item_id"] for line in played(sink)] == ["new"]


def test_item_due_while_another_plays_waits_its_turn_unless_too_late(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    items = [
        controller.item("long", now, cached(cache, b"l", duration_ms=8_000)),
        controller.item("next", now + 1_000, cached(cache, b"n")),
        controller.item("last", now + 9_000, cached(cache, b"z")),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))

    assert player.step() == 1.0  # "long" ended at +8 s, "next" was 7 s late, "last" is at +9 s
    clock.advance(1_000)
    player.step()

    assert [line["item_id"] for line in played(sink)] == ["long", "last"]
    skipped = [r for r in receipts(outbox, device_key) if r.event == "skipped"]
    assert [(r.item_id, r.reason) for r in skipped] == [("next", "late")]


def test_stopping_the_agent_mid_item_leaves_an_interrupted_receipt(
    cache, outbox, device_key, controller, clock
):
    class StoppingSink:
        player: Player

        def play(self, item, media_path, stop):
            self.player.stop()

    sink = StoppingSink()
    player = sink.player = Player(sink=sink, cache=cache, outbox=outbox, clock=clock)
    player.set_timeline(
        controller.timeline(
            1, [controller.item("a", clock.now_ms(), cached(cache, b"s"))], now_ms=clock.now_ms()
        )
    )

    player.step()

    assert [(r.event, r.reason) for r in receipts(outbox, device_key)] == [
        ("started", None),
        ("interrupted", "agent_stopped"),
    ]


def test_sink_failure_is_reported_as_failed_after_started(cache, outbox, device_key, controller, clock):
    class BrokenSink:
        def play(self, item, media_path, stop):
            raise RuntimeError("no sound card")

    player = Player(sink=BrokenSink(), cache=cache, outbox=outbox, clock=clock)
    player.set_timeline(
        controller.timeline(
            1, [controller.item("a", clock.now_ms(), cached(cache, b"s"))], now_ms=clock.now_ms()
        )
    )

    player.step()

    started, failed = receipts(outbox, device_key)
    assert (started.event, failed.event, failed.reason) == (
        "started",
        "failed",
        "playback_error: no sound card",
    )


def test_upcoming_media_lists_only_items_still_to_play(player, cache, controller, clock):
    now = clock.now_ms()
    soon = cached(cache, b"soon")
    items = [
        controller.item("past", now - 60_000, cached(cache, b"past")),
        controller.item("soon", now + 1_000, soon),
        controller.item("quiet", now + 2_000, None, kind="silence"),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))

    assert player.upcoming_media() == [soon]

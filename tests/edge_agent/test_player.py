"""The player's decisions on a fake clock and a fake sink: what plays when, what interrupts what,
what resumes, what is skipped, and which receipts each leaves."""

from __future__ import annotations

import hashlib

import pytest

from edge_agent.media import MediaCache
from edge_agent.outbox import Outbox
from edge_agent.player import Player
from edge_agent.schedule import Run
from edge_agent.testing import FakeClock, FakeSink, InlineExecutor
from playlists.signing import verify
from playlists.wire import MediaRef, Receipt

DEVICE_ID = "box-1"


@pytest.fixture
def cache(tmp_path):
    return MediaCache(tmp_path / "media")


@pytest.fixture
def sink(clock):
    return FakeSink(clock)


@pytest.fixture
def player(sink, cache, outbox, clock):
    return Player(sink=sink, cache=cache, outbox=outbox, clock=clock, executor=InlineExecutor())


def cached(cache: MediaCache, data: bytes, *, duration_ms: int = 300) -> MediaRef:
    """Media as the fetcher leaves it: verified, under its sha256."""
    sha = hashlib.sha256(data).hexdigest()
    cache.path(sha).write_bytes(data)
    return MediaRef(sha256=sha, url=f"/media/{sha}", bytes=len(data), duration_ms=duration_ms)


def receipts(outbox: Outbox, device_key) -> list[Receipt]:
    return [verify(env, Receipt, {DEVICE_ID: device_key.public_key()})[0] for _, env in outbox.pending()]


def brief(outbox: Outbox, device_key) -> list[tuple[str, str | None, str | None]]:
    return [(r.event, r.item_id, r.reason) for r in receipts(outbox, device_key)]


def run_until(player: Player, clock: FakeClock, until_ms: int) -> None:
    """Drive the player like its thread does, with time passing only through the fake clock."""
    while clock.now_ms() < until_ms:
        delay = player.step()
        wait = round(min(1.0 if delay is None else delay, 1.0) * 1000)
        clock.advance(max(1, min(wait, until_ms - clock.now_ms())))
    player.step()


def play_now(controller, clock, item, *, repeat=1, after="skip") -> Run:
    command = controller.command(now_ms=clock.now_ms(), name="play_now")
    return Run(command, clock.now_ms(), item=item, repeat=repeat, after=after, due_ms=clock.now_ms())


def played_ids(sink: FakeSink) -> list[str]:
    return [source.label for source, _ in sink.played]


def test_item_plays_at_its_instant_prepared_ahead_between_started_and_completed_receipts(
    player, sink, cache, outbox, device_key, controller, clock
):
    start = clock.now_ms() + 10_000
    media = cached(cache, b"bulletin")
    player.set_timeline(controller.timeline(3, [controller.item("a", start, media)], now_ms=clock.now_ms()))

    run_until(player, clock, start - 4_000)
    assert [source.label for source in sink.prepared] == ["a"] and sink.played == []
    run_until(player, clock, start + 1_000)

    [(source, result)] = sink.played
    assert (source.kind, source.path, source.volume) == ("file", cache.path(media.sha256), 100)
    assert (result.started_at_ms, result.ended_at_ms) == (start, start + 300)
    started, completed = receipts(outbox, device_key)
    assert (started.seq, started.event, started.started_at_ms) == (1, "started", start)
    assert (completed.seq, completed.event, completed.ended_at_ms) == (2, "completed", start + 300)
    for receipt in (started, completed):
        assert (receipt.item_id, receipt.timeline_version, receipt.scheduled_at_ms) == ("a", 3, start)
        assert receipt.media_sha256 == media.sha256
    assert outbox.is_handled("a")


def test_item_handled_before_a_restart_is_not_played_again(
    sink, cache, outbox, device_key, controller, clock
):
    timeline = controller.timeline(
        1, [controller.item("a", clock.now_ms(), cached(cache, b"s"))], now_ms=clock.now_ms()
    )
    first = Player(sink=sink, cache=cache, outbox=outbox, clock=clock, executor=InlineExecutor())
    first.set_timeline(timeline)
    run_until(first, clock, clock.now_ms() + 1_000)
    outbox.close()

    reopened = Outbox(outbox.path, device_id=DEVICE_ID, private_key=device_key, clock=clock)
    second = Player(sink=sink, cache=cache, outbox=reopened, clock=clock, executor=InlineExecutor())
    second.set_timeline(timeline)
    second.step()

    assert len(sink.played) == 1
    assert reopened.last_seq() == 2
    reopened.close()


@pytest.mark.parametrize(("late_ms", "events"), [(4_000, ["started", "completed"]), (5_001, ["skipped"])])
def test_item_more_than_five_seconds_late_is_skipped_not_played(
    player, cache, outbox, device_key, controller, clock, late_ms, events
):
    start = clock.now_ms()
    player.set_timeline(
        controller.timeline(1, [controller.item("a", start, cached(cache, b"s"))], now_ms=start)
    )
    clock.advance(late_ms)

    run_until(player, clock, clock.now_ms() + 1_000)

    got = receipts(outbox, device_key)
    assert [r.event for r in got] == events
    if events == ["skipped"]:
        assert got[0].reason == "late"


def test_item_whose_cached_bytes_differ_from_its_hash_is_never_played(
    player, sink, cache, outbox, device_key, controller, clock
):
    media = cached(cache, b"approved bulletin")
    cache.path(media.sha256).write_bytes(b"something else!!!")
    player.set_timeline(
        controller.timeline(1, [controller.item("a", clock.now_ms(), media)], now_ms=clock.now_ms())
    )

    player.step()

    assert sink.played == []
    assert brief(outbox, device_key) == [("failed", "a", "hash_mismatch")]
    assert not cache.path(media.sha256).exists()


def test_item_whose_media_never_arrived_fails_with_media_missing(
    player, sink, outbox, device_key, controller, clock
):
    media = MediaRef(sha256="0" * 64, url="/media/x", bytes=10, duration_ms=300)
    player.set_timeline(
        controller.timeline(1, [controller.item("a", clock.now_ms(), media)], now_ms=clock.now_ms())
    )

    player.step()

    assert sink.played == []
    assert brief(outbox, device_key) == [("failed", "a", "media_missing")]


def test_media_that_arrives_after_a_first_prepare_still_plays_on_time(
    player, sink, cache, outbox, device_key, controller, clock
):
    data = b"late arrival"
    sha = hashlib.sha256(data).hexdigest()
    media = MediaRef(sha256=sha, url=f"/media/{sha}", bytes=len(data), duration_ms=300)
    start = clock.now_ms() + 3_000
    player.set_timeline(controller.timeline(1, [controller.item("a", start, media)], now_ms=clock.now_ms()))
    player.step()  # prepares, and fails: not in the cache yet

    cache.path(sha).write_bytes(data)
    run_until(player, clock, start + 500)

    assert [result.started_at_ms for _, result in sink.played] == [start]


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

    assert sink.played == []
    assert brief(outbox, device_key) == [("skipped", "a", "expired")]


def test_items_outside_the_validity_window_are_ignored(player, outbox, controller, clock):
    now = clock.now_ms()
    timeline = controller.timeline(
        1, [controller.item("after", now + 10_000, None, kind="silence")], now_ms=now, valid_for_ms=5_000
    )
    player.set_timeline(timeline)

    run_until(player, clock, now + 20_000)

    assert outbox.last_seq() == 0


def test_silence_item_waits_its_duration_without_the_sink(
    player, sink, outbox, device_key, controller, clock
):
    start = clock.now_ms()
    player.set_timeline(
        controller.timeline(
            1, [controller.item("q", start, None, kind="silence", duration_ms=2_000)], now_ms=start
        )
    )

    run_until(player, clock, start + 3_000)

    assert sink.played == []
    started, completed = receipts(outbox, device_key)
    assert (started.event, completed.event, completed.ended_at_ms) == ("started", "completed", start + 2_000)


def test_stream_item_goes_to_the_sink_with_its_url_and_one_without_is_skipped(
    player, sink, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    items = [
        controller.item("radio", now, kind="stream", duration_ms=2_000, stream_url="http://radio/vov1"),
        controller.item("mute", now + 3_000, kind="stream", duration_ms=2_000),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))

    run_until(player, clock, now + 6_000)

    [(source, result)] = sink.played
    assert (source.kind, source.url, source.duration_ms, result.aired_ms) == (
        "stream",
        "http://radio/vov1",
        2_000,
        2_000,
    )
    assert brief(outbox, device_key)[-1] == ("skipped", "mute", "no_stream_url")


def test_new_timeline_replaces_the_old_one_entirely(player, sink, cache, controller, clock):
    now = clock.now_ms()
    old = controller.timeline(1, [controller.item("old", now + 1_000, cached(cache, b"o"))], now_ms=now)
    new = controller.timeline(2, [controller.item("new", now + 2_000, cached(cache, b"n"))], now_ms=now)
    player.set_timeline(old)
    player.step()

    player.set_timeline(new)
    run_until(player, clock, now + 3_000)

    assert played_ids(sink) == ["new"]


def test_item_due_while_another_of_the_same_priority_plays_waits_its_turn_unless_too_late(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    items = [
        controller.item("long", now, cached(cache, b"l", duration_ms=8_000)),
        controller.item("next", now + 1_000, cached(cache, b"n")),
        controller.item("soon", now + 4_000, cached(cache, b"s")),
        controller.item("last", now + 9_000, cached(cache, b"z")),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))

    run_until(player, clock, now + 10_000)

    assert played_ids(sink) == ["long", "soon", "last"]  # "soon" waited 4 s, "next" 7 s: too long
    skipped = [r for r in receipts(outbox, device_key) if r.event == "skipped"]
    assert [(r.item_id, r.reason) for r in skipped] == [("next", "late")]
    assert [result.started_at_ms - now for _, result in sink.played] == [0, 8_000, 9_000]


def test_higher_priority_timeline_item_preempts_a_lower_one(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    items = [
        controller.item("normal", now, cached(cache, b"l", duration_ms=8_000)),
        controller.item("urgent", now + 2_000, cached(cache, b"u"), priority="priority"),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))

    run_until(player, clock, now + 10_000)

    assert played_ids(sink) == ["normal", "urgent"]
    interrupted = [r for r in receipts(outbox, device_key) if r.event == "interrupted"]
    assert [(r.item_id, r.reason, r.seconds_aired, r.ended_at_ms) for r in interrupted] == [
        ("normal", "preempted:urgent", 2.0, now + 2_000)
    ]


def test_emergency_play_now_interrupts_repeats_then_resumes_the_rest_of_the_item(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    bulletin = controller.item("bulletin", now, cached(cache, b"b", duration_ms=6_000))
    player.set_timeline(controller.timeline(1, [bulletin], now_ms=now))
    run_until(player, clock, now + 2_000)
    alarm = controller.item("alarm", 0, cached(cache, b"a", duration_ms=500), priority="emergency")
    run = play_now(controller, clock, alarm, repeat=3, after="resume")

    player.submit(run)
    run_until(player, clock, now + 10_000)

    assert played_ids(sink) == ["bulletin", "alarm", "alarm", "alarm", "bulletin"]
    rest, rest_result = sink.played[-1]
    assert (rest.offset_ms, rest_result.started_at_ms, rest_result.aired_ms) == (2_000, now + 3_500, 4_000)
    assert brief(outbox, device_key) == [
        ("started", "bulletin", None),
        ("interrupted", "bulletin", f"play_now:{run.command.id}"),
        ("started", "alarm", "repeat:1/3"),
        ("completed", "alarm", None),
        ("started", "alarm", "repeat:2/3"),
        ("completed", "alarm", None),
        ("started", "alarm", "repeat:3/3"),
        ("completed", "alarm", None),
        ("command_done", "alarm", None),
        ("started", "bulletin", "resumed"),
        ("completed", "bulletin", None),
    ]
    done = receipts(outbox, device_key)[8]
    assert (done.command_id, done.started_at_ms, done.ended_at_ms) == (
        run.command.id,
        now + 2_000,
        now + 3_500,
    )
    assert receipts(outbox, device_key)[1].seconds_aired == 2.0


def test_play_now_with_after_skip_drops_what_it_interrupted(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    player.set_timeline(
        controller.timeline(
            1, [controller.item("b", now, cached(cache, b"b", duration_ms=6_000))], now_ms=now
        )
    )
    run_until(player, clock, now + 1_000)

    player.submit(play_now(controller, clock, controller.item("n", 0, cached(cache, b"n")), after="skip"))
    run_until(player, clock, now + 10_000)

    assert played_ids(sink) == ["b", "n"]  # same priority: a play_now interrupts it too


def test_normal_play_now_waits_for_an_emergency_item_to_end(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    siren = controller.item("siren", now, cached(cache, b"s", duration_ms=3_000), priority="emergency")
    player.set_timeline(controller.timeline(1, [siren], now_ms=now))
    run_until(player, clock, now + 1_000)

    player.submit(play_now(controller, clock, controller.item("notice", 0, cached(cache, b"n"))))
    run_until(player, clock, now + 5_000)

    assert played_ids(sink) == ["siren", "notice"]
    assert sink.played[1][1].started_at_ms == now + 3_000
    assert "interrupted" not in [r.event for r in receipts(outbox, device_key)]


def test_stop_silences_cancels_running_commands_and_skips_what_is_due(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    items = [
        controller.item("waiting", now + 500, cached(cache, b"w")),
        controller.item("later", now + 5_000, cached(cache, b"l")),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))
    run = play_now(
        controller, clock, controller.item("loop", 0, cached(cache, b"x", duration_ms=2_000)), repeat=5
    )
    player.submit(run)
    run_until(player, clock, now + 1_000)
    stop = controller.command(now_ms=clock.now_ms(), name="stop")

    player.stop_now(stop)
    run_until(player, clock, now + 6_000)

    assert played_ids(sink) == ["loop", "later"]
    assert sink.played[0][1].aired_ms == 1_000
    reason = f"stopped:{stop.id}"
    assert brief(outbox, device_key)[:6] == [
        ("started", "loop", "repeat:1/5"),
        ("interrupted", "loop", reason),
        ("failed", "loop", reason),
        ("skipped", "waiting", reason),
        ("command_done", None, None),
        ("started", "later", None),
    ]
    assert receipts(outbox, device_key)[4].command_id == stop.id


def test_test_tone_plays_when_idle_and_never_interrupts_anything(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    player.set_timeline(
        controller.timeline(
            1, [controller.item("b", now, cached(cache, b"b", duration_ms=2_000))], now_ms=now
        )
    )
    run_until(player, clock, now + 500)
    command = controller.command(now_ms=clock.now_ms(), name="test_tone")

    player.submit(Run(command, clock.now_ms(), tone=(3, 440), due_ms=clock.now_ms()))
    run_until(player, clock, now + 6_000)

    [_, (tone, tone_result)] = sink.played
    assert (tone.kind, tone.duration_ms, tone.frequency_hz) == ("tone", 3_000, 440)
    assert tone_result.started_at_ms == now + 2_000
    done = receipts(outbox, device_key)[-1]
    assert (done.event, done.command_id, done.started_at_ms, done.ended_at_ms) == (
        "command_done",
        command.id,
        now + 2_000,
        now + 5_000,
    )
    assert [r.event for r in receipts(outbox, device_key)] == ["started", "completed", "command_done"]


def test_a_timeline_item_interrupts_a_test_tone(player, sink, cache, outbox, device_key, controller, clock):
    now = clock.now_ms()
    player.set_timeline(
        controller.timeline(1, [controller.item("b", now + 1_000, cached(cache, b"b"))], now_ms=now)
    )
    command = controller.command(now_ms=now, name="test_tone")
    player.submit(Run(command, now, tone=(5, 1000), due_ms=now))

    run_until(player, clock, now + 2_000)

    assert [source.kind for source, _ in sink.played] == ["tone", "file"]
    failed = receipts(outbox, device_key)[0]
    assert (failed.event, failed.command_id, failed.reason) == ("failed", command.id, "preempted:b")


def test_items_the_clock_jumped_over_are_skipped_as_clock_jump_and_the_jump_is_reported(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    items = [
        controller.item("jumped", now + 10_000, cached(cache, b"j")),
        controller.item("after", now + 70_000, cached(cache, b"a")),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now, valid_for_ms=600_000))
    run_until(player, clock, now + 3_000)

    clock.jump(60_000)
    run_until(player, clock, now + 75_000)

    assert played_ids(sink) == ["after"]
    assert brief(outbox, device_key)[:2] == [
        ("failed", None, "clock_jump:+60000"),
        ("skipped", "jumped", "clock_jump"),
    ]
    assert player.last_clock_jump_ms == 60_000


def test_nothing_plays_while_the_clock_is_before_the_build_date(
    sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    player = Player(
        sink=sink, cache=cache, outbox=outbox, clock=clock, build_ms=now + 10_000, executor=InlineExecutor()
    )
    items = [
        controller.item("early", now + 2_000, cached(cache, b"e")),
        controller.item("on-time", now + 20_000, cached(cache, b"o")),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))

    run_until(player, clock, now + 9_000)
    assert (sink.played, player.clock_sane) == ([], False)
    run_until(player, clock, now + 21_000)

    assert player.clock_sane
    assert played_ids(sink) == ["on-time"]
    assert brief(outbox, device_key)[0] == ("skipped", "early", "clock_jump")


def test_a_clock_a_day_behind_the_timeline_issue_is_not_sane(player, sink, cache, outbox, controller, clock):
    now = clock.now_ms()
    timeline = controller.timeline(
        1, [controller.item("a", now + 1_000, cached(cache, b"a"))], now_ms=now + 2 * 86_400_000
    )

    player.set_timeline(timeline)
    run_until(player, clock, now + 3_000)

    assert (player.clock_sane, sink.played, outbox.last_seq()) == (False, [], 0)


def test_stopping_the_agent_mid_item_leaves_an_interrupted_receipt(
    player, sink, cache, outbox, device_key, controller, clock
):
    now = clock.now_ms()
    player.set_timeline(
        controller.timeline(
            1, [controller.item("a", now, cached(cache, b"s", duration_ms=5_000))], now_ms=now
        )
    )
    run_until(player, clock, now + 1_200)

    player.stop()

    assert brief(outbox, device_key) == [("started", "a", None), ("interrupted", "a", "agent_stopped")]
    assert receipts(outbox, device_key)[1].seconds_aired == 1.2


def test_sink_failure_is_reported_as_failed(cache, outbox, device_key, controller, clock):
    sink = FakeSink(clock, fail_play="playback_error: no sound card")
    player = Player(sink=sink, cache=cache, outbox=outbox, clock=clock, executor=InlineExecutor())
    player.set_timeline(
        controller.timeline(
            1, [controller.item("a", clock.now_ms(), cached(cache, b"s"))], now_ms=clock.now_ms()
        )
    )

    player.step()

    assert brief(outbox, device_key) == [("failed", "a", "playback_error: no sound card")]
    assert outbox.is_handled("a")


def test_upcoming_and_referenced_media(player, cache, controller, clock):
    now = clock.now_ms()
    past, soon = cached(cache, b"past"), cached(cache, b"soon")
    items = [
        controller.item("past", now - 60_000, past),
        controller.item("soon", now + 1_000, soon),
        controller.item("quiet", now + 2_000, None, kind="silence"),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))
    alarm = cached(cache, b"alarm")
    player.submit(play_now(controller, clock, controller.item("alarm", now + 60_000, alarm)))

    assert player.upcoming_media() == [alarm, soon]
    assert player.referenced_media() == {past.sha256, soon.sha256, alarm.sha256}


def test_the_started_receipt_is_written_a_moment_after_the_first_sample(
    player, sink, cache, outbox, device_key, controller, clock
):
    start = clock.now_ms() + 1_000
    player.set_timeline(
        controller.timeline(1, [controller.item("a", start, cached(cache, b"a"))], now_ms=clock.now_ms())
    )
    run_until(player, clock, start + 50)
    assert outbox.last_seq() == 0 and player.playing_item_id == "a"

    run_until(player, clock, start + 150)

    [started] = receipts(outbox, device_key)
    assert (started.event, started.started_at_ms, started.recorded_at_ms) == ("started", start, start + 100)


def test_no_decode_starts_just_before_or_just_after_another_instant(
    player, sink, cache, outbox, controller, clock
):
    now = clock.now_ms()
    items = [
        controller.item("first", now + 10_000, cached(cache, b"1")),
        controller.item("second", now + 11_500, cached(cache, b"2")),
        controller.item("third", now + 14_000, cached(cache, b"3")),
    ]
    player.set_timeline(controller.timeline(1, items, now_ms=now))

    run_until(player, clock, now + 9_000)
    assert [s.label for s in sink.prepared] == ["first", "second"]  # "second" is due within 2 s of it
    run_until(player, clock, now + 11_900)
    assert [s.label for s in sink.prepared] == ["first", "second"]  # "second" is near, then just started
    run_until(player, clock, now + 12_100)

    assert [s.label for s in sink.prepared] == ["first", "second", "third"]


def test_the_same_play_now_sent_to_several_zones_of_the_box_plays_once(
    player, sink, cache, outbox, device_key, controller, clock
):
    alarm = controller.item("e7", 0, cached(cache, b"alarm", duration_ms=1_000), priority="emergency")
    first = play_now(controller, clock, alarm)
    second = play_now(controller, clock, alarm)

    player.submit(first)
    player.step()
    player.submit(second)
    run_until(player, clock, clock.now_ms() + 2_000)

    assert played_ids(sink) == ["e7"]
    done = [r for r in receipts(outbox, device_key) if r.event == "command_done"]
    assert [(r.command_id, r.reason) for r in done] == [
        (second.command.id, f"duplicate_of:{first.command.id}"),
        (first.command.id, None),
    ]

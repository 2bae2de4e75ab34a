"""The clock: jumps are noticed against the monotonic clock, sanity has two rules, and the wait for an
instant ends on it (real clock, a few milliseconds at most)."""

from __future__ import annotations

import threading
import time

from edge_agent.clock import DAY_MS, ClockWatch, SystemClock
from edge_agent.testing import FakeClock


def test_a_wall_clock_jump_beyond_two_seconds_is_noticed_with_its_size(clock: FakeClock):
    watch = ClockWatch(clock, build_ms=0)
    clock.advance(10_000)
    assert watch.check() is None
    clock.jump(1_900)
    assert watch.check() is None
    clock.jump(-3_600_000)

    assert watch.check() == -3_600_000
    assert watch.last_jump_ms == -3_600_000
    assert watch.check() is None


def test_the_clock_is_not_sane_before_the_build_date_or_a_day_before_the_timeline_was_issued(
    clock: FakeClock,
):
    now = clock.now_ms()
    watch = ClockWatch(clock, build_ms=now)

    assert watch.sane(now)
    assert not watch.sane(now - 1)
    assert watch.sane(now, issued_at_ms=now + DAY_MS)
    assert not watch.sane(now, issued_at_ms=now + DAY_MS + 1)


def test_wait_until_ends_within_a_few_milliseconds_of_the_instant():
    clock = SystemClock()
    errors = []
    for _ in range(5):
        target = clock.now_ms() + 60
        assert clock.wait_until_ms(target, threading.Event()) is False
        errors.append(time.time_ns() / 1e6 - target)

    assert all(0 <= error < 15 for error in errors), errors


def test_wait_until_returns_early_when_the_event_is_set():
    clock = SystemClock()
    event = threading.Event()
    threading.Timer(0.05, event.set).start()
    began = time.monotonic()

    assert clock.wait_until_ms(clock.now_ms() + 5_000, event) is True
    assert time.monotonic() - began < 1

"""The seams that let thousands of real agents share one process (used by bench/fleet_boxes.py).

A simulated box is the real ``edge_agent.agent.Agent`` with its real trust checks, timeline store,
outbox, player and receipts. Only the parts that own a thread or a device are replaced, each by a
twin that implements the same interface and is driven by the process's one ``selectors`` loop:

* ``LoopClock``: the box's wall clock (real time plus an optional per-box offset). Its waits never
  block: ``wait_until_ms`` raises ``NotYet`` a little before an instant, and the loop steps the
  player again at that instant (``Player.step`` is the real decision code);
* ``LoopPlayer``: the real ``Player``, whose ``start`` spawns no thread;
* ``IdlePrefetcher`` and ``FixedClockOffset``: no background thread (media is placed in each box's
  cache by the fleet beforehand; the offset is the simulated one);
* ``NullSink``: plays nothing; notes the instant of the first sample (when ``FileSink`` would write
  its first PCM), so 10,000 boxes need no ffmpeg;
* ``MeasuredOutbox``: the real outbox, which also notes when each receipt was written and acked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_agent.fetch import Prefetcher
from edge_agent.health import ClockOffset
from edge_agent.outbox import Outbox
from edge_agent.player import Player
from edge_agent.sinks import PlayResult, Source

PRECISE_MS = 2  # this close to an instant, a step goes ahead (the loop woke it for that instant)


class NotYet(Exception):
    """The player wants to wait until ``instant_ms`` (box clock); the loop steps it again then."""

    def __init__(self, instant_ms: int) -> None:
        super().__init__(instant_ms)
        self.instant_ms = instant_ms


class LoopClock:
    """Implements ``edge_agent.clock.Clock`` for a box stepped by a shared loop.

    ``passed_ms`` is simulated time that went by for this box (wall and monotonic clocks alike, so
    the player sees time passing, not a jump); while ``fast`` is set, waits return at once having
    moved it forward, as ``edge_agent.testing.FakeClock``'s do (bench/faults_offline.py: 72 hours
    offline in a second).
    """

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms
        self.passed_ms = 0
        self.fast = False

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms + self.passed_ms

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000 + self.passed_ms

    def advance(self, ms: int) -> None:
        """Let ``ms`` of simulated time pass."""
        self.passed_ms += max(0, ms)

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        if self.fast and not event.is_set():
            self.advance(round(timeout_s * 1000))
        return event.is_set()  # only the threads this fleet does not start wait here

    def wait_until_ms(self, instant_ms: int, event: threading.Event) -> bool:
        if event.is_set():
            return True
        if self.fast:
            self.advance(instant_ms - self.now_ms())
            return False
        left_ms = instant_ms - self.now_ms()
        if left_ms > PRECISE_MS:
            raise NotYet(instant_ms)
        if left_ms > 0:
            time.sleep(left_ms / 1000)
        return event.is_set()

    def seconds_until(self, instant_ms: int) -> float:
        return max(0.0, (instant_ms - self.now_ms()) / 1000)


class LoopPlayer(Player):
    """The real player, stepped by the loop instead of its own thread."""

    def start(self) -> None:
        """Nothing to start: the loop calls ``step``."""

    @property
    def woken(self) -> bool:
        """Something arrived (a timeline, a command) that the next step must look at."""
        return self._wake.is_set()


class IdlePrefetcher(Prefetcher):
    """The real prefetcher's bookkeeping (what is missing) without its fetching thread."""

    def start(self) -> None:
        """Media was placed in the cache by the fleet; nothing is fetched."""


class FixedClockOffset(ClockOffset):
    """Reports the simulated offset as if NTP had measured it."""

    def __init__(self, offset_ms: int) -> None:
        super().__init__(ntp_server=None, chronyc="")
        self.value_ms = float(offset_ms) if offset_ms else None

    def start(self) -> None:
        """Nothing to measure."""


@dataclass
class NullPrepared:
    source: Source

    def discard(self) -> None:
        """Nothing was decoded."""


class NullPlayback:
    """'Plays' for the source's duration against the box clock."""

    def __init__(self, sink: NullSink, prepared: NullPrepared) -> None:
        self._sink = sink
        self.started_at_ms = sink.clock.now_ms()
        self._mono = sink.clock.monotonic_ms()
        self._duration_ms = max(0, prepared.source.duration_ms - prepared.source.offset_ms)
        self._stopped: int | None = None

    @property
    def first_sample_ms(self) -> int | None:
        return self.started_at_ms

    def remaining_s(self) -> float | None:
        if self._stopped is not None:
            return 0.0
        return max(0.0, (self._mono + self._duration_ms - self._sink.clock.monotonic_ms()) / 1000)

    def done(self) -> bool:
        return self.remaining_s() == 0.0

    def stop(self) -> None:
        if self._stopped is None:
            self._stopped = self._sink.clock.monotonic_ms()

    def finish(self) -> PlayResult:
        end = self._stopped if self._stopped is not None else self._sink.clock.monotonic_ms()
        aired = max(0, min(self._duration_ms, end - self._mono))
        return PlayResult(self.started_at_ms, self.started_at_ms, self.started_at_ms + aired, aired)


class NullSink:
    """Implements ``edge_agent.sinks.Sink``; ``on_first_sample(label, wall_s, box_ms)`` is called
    as each airing starts (``wall_s``: the machine's real time, comparable across processes)."""

    def __init__(self, clock: LoopClock, on_first_sample: Callable[[str, float, int], None]) -> None:
        self.clock = clock
        self.volume = 100
        self._on_first_sample = on_first_sample

    def prepare(self, source: Source) -> NullPrepared:
        return NullPrepared(source)

    def start(self, prepared: Any, wake: Callable[[], None]) -> NullPlayback:
        playback = NullPlayback(self, prepared)
        self._on_first_sample(prepared.source.label, time.time(), playback.started_at_ms)
        return playback

    def set_volume(self, volume: int) -> None:
        self.volume = volume


class MeasuredOutbox(Outbox):
    """The real outbox; also remembers when each receipt was written, to time its ack."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written_at: dict[int, float] = {}
        self.acked = 0
        self.ack_latency_s: list[float] = []
        self.on_acked: Callable[[], None] | None = None

    def append(self, **fields: Any) -> Any:
        written = time.time()
        receipt = super().append(**fields)
        self.written_at[receipt.seq] = written
        return receipt

    def acknowledge(self, seq: int) -> int:
        deleted = super().acknowledge(seq)
        now = time.time()
        for done in [s for s in self.written_at if s <= seq]:
            self.ack_latency_s.append(now - self.written_at.pop(done))
        self.acked = max(self.acked, seq)
        if self.on_acked is not None:
            self.on_acked()
        return deleted

    @property
    def outstanding(self) -> int:
        return len(self.written_at)

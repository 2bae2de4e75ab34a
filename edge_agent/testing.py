"""Fakes for tests of timing logic: a clock whose waits return at once and move time forward, and
a sink that plays nothing but keeps the timing a real sink would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from edge_agent.sinks import PlayResult, Source

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
P = ParamSpec("P")
T = TypeVar("T")


class FakeClock:
    """Implements ``edge_agent.clock.Clock``; meant to be driven from one thread (``Player.step``)."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self._now_ms = now_ms
        self._mono_ms = 1_000_000
        self.waits: list[float] = []

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic_ms(self) -> int:
        return self._mono_ms

    def advance(self, ms: int) -> None:
        self._now_ms += ms
        self._mono_ms += ms

    def set(self, now_ms: int) -> None:
        """Move both clocks to ``now_ms`` (time passing, not a jump)."""
        self.advance(now_ms - self._now_ms)

    def jump(self, ms: int) -> None:
        """The wall clock jumps by ``ms``; the monotonic clock does not."""
        self._now_ms += ms

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        """True at once if ``event`` is set; otherwise let ``timeout_s`` pass and return False."""
        if event.is_set():
            return True
        self.waits.append(timeout_s)
        self.advance(max(0, round(timeout_s * 1000)))
        return False

    def wait_until_ms(self, instant_ms: int, event: threading.Event) -> bool:
        if event.is_set():
            return True
        if instant_ms > self._now_ms:
            self.advance(instant_ms - self._now_ms)
        return False


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the caller's thread (deterministic tests)."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@dataclass
class FakePrepared:
    source: Source
    duration_ms: int
    discarded: bool = False

    def discard(self) -> None:
        self.discarded = True


@dataclass
class FakePlayback:
    """Plays for ``duration_ms`` of the fake clock; ``stop`` ends it at once."""

    sink: FakeSink
    prepared: FakePrepared
    started_at_ms: int
    started_mono_ms: int
    stopped_mono_ms: int | None = None

    @property
    def first_sample_ms(self) -> int | None:
        return self.started_at_ms

    def _elapsed_ms(self) -> int:
        end = self.stopped_mono_ms if self.stopped_mono_ms is not None else self.sink.clock.monotonic_ms()
        return min(end - self.started_mono_ms, self.prepared.duration_ms)

    def remaining_s(self) -> float | None:
        if self.stopped_mono_ms is not None:
            return 0.0
        return (self.prepared.duration_ms - self._elapsed_ms()) / 1000

    def done(self) -> bool:
        return self.remaining_s() == 0.0

    def stop(self) -> None:
        if self.stopped_mono_ms is None:
            self.stopped_mono_ms = self.sink.clock.monotonic_ms()

    def finish(self) -> PlayResult:
        aired = self._elapsed_ms()
        result = PlayResult(self.started_at_ms, self.started_at_ms, self.started_at_ms + aired, aired)
        self.sink.played.append((self.prepared.source, result))
        return result


@dataclass
class FakeSink:
    """Implements ``edge_agent.sinks.Sink`` on a fake clock; records what it 'played'."""

    clock: FakeClock
    volume: int = 100
    fail_prepare: str | None = None
    fail_play: str | None = None
    played: list[tuple[Source, PlayResult]] = field(default_factory=list)
    prepared: list[Source] = field(default_factory=list)

    def prepare(self, source: Source) -> FakePrepared:
        from edge_agent.sinks import SinkError

        if self.fail_prepare is not None:
            raise SinkError(self.fail_prepare)
        self.prepared.append(source)
        return FakePrepared(source, max(0, source.duration_ms - source.offset_ms))

    def start(self, prepared: Any, wake: Callable[[], None]) -> FakePlayback:
        from edge_agent.sinks import SinkError

        if self.fail_play is not None:
            raise SinkError(self.fail_play)
        return FakePlayback(self, prepared, self.clock.now_ms(), self.clock.monotonic_ms())

    def set_volume(self, volume: int) -> None:
        self.volume = volume

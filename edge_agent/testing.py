"""A fake clock for tests of timing logic: waits return at once and move time forward instead."""

from __future__ import annotations

import threading

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class FakeClock:
    """Implements ``edge_agent.clock.Clock``; meant to be driven from one thread (``Player.step``)."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self._now_ms = now_ms
        self.waits: list[float] = []

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        self._now_ms += ms

    def set(self, now_ms: int) -> None:
        self._now_ms = now_ms

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        """True at once if ``event`` is set; otherwise let ``timeout_s`` pass and return False."""
        if event.is_set():
            return True
        self.waits.append(timeout_s)
        self._now_ms += max(0, round(timeout_s * 1000))
        return False

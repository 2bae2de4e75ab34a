"""Time as an injected object, so that timing logic is tested without sleeping; and the watch that
tells whether the wall clock can be trusted (see docs/agent.md, "Clock")."""

from __future__ import annotations

import threading
import time
from typing import Protocol

DAY_MS = 86_400_000
JUMP_THRESHOLD_MS = 2_000
FINE_WAIT_MS = 50  # the last stretch before an instant is waited in short sleeps, not one long wait


class Clock(Protocol):
    """Wall-clock instants (UTC ms), a monotonic count, and interruptible waits."""

    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch, UTC."""
        ...

    def monotonic_ms(self) -> int:
        """A count of milliseconds that never jumps (for measuring durations and clock jumps)."""
        ...

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        """Wait until ``event`` is set or ``timeout_s`` passed; True if the event was set."""
        ...

    def wait_until_ms(self, instant_ms: int, event: threading.Event) -> bool:
        """Return as close as possible to the wall instant ``instant_ms``; True if ``event`` came first."""
        ...


class SystemClock:
    """The real clock (kept right by NTP / chrony on the box)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        return event.wait(max(0.0, timeout_s))

    def wait_until_ms(self, instant_ms: int, event: threading.Event) -> bool:
        target_ns = instant_ms * 1_000_000
        while True:
            left_s = (target_ns - time.time_ns()) / 1e9
            if left_s <= 0:
                return event.is_set()
            if left_s > FINE_WAIT_MS / 1000:
                if event.wait(left_s - FINE_WAIT_MS / 1000):
                    return True
                continue
            if event.is_set():
                return True
            # The last stretch: one precise sleep on the wall clock just read (no spin, no storm
            # of short sleeps: fifty agents sharing one small CPU must not starve each other).
            time.sleep(left_s)


class ClockWatch:
    """Notices wall-clock jumps (against the monotonic clock) and says whether the clock is sane.

    A clock is sane when it is not before the agent's build date and not more than a day before the
    accepted timeline was issued. Thread-safe; pure apart from the injected clock.
    """

    def __init__(self, clock: Clock, *, build_ms: int, threshold_ms: int = JUMP_THRESHOLD_MS) -> None:
        self._clock = clock
        self._build_ms = build_ms
        self._threshold_ms = threshold_ms
        self._lock = threading.Lock()
        self._wall = clock.now_ms()
        self._mono = clock.monotonic_ms()
        self.last_jump_ms: int | None = None

    def check(self) -> int | None:
        """The jump (wall minus monotonic progress, ms) since the last check, if beyond the threshold."""
        with self._lock:
            wall, mono = self._clock.now_ms(), self._clock.monotonic_ms()
            drift = (wall - self._wall) - (mono - self._mono)
            self._wall, self._mono = wall, mono
            if abs(drift) <= self._threshold_ms:
                return None
            self.last_jump_ms = drift
            return drift

    def sane(self, now_ms: int, *, issued_at_ms: int | None = None) -> bool:
        """False for a wall clock before the build date or a day before the timeline's issue."""
        if now_ms < self._build_ms:
            return False
        return issued_at_ms is None or now_ms >= issued_at_ms - DAY_MS

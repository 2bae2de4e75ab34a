"""The local timeline player: waits for each item's instant, plays it, and records what happened.

Invariant 4: a box plays at the instant, not when a message arrives. Every decision leaves a receipt
in the outbox, and the ``started`` receipt is committed before the first sound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TypedDict

from edge_agent.clock import Clock, SystemClock
from edge_agent.media import MediaCache, MediaUnavailable
from edge_agent.outbox import Outbox
from edge_agent.sinks import Sink
from playlists.wire import PRIORITY_RANK, MediaRef, Timeline, TimelineItem

__all__ = ["Clock", "Player", "SystemClock", "next_due", "next_start_ms", "skip_reason"]

log = logging.getLogger(__name__)

LATE_AFTER_MS = 5_000  # past this, the box was off or busy: the item is skipped, not played late
IDLE_WAIT_S = 60.0
FINE_WAIT_S = 0.25  # the last stretch before an instant is waited in one short, precise wait


class _ItemFields(TypedDict):
    """What every receipt about an item carries."""

    item_id: str
    timeline_version: int
    scheduled_at_ms: int
    media_sha256: str | None


def _in_window(timeline: Timeline, item: TimelineItem) -> bool:
    return timeline.valid_from_ms <= item.start_ms < timeline.valid_until_ms


def _open_items(timeline: Timeline, handled: Collection[str]) -> list[TimelineItem]:
    items = [item for item in timeline.items if item.id not in handled and _in_window(timeline, item)]
    return sorted(items, key=lambda item: (item.start_ms, -PRIORITY_RANK[item.priority], item.id))


def next_due(timeline: Timeline, handled: Collection[str], now_ms: int) -> TimelineItem | None:
    """The first item not yet handled whose instant has come."""
    for item in _open_items(timeline, handled):
        return item if item.start_ms <= now_ms else None
    return None


def next_start_ms(timeline: Timeline, handled: Collection[str]) -> int | None:
    """The instant of the next item not yet handled."""
    items = _open_items(timeline, handled)
    return items[0].start_ms if items else None


def skip_reason(timeline: Timeline, item: TimelineItem, now_ms: int) -> str | None:
    """Why a due item must not be played now, or None if it must."""
    if now_ms - item.start_ms > LATE_AFTER_MS:
        return "late"
    if now_ms >= timeline.valid_until_ms:
        return "expired"
    if item.kind == "stream":
        return "stream_not_supported"  # stream relays come in a later issue
    return None


class Player:
    """Holds the current timeline and plays its items on a sink, from its own thread."""

    def __init__(self, *, sink: Sink, cache: MediaCache, outbox: Outbox, clock: Clock) -> None:
        self._sink = sink
        self._cache = cache
        self._outbox = outbox
        self._clock = clock
        self._lock = threading.Lock()
        self._timeline: Timeline | None = None
        self._handled = outbox.handled_ids()
        self._playing: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when an item starts or stops playing."""
        self._listeners.append(callback)

    @property
    def timeline(self) -> Timeline | None:
        return self._timeline

    @property
    def playing_item_id(self) -> str | None:
        return self._playing

    def set_timeline(self, timeline: Timeline | None) -> None:
        """Replace the timeline entirely (the item playing now plays on) and re-plan."""
        with self._lock:
            self._timeline = timeline
        self._wake.set()

    def upcoming_media(self) -> list[MediaRef]:
        """Media of the items still to be played, for the prefetcher."""
        with self._lock:
            timeline, handled = self._timeline, set(self._handled)
        if timeline is None:
            return []
        now = self._clock.now_ms()
        return [
            item.media
            for item in _open_items(timeline, handled)
            if item.kind == "audio" and item.media is not None and now - item.start_ms <= LATE_AFTER_MS
        ]

    def step(self) -> float | None:
        """Handle every item that is due now; returns seconds until the next instant (None: nothing)."""
        while not self._stop.is_set():
            with self._lock:
                timeline, handled = self._timeline, set(self._handled)
            if timeline is None:
                return None
            now = self._clock.now_ms()
            item = next_due(timeline, handled, now)
            if item is None:
                start = next_start_ms(timeline, handled)
                return None if start is None else max(0.0, (start - now) / 1000)
            self._handle(timeline, item, now)
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="loa-player", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop playing (the item playing now is interrupted) and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                delay = self.step()
            except Exception:
                log.exception("player step failed; retrying shortly")
                delay = 1.0
            if delay is None:
                wait = IDLE_WAIT_S
            elif delay > 2 * FINE_WAIT_S:
                wait = delay - FINE_WAIT_S
            else:
                wait = delay
            self._clock.wait(self._wake, min(wait, IDLE_WAIT_S))

    def _handle(self, timeline: Timeline, item: TimelineItem, now_ms: int) -> None:
        receipt = _ItemFields(
            item_id=item.id,
            timeline_version=timeline.version,
            scheduled_at_ms=item.start_ms,
            media_sha256=item.media.sha256 if item.media is not None else None,
        )
        reason = skip_reason(timeline, item, now_ms)
        if reason is not None:
            log.warning("item %s skipped: %s (scheduled %d, now %d)", item.id, reason, item.start_ms, now_ms)
            self._outbox.append(event="skipped", reason=reason, handled=True, **receipt)
            self._mark(item.id)
            return
        path: Path | None = None
        if item.kind == "audio":
            try:
                if item.media is None:
                    raise MediaUnavailable("media_missing", "audio item without media")
                path = self._cache.verified_path(item.media)
            except MediaUnavailable as exc:
                log.error("item %s not played: %s", item.id, exc)
                self._outbox.append(event="failed", reason=exc.reason, handled=True, **receipt)
                self._mark(item.id)
                return
        started = self._clock.now_ms()
        self._outbox.append(event="started", started_at_ms=started, handled=True, **receipt)
        self._mark(item.id)
        self._set_playing(item.id)
        failure: str | None = None
        try:
            if item.kind == "silence":
                self._clock.wait(self._stop, item.duration_ms / 1000)
            else:
                self._sink.play(item, path, self._stop)
        except Exception as exc:
            log.exception("item %s failed while playing", item.id)
            failure = f"playback_error: {exc}"
        finally:
            self._set_playing(None)
        ended = self._clock.now_ms()
        if failure is not None:
            self._outbox.append(
                event="failed", started_at_ms=started, ended_at_ms=ended, reason=failure, **receipt
            )
        elif self._stop.is_set():
            self._outbox.append(
                event="interrupted",
                started_at_ms=started,
                ended_at_ms=ended,
                reason="agent_stopped",
                **receipt,
            )
        else:
            self._outbox.append(event="completed", started_at_ms=started, ended_at_ms=ended, **receipt)

    def _mark(self, item_id: str) -> None:
        with self._lock:
            self._handled.add(item_id)

    def _set_playing(self, item_id: str | None) -> None:
        self._playing = item_id
        for callback in self._listeners:
            try:
                callback()
            except Exception:
                log.exception("player listener failed")

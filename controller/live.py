"""The hub that tells live panel pages which boxes changed (server-sent events, see routes/panel_devices.py).

``notify`` is called from the MQTT and status-writer threads; each page's stream waits on the event
loop. Only *which* box changed travels here: the stream re-reads the box with its user's scope, so a
change can never leak what the user may not see, and a burst of changes costs one read per page.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Subscription:
    """One live page's interest: which boxes it shows, and the ones that changed since it last looked."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, zone_ids: set[int] | None, device_ids: set[str] | None
    ) -> None:
        self.zone_ids, self.device_ids = zone_ids, device_ids
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._woken = False
        self._event = asyncio.Event()

    def wants(self, device_id: str, zone_id: int | None) -> bool:
        if self.device_ids is not None and device_id not in self.device_ids:
            return False
        return self.zone_ids is None or zone_id is None or zone_id in self.zone_ids

    def offer(self, device_id: str) -> None:
        """From any thread: remember the change and wake the page's stream once."""
        with self._lock:
            self._pending.add(device_id)
            if self._woken:
                return
            self._woken = True
        with contextlib.suppress(RuntimeError):  # the stream's loop is gone; unsubscribe forgets it
            self._loop.call_soon_threadsafe(self._event.set)

    def take(self) -> set[str]:
        """The boxes changed since the last take (on the event loop)."""
        with self._lock:
            pending, self._pending, self._woken = self._pending, set(), False
            self._event.clear()
        return pending

    async def wait(self, timeout: float) -> set[str]:
        """Wait up to ``timeout`` seconds for a change; returns what changed (maybe nothing)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        return self.take()


class DeviceHub:
    """Fans box changes out to live panel pages: ``notify`` from the MQTT thread, streams read on the
    event loop. It carries only *which* box changed; a stream re-reads the box with its user's scope,
    so a change can never leak what the user may not see."""

    def __init__(self, *, stream_seconds: float = 300.0, coalesce_seconds: float = 1.0) -> None:
        self.stream_seconds = stream_seconds  # then the browser reconnects, and the login is checked again
        self.coalesce_seconds = coalesce_seconds  # one message a second per page, however busy the province
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, *, zone_ids: set[int] | None, device_ids: set[str] | None) -> Subscription:
        """Call on the event loop that will read the subscription."""
        subscription = Subscription(asyncio.get_running_loop(), zone_ids=zone_ids, device_ids=device_ids)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def notify(self, device_id: str, zone_id: int | None = None) -> None:
        """A box changed (``zone_id`` None: unknown here; the stream's scoped re-read decides)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            if subscription.wants(device_id, zone_id):
                subscription.offer(device_id)

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

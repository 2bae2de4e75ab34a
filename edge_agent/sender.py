"""Sending the outbox's receipts to the controller (invariant 2: no report is lost or doubled).

A receipt is published as soon as it is committed (``ReceiptSender.publish``, the outbox's
listener) and sent again until the controller's ack covers its seq: once it has waited
``resend_interval_s`` since its last send, never sooner (a burst after an emergency is not doubled
by a flush that happens to fall right after it). At most ``receipt_window`` receipts are in flight:
a backlog (a box offline for a week, a province reconnecting after a broker outage) goes out a
window at a time, the next as soon as an ack comes, instead of flooding the broker's queue for the
controller, whose overflow would come back in waves of resends.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from edge_agent.outbox import Outbox
from playlists.wire import Receipt

RESEND_INTERVAL_S = 10.0
RECEIPT_WINDOW = 50


class Publisher(Protocol):
    """What the sender needs of the MQTT link."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool: ...


class Resends:
    """When each unacknowledged receipt was last published on this connection, so that the periodic
    flush sends again only what has waited a whole interval: a receipt just sent (a burst of them
    after an emergency) is not sent twice before the controller could answer. It also counts what is
    in flight, so that a backlog goes out a window at a time, clocked by the controller's acks."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._sent: dict[int, float] = {}
        self._lock = threading.Lock()

    def sent(self, seq: int, now: float) -> None:
        with self._lock:
            self._sent[seq] = now

    def due(self, seq: int, now: float) -> bool:
        with self._lock:
            at = self._sent.get(seq)
        return at is None or now - at >= self.interval_s

    def sent_at(self, seq: int) -> float | None:
        """When ``seq`` was last sent on this connection (None: not yet)."""
        with self._lock:
            return self._sent.get(seq)

    def in_flight(self, now: float) -> int:
        """How many receipts were sent within the interval and are not acknowledged yet."""
        with self._lock:
            return sum(now - at < self.interval_s for at in self._sent.values())

    def acknowledged(self, seq: int) -> None:
        with self._lock:
            self._sent = {s: at for s, at in self._sent.items() if s > seq}

    def forget(self) -> None:
        """A new connection: what was in flight on the old one may be lost, so all of it is due."""
        with self._lock:
            self._sent.clear()


class ReceiptSender:
    """Publishes the outbox's receipts on ``topic`` and sends again what the controller has not
    acknowledged, a window at a time."""

    def __init__(
        self,
        outbox: Outbox,
        link: Publisher,
        topic: str,
        *,
        resend_interval_s: float = RESEND_INTERVAL_S,
        window: int = RECEIPT_WINDOW,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._outbox = outbox
        self._link = link
        self._topic = topic
        self._resends = Resends(resend_interval_s)
        self._window = window
        self._next_flush = 0.0
        self._backlog = False  # the last flush stopped at a full window: the next ack sends more
        self._flushing = threading.Lock()

    def publish(self, receipt: Receipt, envelope: bytes) -> None:
        """A receipt just committed: send it now (the outbox's listener)."""
        if self._link.publish(self._topic, envelope):
            self._resends.sent(receipt.seq, self._monotonic())

    def tick(self, now: float) -> None:
        """Periodic work: every half resend interval, send again what is due."""
        if now >= self._next_flush:
            self._next_flush = now + self._resends.interval_s / 2
            self.flush()

    def acknowledged(self, seq: int) -> None:
        """The controller committed every receipt up to ``seq`` (the outbox deleted them)."""
        self._resends.acknowledged(seq)
        if self._backlog:
            self.flush()  # the window has room again

    def reconnected(self) -> None:
        """A new connection: what was in flight on the old one may be lost, so all of it is due."""
        self._next_flush = self._monotonic() + self._resends.interval_s / 2
        self._resends.forget()
        self.flush()

    def flush(self) -> None:
        """Publish the unacked receipts that are due (never sent on this connection, or not within the
        resend interval; the controller dedupes on device and seq), at most ``window`` in flight:
        those never sent first, then those sent longest ago, so that every receipt goes out even
        while acks do not come (the controller away, one receipt it keeps refusing)."""
        if not self._link.connected or not self._flushing.acquire(blocking=False):
            return  # another thread is flushing now
        try:
            now = self._monotonic()
            room = self._window - self._resends.in_flight(now)
            due = [
                (self._resends.sent_at(seq) or -math.inf, seq)
                for seq in self._outbox.pending_seqs()
                if self._resends.due(seq, now)
            ]
            self._backlog = len(due) > room
            chosen = [seq for _last, seq in sorted(due)[: max(0, room)]]
            # Only the chosen envelopes are read: a week's backlog is not loaded on every ack.
            envelopes = self._outbox.envelopes(chosen) if chosen else {}
            for seq in chosen:
                if seq not in envelopes:
                    continue  # acknowledged meanwhile
                if not self._link.publish(self._topic, envelopes[seq]):
                    return
                self._resends.sent(seq, now)
        finally:
            self._flushing.release()

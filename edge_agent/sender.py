"""Sending the outbox's receipts to the controller (invariant 2: no report is lost or doubled).

A receipt is published as soon as it is committed (``ReceiptSender.publish``, the outbox's
listener) and sent again until the controller's ack covers its seq. A backlog (a box offline for a
week, a province reconnecting after a broker outage) goes out a window at a time, the next as soon
as an ack comes.

A thousand boxes reconnecting at once must share the controller, not drown it: the broker keeps
at most 1,000 messages queued for the controller and drops the rest, and every receipt sent again
too early is one more the controller must check and refuse as a duplicate. So the sender behaves
as TCP does (RFC 6298 and RFC 5681, ``Flight``): the wait before a receipt is sent again follows
the measured time from send to ack, and the window of receipts in flight shrinks when acks stop
coming and grows again as they come.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from edge_agent.outbox import Outbox
from playlists.wire import Receipt

RESEND_INTERVAL_S = 10.0  # the shortest wait before a receipt is sent again
MAX_RESEND_INTERVAL_S = 30.0  # the longest, however long the controller has been silent
RECEIPT_WINDOW = 50  # the most receipts in flight
INITIAL_WINDOW = 4  # in flight on a new connection, before acks show the controller keeps up


class Publisher(Protocol):
    """What the sender needs of the MQTT link."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool: ...


class Flight:
    """The receipts sent on this connection and not yet acknowledged, and the two numbers that pace
    them:

    * ``wait_s``: how long a receipt waits for its ack before it is sent again. It is the smoothed
      time from send to ack plus four times its variation (RFC 6298), never below ``min_wait_s``;
      each timeout doubles it, up to ``max_wait_s`` (30 s, or ``min_wait_s`` if that is longer).
      An ack gives no sample when it covers a receipt sent more than once (Karn's rule: it may
      answer either send; and the receipts after a resent one waited for it, not for the
      controller).
    * ``window``: how many receipts may be in flight (RFC 5681). Every connection starts with
      ``INITIAL_WINDOW``. A timeout drops it to one and sets the threshold to half what it was;
      then each receipt acknowledged adds one (it doubles every round trip) up to the threshold,
      and past the threshold one per window acknowledged, never above ``max_window``.

    A receipt in flight is one sent less than its wait ago; after that it is due again. Receipts
    just committed go out at once whatever the window (``ReceiptSender.publish``) and count in it.
    """

    def __init__(self, min_wait_s: float, max_window: int, max_wait_s: float = MAX_RESEND_INTERVAL_S) -> None:
        self.min_wait_s, self.max_wait_s = min_wait_s, max(min_wait_s, max_wait_s)
        self.max_window = max(1, max_window)
        self.window = float(min(INITIAL_WINDOW, self.max_window))
        self.threshold = float(self.max_window)
        self.wait_s = min_wait_s
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._sent: dict[int, tuple[float, float, int]] = {}  # seq: (last sent at, due again at, sends)
        self._timeouts_seen_until = -math.inf
        self._acked = 0  # the highest seq acknowledged
        self._lock = threading.Lock()

    def sent(self, seq: int, now: float) -> None:
        with self._lock:
            if seq <= self._acked:
                return  # its ack came between the publish and this call
            sends = self._sent[seq][2] + 1 if seq in self._sent else 1
            self._sent[seq] = (now, now + self.wait_s, sends)

    def due(self, seq: int, now: float) -> bool:
        return bool(self.due_of([seq], now))

    def due_of(self, seqs: list[int], now: float) -> list[int]:
        """Those of ``seqs`` never sent on this connection or whose wait ran out, in their order."""
        with self._lock:
            return [seq for seq in seqs if (found := self._sent.get(seq)) is None or now >= found[1]]

    def in_flight(self, now: float) -> int:
        """How many receipts were sent, are not acknowledged, and are still waiting for their ack."""
        with self._lock:
            return sum(now < due for _at, due, _sends in self._sent.values())

    def room(self, now: float) -> int:
        """How many more receipts may be sent now."""
        return max(0, int(self.window) - self.in_flight(now))

    def check_timeouts(self, now: float) -> bool:
        """Whether a receipt's wait ran out since the last check: the window drops to one and the
        wait doubles, once for all the receipts that ran out together."""
        with self._lock:
            fresh = any(self._timeouts_seen_until < due <= now for _at, due, _sends in self._sent.values())
            self._timeouts_seen_until = now
            if fresh:
                self.threshold = max(2.0, self.window / 2)
                self.window = 1.0
                self.wait_s = min(self.max_wait_s, self.wait_s * 2)
            return fresh

    def acknowledged(self, seq: int, now: float) -> None:
        """The controller committed every receipt up to ``seq``."""
        with self._lock:
            self._acked = max(self._acked, seq)
            acked = {s: sent for s, sent in self._sent.items() if s <= seq}
            if not acked:
                return
            self._sent = {s: sent for s, sent in self._sent.items() if s > seq}
            if all(sends == 1 for _at, _due, sends in acked.values()):
                self._sample(now - acked[max(acked)][0])
            if self.window < self.threshold:
                self.window = min(self.threshold, self.window + len(acked))
            else:
                self.window = min(float(self.max_window), self.window + len(acked) / self.window)

    def _sample(self, rtt: float) -> None:
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt
        self.wait_s = min(self.max_wait_s, max(self.min_wait_s, self._srtt + 4 * self._rttvar))

    def forget(self) -> None:
        """A new connection: what was in flight on the old one may be lost, so all of it is due,
        and the window starts again at ``INITIAL_WINDOW`` (the whole province may be reconnecting
        with it). The wait is kept: the controller is as far behind as it was."""
        with self._lock:
            self._sent.clear()
            self.window = float(min(INITIAL_WINDOW, self.max_window))


class ReceiptSender:
    """Publishes the outbox's receipts on ``topic`` and sends again what the controller has not
    acknowledged, paced by ``Flight``."""

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
        self.flight = Flight(resend_interval_s, window)
        self._tick_s = resend_interval_s / 2
        self._next_flush = 0.0
        self._backlog = False  # the last flush left receipts unsent: the next ack sends more
        self._flushing = threading.Lock()
        self._again = False  # a flush was asked for while another ran: it runs once more

    def publish(self, receipt: Receipt, envelope: bytes) -> None:
        """A receipt just committed: send it now (the outbox's listener), whatever the window."""
        if self._link.publish(self._topic, envelope):
            self.flight.sent(receipt.seq, self._monotonic())

    def tick(self, now: float) -> None:
        """Periodic work: every half of the shortest wait, send again what is due."""
        if now >= self._next_flush:
            self._next_flush = now + self._tick_s
            self.flush()

    def acknowledged(self, seq: int) -> None:
        """The controller committed every receipt up to ``seq`` (the outbox deleted them)."""
        self.flight.acknowledged(seq, self._monotonic())
        if self._backlog:
            self.flush()  # the window has room again

    def reconnected(self) -> None:
        """A new connection: what was in flight on the old one may be lost, so all of it is due."""
        self._next_flush = self._monotonic() + self._tick_s
        self.flight.forget()
        self.flush()

    def flush(self) -> None:
        """Publish the unacked receipts that are due (never sent on this connection, or whose wait
        ran out; the controller dedupes on device and seq), as many as the window has room for,
        lowest seq first: the controller's ack covers only an unbroken run of seqs, so a receipt
        lost on the way holds back the ack of every one after it until it is sent again. That
        lowest one goes whenever it is due, window or not (as TCP resends its oldest segment): the
        receipts published since it count in the window and, waiting behind it, never get acked."""
        if not self._link.connected:
            return
        self._again = True
        while self._again:
            if not self._flushing.acquire(blocking=False):
                return  # the thread flushing now runs once more for this call
            try:
                self._again = False
                self._flush_due()
            finally:
                self._flushing.release()

    def _flush_due(self) -> None:
        now = self._monotonic()
        self.flight.check_timeouts(now)
        room = self.flight.room(now)
        pending = self._outbox.pending_seqs()
        due = self.flight.due_of(pending, now)  # one lock for the whole backlog, not one per seq
        if due and due[0] == pending[0]:
            room = max(room, 1)
        self._backlog = len(due) > room
        chosen = due[:room]
        # Only the chosen envelopes are read: a week's backlog is not loaded on every ack.
        envelopes = self._outbox.envelopes(chosen) if chosen else {}
        for seq in chosen:
            if seq not in envelopes:
                continue  # acknowledged meanwhile
            if not self._link.publish(self._topic, envelopes[seq]):
                return
            self.flight.sent(seq, now)

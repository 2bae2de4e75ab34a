"""Many boxes draining their backlogs into one busy controller, simulated with a fake clock: the
senders must share it (TCP-style pacing in edge_agent/sender.py) instead of flooding it with
receipts it has to read and drop, which is what a fixed window with a fixed resend time did."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edge_agent.sender import Flight, ReceiptSender

TOPIC = "loa/v1/devices/box/report"


@dataclass
class Backlog:
    """What the sender reads of the outbox: the unacknowledged receipts' seqs and envelopes."""

    box: int
    receipts: dict[int, bytes] = field(default_factory=dict)

    def pending_seqs(self) -> list[int]:
        return sorted(self.receipts)

    def envelopes(self, seqs: list[int]) -> dict[int, bytes]:
        return {seq: self.receipts[seq] for seq in seqs if seq in self.receipts}

    def acknowledge(self, seq: int) -> None:
        self.receipts = {s: e for s, e in self.receipts.items() if s > seq}


@dataclass
class Controller:
    """Takes in every receipt the boxes publish; keeps at most ``queue_cap`` waiting (the rest are
    read and dropped, as the receipt writer does when it is behind) and stores ``rate`` a second."""

    rate: float
    queue_cap: int
    queue: deque[tuple[int, int]] = field(default_factory=deque)
    stored: dict[int, set[int]] = field(default_factory=dict)
    acked: dict[int, int] = field(default_factory=dict)
    arrivals: int = 0
    duplicates: int = 0
    credit: float = 0.0

    def arrive(self, box: int, seq: int) -> None:
        self.arrivals += 1
        if len(self.queue) < self.queue_cap:
            self.queue.append((box, seq))

    def work(self, dt: float) -> dict[int, int]:
        """Store what this much time allows; the new ack of every box that got one."""
        self.credit += self.rate * dt
        touched: set[int] = set()
        while self.queue and self.credit >= 1:
            self.credit -= 1
            box, seq = self.queue.popleft()
            have = self.stored.setdefault(box, set())
            if seq <= self.acked.get(box, 0) or seq in have:
                self.duplicates += 1
                continue
            have.add(seq)
            touched.add(box)
        acks = {}
        for box in touched:
            ack = self.acked.get(box, 0)
            while ack + 1 in self.stored[box]:
                ack += 1
            if ack > self.acked.get(box, 0):
                self.acked[box] = acks[box] = ack
        return acks


@dataclass
class Link:
    box: int
    controller: Controller
    connected: bool = True

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        self.controller.arrive(self.box, int(payload))
        return True


def drain(
    boxes: int, receipts: int, *, rate: float, queue_cap: int, limit_s: float
) -> tuple[float, Controller]:
    """Every box reconnects with ``receipts`` waiting; the simulated seconds until all are stored."""
    now = [0.0]
    controller = Controller(rate=rate, queue_cap=queue_cap)
    backlogs = [Backlog(b, {s: str(s).encode() for s in range(1, receipts + 1)}) for b in range(boxes)]
    senders = [
        ReceiptSender(
            backlog,  # type: ignore[arg-type]
            Link(b, controller),
            TOPIC,
            resend_interval_s=10,
            window=50,
            monotonic=lambda: now[0],
        )
        for b, backlog in enumerate(backlogs)
    ]
    for sender in senders:
        sender.reconnected()
    dt = 0.05
    while now[0] < limit_s:
        now[0] += dt
        for box, ack in controller.work(dt).items():
            backlogs[box].acknowledge(ack)
            senders[box].acknowledged(ack)
        if all(not backlog.receipts for backlog in backlogs):
            return now[0], controller
        for sender in senders:
            sender.tick(now[0])
    return now[0], controller


def test_a_fleet_reconnecting_with_backlogs_shares_a_busy_controller() -> None:
    """100 boxes with 200 receipts each, a controller that stores 200 a second: 100 s of work.
    Paced, it drains in 100.5 s, reading 1.06 receipts for every one it stores. A fixed window of
    50 with a fixed 10 s resend made the controller read 7.5 for every one it stored, and took
    612 s."""
    boxes, receipts, rate = 100, 200, 200.0
    took, controller = drain(boxes, receipts, rate=rate, queue_cap=300, limit_s=600)
    unique = boxes * receipts
    assert sum(len(s) for s in controller.stored.values()) == unique  # every receipt stored, once
    assert controller.arrivals <= 1.25 * unique  # not a flood of copies read and dropped
    assert took <= 1.2 * unique / rate


def test_the_wait_follows_the_measured_round_trip_and_a_resent_receipt_gives_no_sample() -> None:
    flight = Flight(10.0, 50, max_wait_s=300.0)
    flight.sent(1, 0.0)
    flight.acknowledged(1, 30.0)  # a controller 30 s behind
    assert flight.wait_s == 30 + 4 * 15  # srtt + 4 rttvar (RFC 6298's first sample: rttvar = rtt/2)
    flight.sent(2, 100.0)
    flight.sent(2, 200.0)  # sent again: its ack may answer either send
    flight.acknowledged(2, 200.5)
    assert flight.wait_s == 90
    for seq in range(3, 40):  # the controller caught up: acks in 0.1 s
        flight.sent(seq, 300.0 + seq)
        flight.acknowledged(seq, 300.1 + seq)
    assert flight.wait_s == 10  # never below the shortest wait


def test_a_timeout_drops_the_window_to_one_then_acks_grow_it_back() -> None:
    flight = Flight(10.0, 50)
    assert flight.window == 4  # a new connection
    for seq in range(1, 47):
        flight.sent(seq, 0.0)
        flight.acknowledged(seq, 0.0)  # slow start: each ack adds one
    assert flight.window == 50  # never above the most
    for seq in range(101, 151):
        flight.sent(seq, 0.0)
    assert flight.room(5.0) == 0
    assert flight.check_timeouts(10.0)  # fifty ran out together: one timeout
    assert (flight.window, flight.threshold, flight.wait_s) == (1.0, 25.0, 20.0)
    assert not flight.check_timeouts(12.0)  # the same ones are not counted again
    assert flight.room(12.0) == 1
    flight.acknowledged(104, 12.5)  # four acknowledged: slow start adds four
    assert flight.window == 5.0
    flight.acknowledged(124, 13.0)  # slow start stops at the threshold
    assert flight.window == 25.0
    flight.acknowledged(150, 14.0)  # past it: one per window acknowledged
    assert round(flight.window, 2) == 26.04
    wait = flight.wait_s
    flight.forget()
    assert flight.window == 4 and flight.wait_s == wait  # a new connection starts small; the wait stays


def test_an_ack_that_covers_a_resent_receipt_gives_no_sample() -> None:
    """The receipts after a lost one wait for its resend, not for the controller: an ack covering
    it measures the loss, so it does not count as a round trip."""
    flight = Flight(10.0, 50, max_wait_s=300.0)
    for seq in (1, 2, 3):
        flight.sent(seq, 0.0)
    flight.sent(1, 10.0)  # lost, sent again
    flight.acknowledged(3, 10.1)
    assert flight.wait_s == 10  # no 10.1 s sample
    flight.sent(4, 20.0)
    flight.acknowledged(4, 20.5)
    assert flight.wait_s == 10  # 0.5 s: at least the shortest wait


def test_an_ack_between_a_publish_and_its_record_leaves_nothing_in_flight() -> None:
    flight = Flight(10.0, 50)
    flight.acknowledged(7, 1.0)  # the controller answered before the sender noted the send
    flight.sent(7, 1.0)
    assert flight.in_flight(2.0) == 0
    assert not flight.check_timeouts(20.0)  # no timeout for a receipt already committed


def test_a_lost_receipt_is_resent_while_new_receipts_keep_coming() -> None:
    """The lowest seq goes again whenever its wait runs out, even when the receipts the box keeps
    publishing (two per airing) fill the window: they wait behind it and would never be acked."""
    now = [0.0]
    controller = Controller(rate=1000.0, queue_cap=1000)
    backlog = Backlog(0, {seq: str(seq).encode() for seq in range(1, 101)})
    link = Link(0, controller)
    lost = {1}

    def arrive(box: int, seq: int) -> None:
        if seq in lost:
            lost.discard(seq)  # the broker drops its first copy
            controller.arrivals += 1
        else:
            Controller.arrive(controller, box, seq)

    controller.arrive = arrive  # type: ignore[method-assign]
    sender = ReceiptSender(backlog, link, TOPIC, monotonic=lambda: now[0])  # type: ignore[arg-type]
    sender.reconnected()
    last = 100
    while now[0] < 600 and backlog.receipts:
        now[0] += 0.5
        if now[0] % 10 == 0:  # an airing's receipt every ten seconds
            last += 1
            backlog.receipts[last] = str(last).encode()
            sender.publish(Committed(last), backlog.receipts[last])  # type: ignore[arg-type]
        for _box, ack in controller.work(0.5).items():
            backlog.acknowledge(ack)
            sender.acknowledged(ack)
        sender.tick(now[0])
    assert controller.acked[0] == last and not backlog.receipts  # the hole was filled, all drained
    assert now[0] < 300


@dataclass
class Committed:
    """What ReceiptSender.publish reads of a receipt."""

    seq: int

"""Sending receipts: resent only once due, a window at a time, and every one of them in the end."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.outbox import Outbox
from edge_agent.sender import Flight, ReceiptSender
from edge_agent.testing import FakeClock
from tests.edge_agent.conftest import DEVICE_ID

TOPIC = "loa/v1/devices/box-1/report"


@dataclass
class Link:
    """The MQTT link as the sender sees it: connected, recording what is published."""

    connected: bool = True
    seqs: list[int] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        assert topic == TOPIC
        self.seqs.append(int(json.loads(payload)["payload"]["seq"]))
        return self.connected


def test_a_receipt_is_due_again_once_its_wait_ran_out_and_acks_forget_it() -> None:
    flight = Flight(10.0, 50)
    assert flight.due(1, 100.0)  # never sent
    flight.sent(1, 100.0)
    flight.sent(2, 105.0)
    assert not flight.due(1, 109.9) and flight.due(1, 110.0)
    assert not flight.due(2, 110.0)
    flight.acknowledged(1, 110.0)
    assert flight.due(1, 100.0)  # forgotten: a seq reused after a restore goes out at once
    assert not flight.due(2, 110.0)
    flight.forget()
    assert flight.due(2, 105.0)  # a new connection: everything in flight may be lost


def test_a_backlog_starts_small_and_each_round_of_acks_doubles_the_window_up_to_its_most(
    outbox: Outbox,
) -> None:
    for n in range(200):
        outbox.append(event="failed", reason=f"offline-{n}")
    link, now = Link(), [100.0]
    sender = ReceiptSender(outbox, link, TOPIC, resend_interval_s=10, window=50, monotonic=lambda: now[0])
    sender.reconnected()
    assert link.seqs == [1, 2, 3, 4]  # a new connection: four, until acks show the controller keeps up
    sender.flush()
    assert len(link.seqs) == 4  # the window is full: nothing more until an ack or a timeout
    rounds = []
    while len(link.seqs) < 200:
        now[0] += 0.1
        acked = link.seqs[-1]
        outbox.acknowledge(acked)
        sender.acknowledged(acked)  # each ack lets the next ones go at once
        rounds.append(len(link.seqs) - acked)
    assert rounds[:5] == [8, 16, 32, 50, 50]  # slow start, then the most in flight


def test_without_acks_the_sender_backs_off_and_resends_the_lowest_seq_first(outbox: Outbox) -> None:
    """The controller away or far behind: instead of sending its window again every ten seconds,
    the box sends one receipt at a time, the lowest (the one the ack waits for), and waits twice
    as long after each timeout, up to thirty seconds."""
    for n in range(120):
        outbox.append(event="failed", reason=f"offline-{n}")
    link, now = Link(), [100.0]
    sender = ReceiptSender(outbox, link, TOPIC, resend_interval_s=10, window=50, monotonic=lambda: now[0])
    sender.reconnected()
    assert link.seqs == [1, 2, 3, 4]
    sent_at: list[float] = []
    while now[0] < 100 + 300:
        now[0] += 5
        before = len(link.seqs)
        sender.tick(now[0])
        sent_at += [now[0]] * (len(link.seqs) - before)
    assert link.seqs[4:] == [1] * len(sent_at)  # the lowest seq, again and again
    assert sent_at[0] == 110  # after the first wait, ten seconds
    gaps = [round(later - earlier) for earlier, later in itertools.pairwise(sent_at)]
    assert gaps == [20] + [30] * (len(sent_at) - 2)  # twice as long after each timeout, at most 30 s
    assert sender.flight.wait_s == 30 and sender.flight.window == 1
    now[0] += 1
    outbox.acknowledge(1)
    sender.acknowledged(1)  # the controller is back: its ack lets the next ones go at once
    assert link.seqs[-2:] == [2, 3]  # one acknowledged, two more


class CountingOutbox(Outbox):
    """An outbox that counts the signed envelopes read out of it."""

    read = 0

    def pending(self, *, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, bytes]]:
        found = super().pending(from_seq=from_seq, limit=limit)
        self.read += len(found)
        return found

    def envelopes(self, seqs: list[int]) -> dict[int, bytes]:
        found = super().envelopes(seqs)
        self.read += len(found)
        return found


def test_a_flush_reads_only_the_envelopes_it_sends(
    tmp_path: Path, device_key: Ed25519PrivateKey, clock: FakeClock
) -> None:
    """A week offline leaves thousands of receipts; each ack flushes, and must not load them all."""
    path = tmp_path / "outbox.db"
    counting = CountingOutbox(path, device_id=DEVICE_ID, private_key=device_key, clock=clock)
    for n in range(400):
        counting.append(event="failed", reason=f"offline-{n}")
    link, now = Link(), [100.0]
    sender = ReceiptSender(counting, link, TOPIC, resend_interval_s=10, window=20, monotonic=lambda: now[0])
    sender.reconnected()
    while len(link.seqs) < 120:
        acked = link.seqs[-1]
        counting.acknowledge(acked)
        sender.acknowledged(acked)
    assert link.seqs[:120] == list(range(1, 121))
    assert counting.read == len(link.seqs)  # each envelope read once, when it is sent
    assert sorted(counting.envelopes([5, 120, 121, 999])) == [120, 121]  # acknowledged ones are gone
    counting.close()

"""Sending receipts: resent only once due, a window at a time, and every one of them in the end."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.outbox import Outbox
from edge_agent.sender import ReceiptSender, Resends
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


def test_resends_are_due_after_a_whole_interval_and_forget_what_is_acknowledged() -> None:
    resends = Resends(10.0)
    assert resends.due(1, 100.0)  # never sent
    resends.sent(1, 100.0)
    resends.sent(2, 105.0)
    assert not resends.due(1, 109.9) and resends.due(1, 110.0)
    assert not resends.due(2, 110.0)
    resends.acknowledged(1)
    assert resends.due(1, 100.0)  # forgotten: a seq reused after a restore goes out at once
    assert not resends.due(2, 110.0)
    resends.forget()
    assert resends.due(2, 105.0)  # a new connection: everything in flight may be lost


def test_a_backlog_goes_out_a_window_at_a_time_and_each_ack_lets_the_next_go(outbox: Outbox) -> None:
    for n in range(120):
        outbox.append(event="failed", reason=f"offline-{n}")
    link, now = Link(), [100.0]
    sender = ReceiptSender(outbox, link, TOPIC, resend_interval_s=10, window=50, monotonic=lambda: now[0])
    sender.reconnected()
    assert link.seqs == list(range(1, 51))
    sender.flush()
    assert len(link.seqs) == 50  # the window is full: nothing more until an ack or the interval
    outbox.acknowledge(30)
    sender.acknowledged(30)
    assert link.seqs[50:] == list(range(51, 81))  # thirty acked: thirty more at once


def test_without_acks_every_receipt_still_goes_out_oldest_send_first(outbox: Outbox) -> None:
    """The controller away, or one receipt it keeps refusing: the window must not resend the same
    fifty for ever while the newer receipts are never sent."""
    for n in range(120):
        outbox.append(event="failed", reason=f"offline-{n}")
    link, now = Link(), [100.0]
    sender = ReceiptSender(outbox, link, TOPIC, resend_interval_s=10, window=50, monotonic=lambda: now[0])
    sender.reconnected()
    now[0] += 10  # a whole interval, no ack
    sender.flush()
    assert link.seqs[50:] == list(range(51, 101))  # those never sent go first
    now[0] += 10
    sender.flush()
    assert link.seqs[100:] == [*range(101, 121), *range(1, 31)]  # then those sent longest ago
    assert set(link.seqs) == set(range(1, 121))


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
    for acked in range(20, 101, 20):
        counting.acknowledge(acked)
        sender.acknowledged(acked)
    assert link.seqs == list(range(1, 121))
    assert counting.read == 120  # each envelope read once, when it is sent
    assert sorted(counting.envelopes([5, 120, 121, 999])) == [120, 121]  # acknowledged ones are gone
    counting.close()

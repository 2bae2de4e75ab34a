"""Receipts from boxes: verified, stored once per (device, seq) in the receipt hash chain, acknowledged
contiguously.

Receipts arrive on the MQTT network thread, and in bursts: an emergency makes three per box within
seconds (30,000 for 10,000 boxes). ``ReceiptWriter`` takes them off that thread and stores them in
batches on its own: whatever queued while the last batch was written is verified, appended to the
chain in arrival order and committed in one transaction (one fsync, not two per receipt), then the
boxes' acked seqs move in a second one, and only then are the acks published. A box deletes a
receipt only once an ack covers it, so a batch lost in a crash is sent again by its boxes
(invariant 2), and (device, seq) stays unique, so a receipt sent twice is stored once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controller import commands
from controller.audit_chain import append_receipt
from controller.models import Device, Receipt, utcnow
from playlists.signing import WireError, public_key_from_b64, verify
from playlists.wire import Ack
from playlists.wire import Receipt as ReceiptDoc

log = logging.getLogger(__name__)

T = TypeVar("T")
CHUNK = 500  # ids or seqs per IN (...), well under every database's bound-parameter limit
Report = tuple[str, bytes]  # the device id of the topic, the signed envelope
Outcome = tuple[str, Ack | None]  # the ack to send for a report, or None: refused

_ADVANCE = (
    update(Device)
    .where(col(Device.id) == bindparam("device_id"), col(Device.acked_seq) < bindparam("seq"))
    .values(acked_seq=bindparam("seq"))
)


def _at(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


def schedule_id_of(item_id: str | None) -> int | None:
    """Item ids are ``s<schedule>-<start_ms>`` (playlists.compiler.item_id)."""
    if not item_id or not item_id.startswith("s"):
        return None
    head = item_id[1:].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def row_fields(doc: ReceiptDoc) -> dict[str, object]:
    """The columns of a receipt row that come from the box's signed document."""
    return {
        "device_id": doc.device_id,
        "seq": doc.seq,
        "event": doc.event,
        "item_id": doc.item_id,
        "schedule_id": schedule_id_of(doc.item_id),
        "timeline_version": doc.timeline_version,
        "scheduled_at": _at(doc.scheduled_at_ms),
        "started_at": _at(doc.started_at_ms),
        "ended_at": _at(doc.ended_at_ms),
        "media_sha256": doc.media_sha256,
        "reason": doc.reason,
        "command_id": doc.command_id,
        "seconds_aired": doc.seconds_aired,
        "recorded_at": _at(doc.recorded_at_ms) or utcnow(),
    }


def handle_report(engine: Engine, *, device_id: str, raw: bytes) -> Ack | None:
    """Verify and store one receipt; returns the ack to send, or None if it was refused."""
    return store_reports(engine, [(device_id, raw)])[0][1]


def store_reports(engine: Engine, reports: Sequence[Report]) -> list[Outcome]:
    """Verify and store receipts in arrival order, in one transaction; an outcome per report."""
    with Session(engine) as session:
        docs = _verified(session, reports)
        outcomes: list[commands.Outcome] = []
        for index in _not_stored(session, docs):
            doc = docs[index]
            assert doc is not None
            append_receipt(session, Receipt(**row_fields(doc), envelope=reports[index][1].decode()))
            if doc.command_id:  # maybe the outcome of a command from the panel or the API
                at = _at(doc.recorded_at_ms) or utcnow()
                outcomes.append(commands.Outcome(doc.device_id, doc.command_id, doc.event, doc.reason, at))
        commands.record_outcomes(session, outcomes)
        try:
            session.commit()
        except IntegrityError:
            # Another replica stored one of them meanwhile: store the batch one by one.
            session.rollback()
            if len(reports) > 1:
                return [store_reports(engine, [report])[0] for report in reports]
        acked = advance_acks(session, {doc.device_id for doc in docs if doc is not None})
    return [
        (device_id, Ack(device_id=device_id, seq=acked[device_id]) if doc is not None else None)
        for (device_id, _raw), doc in zip(reports, docs, strict=True)
    ]


def _verified(session: Session, reports: Sequence[Report]) -> list[ReceiptDoc | None]:
    """Each report's document if its box is enrolled and active and signed it; None otherwise."""
    devices: dict[str, Device] = {}
    for chunk in _chunks(sorted({device_id for device_id, _raw in reports})):
        devices.update((d.id, d) for d in session.exec(select(Device).where(col(Device.id).in_(chunk))))
    found: list[ReceiptDoc | None] = []
    for device_id, raw in reports:
        device = devices.get(device_id)
        if device is None or not device.is_active or device.revoked_at is not None or not device.public_key:
            log.warning("receipt refused: unknown, unenrolled or revoked box", extra={"device": device_id})
            found.append(None)
            continue
        try:
            doc, _kid = verify(raw, ReceiptDoc, {device_id: public_key_from_b64(device.public_key)})
        except WireError as exc:
            log.warning("receipt refused: %s", exc, extra={"device": device_id})
            found.append(None)
            continue
        if doc.device_id != device_id:
            log.warning("receipt for another box refused", extra={"device": device_id})
            found.append(None)
            continue
        found.append(doc)
    return found


def _not_stored(session: Session, docs: Sequence[ReceiptDoc | None]) -> list[int]:
    """Indexes of the documents to insert: not stored yet, and the first of any sent twice."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for doc in docs:
        if doc is not None:
            wanted[doc.device_id].add(doc.seq)
    seen: set[tuple[str, int]] = set()
    for ids in _chunks(sorted(wanted)):
        for seqs in _chunks(sorted({seq for device_id in ids for seq in wanted[device_id]})):
            rows = session.exec(
                select(Receipt.device_id, Receipt.seq).where(
                    col(Receipt.device_id).in_(ids), col(Receipt.seq).in_(seqs)
                )
            )
            seen.update((device_id, seq) for device_id, seq in rows)
    fresh = []
    for index, doc in enumerate(docs):
        if doc is not None and (doc.device_id, doc.seq) not in seen:
            seen.add((doc.device_id, doc.seq))
            fresh.append(index)
    return fresh


def advance_acks(session: Session, device_ids: Iterable[str]) -> dict[str, int]:
    """Move each device's acked seq over every contiguous stored receipt (committed); returns them."""
    acked: dict[str, int] = {}
    moved = []
    for ids in _chunks(sorted(set(device_ids))):
        current = dict(session.exec(select(Device.id, Device.acked_seq).where(col(Device.id).in_(ids))).all())
        stored: dict[str, set[int]] = defaultdict(set)
        rows = session.exec(
            select(Receipt.device_id, Receipt.seq)
            .join(Device, col(Device.id) == col(Receipt.device_id))
            .where(col(Receipt.device_id).in_(ids), col(Receipt.seq) > col(Device.acked_seq))
        )
        for device_id, seq in rows:
            stored[device_id].add(seq)
        for device_id, seq in current.items():
            start = seq
            while seq + 1 in stored[device_id]:
                seq += 1
            acked[device_id] = seq
            if seq != start:
                moved.append({"device_id": device_id, "seq": seq})
    if moved:
        session.connection().execute(_ADVANCE, moved)  # never backwards, whatever a replica did
        session.commit()
    return acked


def advance_ack(session: Session, device_id: str) -> int:
    """Move one device's acked seq over every contiguous stored receipt; returns it."""
    return advance_acks(session, [device_id]).get(device_id, 0)


def _chunks(items: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


class ReceiptWriter:
    """Takes receipts off the MQTT thread and stores them in batches on its own thread;
    ``on_stored(outcomes)`` runs after each batch is committed (it publishes the acks)."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_stored: Callable[[Sequence[Outcome]], None],
        max_batch: int = 500,
        max_queued: int = 100_000,
    ) -> None:
        self.engine, self.on_stored, self.max_batch = engine, on_stored, max_batch
        self.dropped = 0
        self._queue: queue.Queue[Report | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def submit(self, device_id: str, raw: bytes) -> None:
        """From the MQTT thread: queue a receipt (dropped, and counted, if the database is far behind
        or the writer has stopped: its box sends it again until it is acked)."""
        if self._thread is None:
            self.start()
        if self._stopped:
            return
        try:
            self._queue.put_nowait((device_id, bytes(raw)))
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("receipt writer behind, receipts dropped", extra={"dropped": self.dropped})

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="loa-receipt-writer", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Store what is queued, then end the thread."""
        with self._lock:
            thread, self._stopped = self._thread, True
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch, done = ([first], False) if first is not None else ([], True)
            while not done and len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()  # whatever came while the last batch was written
                except queue.Empty:
                    break
                if item is None:
                    done = True
                else:
                    batch.append(item)
            if batch:
                self._write(batch)
            if done:
                return

    def _write(self, batch: list[Report]) -> None:
        try:
            outcomes = store_reports(self.engine, batch)
        except Exception:  # a database hiccup must not end the writer; the boxes send again
            log.exception("storing %d receipts failed", len(batch))
            return
        try:
            self.on_stored(outcomes)
        except Exception:
            log.exception("publishing the acks of %d receipts failed", len(batch))

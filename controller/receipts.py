"""Receipts from boxes: verified, stored once per (device, seq) in the receipt hash chain, acknowledged
contiguously."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from controller import commands
from controller.audit_chain import append_receipt
from controller.models import Device, Receipt, utcnow
from playlists.signing import WireError, public_key_from_b64, verify
from playlists.wire import Ack
from playlists.wire import Receipt as ReceiptDoc

log = logging.getLogger(__name__)


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
    with Session(engine) as session:
        device = session.get(Device, device_id)
        if device is None or not device.is_active or device.revoked_at is not None or not device.public_key:
            log.warning("receipt refused: unknown, unenrolled or revoked box", extra={"device": device_id})
            return None
        key = public_key_from_b64(device.public_key)
        try:
            doc, _kid = verify(raw, ReceiptDoc, {device_id: key})
        except WireError as exc:
            log.warning("receipt refused: %s", exc, extra={"device": device_id})
            return None
        if doc.device_id != device_id:
            log.warning("receipt for another box refused", extra={"device": device_id})
            return None
        append_receipt(session, Receipt(**row_fields(doc), envelope=raw.decode()))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # already stored: a resend; the ack below covers it again
        else:
            if doc.command_id:  # the outcome of a command from the panel or the API
                commands.record_outcome(
                    session,
                    device_id=device_id,
                    command_id=doc.command_id,
                    event=doc.event,
                    reason=doc.reason,
                    at=_at(doc.recorded_at_ms) or utcnow(),
                )
                session.commit()
        return Ack(device_id=device_id, seq=advance_ack(session, device_id))


def advance_ack(session: Session, device_id: str) -> int:
    """Move the device's acked seq over every contiguous stored receipt; returns it."""
    device = session.get(Device, device_id)
    if device is None:
        return 0
    stored = set(
        session.exec(
            select(Receipt.seq).where(Receipt.device_id == device_id, Receipt.seq > device.acked_seq)
        ).all()
    )
    seq = device.acked_seq
    while seq + 1 in stored:
        seq += 1
    if seq != device.acked_seq:
        device.acked_seq = seq
        session.add(device)
        session.commit()
    return seq

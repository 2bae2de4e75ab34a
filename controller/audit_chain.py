"""The tamper-evident log: a hash chain of administrative events and one of stored receipts.

Every entry has ``seq`` (1, 2, 3, … without gaps), ``prev_hash`` (the hash of the entry before it,
64 zeros for the first) and ``hash``, the sha256 of the canonical JSON (``canonical_json``) of its
fields and ``prev_hash``. Editing, deleting, inserting or reordering an entry breaks a hash or a
link; ``loa audit verify`` (controller/audit_verify.py) recomputes them all, and the signed daily
checkpoints (controller/checkpoints.py) pin the head, so that rewriting the whole chain shows too.

Receipts form their own chain, on the receipt table itself, instead of an audit event per receipt:

* the receipt path is the hot one (50 receipts/s and more on a 2-core machine): chaining the row
  it already inserts adds three columns and one small update of the head row; an audit event per
  receipt would add a second row and its indexes to every receipt, and 20 million events a year
  in which the few thousand administrative decisions drown;
* the two chains lock different head rows, so a slow administrative transaction never holds up
  receipt ingest, and ingest never queues a login;
* the box's signature is kept in the row (``envelope``); the chain commits to the envelope's
  sha256, so a changed receipt breaks the chain and fails the box's signature.

Appending is serialised by the chain's row in ``chainhead``: an append starts with
``UPDATE chainhead SET seq = seq + 1 … RETURNING seq, hash``. On PostgreSQL that row stays
locked until the transaction ends, so appends from every thread and replica queue on it and each
one reads the head its predecessor committed. On SQLite the UPDATE takes the database's write
lock before the head is read (Python's sqlite3 begins the transaction at the first write, so no
older read snapshot exists). A rolled-back transaction rolls its head update back too, so
``seq`` never has holes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import bindparam, column, table, update
from sqlmodel import Session

from controller.models import AuditEvent, Receipt
from playlists.signing import canonical_json

GENESIS = "0" * 64
AUDIT, RECEIPT = "audit", "receipt"

_head = table("chainhead", column("name"), column("seq"), column("hash"))
# Built once: appends run on the receipt path, where building a statement costs more than running it.
_ADVANCE = (
    update(_head)
    .where(_head.c.name == bindparam("chain"))
    .values(seq=_head.c.seq + 1)
    .returning(_head.c.seq, _head.c.hash)
)
_SET_HASH = update(_head).where(_head.c.name == bindparam("chain")).values(hash=bindparam("new_hash"))


class ChainMissing(RuntimeError):
    """The database has no chain head: it was not migrated."""


def utc_iso(at: datetime) -> str:
    """The one text form of an instant that goes into hashes."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _sha256(obj: object) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    detail: str | None,
    prev_hash: str,
) -> str:
    """The hash of an audit event."""
    return _sha256(
        {
            "seq": seq,
            "at": utc_iso(at),
            "actor_id": actor_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "detail": detail,
            "prev_hash": prev_hash,
        }
    )


def envelope_sha256(envelope: str) -> str:
    return hashlib.sha256(envelope.encode()).hexdigest()


def receipt_hash(
    *, seq: int, device_id: str, device_seq: int, envelope: str, received_at: datetime, prev_hash: str
) -> str:
    """The hash of a stored receipt (``seq`` is its place in the chain, ``device_seq`` the box's)."""
    return _sha256(
        {
            "seq": seq,
            "device_id": device_id,
            "device_seq": device_seq,
            "envelope_sha256": envelope_sha256(envelope),
            "received_at": utc_iso(received_at),
            "prev_hash": prev_hash,
        }
    )


def hash_of_event(event: AuditEvent) -> str:
    """Recompute a stored event's hash from its columns."""
    return event_hash(
        seq=event.seq or 0,
        at=event.at,
        actor_id=event.actor_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        detail=event.detail,
        prev_hash=event.prev_hash or "",
    )


def hash_of_receipt(receipt: Receipt) -> str:
    """Recompute a stored receipt's chain hash from its columns."""
    return receipt_hash(
        seq=receipt.chain_seq or 0,
        device_id=receipt.device_id,
        device_seq=receipt.seq,
        envelope=receipt.envelope,
        received_at=receipt.received_at,
        prev_hash=receipt.prev_hash or "",
    )


def _advance(session: Session, chain: str) -> tuple[int, str]:
    """Lock the chain's head and move it on by one; returns the new seq and the previous hash."""
    row = session.connection().execute(_ADVANCE, {"chain": chain}).one_or_none()
    if row is None:
        raise ChainMissing(f"no head for the {chain} chain: run `loa migrate`")
    return int(row[0]), str(row[1])


def _set_head_hash(session: Session, chain: str, value: str) -> None:
    session.connection().execute(_SET_HASH, {"chain": chain, "new_hash": value})


def append_event(session: Session, event: AuditEvent) -> AuditEvent:
    """Give an audit event its place in the chain and add it; it commits with the caller's change."""
    event.seq, event.prev_hash = _advance(session, AUDIT)
    event.at = datetime.now(UTC)  # taken under the lock, so time follows seq
    event.hash = hash_of_event(event)
    _set_head_hash(session, AUDIT, event.hash)
    session.add(event)
    return event


def append_receipt(session: Session, receipt: Receipt) -> Receipt:
    """Give a new receipt its place in the receipt chain and add it."""
    receipt.chain_seq, receipt.prev_hash = _advance(session, RECEIPT)
    receipt.hash = hash_of_receipt(receipt)
    _set_head_hash(session, RECEIPT, receipt.hash)
    session.add(receipt)
    return receipt

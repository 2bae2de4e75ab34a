"""``loa audit verify``: recompute both hash chains, check every receipt against its box's key and
every checkpoint against the chains; stop at the first bad entry and name it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, ScalarResult, and_, func
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from controller import checkpoints, receipt_gaps
from controller.audit_chain import AUDIT, GENESIS, RECEIPT, hash_of_event, hash_of_receipt
from controller.checkpoints import CheckpointError
from controller.db import make_engine
from controller.models import AuditCheckpoint, AuditEvent, ChainHead, Device, Receipt
from controller.receipts import row_fields
from controller.settings import Settings
from playlists.signing import WireError, private_key_from_pem, public_key_from_b64, verify
from playlists.wire import Receipt as ReceiptDoc

BATCH = 1000
T = TypeVar("T")
KEY_ACTIONS = ("device.add", "device.enroll")  # audit events that carry a box's public key


class AuditError(Exception):
    """Verification could not be done or found a bad entry; the message names it."""


class Tampered(AuditError):
    """An entry that is not what was written."""


@dataclass
class Walk:
    """Follows one chain entry by entry: seq without gaps, each prev_hash the hash before it."""

    name: str
    seq: int = 0
    hash: str = GENESIS

    def step(self, label: str, *, seq: int, prev_hash: str, stored: str, computed: str) -> None:
        if seq != self.seq + 1:
            raise Tampered(
                f"{self.name} seq {self.seq + 1} is missing (the next entry is seq {seq}): deleted"
            )
        if computed != stored:
            raise Tampered(f"{label}: its content does not match its hash: edited")
        if prev_hash != self.hash:
            raise Tampered(
                f"{label}: prev_hash is not the hash of seq {self.seq}: entries replaced or reordered"
            )
        self.seq, self.hash = seq, stored

    def end(self, head: ChainHead) -> None:
        """The last entry must be the head that appends moved on."""
        if head.seq > self.seq:
            gone = (
                f"seq {self.seq + 1} is"
                if head.seq == self.seq + 1
                else f"seq {self.seq + 1} to {head.seq} are"
            )
            raise Tampered(f"{self.name} {gone} missing (the head is at {head.seq}): deleted")
        if head.seq != self.seq or head.hash != self.hash:
            raise Tampered(f"the {self.name} chain head (seq {head.seq}) does not match its last entry")


@dataclass
class Summary:
    events: int = 0
    audit_head: str = GENESIS
    receipts: int = 0
    receipt_head: str = GENESIS
    checkpoints: int = 0
    box_keys: dict[str, list[Ed25519PublicKey]] = field(default_factory=dict, repr=False)

    def line(self) -> str:
        return (
            f"audit log intact: {self.events} events (head {self.audit_head[:16]}), "
            f"{self.receipts} receipts signed by their boxes (head {self.receipt_head[:16]}), "
            f"{self.checkpoints} checkpoints match"
        )


@contextmanager
def _streamed(session: Session, query: SelectOfScalar[T]) -> Iterator[ScalarResult[T]]:
    """Rows a batch at a time (a server-side cursor on PostgreSQL), closed even when a check fails."""
    result = session.exec(query.execution_options(yield_per=BATCH))
    try:
        yield result
    finally:
        result.close()


def _head(session: Session, chain: str) -> ChainHead:
    """The head as committed when the check starts; later appends (the controller keeps running)
    are left to the next check."""
    head = session.get(ChainHead, chain)
    if head is None:
        raise AuditError(f"no head for the {chain} chain: run `loa migrate`")
    return head


def _nothing_beyond_head(session: Session, chain: str, seq_column: Mapped[int | None]) -> None:
    """No entry past the head: the last seq is read before the head, and an entry commits with
    its head, so on a running controller the head can only be further on."""
    last = session.exec(select(func.max(seq_column))).one() or 0
    head = session.exec(select(ChainHead.seq).where(ChainHead.name == chain)).one()
    if last > head:
        raise Tampered(f"{chain} seq {last} lies beyond the chain head (seq {head}): inserted")


def check_events(session: Session, summary: Summary) -> None:
    """The audit chain; collects the keys boxes were given along the way."""
    walk, head = Walk(AUDIT), _head(session, AUDIT)
    query = select(AuditEvent).where(col(AuditEvent.seq) <= head.seq).order_by(col(AuditEvent.seq))
    with _streamed(session, query) as events:
        for event in events:
            label = (
                f"audit seq {event.seq} (id {event.id}, {event.action} {event.object_type} {event.object_id})"
            )
            walk.step(
                label,
                seq=event.seq or 0,
                prev_hash=event.prev_hash or "",
                stored=event.hash or "",
                computed=hash_of_event(event),
            )
            if event.action in KEY_ACTIONS and event.detail:
                key = json.loads(event.detail).get("public_key")
                if isinstance(key, str):
                    _add_key(summary.box_keys, event.object_id, key)
    walk.end(head)
    _nothing_beyond_head(session, AUDIT, col(AuditEvent.seq))
    summary.events, summary.audit_head = walk.seq, walk.hash


def _add_key(keys: dict[str, list[Ed25519PublicKey]], device_id: str, text: str) -> None:
    try:
        key = public_key_from_b64(text)
    except WireError:
        return
    known = keys.setdefault(device_id, [])
    if all(k.public_bytes_raw() != key.public_bytes_raw() for k in known):
        known.append(key)


def check_receipt(receipt: Receipt, keys: Sequence[Ed25519PublicKey], label: str) -> None:
    """A stored receipt is what its box signed: the signature, and every column taken from it."""
    raw = receipt.envelope.encode()
    doc, error = None, "the box has no key"
    for key in keys:
        try:
            doc, _kid = verify(raw, ReceiptDoc, {receipt.device_id: key})
            break
        except WireError as exc:
            error = str(exc)
    if doc is None:
        raise Tampered(f"{label}: the box's signature does not verify ({error})")
    for name, signed in row_fields(doc).items():
        if getattr(receipt, name) != signed:
            raise Tampered(
                f"{label}: {name} is {getattr(receipt, name)!r} but the box signed {signed!r}: edited"
            )


def check_receipts(session: Session, summary: Summary) -> None:
    """The receipt chain and every receipt's signature."""
    for device in session.exec(select(Device)).all():
        if device.public_key:
            _add_key(summary.box_keys, device.id, device.public_key)
    walk, head = Walk(RECEIPT), _head(session, RECEIPT)
    query = select(Receipt).where(col(Receipt.chain_seq) <= head.seq).order_by(col(Receipt.chain_seq))
    with _streamed(session, query) as receipts:
        for receipt in receipts:
            where = f"id {receipt.id}, {receipt.device_id} seq {receipt.seq}"
            label = f"receipt chain seq {receipt.chain_seq} ({where})"
            walk.step(
                label,
                seq=receipt.chain_seq or 0,
                prev_hash=receipt.prev_hash or "",
                stored=receipt.hash or "",
                computed=hash_of_receipt(receipt),
            )
            check_receipt(receipt, summary.box_keys.get(receipt.device_id, []), label)
    walk.end(head)
    _nothing_beyond_head(session, RECEIPT, col(Receipt.chain_seq))
    summary.receipts, summary.receipt_head = walk.seq, walk.hash
    check_acknowledged(session)


def check_acknowledged(session: Session) -> None:
    """Every receipt a box was told is stored (1 … its acked seq) is still there."""
    stored = (
        select(Device.id, Device.acked_seq, func.count(col(Receipt.id)))
        .join(
            Receipt,
            and_(col(Receipt.device_id) == col(Device.id), col(Receipt.seq) <= col(Device.acked_seq)),
            isouter=True,
        )
        .group_by(col(Device.id), col(Device.acked_seq))
        .order_by(col(Device.id))
    )
    for device_id, acked, count in session.exec(stored).all():
        if count == acked:
            continue
        seqs = set(session.exec(select(Receipt.seq).where(Receipt.device_id == device_id)).all())
        seqs |= receipt_gaps.recorded(session, device_id)  # gone for good, and said so in the log
        missing = next((n for n in range(1, acked + 1) if n not in seqs), None)
        if missing is None:
            continue
        raise Tampered(
            f"receipt {device_id} seq {missing} is missing, though the box was told 1 to {acked} "
            "are stored: deleted"
        )


def check_checkpoint(session: Session, raw: bytes | str, label: str, key: Ed25519PublicKey | None) -> None:
    """A signed checkpoint, and the chains still hold the hashes it names at its seqs."""
    if key is None:
        raise AuditError(f"{label}: cannot check it without the controller's key")
    try:
        document = checkpoints.open_envelope(raw, key)
    except CheckpointError as exc:
        raise Tampered(f"{label}: {exc}") from exc
    for name, part, seq_column, hash_column in (
        (AUDIT, "audit", col(AuditEvent.seq), col(AuditEvent.hash)),
        (RECEIPT, "receipts", col(Receipt.chain_seq), col(Receipt.hash)),
    ):
        seq, signed = document[part]["seq"], document[part]["hash"]
        stored = GENESIS if seq == 0 else session.exec(select(hash_column).where(seq_column == seq)).first()
        if stored is None:
            raise Tampered(f"{label}: {name} seq {seq} it signed no longer exists: the chain was cut back")
        if stored != signed:
            raise Tampered(f"{label}: {name} seq {seq} differs from the signed hash: history was rewritten")


def verify_all(engine: Engine, *, controller_key: Ed25519PublicKey | None, files: Iterable[Path]) -> Summary:
    """Everything; raises AuditError naming the first bad entry."""
    summary = Summary()
    with Session(engine) as session:
        check_events(session, summary)
        check_receipts(session, summary)
        for row in session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id))).all():
            check_checkpoint(session, row.envelope, f"checkpoint {row.day} (id {row.id})", controller_key)
            summary.checkpoints += 1
        for path in files:
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise AuditError(f"checkpoint file {path}: {exc.strerror}") from exc
            check_checkpoint(session, raw, f"checkpoint file {path}", controller_key)
            summary.checkpoints += 1
    return summary


def run(settings: Settings, extra_files: Sequence[Path] = ()) -> Summary:
    """``loa audit verify`` with the LOA_* settings: the database, the key and the exported files."""
    key_path = settings.resolved_signing_key_path
    key = private_key_from_pem(key_path.read_bytes()).public_key() if key_path.exists() else None
    engine = make_engine(settings.resolved_database_url)
    try:
        return verify_all(engine, controller_key=key, files=[*checkpoints.files(settings), *extra_files])
    except DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        raise AuditError(
            f"cannot read the audit tables ({first}); is the database migrated (`loa migrate`)?"
        ) from exc
    finally:
        engine.dispose()

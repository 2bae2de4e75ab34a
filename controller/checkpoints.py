"""Signed checkpoints of the audit chains: what an outside party keeps to prove history was not rewritten.

A checkpoint states, signed with the controller's Ed25519 key, how far both hash chains
(controller/audit_chain.py) reached at one moment: each chain's head seq, head hash and the number
of its entries. It is the envelope the wire documents use, ``{"payload", "sig", "kid"}`` with the
signature over the payload's canonical JSON (docs/audit.md shows one). Checkpoints are kept in the
``auditcheckpoint`` table, which every replica shares, and the day's last one is also written to
``data_dir/checkpoints/<day>.json`` to hand out. Whoever holds a copy can later have
``loa audit verify --checkpoint FILE`` show that the chain still has those hashes at those seqs.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from controller.audit_chain import AUDIT, RECEIPT, utc_iso
from controller.keys import Signer
from controller.models import AuditCheckpoint, AuditEvent, ChainHead, Receipt, utcnow
from controller.settings import Settings
from playlists.files import atomic_write_bytes
from playlists.signing import canonical_json, key_id

CHECKPOINT_TYPE = "audit_checkpoint"
FOLDER = "checkpoints"


class CheckpointError(ValueError):
    """A checkpoint that is not one: unreadable, unsigned or signed by another key."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    count: int

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "hash": self.hash, "count": self.count}


def heads(session: Session) -> dict[str, Head]:
    """Both chains' heads as committed now (the head row and the entries up to it)."""
    rows = {h.name: h for h in session.exec(select(ChainHead)).all()}
    result = {}
    for name, seq_column in ((AUDIT, col(AuditEvent.seq)), (RECEIPT, col(Receipt.chain_seq))):
        head = rows.get(name)
        if head is None:
            raise CheckpointError(f"no head for the {name} chain: run `loa migrate`")
        count = session.exec(select(func.count(seq_column)).where(seq_column <= head.seq)).one()
        result[name] = Head(head.seq, head.hash, int(count))
    return result


def payload(session: Session, *, signer: Signer, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """What a checkpoint made ``now`` says."""
    current = heads(session)
    return {
        "v": 1,
        "type": CHECKPOINT_TYPE,
        "day": now.astimezone(tz).date().isoformat(),
        "at": utc_iso(now),
        "audit": current[AUDIT].as_json(),
        "receipts": current[RECEIPT].as_json(),
        "public_key": signer.public_key_b64,
    }


def sign(document: dict[str, Any], signer: Signer) -> bytes:
    sig = signer.private_key.sign(canonical_json(document))
    return canonical_json({"payload": document, "sig": base64.b64encode(sig).decode(), "kid": signer.kid})


def open_envelope(raw: bytes | str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The payload of a checkpoint signed with ``public_key``; raises CheckpointError otherwise."""
    try:
        envelope = json.loads(raw)
        document, sig, kid = envelope["payload"], envelope["sig"], envelope["kid"]
        if not isinstance(document, dict):
            raise TypeError("payload is not an object")
        signature = base64.b64decode(sig, validate=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"not a checkpoint envelope ({exc})") from exc
    if kid != key_id(public_key):
        raise CheckpointError(f"signed by key {kid!r}, not by this controller's key {key_id(public_key)!r}")
    try:
        public_key.verify(signature, canonical_json(document))
    except InvalidSignature as exc:
        raise CheckpointError("the signature does not match its content (edited)") from exc
    if document.get("v") != 1 or document.get("type") != CHECKPOINT_TYPE:
        raise CheckpointError("not a version 1 audit checkpoint")
    return document


def write(
    engine: Engine, *, signer: Signer, settings: Settings, now: datetime
) -> tuple[dict[str, Any], Path]:
    """Make, store and export a checkpoint; returns its payload and the file it went to."""
    with Session(engine) as session:
        document = payload(session, signer=signer, now=now, tz=ZoneInfo(settings.timezone))
        raw = sign(document, signer)
        session.add(AuditCheckpoint(day=document["day"], at=now, envelope=raw.decode()))
        session.commit()
    path = settings.data_dir / FOLDER / f"{document['day']}.json"
    atomic_write_bytes(path, raw + b"\n")
    return document, path


def write_daily(
    engine: Engine, *, signer: Signer, settings: Settings, now: datetime | None = None
) -> Path | None:
    """The periodic job: a checkpoint unless today (local day) already has one."""
    now = now or utcnow()
    day = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    with Session(engine) as session:
        if session.exec(select(AuditCheckpoint.id).where(AuditCheckpoint.day == day)).first() is not None:
            return None
    return write(engine, signer=signer, settings=settings, now=now)[1]


def files(settings: Settings) -> list[Path]:
    """The exported checkpoint files, oldest first."""
    return sorted((settings.data_dir / FOLDER).glob("*.json"))

"""Recording decisions in the audit log, hash-chained (controller/audit_chain.py)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from controller.audit_chain import append_event
from controller.models import AuditEvent, User


def record(
    session: Session, *, actor: User | None, action: str, object_type: str, object_id: object, **detail: Any
) -> None:
    """Append an audit event to the chain; it commits with the change it describes."""
    append_event(
        session,
        AuditEvent(
            actor_id=actor.id if actor else None,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        ),
    )

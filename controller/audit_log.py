"""Recording decisions in the audit log (a later issue chains these by hash)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from controller.models import AuditEvent, User


def record(
    session: Session, *, actor: User | None, action: str, object_type: str, object_id: object, **detail: Any
) -> None:
    """Add an audit event to the session; it commits with the change it describes."""
    session.add(
        AuditEvent(
            actor_id=actor.id if actor else None,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
    )

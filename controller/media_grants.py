"""Who may hear a stored audio file (``GET /media/{sha256}``).

Audio is stored once by its hash and may serve several communes (the same notice read in two of
them). A commune's user hears only what was made for one of their communes: a bulletin's speech,
previewed or approved, and its recordings; the province's users hear every file. Speaker boxes fetch
with their own token and are not limited here: what they play comes signed from the controller.
"""

from __future__ import annotations

from contextlib import suppress

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controller.auth import commune_ids
from controller.models import MediaGrant, User


def grant(session: Session, *, sha256: str, commune_id: int) -> None:
    """Let ``commune_id``'s people hear ``sha256`` (in the caller's transaction; idempotent)."""
    if session.get(MediaGrant, (sha256, commune_id)) is not None:
        return
    with suppress(IntegrityError), session.begin_nested():  # granted meanwhile by another request: fine
        session.add(MediaGrant(sha256=sha256, commune_id=commune_id))


def may_hear(session: Session, *, user: User, sha256: str) -> bool:
    """Whether ``user`` may fetch the audio ``sha256``."""
    allowed = commune_ids(session, user)
    if allowed is None:
        return True
    found = session.exec(
        select(MediaGrant.commune_id).where(
            MediaGrant.sha256 == sha256, col(MediaGrant.commune_id).in_(allowed)
        )
    ).first()
    return found is not None
